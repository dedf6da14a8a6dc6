"""Benchmark: sample k pairs out of a large TSV, streaming vs loading it whole with pandas.

    .venv/bin/python benchmarks/mixture.py                    # 2M lines, k = 200k
    .venv/bin/python benchmarks/mixture.py --lines 200000 --k 20000   # a quick look

Methods, each run in its own subprocess so peak memory (ru_maxrss) does not mix:

- ``stream``: ``tuning.data.readers.read_tsv`` + ``tuning.data.sampling.sample_distinct``, the
  path ``tuning mix`` takes (one pass, memory ~ k, plus 8 bytes per line for the exact
  duplicate count);
- ``stream-nocount``: the same without the exact duplicate count (memory ~ k only);
- ``pandas`` (baseline): ``pandas.read_csv`` of the whole file, then ``DataFrame.sample(k)``.

Prints time, peak resident memory and, for the streaming methods, the ratios against pandas.
The TSV is generated once (seeded) in a temporary directory (or --dir) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WORDS = ("the", "file", "window", "open", "save", "document", "print", "page", "close", "user",
          "system", "network", "error", "could", "not", "be", "found", "please", "try", "again",
          "settings", "account", "password", "update", "install", "package", "version", "server")
_HANZI = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域哥"


def generate(path: Path, lines: int, seed: int = 0) -> None:
    """``lines`` rows of ``English words<TAB>Chinese characters`` (6-20 words, 8-30 characters)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(lines):
            en = " ".join(rng.choices(_WORDS, k=rng.randint(6, 20)))
            zh = "".join(rng.choices(_HANZI, k=rng.randint(8, 30)))
            fh.write(f"{en}\t{zh}\n")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(method: str, tsv: str, k: int, seed: int) -> dict:
    if method.startswith("stream"):
        import numpy  # noqa: F401  (imported up front so the base figure includes it)

        from tuning.data.readers import PairPacker, read_tsv
        from tuning.data.sampling import sample_distinct

        base = _peak_mb()
        t0 = time.perf_counter()
        packer = PairPacker()  # exactly what tuning mix does
        sample, stats = sample_distinct(read_tsv(tsv, "zh"), k, seed=seed, parts=lambda p: (p.en, p.xx),
                                        count_distinct=method == "stream", pack=packer.pack,
                                        unpack=packer.unpack)
        elapsed = time.perf_counter() - t0
        n = len(sample)
        # read every sampled pair back once (one at a time), to show the sample is usable
        extra = {**stats.to_dict(), "chars": sum(len(p.en) + len(p.xx) for p in sample)}
    else:
        import csv

        import pandas as pd

        base = _peak_mb()
        t0 = time.perf_counter()
        frame = pd.read_csv(tsv, sep="\t", header=None, names=["en", "xx"], quoting=csv.QUOTE_NONE,
                            dtype=str, keep_default_na=False, encoding="utf-8")
        sample = frame.sample(n=k, random_state=seed)
        elapsed = time.perf_counter() - t0
        n = len(sample)
        extra = {"seen": len(frame), "chars": int(sample["en"].str.len().sum() + sample["xx"].str.len().sum())}
    return {"method": method, "time_s": elapsed, "peak_mb": _peak_mb(), "after_imports_mb": base,
            "sampled": n, **extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--k", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="where to write the generated TSV")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "TSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.k, args.seed)))
        return 0

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tsv = Path(tmp) / "pairs.en-zh.tsv"
        t0 = time.perf_counter()
        generate(tsv, args.lines, args.seed)
        size_mb = tsv.stat().st_size / 2**20
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, {platform.system()}")
        print(f"generated {args.lines:,} lines ({size_mb:.0f} MiB) in {time.perf_counter() - t0:.1f} s; "
              f"sampling k = {args.k:,}")
        results = {}
        for method in ("pandas", "stream", "stream-nocount"):
            cmd = [sys.executable, __file__, "--child", method, str(tsv), "--k", str(args.k),
                   "--seed", str(args.seed)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[method] = json.loads(out.strip().splitlines()[-1])
    base = results["pandas"]
    print(f"{'method':<16}{'time s':>9}{'peak MiB':>10}{'after imports':>15}{'mem ratio':>11}{'time ratio':>12}")
    for method, r in results.items():
        print(f"{method:<16}{r['time_s']:>9.2f}{r['peak_mb']:>10.0f}{r['after_imports_mb']:>15.0f}"
              f"{base['peak_mb'] / r['peak_mb']:>10.1f}x{r['time_s'] / base['time_s']:>11.2f}x")
    print("mem ratio = pandas peak / method peak (higher is better); "
          "time ratio = method time / pandas time (lower is better)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
