"""Training throughput: this trainer (its defaults) vs Hugging Face ``Trainer`` (padded batches).

Both train one epoch, in this one process, on the same mixture and the same model. The baseline
is the usual peer setup: ``transformers.Trainer`` with right-padded batches from
``DataCollatorForSeq2Seq`` (labels padded with -100), no packing, no length grouping, the same
tokenised examples (tuning.data.tokenize), batch size, lr schedule and seq_len. Ours is
``tuning.train.train`` with its defaults (packing chosen per run). Each side is timed end to
end from the model directory and the tokenised examples (model load, wrapping, one epoch);
examples/second is mixture records / wall seconds. Runs alternate ABBA and the best of each
side is kept. Also printed: the share of the positions computed that are real tokens.

Mixtures (a tiny random Llama built here from tests/_builders.py, a BPE tokenizer trained on the
mixture; no hub), English -> Chinese gettext pairs from /usr/share/locale/zh_CN:

- ``short``: translation pairs only;
- ``ordinary``: three records in four are pairs, one in four an English instruction whose answer
  is 80-200 words;
- ``long``: one record in five an instruction whose answer is 1.5-3k characters (long-tailed).

``--whole-process`` times each side as one fresh ``python`` process from start to exit instead
(interpreter start, imports, tokenizer and model load, tokenising, the epoch, saving the model,
exit), pair by pair with the order alternating, and reports the median of the per-pair ratios:
ours ``python -m tuning train CONFIG`` (the config of the in-process run, plus the final save),
the baseline benchmarks/hf_trainer_job.py (the same steps written with ``transformers.Trainer``).
``--threads N`` sets ``OMP_NUM_THREADS`` of both processes. Default mixtures short and ordinary,
5 pairs each.

``--smollm2 DIR`` adds the real model of docs/results/smollm2-gettext (a model directory made by
``tuning convert``): 200 pairs with its chat template, batch 4, seq_len 192, tokens/s of each
side against the machine's limit (6 x parameters FLOPs per token at the measured peak of a
large float32 matmul).

    .venv/bin/python benchmarks/train_throughput.py --threads 1                   # ~5 min
    .venv/bin/python benchmarks/train_throughput.py --threads 1 --mixtures long --hidden 256
    .venv/bin/python benchmarks/train_throughput.py --threads 2 --mixtures none --smollm2 DIR
    .venv/bin/python benchmarks/train_throughput.py --threads 1 --whole-process                  # ~7 min
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from _builders import build_tiny_llama  # noqa: E402  (the tests' tiny Llama; no hub)

LOCALE = Path("/usr/share/locale/zh_CN/LC_MESSAGES")


def catalog_pairs(limit: int = 20000) -> list[tuple[str, str]]:
    """(English, Chinese) message pairs from the gettext catalogs on this machine."""
    import polib

    pairs = []
    for mo in sorted(LOCALE.glob("*.mo")):
        try:
            entries = polib.mofile(str(mo))
        except (OSError, ValueError):
            continue
        for e in entries:
            if e.msgid and e.msgstr and not e.msgid_plural and len(e.msgid) < 200:
                pairs.append((e.msgid.replace("\n", " "), e.msgstr.replace("\n", " ")))
        if len(pairs) >= limit:
            break
    return pairs


MIXTURES = {  # name: (share of instructions, answer length as (lo, hi), unit)
    "short": (0.0, (0, 0), "chars"),
    "ordinary": (0.25, (80, 200), "words"),
    "long": (0.2, (1500, 3000), "chars"),
}


def build_mixture(n: int, kind: str, seed: int) -> list[dict]:
    """Short translations, and instructions whose answers are English gettext messages strung
    together to the mixture's length (characters or words)."""
    share, (lo, hi), unit = MIXTURES[kind]
    rng = random.Random(seed)
    pairs = catalog_pairs()
    english = [en for en, _ in pairs]
    records = []
    for i in range(n):
        if rng.random() < share:
            out, target = [], rng.randint(lo, hi)
            size = (lambda parts: sum(len(p) for p in parts)) if unit == "chars" else (
                lambda parts: sum(len(p.split()) for p in parts))
            while size(out) < target:
                out.append(rng.choice(english))
            records.append(dict(id=f"i{i}", language="en", task="instruction", source="bench",
                                instruction="Write release notes that mention each of these messages.",
                                input="", output=" ".join(out)))
        else:
            en, zh = rng.choice(pairs)
            records.append(dict(id=f"t{i}", language="zh", task="translation", source="bench",
                                instruction="Translate the following text from English to Chinese.",
                                input=en, output=zh))
    return records


def build_model_dir(out: Path, records: list[dict], vocab: int, layers: int, hidden: int) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(special.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((r[k] for r in records for k in ("instruction", "input", "output")), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, **special)
    model = build_tiny_llama(tokenizer, layers=layers, hidden=hidden)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def positions_computed(lengths, seq_len: int, packed: bool, batch: int, seed: int) -> int:
    """Positions our trainer computes in one epoch (rows padded to the micro-batch's longest, to 8)."""
    from tuning.train.data import epoch_shapes

    shapes, _ = epoch_shapes(lengths, seq_len, packed, batch_size=batch, world=1, grad_accum=1, seed=seed)
    return sum(n_rows * width for n_rows, width in shapes)


def run_ours(model_dir: Path, data: Path, examples, out: Path, seq_len: int, batch: int, chat: bool = False) -> dict:
    import torch.distributed as dist

    from tuning.train import TrainConfig, train

    cfg = TrainConfig(model=str(model_dir), data=str(data), output_dir=str(out), epochs=1.0, seq_len=seq_len,
                      batch_size=batch, grad_accum=1, lr=2e-4, save_final=False, seed=0, chat_template=chat)
    t0 = time.perf_counter()
    train(cfg)
    wall = time.perf_counter() - t0
    dist.destroy_process_group()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    packed = json.loads((out / "run.json").read_text())["packing"]["packed"]
    lengths = [len(e.input_ids) for e in examples]
    tokens = sum(r["tokens"] for r in rows)
    loop = sum(r["step_time_s"] for r in rows)
    return {"wall_s": wall, "loop_s": loop, "steps": len(rows), "last_loss": rows[-1]["loss"], "tokens": tokens,
            "fill": sum(lengths) / positions_computed(lengths, seq_len, packed, batch, 0),
            "layout": "packed" if packed else "grouped"}


def run_hf(model_dir: Path, examples, out: Path, seq_len: int, batch: int) -> dict:
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # the peer's usual fix; padding carries no loss
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa", dtype=torch.float32)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]
    targs = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=batch, gradient_accumulation_steps=1,
        num_train_epochs=1, learning_rate=2e-4, lr_scheduler_type="cosine", warmup_ratio=0.03,
        max_grad_norm=1.0, weight_decay=0.0, save_strategy="no", logging_strategy="no", report_to=[],
        use_cpu=True, dataloader_pin_memory=False, disable_tqdm=True, seed=0, group_by_length=False,
    )
    pad = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    seen = {"positions": 0, "tokens": 0}

    def collator(features):  # count the positions computed, padding included
        batch_ = pad(features)
        seen["positions"] += batch_["input_ids"].numel()
        seen["tokens"] += int(batch_["attention_mask"].sum())
        return batch_

    trainer = Trainer(model=model, args=targs, train_dataset=dataset, data_collator=collator)
    result = trainer.train()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "loop_s": result.metrics["train_runtime"], "steps": result.global_step,
            "last_loss": result.training_loss, "fill": seen["tokens"] / seen["positions"], "tokens": seen["tokens"],
            "layout": "padded"}


def abba(run_a, run_b, repeats: int) -> tuple[dict, dict]:
    """Alternate the two sides (A B, B A, ...) and keep each side's best times: load from other
    jobs on a shared machine only ever slows a run down, so the minimum is the least disturbed."""
    runs: dict[str, list[dict]] = {"a": [], "b": []}
    for r in range(repeats):
        for side in (("a", "b") if r % 2 == 0 else ("b", "a")):
            cpu0 = time.process_time()
            res = (run_a if side == "a" else run_b)(r)
            res["cpu_s"] = time.process_time() - cpu0
            runs[side].append(res)
            print(f"    run {r} {'HF' if side == 'a' else 'ours'}: wall {res['wall_s']:.1f}s, cpu {res['cpu_s']:.1f}s",
                  flush=True)
    best = {}
    for side in ("a", "b"):
        best[side] = dict(runs[side][0])
        for k in ("wall_s", "loop_s", "cpu_s"):
            best[side][k] = min(x[k] for x in runs[side])
    return best["a"], best["b"]


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of ``repeats`` float32 n x n matmuls with torch's current threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def tiny_mixture(kind: str, args, tmp: Path) -> dict:
    from transformers import AutoTokenizer

    from tuning.data.mixture import read_mixture
    from tuning.data.tokenize import tokenize_records

    records = build_mixture(args.records, kind, seed=0)
    data = tmp / f"{kind}.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    model_dir = build_model_dir(tmp / f"model-{kind}", records, args.vocab, args.layers, args.hidden)
    examples, stats = tokenize_records(read_mixture(data), AutoTokenizer.from_pretrained(model_dir), args.seq_len,
                                       progress=False)
    lengths = sorted(len(e.input_ids) for e in examples)
    n = len(examples)
    print(f"  {kind}: {n} examples, tokens/example median {lengths[n // 2]}, max {lengths[-1]}, mean "
          f"{sum(lengths) / n:.0f}; truncated {stats['truncated']}", flush=True)
    hf, ours = abba(lambda r: run_hf(model_dir, examples, tmp / f"hf-{kind}-{r}", args.seq_len, args.batch),
                    lambda r: run_ours(model_dir, data, examples, tmp / f"ours-{kind}-{r}", args.seq_len, args.batch),
                    args.repeats)
    return {"name": kind, "n": n, "hf": hf, "ours": ours}


def smollm2(model_dir: Path, args, tmp: Path) -> dict:
    from tuning.data.mixture import read_mixture
    from tuning.data.tokenize import tokenize_records
    from tuning.train.model import load_tokenizer

    rng = random.Random(0)
    pairs = rng.sample(catalog_pairs(), args.smollm2_pairs)
    records = [dict(id=f"t{i}", language="zh", task="translation", source="bench",
                    instruction="Translate the following text from English to Chinese.", input=en, output=zh)
               for i, (en, zh) in enumerate(pairs)]
    data = tmp / "smollm2.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tokenizer = load_tokenizer(str(model_dir))  # the trainer's own tokenizer (pad token added if missing)
    examples, _ = tokenize_records(read_mixture(data), tokenizer, 192, chat_template=True, progress=False)
    lengths = sorted(len(e.input_ids) for e in examples)
    print(f"  smollm2: {len(examples)} pairs with the chat template, tokens/example median "
          f"{lengths[len(lengths) // 2]}, max {lengths[-1]}", flush=True)
    hf, ours = abba(lambda r: run_hf(model_dir, examples, tmp / f"hf-smol-{r}", 192, 4),
                    lambda r: run_ours(model_dir, data, examples, tmp / f"ours-smol-{r}", 192, 4, chat=True),
                    args.smollm2_repeats)
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model_dir)
    params = sum(p.numel() for p in _meta_model(cfg).parameters())
    return {"name": "smollm2", "n": len(examples), "hf": hf, "ours": ours, "params": params}


def _meta_model(cfg):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(cfg)


def _child_run(cmd: list[str], log: Path, env: dict) -> tuple[float, float, str]:
    """Run ``cmd`` as a fresh process; its wall seconds, CPU seconds (user + sys) and stdout."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}; its log:\n{log.read_text()[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def whole_process(kind: str, args, tmp: Path) -> dict:
    """Each side one fresh ``python`` process from start to exit, pair by pair (the order
    alternating), a ratio per pair: ours ``python -m tuning train CONFIG``, the baseline
    benchmarks/hf_trainer_job.py. Both load the model directory, tokenise, train one epoch and
    save the model; wall seconds include interpreter start, imports and the save."""
    records = build_mixture(args.records, kind, seed=0)
    data = tmp / f"{kind}.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    model_dir = build_model_dir(tmp / f"model-{kind}", records, args.vocab, args.layers, args.hidden)
    config = tmp / f"{kind}.yaml"
    config.write_text(f"model: {model_dir}\ndata: {data}\noutput_dir: unset\nepochs: 1.0\nseq_len: {args.seq_len}\n"
                      f"batch_size: {args.batch}\ngrad_accum: 1\nlr: 2.0e-4\nseed: 0\n")
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    sides = {
        "hf": lambda out: [sys.executable, str(ROOT / "benchmarks" / "hf_trainer_job.py"), str(model_dir), str(data),
                           str(out), "--seq-len", str(args.seq_len), "--batch", str(args.batch)],
        "ours": lambda out: [sys.executable, "-m", "tuning", "train", str(config), f"output_dir={out}"],
    }
    runs: dict[str, list[dict]] = {"hf": [], "ours": []}
    for r in range(args.repeats):
        for side in (("hf", "ours") if r % 2 == 0 else ("ours", "hf")):
            out = tmp / f"{side}-{kind}-{r}"
            wall, cpu, stdout = _child_run(sides[side](out), tmp / f"{side}-{kind}-{r}.log", env)
            if side == "ours":
                rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
                loop, steps = sum(x["step_time_s"] for x in rows), len(rows)
            else:
                res = json.loads(stdout.strip().splitlines()[-1])
                loop, steps = res["loop_s"], res["steps"]
            runs[side].append({"wall_s": wall, "cpu_s": cpu, "loop_s": loop, "steps": steps})
        hf, ours = runs["hf"][-1], runs["ours"][-1]
        print(f"    pair {r}: HF {hf['wall_s']:.1f}s (loop {hf['loop_s']:.1f}), ours {ours['wall_s']:.1f}s "
              f"(loop {ours['loop_s']:.1f}): {hf['wall_s'] / ours['wall_s']:.2f}x; load {os.getloadavg()[0]:.1f}",
              flush=True)
    return {"name": kind, "runs": runs}


def _median(xs) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def print_whole_process(results: list[dict]) -> None:
    print("| mixture | side | wall s | loop s | outside the loop s | cpu s | steps | speed-up (median of pairs, min-max) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        runs = r["runs"]
        ratios = [h["wall_s"] / o["wall_s"] for h, o in zip(runs["hf"], runs["ours"])]
        cpu_ratios = [h["cpu_s"] / o["cpu_s"] for h, o in zip(runs["hf"], runs["ours"])]
        for side in ("hf", "ours"):
            xs = runs[side]
            med = {k: _median([x[k] for x in xs]) for k in ("wall_s", "loop_s", "cpu_s")}
            outside = _median([x["wall_s"] - x["loop_s"] for x in xs])
            up = (f"**{_median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}; CPU {_median(cpu_ratios):.2f}x)"
                  if side == "ours" else "")
            print(f"| {r['name']} | {'HF Trainer' if side == 'hf' else 'tuning train'} | {med['wall_s']:.1f} | "
                  f"{med['loop_s']:.1f} | {outside:.1f} | {med['cpu_s']:.1f} | {xs[0]['steps']} | {up} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mixtures", default="short,ordinary,long", help="comma list of short, ordinary, long; or none")
    p.add_argument("--records", type=int, default=600)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--vocab", type=int, default=4000)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--repeats", type=int, help="runs of each side, alternating (default 2; 5 with --whole-process)")
    p.add_argument("--whole-process", action="store_true",
                   help="each side a fresh process from start to exit (default mixtures: short,ordinary)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default); with --whole-process "
                   "OMP_NUM_THREADS of both processes")
    p.add_argument("--smollm2", metavar="DIR", help="also the real model: a directory made by `tuning convert`")
    p.add_argument("--smollm2-pairs", type=int, default=200)
    p.add_argument("--smollm2-repeats", type=int, default=1)
    args = p.parse_args()
    if args.repeats is None:
        args.repeats = 5 if args.whole_process else 2
    if args.whole_process and args.mixtures == p.get_default("mixtures"):
        args.mixtures = "short,ordinary"
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"threads {torch.get_num_threads()}, Python {platform.python_version()}; load average "
          f"{os.getloadavg()[0]:.1f}")
    kinds = [k for k in args.mixtures.split(",") if k and k != "none"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if kinds and args.whole_process:
            print(f"whole process, tiny Llama: {args.layers} layers, hidden {args.hidden}, vocab {args.vocab}; batch "
                  f"{args.batch}, seq_len {args.seq_len}; {args.records} records per mixture; {args.repeats} pairs; "
                  f"OMP_NUM_THREADS={args.threads or 'unset'}", flush=True)
            results = [whole_process(kind, args, tmp) for kind in kinds]
            print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
            print_whole_process(results)
            return
        if kinds:
            print(f"tiny Llama: {args.layers} layers, hidden {args.hidden}, vocab {args.vocab}; batch {args.batch}, "
                  f"seq_len {args.seq_len}; {args.records} records per mixture; best of {args.repeats} (ABBA)")
        for kind in kinds:
            results.append(tiny_mixture(kind, args, tmp))
        if args.smollm2:
            peak = matmul_peak()
            print(f"  peak of a 2048^3 float32 matmul: {peak / 1e9:.1f} GFLOP/s", flush=True)
            results.append({**smollm2(Path(args.smollm2), args, tmp), "peak": peak})
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    print("| mixture | side | layout | wall s | loop s | cpu s | steps | examples/s | non-pad share | speed-up |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for side in ("hf", "ours"):
            x = r[side]
            up = f"**{r['hf']['wall_s'] / x['wall_s']:.2f}x**" if side == "ours" else ""
            print(f"| {r['name']} | {'HF Trainer' if side == 'hf' else 'tuning train'} | {x['layout']} | "
                  f"{x['wall_s']:.1f} | {x['loop_s']:.1f} | {x['cpu_s']:.1f} | {x['steps']} | {r['n'] / x['wall_s']:.1f} | "
                  f"{x['fill']:.1%} | {up} |")
    for r in results:
        print(f"{r['name']}: speed-up end to end {r['hf']['wall_s'] / r['ours']['wall_s']:.2f}x, training loop "
              f"{r['hf']['loop_s'] / r['ours']['loop_s']:.2f}x, CPU seconds {r['hf']['cpu_s'] / r['ours']['cpu_s']:.2f}x")
        if "peak" in r:
            for side in ("hf", "ours"):
                tps = r[side]["tokens"] / r[side]["loop_s"]
                print(f"  {side}: {tps:.0f} tokens/s in the loop = {6 * r['params'] * tps / 1e9:.2f} GFLOP/s, "
                      f"{6 * r['params'] * tps / r['peak']:.1%} of the matmul peak")


if __name__ == "__main__":
    main()
