"""The whole loop of README.md's data-flow diagram, across both packages, through the command
lines only.

pilots.csv --budgetlaw fit--> laws.json --budgetlaw allocate--> plan.json --tuning mix-->
mix.jsonl --python -m tuning train--> run/final --tuning eval--> results.csv --tuning pilots
--append--> pilots.csv --budgetlaw fit--> laws.json

Everything is made here: two small gettext catalogs (polib), English and Chinese instructions,
a FLORES-style folder that overlaps some catalog pairs, a JSONL task, and a tiny Llama with a
tokenizer trained in the test (tests/_builders.py). What is checked are the hand-offs between the
commands: each file one command writes is what the next one documents that it reads.

Also here: a token budget with a scarce language (tuning tokens -> LANGS.csv cost -> allocate
with max_epochs -> mix repeats the pairs), a checkpoint without a pad token (train grows the
vocabulary, eval reads the result), examples/end_to_end.sh run as a user would, and
checks of the hand-offs that used to break (tuning pilots --append writing a file that budgetlaw
fit refuses, averaging several models' scores, zero-shot languages, scores off the 0..100 scale;
an error message naming an option budgetlaw allocate does not have; a plan.json only its owner
can read).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from _builders import build_tiny_comet, build_tiny_llama, build_tokenizer, system_catalogs

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

    tokenizer = build_tokenizer()
    model = build_tiny_llama(tokenizer)
    model.save_pretrained(work / "tiny", safe_serialization=True)
    tokenizer.save_pretrained(work / "tiny")
    return heldout


@pytest.mark.slow
def test_pilots_to_plan_to_model_to_pilots(tmp_path):


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
    assert manifest["output"]["sha256"] == hashlib.sha256((work / "mix.jsonl").read_bytes()).hexdigest()
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
        "model: tiny\ndata: mix.jsonl\noutput_dir: run\nmax_steps: 4\nseq_len: 256\n"
        "batch_size: 4\ngrad_accum: 1\nlr: 1.0e-3\nwarmup_ratio: 0.0\nseed: 0\n",
        encoding="utf-8")
    _run(sys.executable, "-m", "tuning", "train", "train.yaml", cwd=work)
    final = work / "run" / "final"
    run_info = json.loads((work / "run" / "run.json").read_text(encoding="utf-8"))
    assert run_info.get("finished") is True
    # the trainer read the very file tuning mix wrote, every record of it, none cut or dropped
    assert run_info["data_sha256"] == manifest["output"]["sha256"]
    assert run_info["tokenize"]["n"] == len(records)
    assert run_info["tokenize"]["dropped"] == 0 and run_info["tokenize"]["truncated"] == 0
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

    # 5. evaluate: FLORES both languages plus the JSONL task, with a tiny COMET built offline
    # (tests/tuning/evaluation/conftest.py) in comet's checkpoint layout
    _, comet_dir = build_tiny_comet(work / "comet")
    _tuning("eval", "--model", str(final),
            "--task", "flores:en-zh", "--data", "flores",
            "--task", "flores:en-ar", "--data", "flores",
            "--task", "jsonl:e2e", "--data", "task.jsonl", "--comet-model", str(comet_dir),
            "--max-new-tokens", "8", "--batch-size", "4", "-o", "results.csv", cwd=work)
    results = pd.read_csv(work / "results.csv", keep_default_na=False)
    assert list(results.columns) == ["language", "task", "metric", "score", "n", "signature",
                                     "model"]
    assert set(results["metric"]) == {"bleu", "chrf", "comet", "off_target"}
    comet = results[results["metric"] == "comet"].set_index(["task", "language"])
    assert set(comet.index) == {("flores:en-zh", "zh"), ("flores:en-ar", "ar"),
                                ("jsonl:e2e", "zh"), ("jsonl:e2e", "ar")}
    assert comet["score"].map(math.isfinite).all()
    assert all("refs:yes" in sig for sig in comet["signature"])
    results = results[results["metric"] != "comet"]  # an untrained COMET is not on 0..100
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

    # the COMET rows of the FLORES tasks only, as a real run would take them (not appended:
    # an untrained COMET's numbers are not scores budgetlaw should fit). An untrained COMET
    # may score below 0; then the command must refuse cleanly instead of writing a file
    # budgetlaw cannot read.
    flores_comet = {lang: comet.loc[(f"flores:en-{lang}", lang), "score"] for lang in LANGS}
    proc = subprocess.run(
        [sys.executable, "-m", "tuning", "pilots", "--results", "results.csv", "--manifest",
         "mix.manifest.json", "--metric", "comet", "--task", "flores:en-", "-o", "comet_pilots.csv"],
        cwd=work, capture_output=True, text=True, timeout=300)
    if all(0 <= score <= 100 for score in flores_comet.values()):
        assert proc.returncode == 0, proc.stderr
        comet_pilots = pd.read_csv(work / "comet_pilots.csv").set_index("language")
        for lang in LANGS:
            assert comet_pilots.loc[lang, "size"] == manifest["counts"][lang]["translation"]
            assert comet_pilots.loc[lang, "score"] == pytest.approx(flores_comet[lang], abs=1e-6)
    else:
        assert proc.returncode == 2 and "outside 0..100" in proc.stderr and "Traceback" not in proc.stderr
        assert not (work / "comet_pilots.csv").exists()

    # 7. budgetlaw reads the grown file
    _budgetlaw("fit", "pilots.csv", "-o", "laws2.json", "--n-boot", "0", cwd=work)
    refit = bl.load_laws(work / "laws2.json")
    for lang in LANGS:
        assert refit[lang].n_points == len(PILOT_SIZES) * 3 + 1
        assert min(refit[lang].sizes) == manifest["counts"][lang]["translation"]


@pytest.mark.slow
def test_token_budget_with_a_scarce_language_repeats_its_pairs(tmp_path):
    """docs/data.md's token budget: pilot mixture -> tuning tokens -> LANGS.csv cost ->
    budgetlaw allocate (ar capped at available x max_epochs) -> tuning mix repeats ar's pairs."""
    import budgetlaw as bl
    from tuning.prompts import render_prompt

    work = tmp_path
    _write_inputs(work)
    n_ar = 40  # the whole Arabic catalog: scarce
    _write_po(work / "ar.po", "ar", _pairs("ar")[:n_ar])
    _budgetlaw("fit", "pilots.csv", "-o", "laws.json", "--n-boot", "0", cwd=work)

    # a pilot mixture, hand-written plan, only to measure tokens per pair
    (work / "pilot_plan.json").write_text('{"sizes": {"zh": 30, "ar": 30}}', encoding="utf-8")
    _tuning("mix", "pilot_plan.json", "-o", "pilot.jsonl", "--parallel", "zh=zh.po",
            "--parallel", "ar=ar.po", "--instructions", "en=alpaca_en.json", cwd=work)
    _tuning("tokens", "pilot.jsonl", "--tokenizer", "tiny", "-o", "counts.csv", cwd=work)
    counts = pd.read_csv(work / "counts.csv").set_index("language")
    cost = {lang: float(counts.loc[lang, "tokens_per_pair"]) for lang in LANGS}
    assert all(c > 10 for c in cost.values())

    (work / "langs.csv").write_text(
        "language,available,cost\n" + "".join(f"{lang},{n_ar if lang == 'ar' else ''},{cost[lang]}\n"
                                              for lang in LANGS), encoding="utf-8")
    budget = 400 * (cost["zh"] + cost["ar"]) / 2  # ~400 pairs of tokens: ar wants more than 80
    _budgetlaw("allocate", "laws.json", "--budget", f"{budget:.0f}", "--languages", "langs.csv",
               "--max-epochs", "2", "-o", "plan.json", cwd=work)
    plan = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    sizes = plan["sizes"]
    assert sizes["ar"] == pytest.approx(2 * n_ar, rel=1e-6)  # the cap binds
    assert sum(cost[lang] * sizes[lang] for lang in LANGS) == pytest.approx(round(budget), rel=1e-6)

    _tuning("mix", "plan.json", "-o", "mix.jsonl", "--parallel", "zh=zh.po", "--parallel", "ar=ar.po",
            "--instructions", "en=alpaca_en.json", "--seed", "5", cwd=work)
    records = [json.loads(line) for line in (work / "mix.jsonl").read_text(encoding="utf-8").splitlines()]
    manifest = json.loads((work / "mix.manifest.json").read_text(encoding="utf-8"))
    ar = [(r["input"], r["output"]) for r in records if r["task"] == "translation" and r["language"] == "ar"]
    zh = [r for r in records if r["task"] == "translation" and r["language"] == "zh"]
    assert len(ar) == 2 * n_ar and len(zh) == round(sizes["zh"])
    # every Arabic pair of the catalog exactly twice
    assert sorted(ar) == sorted(_pairs("ar")[:n_ar] * 2)
    assert manifest["available_pairs"]["ar"] == n_ar
    assert manifest["epochs"]["ar"] == pytest.approx(2.0)

    # the tokens the trainer will see (prompt + output + EOS), counted here with the tokenizer,
    # come close to the token budget: the cost was a mean over a different sample of pairs
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(work / "tiny")
    spent = sum(len(tok(render_prompt(r["instruction"], r["input"]))["input_ids"])
                + len(tok(r["output"], add_special_tokens=False)["input_ids"]) + 1
                for r in records if r["task"] == "translation")
    assert spent == pytest.approx(budget, rel=0.1)
    assert bl.load_plan(work / "plan.json").constraints["max_epochs"] == 2


# --- hand-offs: tuning pilots --append must leave a file budgetlaw fit reads ---------------------
# (each of these failed before 7db3799; the test accepts either fix: a clean refusal, or a file
# that budgetlaw fit reads with the new point under the file's own spelling of the language)

def _results_csv(rows, metric: str = "chrf") -> str:
    lines = ["language,task,metric,score,n,signature,model"]
    lines += [f"{lang},flores:en-{lang},{metric},{score},3,nrefs:1,run/final" for lang, score in rows]
    return "\n".join(lines) + "\n"


def _manifest(counts: dict) -> str:
    return json.dumps({"format": "tuning-mixture-manifest/1", "seed": 7,
                       "counts": {lang: {"translation": n, "instruction": 0}
                                  for lang, n in counts.items()}})


def _append_then_fit(work: Path, pilots: str, counts: dict, scores: dict, metric: str = "chrf"):
    """Write the three inputs, run `tuning pilots --append` then (if it worked) `budgetlaw fit`."""
    (work / "pilots.csv").write_text(pilots, encoding="utf-8")
    (work / "results.csv").write_text(_results_csv(scores.items(), metric), encoding="utf-8")
    (work / "mix.manifest.json").write_text(_manifest(counts), encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    appended = subprocess.run(
        [sys.executable, "-m", "tuning", "pilots", "--results", "results.csv", "--manifest",
         "mix.manifest.json", "--metric", metric, "-o", "pilots.csv", "--append"],
        cwd=work, capture_output=True, text=True, timeout=120, env=env)
    assert "Traceback" not in appended.stderr, appended.stderr
    fitted = None
    if appended.returncode == 0:
        fitted = subprocess.run(
            [sys.executable, "-m", "budgetlaw", "fit", "pilots.csv", "-o", "laws.json", "--n-boot", "0",
             "--metric", metric],
            cwd=work, capture_output=True, text=True, timeout=120, env=env)
    return appended, fitted


def _pilot_lines(language: str, header: str = "language,size,score", extra: str = "") -> str:
    k, c = TRUE_LAWS["zh"]
    rows = [f"{language},{size},{100 - k * size ** (-c):.4f}{extra}" for size in PILOT_SIZES]
    return header + "\n" + "\n".join(rows) + "\n"


def _n_points(path: Path, lang: str) -> int:
    import budgetlaw as bl

    return bl.load_laws(path)[lang].n_points


def _assert_refused_cleanly(appended, work: Path, before: str, message: str) -> None:
    """Exit 2, one line naming the problem, and the pilots file exactly as it was."""
    assert appended.returncode == 2, appended.stderr
    assert "tuning pilots: error:" in appended.stderr and message in appended.stderr, appended.stderr
    assert (work / "pilots.csv").read_text(encoding="utf-8") == before


def test_pilots_append_with_all_columns_is_fittable(tmp_path):
    # the working case, as a control for the failing ones below
    pilots = _pilot_lines("zh", "language,size,score,seed,metric", ",0,chrf")
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": 12.5})
    assert appended.returncode == 0, appended.stderr
    assert fitted.returncode == 0, fitted.stderr
    frame = pd.read_csv(tmp_path / "pilots.csv")
    assert frame.iloc[-1].tolist() == ["zh", 120.0, 12.5, 7, "chrf"]
    assert _n_points(tmp_path / "laws.json", "zh") == len(PILOT_SIZES) + 1


def test_pilots_append_to_a_file_without_seed_and_metric_columns(tmp_path):
    pilots = _pilot_lines("zh")  # the three required columns only (docs/formats/pilots.md)
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": 12.5})
    # issue 19: without a metric column the new chrf row could not be told from the file's rows
    # (an nll row would have joined chrf rows and been fitted with them): refused, file unchanged
    assert appended.returncode == 2 and "has no metric column" in appended.stderr, appended.stderr
    assert fitted is None
    assert (tmp_path / "pilots.csv").read_text(encoding="utf-8") == pilots


def test_pilots_append_to_a_file_without_a_seed_column(tmp_path):
    pilots = _pilot_lines("zh", "language,size,score,metric", ",chrf")
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": 12.5})
    # the new row follows the file: the seed it does not track is left out
    assert appended.returncode == 0, appended.stderr
    assert fitted.returncode == 0, fitted.stderr
    assert (tmp_path / "pilots.csv").read_text(encoding="utf-8") == pilots + "zh,120.0,12.5,chrf\n"
    assert _n_points(tmp_path / "laws.json", "zh") == len(PILOT_SIZES) + 1


def test_pilots_append_to_a_file_with_capitalised_header(tmp_path):
    pilots = _pilot_lines("zh", "Language,Size,Score,Seed,Metric", ",0,chrf")
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": 12.5})
    assert appended.returncode == 0, appended.stderr
    assert fitted.returncode == 0, fitted.stderr
    assert _n_points(tmp_path / "laws.json", "zh") == len(PILOT_SIZES) + 1


def test_pilots_append_keeps_the_files_spelling_of_the_language(tmp_path):
    pilots = _pilot_lines("zh_CN", "language,size,score,seed,metric", ",0,chrf")
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": 12.5})
    assert appended.returncode == 0, appended.stderr
    assert fitted.returncode == 0, fitted.stderr
    assert pd.read_csv(tmp_path / "pilots.csv").iloc[-1].tolist() == ["zh_CN", 120.0, 12.5, 7, "chrf"]
    import budgetlaw as bl

    laws = bl.load_laws(tmp_path / "laws.json")
    assert len(laws) == 1 and next(iter(laws.values())).n_points == len(PILOT_SIZES) + 1


def test_pilots_append_never_writes_a_size_budgetlaw_refuses(tmp_path):
    k, c = TRUE_LAWS["ar"]
    pilots = _pilot_lines("zh", "language,size,score,seed,metric", ",0,chrf") + "".join(
        f"ar,{size},{100 - k * size ** (-c):.4f},0,chrf\n" for size in PILOT_SIZES)
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120, "ar": 0},
                                        {"zh": 12.5, "ar": 3.0})
    # ar's mixture has no pairs: its row is skipped with a warning, zh's is written
    assert appended.returncode == 0, appended.stderr
    assert "ar: the mixture has no translation pairs for it" in appended.stderr
    assert fitted.returncode == 0, fitted.stderr
    assert (tmp_path / "pilots.csv").read_text(encoding="utf-8") == pilots + "zh,120.0,12.5,7,chrf\n"


def test_too_few_pairs_error_names_real_allocate_options(tmp_path):
    import re

    _write_po(tmp_path / "zh.po", "zh", _pairs("zh")[:20])
    (tmp_path / "alpaca_en.json").write_text(
        '[{"instruction": "Name a colour.", "input": "", "output": "Red."}]', encoding="utf-8")
    (tmp_path / "plan.json").write_text('{"sizes": {"zh": 50}}', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tuning", "mix", "plan.json", "-o", "mix.jsonl",
         "--parallel", "zh=zh.po", "--instructions", "en=alpaca_en.json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "20" in proc.stderr  # the distinct pairs found
    assert not (tmp_path / "mix.jsonl").exists()
    named = re.findall(r"budgetlaw allocate[^;)\n]*?(--[a-z][\w-]*)", proc.stderr)
    assert named, proc.stderr
    helptext = subprocess.run([sys.executable, "-m", "budgetlaw", "allocate", "--help"],
                              capture_output=True, text=True, timeout=120).stdout
    for option in named:
        assert option in helptext, f"the error suggests {option}, which budgetlaw allocate lacks"


@pytest.mark.slow
def test_example_end_to_end_script_runs(tmp_path):
    """examples/end_to_end.sh on the real catalogs: it must keep working as the code changes."""
    for folder in ("zh_CN", "ar"):
        system_catalogs(folder)  # fails with the reason when the system's catalogs are missing
    work = tmp_path / "e2e"
    proc = subprocess.run(
        ["bash", str(ROOT / "examples" / "end_to_end.sh"), str(work)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "2"})
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    assert "Traceback" not in proc.stderr
    manifest = json.loads((work / "mix.manifest.json").read_text(encoding="utf-8"))
    plan = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    for lang in LANGS:
        assert manifest["counts"][lang]["translation"] == round(plan["sizes"][lang])
        assert manifest["heldout_hits"][lang] > 0  # the evaluation set is made of catalog pairs
    records = [json.loads(line) for line in (work / "mix.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {_norm(t) for r in records for t in (r["input"], r["output"])}
    for path in (work / "flores").glob("*/*"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert _norm(line) not in texts, f"held-out {path.name} line in the mixture: {line!r}"
    assert (work / "run" / "final" / "config.json").is_file()
    assert (work / "report" / "report.md").is_file()
    pilots = pd.read_csv(work / "pilots.csv")
    added = pilots.tail(2).set_index("language")
    assert sorted(added.index) == sorted(LANGS)
    for lang in LANGS:
        assert added.loc[lang, "size"] == manifest["counts"][lang]["translation"]


def test_pilots_append_never_writes_a_score_budgetlaw_refuses(tmp_path):
    pilots = _pilot_lines("zh", "language,size,score,seed,metric", ",0,comet")
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": -12.5}, metric="comet")
    _assert_refused_cleanly(appended, tmp_path, pilots, "comet score -12.5 is outside 0..100")
    assert fitted is None  # nothing was appended, so nothing to fit


def test_pilots_skips_evaluated_languages_the_mixture_did_not_plan(tmp_path):
    pilots = _pilot_lines("zh", "language,size,score,seed,metric", ",0,chrf")
    appended, fitted = _append_then_fit(tmp_path, pilots, {"zh": 120}, {"zh": 12.5, "el": 4.0})
    assert appended.returncode == 0, appended.stderr
    assert fitted.returncode == 0, fitted.stderr
    frame = pd.read_csv(tmp_path / "pilots.csv")
    assert frame.iloc[-1].tolist() == ["zh", 120.0, 12.5, 7, "chrf"]
    assert "el" not in set(frame["language"])


def test_pilots_refuses_to_average_results_of_different_models(tmp_path):
    (tmp_path / "results.csv").write_text(
        "language,task,metric,score,n,signature,model\n"
        "zh,flores:en-zh,chrf,40.0,3,nrefs:1,pilot-10k/run/final\n"
        "zh,flores:en-zh,chrf,10.0,3,nrefs:1,pilot-1k/run/final\n", encoding="utf-8")
    (tmp_path / "mix.manifest.json").write_text(_manifest({"zh": 10000}), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tuning", "pilots", "--results", "results.csv", "--manifest",
         "mix.manifest.json", "--metric", "chrf", "-o", "pilots.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # a pilot point must be one model's score, never the mean of two models' (25.0): refused
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "chrf rows of 2 models (pilot-10k/run/final, pilot-1k/run/final)" in proc.stderr
    assert "pass --model NAME" in proc.stderr
    assert not (tmp_path / "pilots.csv").exists()


def test_plan_json_is_readable_like_the_other_outputs(tmp_path):
    # The plan is handed to another step (tuning mix), often another job or account on a
    # shared filesystem: it must get the ordinary mode for new files, like laws.json.
    (tmp_path / "pilots.csv").write_text(_pilot_lines("zh") + _pilot_lines("ar").split("\n", 1)[1],
                                         encoding="utf-8")
    for argv in (["fit", "pilots.csv", "-o", "laws.json", "--n-boot", "0"],
                 ["allocate", "laws.json", "--budget", "1000", "-o", "plan.json"]):
        proc = subprocess.run([sys.executable, "-m", "budgetlaw", *argv], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              preexec_fn=lambda: os.umask(0o022))
        assert proc.returncode == 0, proc.stderr
    modes = {name: (tmp_path / name).stat().st_mode & 0o777 for name in ("laws.json", "plan.json")}
    assert modes == {"laws.json": 0o644, "plan.json": 0o644}


@pytest.mark.slow
def test_model_without_pad_token_trains_and_evaluates(tmp_path):
    """Llama-style checkpoints ship no pad token: train adds one and grows the embeddings, and
    the final/ it hands to tuning eval must carry both (tokenizer and weights agree)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                              PreTrainedTokenizerFast)
    import torch

    work = tmp_path
    _write_inputs(work)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        [en + " " + xx for lang in LANGS for en, xx in _pairs(lang)[:50]] * 2,
        trainer=trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>", "<unk>"],
                                    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                    show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>")
    assert tok.pad_token is None
    vocab = len(tok)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False,
    )).save_pretrained(work / "nopad")
    tok.save_pretrained(work / "nopad")

    (work / "plan.json").write_text('{"sizes": {"zh": 40, "ar": 40}}', encoding="utf-8")
    _tuning("mix", "plan.json", "-o", "mix.jsonl", "--parallel", "zh=zh.po", "--parallel", "ar=ar.po",
            "--instructions", "en=alpaca_en.json", "--heldout", "zh=flores", cwd=work)
    (work / "train.yaml").write_text(
        "model: nopad\ndata: mix.jsonl\noutput_dir: run\nmax_steps: 2\nseq_len: 256\n"
        "batch_size: 4\ngrad_accum: 1\nlr: 1.0e-3\n", encoding="utf-8")
    _run(sys.executable, "-m", "tuning", "train", "train.yaml", cwd=work)

    final = work / "run" / "final"
    tok2 = AutoTokenizer.from_pretrained(final)
    model = AutoModelForCausalLM.from_pretrained(final)
    assert tok2.pad_token is not None and tok2.pad_token_id != tok2.eos_token_id
    assert tok2.pad_token_id == vocab  # appended after the original vocabulary
    assert len(tok2) == vocab + 1
    assert model.get_input_embeddings().weight.shape[0] == vocab + 1
    assert model.get_output_embeddings().weight.shape[0] == vocab + 1

    _tuning("eval", "--model", str(final), "--task", "flores:en-zh", "--data", "flores",
            "--max-new-tokens", "4", "-o", "results.csv", cwd=work)
    results = pd.read_csv(work / "results.csv", keep_default_na=False)
    assert set(results["metric"]) == {"bleu", "chrf", "off_target"}
    assert (results["n"] == 3).all()
