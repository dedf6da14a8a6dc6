"""The whole loop of docs/DESIGN, across both packages, through the command lines only.

pilots.csv --budgetlaw fit--> laws.json --budgetlaw allocate--> plan.json --tuning mix-->
mix.jsonl --python -m tuning train--> run/final --tuning eval--> results.csv --tuning pilots
--append--> pilots.csv --budgetlaw fit--> laws.json

Everything is made here: two small gettext catalogs (polib), English and Chinese instructions,
a FLORES-style folder that overlaps some catalog pairs, a JSONL task, and a tiny Llama with a
tokenizer trained in the test (tests/tuning/conftest.py's builders, loaded by path because that
conftest applies only below tests/tuning/). What is checked are the hand-offs between the
commands: each file one command writes is what the next one documents that it reads.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("zh", "ar")
BUDGET = 200
SEED = 3

# Known generating laws for the first pilot file: score = 100 - K * x**(-c). With these the
# allocation at 200 pairs is interior (both languages get pairs) and unequal.
TRUE_LAWS = {"zh": (150.0, 0.12), "ar": (120.0, 0.08)}
PILOT_SIZES = (1000, 3000, 10000, 30000)

# Vocabulary for synthetic catalog messages: each (English, Chinese, Arabic) word triple.
_VERBS = [("Open", "打开", "افتح"), ("Save", "保存", "احفظ"), ("Close", "关闭", "أغلق"),
          ("Print", "打印", "اطبع"), ("Delete", "删除", "احذف"), ("Copy", "复制", "انسخ"),
          ("Rename", "重命名", "أعد تسمية"), ("Move", "移动", "انقل")]
_NOUNS = [("the file", "文件", "الملف"), ("the folder", "文件夹", "المجلد"),
          ("the window", "窗口", "النافذة"), ("the page", "页面", "الصفحة"),
          ("the document", "文档", "المستند"), ("the image", "图像", "الصورة"),
          ("the archive", "归档", "الأرشيف"), ("the message", "消息", "الرسالة")]
N_PAIRS = 400  # per catalog; the plan asks for fewer, so max_epochs=1 suffices
N_HELDOUT_OVERLAP = 6  # catalog pairs copied into the FLORES folder


def _builders():
    """tests/tuning/conftest.py as a module (its builders are plain functions)."""
    spec = importlib.util.spec_from_file_location(
        "_e2e_tuning_builders", ROOT / "tests" / "tuning" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pairs(lang: str) -> list[tuple[str, str]]:
    col = 1 if lang == "zh" else 2
    out = []
    for i in range(N_PAIRS):
        verb = _VERBS[i % len(_VERBS)]
        noun = _NOUNS[(i // len(_VERBS)) % len(_NOUNS)]
        n = i // (len(_VERBS) * len(_NOUNS))  # distinct numbers keep every message distinct
        out.append((f"{verb[0]} {noun[0]} {n}", f"{verb[col]}{noun[col]} {n}" if lang == "zh"
                    else f"{verb[col]} {noun[col]} {n}"))
    return out


def _write_po(path: Path, lang: str, pairs) -> None:
    import polib

    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": lang}
    for en, xx in pairs:
        po.append(polib.POEntry(msgid=en, msgstr=xx))
    # entries the reader documents that it skips: untranslated and fuzzy
    po.append(polib.POEntry(msgid="Untranslated message", msgstr=""))
    po.append(polib.POEntry(msgid="Fuzzy message", msgstr="模糊" if lang == "zh" else "غامض",
                            flags=["fuzzy"]))
    po.save(str(path))


def _norm(text: str) -> str:
    # docs/data.md: NFKC, case folded, runs of whitespace made one space
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _run(*argv: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)
    assert proc.returncode == 0, (
        f"{' '.join(argv)} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
        f"stderr:\n{proc.stderr[-5000:]}"
    )
    return proc


def _budgetlaw(*args: str, cwd: Path):
    return _run(sys.executable, "-m", "budgetlaw", *args, cwd=cwd)


def _tuning(*args: str, cwd: Path, timeout: int = 300):
    return _run(sys.executable, "-m", "tuning", *args, cwd=cwd, timeout=timeout)


def _write_inputs(work: Path) -> dict:
    """Every input file of the loop; returns the held-out (English, translation) pairs."""
    # pilots.csv from the known laws (three seeds, small symmetric noise)
    lines = ["language,size,score,seed,metric"]
    for lang, (k, c) in TRUE_LAWS.items():
        for size in PILOT_SIZES:
            for seed, noise in enumerate((-0.3, 0.0, 0.3)):
                lines.append(f"{lang},{size},{100 - k * size ** (-c) + noise:.4f},{seed},chrf")
    (work / "pilots.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # catalogs and a FLORES-style folder whose dev split repeats a few catalog pairs
    flores = work / "flores"
    heldout = {}
    for lang in LANGS:
        pairs = _pairs(lang)
        _write_po(work / f"{lang}.po", lang, pairs)
        heldout[lang] = pairs[:N_HELDOUT_OVERLAP]
    en_dev = [en for en, _ in heldout["zh"]]
    # the same English lines for every language: FLORES is multi-way parallel; the Arabic side
    # of the zh-overlap English sentences is the Arabic catalog's translation of that sentence
    ar_map = dict(_pairs("ar"))
    dev = {"eng_Latn": en_dev, "zho_Hans": [xx for _, xx in heldout["zh"]],
           "arb_Arab": [ar_map[en] for en in en_dev]}
    devtest = {"eng_Latn": ["Where is the station?", "The weather is nice today.",
                            "Please open the window."],
               "zho_Hans": ["车站在哪里？", "今天天气很好。", "请打开窗户。"],
               "arb_Arab": ["أين المحطة؟", "الطقس جميل اليوم.", "من فضلك افتح النافذة."]}
    for split, texts in (("dev", dev), ("devtest", devtest)):
        (flores / split).mkdir(parents=True)
        for code, sentences in texts.items():
            (flores / split / f"{code}.{split}").write_text("\n".join(sentences) + "\n",
                                                            encoding="utf-8")

    english = [{"instruction": f"Name {n} colours.", "input": "", "output": "Red and blue."}
               for n in range(2, 12)]
    english.append({"instruction": "Summarise the text.", "input": "The cat sat on the mat.",
                    "output": "A cat sat."})
    english.append(dict(english[0]))  # an exact duplicate: removed by the mixture
    (work / "alpaca_en.json").write_text(json.dumps(english, ensure_ascii=False), encoding="utf-8")
    chinese = [{"instruction": f"说出{n}种颜色。", "input": "", "output": "红色和蓝色。"}
               for n in range(2, 7)]
    (work / "alpaca_zh.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chinese), encoding="utf-8")

    task = [{"id": "q1", "prompt": "### Instruction:\nTranslate to Chinese.\n\n### Input:\nOpen the file\n\n### Response:\n",
             "reference": "打开文件", "language": "zh", "source": "Open the file"},
            {"id": "q2", "instruction": "Translate the following text from English to Arabic.",
             "input": "Close the window", "reference": "أغلق النافذة", "language": "ar",
             "source": "Close the window"}]
    (work / "task.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in task), encoding="utf-8")

    builders = _builders()
    tokenizer = builders.build_tokenizer()
    model = builders.build_tiny_llama(tokenizer)
    model.save_pretrained(work / "tiny", safe_serialization=True)
    tokenizer.save_pretrained(work / "tiny")
    return heldout


def test_pilots_to_plan_to_model_to_pilots(tmp_path):
    import pandas as pd

    work = tmp_path
    heldout = _write_inputs(work)

    # 1. fit the known laws
    _budgetlaw("fit", "pilots.csv", "-o", "laws.json", "--n-boot", "20", cwd=work)
    laws = json.loads((work / "laws.json").read_text(encoding="utf-8"))
    assert laws  # read back below through the public loader too
    import budgetlaw as bl

    lawset = bl.load_laws(work / "laws.json")
    assert sorted(lawset) == sorted(LANGS)
    for lang, (k, c) in TRUE_LAWS.items():
        assert lawset[lang].c == pytest.approx(c, rel=0.15)

    # 2. allocate a small budget
    _budgetlaw("allocate", "laws.json", "--budget", str(BUDGET), "-o", "plan.json", cwd=work)
    plan = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    assert plan["format"] == "budgetlaw-plan/1"
    sizes = plan["sizes"]
    assert sorted(sizes) == sorted(LANGS)
    assert sum(sizes.values()) == pytest.approx(BUDGET, rel=1e-6)
    assert all(s > 10 for s in sizes.values())
    # Optimality at an interior solution: equal marginal gains, c*K*x**(-c-1), for both
    # languages (worked out from the fitted laws, not from the plan's own numbers).
    margins = [lawset[lang].c * lawset[lang].K * sizes[lang] ** (-lawset[lang].c - 1)
               for lang in LANGS]
    assert margins[0] == pytest.approx(margins[1], rel=1e-3)

    # 3. the mixture
    _tuning("mix", "plan.json", "-o", "mix.jsonl",
            "--parallel", "zh=zh.po", "--parallel", "ar_EG=ar.po",
            "--instructions", "en=alpaca_en.json", "--instructions", "zh_CN=alpaca_zh.jsonl",
            "--heldout", "zh=flores", "--heldout", "ar=flores", "--seed", str(SEED), cwd=work)
    records = [json.loads(line) for line in
               (work / "mix.jsonl").read_text(encoding="utf-8").splitlines()]
    manifest = json.loads((work / "mix.manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "tuning-mixture-manifest/1"
    assert manifest["seed"] == SEED
    assert manifest["output"]["records"] == len(records)
    for rec in records:
        assert list(rec) == ["id", "language", "task", "instruction", "input", "output", "source"]
    assert len({rec["id"] for rec in records}) == len(records)
    translation = {lang: [r for r in records if r["task"] == "translation"
                          and r["language"] == lang] for lang in LANGS}
    for lang in LANGS:
        # exactly the planned number of pairs, and the manifest says the same
        assert len(translation[lang]) == round(sizes[lang]), lang
        assert manifest["counts"][lang]["translation"] == round(sizes[lang])
        # every pair is a real catalog pair, en-x by default
        catalog = dict(_pairs(lang))
        for rec in translation[lang]:
            assert catalog[rec["input"]] == rec["output"]
        assert len({r["input"] for r in translation[lang]}) == len(translation[lang])
        # no held-out text, on either side, in the mixture
        banned = {_norm(t) for pair in heldout[lang] for t in pair}
        for rec in translation[lang]:
            assert _norm(rec["input"]) not in banned and _norm(rec["output"]) not in banned
        assert manifest["heldout_hits"][lang] == N_HELDOUT_OVERLAP
    # English instructions: 12 given, one exact duplicate; Chinese: 5
    assert sum(r["language"] == "en" for r in records) == 11
    assert manifest["counts"]["en"]["instruction"] == 11
    assert sum(r["language"] == "zh" and r["task"] == "instruction" for r in records) == 5
    assert manifest["counts"]["zh"]["instruction"] == 5

    # 4. train a few steps in one process, saving final/
    (work / "train.yaml").write_text(
        "model: tiny\ndata: mix.jsonl\noutput_dir: run\nmax_steps: 4\nseq_len: 128\n"
        "batch_size: 4\ngrad_accum: 1\nlr: 1.0e-3\nwarmup_ratio: 0.0\nseed: 0\n",
        encoding="utf-8")
    _run(sys.executable, "-m", "tuning", "train", "train.yaml", cwd=work)
    final = work / "run" / "final"
    run_info = json.loads((work / "run" / "run.json").read_text(encoding="utf-8"))
    assert run_info.get("finished") is True
    metrics = [json.loads(line) for line in
               (work / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert all(math.isfinite(m["loss"]) for m in metrics)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(final)
    assert model.config.num_hidden_layers == 2
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.get_input_embeddings().weight.shape[0] >= len(tokenizer)

    # 5. evaluate: FLORES both languages plus the JSONL task, chrF only (no COMET offline)
    _tuning("eval", "--model", str(final),
            "--task", "flores:en-zh", "--data", "flores",
            "--task", "flores:en-ar", "--data", "flores",
            "--task", "jsonl:e2e", "--data", "task.jsonl",
            "--max-new-tokens", "8", "--batch-size", "4", "-o", "results.csv", cwd=work)
    results = pd.read_csv(work / "results.csv", keep_default_na=False)
    assert list(results.columns) == ["language", "task", "metric", "score", "n", "signature",
                                     "model"]
    assert set(results["metric"]) >= {"bleu", "chrf", "off_target"}
    assert "comet" not in set(results["metric"])
    chrf = results[results["metric"] == "chrf"].set_index(["task", "language"])["score"]
    assert set(chrf.index) == {("flores:en-zh", "zh"), ("flores:en-ar", "ar"),
                               ("jsonl:e2e", "zh"), ("jsonl:e2e", "ar")}
    n = results[results["metric"] == "chrf"].set_index(["task", "language"])["n"]
    assert n[("flores:en-zh", "zh")] == 3 and n[("jsonl:e2e", "ar")] == 1
    assert results["score"].between(0, 100).all()

    # 6. the scores back as pilot points, appended to the pilots file
    before = pd.read_csv(work / "pilots.csv")
    _tuning("pilots", "--results", "results.csv", "--manifest", "mix.manifest.json",
            "--metric", "chrf", "-o", "pilots.csv", "--append", cwd=work)
    after = pd.read_csv(work / "pilots.csv")
    assert list(after.columns) == ["language", "size", "score", "seed", "metric"]
    pd.testing.assert_frame_equal(after.iloc[: len(before)].reset_index(drop=True), before,
                                  check_dtype=False)
    added = after.iloc[len(before):].set_index("language")
    assert sorted(added.index) == sorted(LANGS)
    for lang in LANGS:
        assert added.loc[lang, "size"] == manifest["counts"][lang]["translation"]
        assert added.loc[lang, "seed"] == SEED
        assert added.loc[lang, "metric"] == "chrf"
        # the mean over the tasks that scored the language
        expected = (chrf[(f"flores:en-{lang}", lang)] + chrf[("jsonl:e2e", lang)]) / 2
        assert added.loc[lang, "score"] == pytest.approx(expected, abs=1e-6)

    # 7. budgetlaw reads the grown file
    _budgetlaw("fit", "pilots.csv", "-o", "laws2.json", "--n-boot", "0", cwd=work)
    refit = bl.load_laws(work / "laws2.json")
    for lang in LANGS:
        assert refit[lang].n_points == len(PILOT_SIZES) * 3 + 1
        assert min(refit[lang].sizes) == manifest["counts"][lang]["translation"]
