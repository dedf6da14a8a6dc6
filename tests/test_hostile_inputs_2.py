"""Hostile input, second table (issue 19): the newest surfaces. Each class of bad input the
issue found gets several instances here, fed through the command line with the house rules of
docs/guarantees.md checked by ``_hostile.check_refused`` (exit 2, one line, nothing changed).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _hostile import check_refused, random_bytes, run_in, snapshot

ROOT = Path(__file__).resolve().parents[1]


# -- tuning eval: predictions tied to the items they were made from ------------------------------
def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _task_records(sentences: list[str]) -> list[dict]:
    return [{"id": str(i), "prompt": f"Translate to Chinese: {s}", "reference": "打开文件", "language": "zh",
             "source": s} for i, s in enumerate(sentences)]


@pytest.fixture()
def ev_ws(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    _jsonl(ws / "a.jsonl", _task_records(["Open the file", "Save the document"]))
    _jsonl(ws / "b.jsonl", _task_records(["Close the window", "Print the page"]))
    _jsonl(ws / "dup.jsonl", [*_task_records(["Open the file", "Save the document"]),
                              {"id": "0", "prompt": "again", "reference": "x", "language": "zh"}])
    _jsonl(ws / "implicit_dup.jsonl", [{"id": "2", "prompt": "p", "reference": "x", "language": "zh"},
                                       {"prompt": "q", "reference": "y", "language": "zh"}])  # line 2 -> id "2"
    (ws / "squad_dup.json").write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": "Paris is in France.", "qas": [
            {"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
            {"id": "q1", "question": "What is in France?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}))
    _jsonl(ws / "preds_a.jsonl", [{"id": "0", "prompt": "Translate to Chinese: Open the file", "prediction": "打开"},
                                  {"id": "1", "prompt": "Translate to Chinese: Save the document", "prediction": "保存"}])
    _jsonl(ws / "preds_other.jsonl", [{"id": "0", "prompt": "Translate to Chinese: Close the window", "prediction": "x"},
                                      {"id": "1", "prompt": "Translate to Chinese: Print the page", "prediction": "y"}])
    _jsonl(ws / "preds_bare.jsonl", [{"id": "0", "prediction": "打开"}, {"id": "1", "prediction": "保存"}])
    (ws / "afile").write_text("not a folder\n")
    return ws


EVAL_A = ["eval", "--task", "jsonl:t", "--data", "a.jsonl"]
EVAL_CASES = [
    # duplicate item ids in the task data: one prediction would be scored for several references
    (["eval", "--task", "jsonl:t", "--data", "dup.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "id '0' appears again"),
    (["eval", "--task", "jsonl:t", "--data", "implicit_dup.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "id '2' appears again"),
    (["eval", "--task", "jsonl-qa:t", "--data", "dup.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "appears again"),
    (["eval", "--task", "xquad:en", "--data", "squad_dup.json", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "duplicate question id 'q1'"),
    # predictions whose recorded prompts are not the task's
    ([*EVAL_A, "--predictions", "preds_other.jsonl", "-o", "r.csv"], "differs from the task's prompt"),
    (["eval", "--task", "jsonl:t", "--data", "b.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "differs from the task's prompt"),
    (["eval", "--task", "jsonl:t", "--data", "a.jsonl", "--task", "jsonl:u", "--data", "b.jsonl",
      "--predictions", "preds_a.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"], "differs from"),
    # the predictions folder checked before the model loads (no model here: it must not get that far)
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "r.csv"], "the same path as -o"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "./r.csv"], "the same path as -o"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "afile"], "is an existing file"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "a.jsonl"], "a.jsonl"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "afile/p"], "is not a folder"),
]


@pytest.mark.parametrize("argv, needle", EVAL_CASES, ids=[" ".join(c[0]) for c in EVAL_CASES])
def test_eval_refuses(ev_ws, capsys, argv, needle):
    from tuning.cli import main

    check_refused(main, "tuning", argv, ev_ws, needle, capsys)


def test_eval_scores_predictions_whose_prompts_match(ev_ws):
    from tuning.cli import main

    for preds in ("preds_a.jsonl", "preds_bare.jsonl"):  # recorded prompts equal, or none recorded
        assert run_in(ev_ws, main, [*EVAL_A, "--predictions", preds, "-o", "r.csv"]) == 0
        assert set(pd.read_csv(ev_ws / "r.csv")["language"]) == {"zh"}


def test_prediction_file_names_never_collide():
    from tuning.evaluation.cli import prediction_file_name

    names = ["jsonl:a/b", "jsonl:a\\b", "jsonl:a_b", "jsonl:a:b", "jsonl:日本", "jsonl:中文", "jsonl:ab",
             "jsonl:a b", "jsonl:a\x00b", "jsonl-qa:a/b", "jsonl:..", "jsonl:.a"]
    files = [prediction_file_name(n) for n in names]
    assert len(set(files)) == len(names), files
    for f in files:
        assert "/" not in f and "\\" not in f and not f.startswith(".") and f.isascii() and f.endswith(".jsonl")
    assert prediction_file_name("flores:en-zh") == "flores_en-zh.jsonl"  # ordinary names are unchanged
    assert prediction_file_name("jsonl:my_test.v2") == "jsonl_my_test.v2.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from _builders import build_tiny_llama, build_tokenizer

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = build_tokenizer()
    build_tiny_llama(tok).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


GEN = ["--max-new-tokens", "3", "--device", "cpu", "--dtype", "float32", "--batch-size", "2"]


def test_eval_resume_is_tied_to_its_items(ev_ws, tiny_model, capsys):
    """A resume from other data, another --limit or another task's file is refused; the same
    items resume (nothing regenerated); an old file without the digest is taken only when its
    prompts are exactly the task's."""
    from tuning.cli import main

    model = ["--model", str(tiny_model), *GEN]
    assert run_in(ev_ws, main, [*EVAL_A, *model, "-o", "r.csv"]) == 0
    pred_dir = ev_ws / "r.predictions"
    side = json.loads((pred_dir / "jsonl_t.items.json").read_text())
    assert side["n_items"] == 2 and side["task"] == "jsonl:t"
    # the digest, worked out here from its documented definition
    import hashlib

    items = [[r["id"], r["prompt"]] for r in _task_records(["Open the file", "Save the document"])]
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    assert side["items_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    capsys.readouterr()

    for argv, needle in [
        (["eval", "--task", "jsonl:t", "--data", "b.jsonl", *model, "-o", "r.csv"], "made from other items"),
        ([*EVAL_A, "--limit", "1", *model, "-o", "r.csv"], "made from other items"),
        (["eval", "--task", "jsonl:u", "--data", "a.jsonl", "--task", "jsonl:t", "--data", "b.jsonl",
          *model, "-o", "r.csv"], "made from other items"),  # checked before the first new prediction
        ([*EVAL_A, "--task", "jsonl:t", "--data", "a.jsonl", *model, "-o", "r.csv"], "given twice"),
    ]:
        check_refused(main, "tuning", argv, ev_ws, needle, capsys)
    before = (pred_dir / "jsonl_t.jsonl").read_bytes()
    assert run_in(ev_ws, main, [*EVAL_A, *model, "-o", "r.csv"]) == 0
    assert (pred_dir / "jsonl_t.jsonl").read_bytes() == before  # resumed: nothing generated again

    # an older predictions file (no sidecar): prompts equal -> taken, sidecar written
    (pred_dir / "jsonl_t.items.json").unlink()
    assert run_in(ev_ws, main, [*EVAL_A, *model, "-o", "r.csv"]) == 0
    assert (pred_dir / "jsonl_t.items.json").is_file()
    # ... prompts of other data -> refused with what to do
    (pred_dir / "jsonl_t.items.json").unlink()
    capsys.readouterr()
    check_refused(main, "tuning", ["eval", "--task", "jsonl:t", "--data", "b.jsonl", *model, "-o", "r.csv"],
                  ev_ws, "delete it", capsys)
    # ... a line without its prompt cannot be tied to anything -> refused
    shutil.copy(ev_ws / "preds_bare.jsonl", pred_dir / "jsonl_t.jsonl")
    check_refused(main, "tuning", [*EVAL_A, *model, "-o", "r.csv"], ev_ws, "without jsonl_t.items.json", capsys)


def test_generate_resume_refuses_other_prompts(ev_ws, tiny_model, capsys):
    from tuning.cli import main

    _jsonl(ev_ws / "p.jsonl", [{"id": "0", "prompt": "Translate to Chinese: Open the file"}])
    _jsonl(ev_ws / "q.jsonl", [{"id": "0", "prompt": "Something else"}])
    assert run_in(ev_ws, main, ["generate", "--model", str(tiny_model), "--prompts", "p.jsonl", "-o", "o.jsonl",
                                *GEN]) == 0
    capsys.readouterr()
    check_refused(main, "tuning", ["generate", "--model", str(tiny_model), "--prompts", "q.jsonl", "-o", "o.jsonl",
                                   *GEN], ev_ws, "differs from the task's prompt", capsys)


# -- tuning pilots --append: metric, size, scale, direction, repeats ------------------------------
@pytest.fixture()
def pi_ws(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    header = "language,task,metric,score,n,signature,model\n"
    (ws / "comet.csv").write_text(header + "zh,flores:en-zh,comet,81.5,3,sig,m\n")
    (ws / "comet01.csv").write_text(header + "zh,flores:en-zh,comet,0.815,3,sig,m\nar,flores:en-ar,comet,0.7,3,sig,m\n")
    (ws / "comet01_one.csv").write_text(header + "zh,flores:en-zh,comet,1.0,3,sig,m\n")
    (ws / "nll.csv").write_text(header + "zh,flores:en-zh,nll,1.25,3,sig,m\n")
    (ws / "loss.csv").write_text(header + "zh,flores:en-zh,loss,2.5,3,sig,m\n")
    (ws / "loss_neg.csv").write_text(header + "zh,flores:en-zh,loss,-2.5,3,sig,m\n")
    manifest = {"format": "tuning-mixture-manifest/1", "seed": 0, "counts": {"zh": {"translation": 3}}}
    (ws / "m.json").write_text(json.dumps(manifest))
    for name, value in (("nan", "NaN"), ("inf", "Infinity"), ("str", '"3"'), ("bool", "true"), ("half", "2.5"),
                        ("null", "null")):
        (ws / f"m_{name}.json").write_text(json.dumps(manifest).replace('"translation": 3', f'"translation": {value}'))
    (ws / "nometric.csv").write_text("language,size,score,seed\nzh,3,80.0,0\n")
    (ws / "nometric_noseed.csv").write_text("Language,Size,Score\nzh,3,80.0\n")
    (ws / "with_metric.csv").write_text("language,size,score,seed,metric\nzh,3.0,81.5,0,comet\n")
    (ws / "hand.csv").write_text("language,size,score,seed,metric\nzh_CN,3,70,0,COMET\n")
    return ws


def _pilots(results: str, metric: str, out: str, *extra: str, manifest: str = "m.json") -> list[str]:
    return ["pilots", "--results", results, "--manifest", manifest, "--metric", metric, "-o", out, *extra]


PILOTS_CASES = [
    # a file without a metric column would mix metrics
    (_pilots("nll.csv", "nll", "nometric.csv", "--append"), "has no metric column"),
    (_pilots("comet.csv", "comet", "nometric.csv", "--append"), "has no metric column"),
    (_pilots("nll.csv", "nll", "nometric_noseed.csv", "--append"), "has no metric column"),
    # sizes that are not a whole number of pairs
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_nan.json"), "nan, not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_inf.json"), "not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_str.json"), "'3', not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_bool.json"), "True, not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_half.json"), "2.5, not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_null.json"), "None, not a whole number"),
    # COMET on 0..1
    (_pilots("comet01.csv", "comet", "new.csv"), "0..1 scale"),
    (_pilots("comet01_one.csv", "comet", "new.csv"), "0..1 scale"),
    (_pilots("comet01.csv", "COMET", "new.csv"), "0..1 scale"),
    # `loss` is a loss here as in budgetlaw
    (_pilots("loss_neg.csv", "loss", "new.csv"), "is not a loss"),
    # the same run appended twice
    (_pilots("comet.csv", "comet", "with_metric.csv", "--append"), "already holds this run"),
    (_pilots("comet.csv", "comet", "hand.csv", "--append"), "already holds this run"),
]


@pytest.mark.parametrize("argv, needle", PILOTS_CASES, ids=[" ".join(c[0]) for c in PILOTS_CASES])
def test_pilots_refuses(pi_ws, capsys, argv, needle):
    from tuning.cli import main

    check_refused(main, "tuning", argv, pi_ws, needle, capsys)


def test_pilots_loss_is_a_loss_and_appending_twice_is_refused(pi_ws, capsys):
    """`loss` 2.5 is not a 0..100 score: it passes as a loss; budgetlaw then refuses it as a score."""
    from budgetlaw.cli import main as bl_main
    from tuning.cli import main

    assert run_in(pi_ws, main, _pilots("loss.csv", "loss", "p.csv")) == 0
    assert pd.read_csv(pi_ws / "p.csv").to_dict("records") == [
        {"language": "zh", "size": 3.0, "score": 2.5, "seed": 0, "metric": "loss"}]
    capsys.readouterr()
    check_refused(main, "tuning", _pilots("loss.csv", "loss", "p.csv", "--append"), pi_ws, "already holds", capsys)
    # another seed is another run
    assert run_in(pi_ws, main, _pilots("loss.csv", "loss", "p.csv", "--append", "--seed", "1")) == 0
    assert pd.read_csv(pi_ws / "p.csv")["seed"].tolist() == [0, 1]
    capsys.readouterr()
    check_refused(bl_main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json"], pi_ws, "loss", capsys)


# -- budgetlaw fit: rows of an unnamed metric beside named ones -----------------------------------
BLANK_METRIC = [
    ("language,size,score,metric\n" + "".join(f"zh,{s},{2 - s / 1e6},nll\n" for s in (1e4, 2e4, 5e4))
     + "zh,1e5,1.0,\n", "--lower-is-better", "line 5: metric is empty while other rows are 'nll'"),
    ("language,size,score,metric\nzh,1e4,40,\n" + "".join(f"zh,{s},{50 + s / 1e4},comet\n" for s in (2e4, 5e4, 1e5)),
     None, "line 2: metric is empty"),
    ("language,size,score,metric,seed\n" + "".join(f"zh,{s},{2 - s / 1e6},nll,0\n" for s in (1e4, 2e4, 5e4))
     + "zh,1e4,1.5,  ,1\n", "--lower-is-better", "line 5: metric is empty"),
]


@pytest.mark.parametrize("text, flag, needle", BLANK_METRIC)
def test_fit_refuses_a_blank_metric_beside_named_ones(tmp_path, capsys, text, flag, needle):
    from budgetlaw.cli import main

    (tmp_path / "p.csv").write_text(text)
    check_refused(main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json", *([flag] if flag else [])], tmp_path,
                  needle, capsys)


def test_read_pilots_blank_metric_in_a_frame():
    from budgetlaw import InputError
    from budgetlaw.pilots import read_pilots

    frame = pd.DataFrame({"language": ["zh"] * 3, "size": [1e4, 2e4, 5e4], "score": [2.0, 1.8, 1.6],
                          "metric": ["nll", None, "nll"]})
    with pytest.raises(InputError, match="metric is empty"):
        read_pilots(frame, lower_is_better=True)
    assert len(read_pilots(frame, lower_is_better=True, metric="nll", min_sizes=2)) == 2  # picked: kept rows


# -- budgetlaw demo: a budget allocate refuses, a folder of the user's files, same bytes ----------
@pytest.fixture()
def demo_ws(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    for name, text in (("pilots.csv", "language,size,score\nmine,1,2\n"), ("laws.json", '{"mine": true}\n'),
                       ("plan.json", '{"mine": true}\n'), ("limits.csv", "language,available\nmine,1\n")):
        (ws / "own" / name).parent.mkdir(exist_ok=True)
        (ws / "own" / name).write_text(text)
    (ws / "own_report" / "report").mkdir(parents=True)
    (ws / "own_report" / "report" / "notes.md").write_text("mine\n")
    return ws


DEMO_CASES = [
    # the measured demo has 6 languages: fewer than 6 pairs cannot pay one of each (allocate refuses it too)
    (["demo", "-o", "out", "--budget", "3"], "cannot pay one pair of each of the 6 languages"),
    (["demo", "-o", "out", "--budget", "5.9"], "cannot pay one pair"),
    (["demo", "-o", "out", "--budget", "1e-3"], "cannot pay one pair"),
    (["demo", "--synthetic", "-o", "out", "--budget", "5"], "cannot pay one pair"),
    # a folder holding files the demo writes: the user's own files are never replaced
    (["demo", "-o", "own"], "already holds pilots.csv, limits.csv, laws.json, plan.json"),
    (["demo", "-o", "own_report"], "already holds report"),
    (["demo", "-o", "own", "--synthetic"], "would replace"),
]


@pytest.mark.parametrize("argv, needle", DEMO_CASES, ids=[" ".join(c[0]) for c in DEMO_CASES])
def test_demo_refuses(demo_ws, capsys, argv, needle):
    from budgetlaw.cli import main

    check_refused(main, "budgetlaw", argv, demo_ws, needle, capsys)


def test_demo_twice_gives_the_same_bytes_and_refuses_its_own_folder(tmp_path, capsys):
    """report.md held the solver's time (from the in-memory plan): two demos differed in bytes."""
    from budgetlaw.cli import main

    for k in (1, 2):
        assert run_in(tmp_path, main, ["demo", "-o", f"d{k}", "--n-boot", "5"]) == 0
    for name in ("laws.json", "plan.json", "report/report.md", "report/plans.csv"):
        assert (tmp_path / "d1" / name).read_bytes() == (tmp_path / "d2" / name).read_bytes(), name
    assert "time_s" not in (tmp_path / "d1" / "report" / "report.md").read_text()
    capsys.readouterr()
    check_refused(main, "budgetlaw", ["demo", "-o", "d1", "--n-boot", "5"], tmp_path, "already holds", capsys)


# -- budgetlaw report/allocate: laws.json and plan.json checked on the way in --------------------
SIZES = (10_000, 20_000, 50_000, 100_000, 200_000)
SCORE_LAWS = {"ar": (42.5, 0.04, 0.11), "hi": (52.0, 0.03, 0.14), "zh": (40.0, 0.04, 0.085)}


@pytest.fixture(scope="module")
def law_master(tmp_path_factory):
    from budgetlaw.cli import main

    ws = tmp_path_factory.mktemp("laws")
    rows = [(lang, s, round(100 - a * (b * s) ** (-c), 6)) for lang, (a, b, c) in SCORE_LAWS.items() for s in SIZES]
    pd.DataFrame(rows, columns=["language", "size", "score"]).to_csv(ws / "pilots.csv", index=False)
    losses = [(lang, s, round(1.0 + 30 * s ** -(c * 3), 6), "nll") for lang, (_, _, c) in SCORE_LAWS.items() for s in SIZES]
    pd.DataFrame(losses, columns=["language", "size", "score", "metric"]).to_csv(ws / "nll.csv", index=False)
    for argv in (["fit", "pilots.csv", "-o", "laws.json", "--n-boot", "10"],
                 ["fit", "nll.csv", "-o", "loss_laws.json", "--n-boot", "10", "--lower-is-better"],
                 ["allocate", "laws.json", "--budget", "300k", "-o", "plan.json"],
                 ["allocate", "loss_laws.json", "--budget", "300k", "-o", "loss_plan.json"]):
        assert run_in(ws, main, argv) == 0
    return ws


def _edit(src: Path, dst: Path, change) -> None:
    data = json.loads(src.read_text())
    change(data)
    dst.write_text(json.dumps(data))


def _set(path: str, value):
    """A change that sets data[a][b]... (path 'a.b') to value, or deletes it for value ...."""
    def change(data):
        *head, last = path.split(".")
        for key in head:
            data = data[key]
        if value is ...:
            del data[last]
        else:
            data[last] = value
    return change


def _flip_every_law(data):
    for entry in data["laws"].values():
        entry["law"]["lower_is_better"] = False
    data["lower_is_better"] = False


LAW_EDITS = {  # laws file -> (source, change)
    "laws_list.json": ("laws.json", _set("laws", [])),
    "laws_empty.json": ("laws.json", _set("laws", {})),
    "laws_str.json": ("laws.json", _set("laws", "ar")),
    "laws_negsize.json": ("laws.json", _set("laws.ar.points.size", [-10000, 20000, 50000, 100000, 200000])),
    "laws_short.json": ("laws.json", _set("laws.ar.points.score", [60.0, 61.0])),
    "laws_strscore.json": ("laws.json", _set("laws.hi.points.score", ["60", 61, 62, 63, 64])),
    "laws_nopoints.json": ("laws.json", _set("laws.zh.points", ...)),
    "laws_negloss.json": ("loss_laws.json", _set("laws.ar.points.score", [-1.0, 1.2, 1.1, 1.05, 1.0])),
    "laws_sig_list.json": ("laws.json", _set("signature", ["x"])),
    "loss_flipped.json": ("loss_laws.json", _flip_every_law),  # per-law flags contradict the signature
    "loss_nosig.json": ("loss_laws.json", _set("signature", ...)),
}
PLAN_EDITS = {
    "plan_strsize.json": ("plan.json", _set("sizes.ar", "100000")),
    "plan_strbudget.json": ("plan.json", _set("budget", "300000")),
    "plan_boolbudget.json": ("plan.json", _set("budget", True)),
    "plan_epochs_two.json": ("plan.json", _set("constraints.max_epochs", "two")),
    "plan_epochs_zero.json": ("plan.json", _set("constraints.max_epochs", 0)),
    "plan_avail_str.json": ("plan.json", _set("constraints.available", {"ar": "lots"})),
    "plan_cost_neg.json": ("plan.json", _set("constraints.cost", {"ar": -1})),
    "plan_sig_list.json": ("plan.json", _set("signature", [1])),
    "plan_score_str.json": ("plan.json", _set("predicted.ar.score", "55")),
    "loss_plan_flipped.json": ("loss_plan.json", _set("lower_is_better", False)),
    "loss_plan_nosig.json": ("loss_plan.json", _set("signature", ...)),
}


@pytest.fixture()
def law_ws(law_master, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(law_master, ws)
    for name, (src, change) in {**LAW_EDITS, **PLAN_EDITS}.items():
        _edit(ws / src, ws / name, change)
    return ws


def _report(laws: str, plan: str) -> list[str]:
    return ["report", laws, plan, "-o", "rep", "--budgets", "none", "--baselines", "uniform"]


LAW_CASES = [
    # laws.json the loader refused with a traceback or read wrongly
    (["allocate", "laws_list.json", "--budget", "1M", "-o", "p.json"], "key 'laws' must be a non-empty object"),
    (["allocate", "laws_empty.json", "--budget", "1M", "-o", "p.json"], "key 'laws' must be a non-empty object"),
    (["allocate", "laws_str.json", "--budget", "1M", "-o", "p.json"], "key 'laws' must be a non-empty object"),
    (["allocate", "laws_negsize.json", "--budget", "1M", "-o", "p.json"], "points.size[0] is -10000"),
    (["allocate", "laws_short.json", "--budget", "1M", "-o", "p.json"], "points.score 2"),
    (["allocate", "laws_strscore.json", "--budget", "1M", "-o", "p.json"], "points.score[0] is '60'"),
    (["allocate", "laws_nopoints.json", "--budget", "1M", "-o", "p.json"], "'points' must hold two lists"),
    (["allocate", "laws_negloss.json", "--budget", "1M", "-o", "p.json"], "expected a finite number >= 0"),
    (["allocate", "laws_sig_list.json", "--budget", "1M", "-o", "p.json"], "key 'signature' is list"),
    (["allocate", "loss_flipped.json", "--budget", "1M", "-o", "p.json"], "signature says they were fitted"),
    (_report("loss_flipped.json", "loss_plan.json"), "signature says"),
    (_report("laws_empty.json", "plan.json"), "non-empty object"),
    # plan.json: numbers that are strings, constraints that are not numbers
    (_report("laws.json", "plan_strsize.json"), "key 'sizes.ar' is '100000'"),
    (_report("laws.json", "plan_strbudget.json"), "key 'budget' is '300000'"),
    (_report("laws.json", "plan_boolbudget.json"), "key 'budget' is True"),
    (_report("laws.json", "plan_epochs_two.json"), "key 'constraints.max_epochs' is 'two'"),
    (_report("laws.json", "plan_epochs_zero.json"), "constraints.max_epochs"),
    (_report("laws.json", "plan_avail_str.json"), "constraints.available.ar"),
    (_report("laws.json", "plan_cost_neg.json"), "constraints.cost.ar"),
    (_report("laws.json", "plan_sig_list.json"), "key 'signature' is list"),
    (_report("laws.json", "plan_score_str.json"), "predicted.ar.score"),
    # a plan shown under laws of the other direction, or laws whose signature was removed
    (_report("loss_laws.json", "loss_plan_flipped.json"), "fitted 'lower_is_better'"),
    (_report("laws.json", "loss_plan_nosig.json"), "predicts losses (lower is better) but laws.json holds laws of scores"),
    (_report("loss_laws.json", "plan.json"), "predicts scores (higher is better) but loss_laws.json"),
    (_report("loss_nosig.json", "loss_plan.json"), "has no signature to compare"),
    (_report("loss_nosig.json", "plan.json"), "predicts scores"),
    # --budgets: named as report's flag, and each frontier budget must pay one pair of every language
    (["report", "laws.json", "plan.json", "-o", "rep", "--budgets", "abc"], "--budgets: size 'abc'"),
    (["report", "laws.json", "plan.json", "-o", "rep", "--budgets", "1e999"], "--budgets: size"),
    (["report", "laws.json", "plan.json", "-o", "rep", "--budgets", "2"], "--budgets '2' cannot pay one pair of each of the 3"),
    (["report", "laws.json", "plan.json", "-o", "rep", "--budgets", "300k,0"], "--budgets '0' cannot pay"),
    (["report", "loss_laws.json", "loss_plan.json", "-o", "rep", "--budgets", "0.5"], "cannot pay one pair"),
]


@pytest.mark.parametrize("argv, needle", LAW_CASES, ids=[" ".join(c[0][:4]) for c in LAW_CASES])
def test_laws_and_plans_are_checked(law_ws, capsys, argv, needle):
    from budgetlaw.cli import main

    check_refused(main, "budgetlaw", argv, law_ws, needle, capsys)


def test_unchanged_laws_and_plans_still_report(law_ws):
    from budgetlaw.cli import main

    assert run_in(law_ws, main, _report("loss_laws.json", "loss_plan.json")) == 0
    assert "lower is better" in (law_ws / "rep" / "report.md").read_text()


# -- tuning convert: a tokenizer folder that loads, errors of transformers in one line -----------
@pytest.fixture(scope="module")
def gguf_master(tmp_path_factory):
    pytest.importorskip("gguf")
    from _gguf import build_tiny_gguf

    ws = tmp_path_factory.mktemp("gguf")
    build_tiny_gguf(ws / "tiny.gguf")
    build_tiny_gguf(ws / "t5.gguf", arch="t5")  # TypeError inside transformers' tokenizer skeleton
    build_tiny_gguf(ws / "falcon.gguf", arch="falcon")  # RuntimeError loading the state dict
    build_tiny_gguf(ws / "bloom.gguf", arch="bloom")
    build_tiny_gguf(ws / "noblocks.gguf", tensors=False)  # converted to random weights before
    build_tiny_gguf(ws / "qwen.gguf", arch="qwen2")  # llama tensors: qwen2's biases missing
    return ws


def test_convert_writes_no_gguf_copy_and_the_tokenizer_loads(gguf_master, tmp_path):
    """transformers copied the GGUF to tokenizer.model (sentencepiece cannot read it); the
    converted folder's tokenizer must load from tokenizer.json alone and encode as the BPE the
    GGUF was made from."""
    from _builders import build_tokenizer
    from transformers import AutoTokenizer

    from tuning.cli import main

    assert run_in(tmp_path, main, ["convert", str(gguf_master / "tiny.gguf"), "-o", "m"]) == 0
    out = tmp_path / "m"
    assert not (out / "tokenizer.model").exists()
    for path in out.iterdir():
        assert path.read_bytes()[:4] != b"GGUF", path.name
    tok = AutoTokenizer.from_pretrained(out)
    text = "Open the file 打开文件"
    assert tok(text, add_special_tokens=False)["input_ids"] == build_tokenizer()(text)["input_ids"]
    assert tok.eos_token == "</s>" and tok.pad_token == "<pad>"  # from the GGUF metadata


CONVERT_CASES = [
    ("t5.gguf", "m", "transformers cannot load this GGUF model (TypeError"),
    ("falcon.gguf", "m", "transformers cannot load this GGUF model (RuntimeError"),
    ("bloom.gguf", "m", "transformers cannot load this GGUF model"),
    ("noblocks.gguf", "m", "holds no weights for 9 of the model's tensors"),
    ("qwen.gguf", "m", "holds no weights for 3"),
]


@pytest.mark.parametrize("name, out, needle", CONVERT_CASES, ids=[c[0] for c in CONVERT_CASES])
def test_convert_errors_of_transformers_are_one_line(gguf_master, tmp_path, capsys, name, out, needle):
    from tuning.cli import main

    shutil.copy(gguf_master / name, tmp_path / name)
    check_refused(main, "tuning", ["convert", name, "-o", out], tmp_path, needle, capsys)


def test_convert_refuses_an_unwritable_output_before_converting(gguf_master, tmp_path, capsys, monkeypatch):
    import transformers

    from tuning.cli import main

    def must_not_load(*args, **kwargs):
        raise AssertionError("the conversion started before the output was checked")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", must_not_load)
    shutil.copy(gguf_master / "tiny.gguf", tmp_path / "tiny.gguf")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    target = ro if not os.access(ro, os.W_OK) or os.geteuid() != 0 else Path("/proc/1")
    try:
        check_refused(main, "tuning", ["convert", "tiny.gguf", "-o", f"{target}/m"], tmp_path, "writ", capsys)
    finally:
        ro.chmod(0o755)


# -- tuning train: strict config, resume on the same data, damaged checkpoints, final save -------
@pytest.fixture(scope="module")
def train_master(tmp_path_factory, tiny_model):
    """A run stopped after 1 of 2 steps (one complete checkpoint), and a second, smaller model."""
    from _builders import build_tiny_llama, build_tokenizer

    ws = tmp_path_factory.mktemp("train")
    tok = build_tokenizer()
    build_tiny_llama(tok, layers=1, hidden=32).save_pretrained(ws / "other_model", safe_serialization=True)
    tok.save_pretrained(ws / "other_model")
    records = [{"id": f"r{i}", "language": "zh", "task": "translation", "instruction": "Translate.",
                "input": "Open the file", "output": "打开文件", "source": "t"} for i in range(6)]
    _jsonl(ws / "mix.jsonl", records)
    _jsonl(ws / "mix2.jsonl", records[:5])
    (ws / "c.yaml").write_text(f"model: {tiny_model}\ndata: mix.jsonl\nseq_len: 256\nbatch_size: 2\ngrad_accum: 1\n"
                               "max_steps: 2\nsave_every: 1\nlr: 1.0e-3\n")
    result = _train(ws, "c.yaml", "output_dir=run", "stop_after=1")
    assert result.returncode == 0, result.stderr[-3000:]
    return ws


def _train(ws: Path, *args: str, prelude: str = "") -> "subprocess.CompletedProcess":
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(PYTHONPATH=str(ROOT / "src"), MASTER_PORT=str(29500 + (os.getpid() + 7) % 1000),
               TOKENIZERS_PARALLELISM="false")
    code = prelude + "\nimport sys\nfrom tuning.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, "train", *args], cwd=ws, capture_output=True, text=True,
                          timeout=600, env=env)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("tuning train: error: ")]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


CONFIG_CASES = [
    ("model: m\ndata: d\noutput_dir: o\nlr: 1.0e-3\nlr: 1.0\n", [], "key 'lr' appears twice"),
    ("model: m\ndata: d\noutput_dir: o\ndata: e\n", [], "key 'data' appears twice"),
    ("model: m\ndata: d\noutput_dir: o\npacking: yes\n", [], "key 'packing' must be a bool or null, got 'yes'"),
    ("model: m\ndata: d\noutput_dir: o\n", ["packing=no"], "got 'no'"),
    ("model: m\ndata: d\noutput_dir: o\n", ["packing=off"], "got 'off'"),
    ("model: m\ndata: d\noutput_dir: o\n", ["resume=on"], "key 'resume' must be a bool"),
    ("model: m\ndata: d\noutput_dir: o\n", ["lr=1e-3", "lr=1e-4"], "lr is given twice"),
]


@pytest.mark.parametrize("text, overrides, needle", CONFIG_CASES, ids=[c[2] for c in CONFIG_CASES])
def test_train_config_is_read_strictly(tmp_path, capsys, text, overrides, needle):
    from tuning.cli import main

    (tmp_path / "c.yaml").write_text(text)
    check_refused(main, "tuning", ["train", "c.yaml", *overrides], tmp_path, needle, capsys)


def test_train_config_true_false_still_read():
    from tuning.train.config import load_config

    c = load_config(None, ["model=m", "data=d", "output_dir=o", "packing=false", "resume=True", "tensorboard=FALSE"])
    assert (c.packing, c.resume, c.tensorboard) == (False, True, False)


@pytest.mark.parametrize("seq_len", [513, 4096])
def test_train_refuses_seq_len_beyond_the_models_positions(train_master, tmp_path, capsys, seq_len):
    from tuning.cli import main

    shutil.copy(train_master / "mix.jsonl", tmp_path / "mix.jsonl")
    (tmp_path / "c.yaml").write_text((train_master / "c.yaml").read_text())
    check_refused(main, "tuning", ["train", "c.yaml", "output_dir=new", f"seq_len={seq_len}"], tmp_path,
                  "has 512 positions", capsys)


def _damage(run: Path, how: str) -> None:
    shard = next((run / "checkpoints" / "step-1").glob("*.distcp"))
    data = shard.read_bytes()
    if how == "truncated":
        shard.write_bytes(data[: len(data) // 3])
    elif how == "empty":
        shard.write_bytes(b"")
    elif how == "random":
        shard.write_bytes(random_bytes(len(data)))
    elif how == "missing":
        shard.unlink()


@pytest.mark.parametrize("how, args, needle", [
    ("truncated", [], "cannot load the checkpoint"),
    ("empty", [], "cannot load the checkpoint (EOFError"),
    ("random", [], "cannot load the checkpoint"),
    ("missing", [], "(FileNotFoundError"),
    ("other model", ["model=other_model"], "Size mismatch"),
    ("other data", ["data=mix2.jsonl"], "not the mixture the run in 'run' was started on ('mix.jsonl'"),
])
def test_train_resume_refuses_damaged_or_foreign_runs(train_master, tmp_path, how, args, needle):
    ws = tmp_path / "ws"
    shutil.copytree(train_master, ws)
    _damage(ws / "run", how)
    before = snapshot(ws)
    line = _one_error_line(_train(ws, "c.yaml", "output_dir=run", "resume=true", *args))
    assert needle in line and len(line) < 700, line
    assert snapshot(ws) == before


_SIGTERM_IN_FINAL_SAVE = """
import os, signal
import transformers
real = transformers.PreTrainedModel.save_pretrained
def save_pretrained(self, *args, **kwargs):
    if os.environ.get("SIGTERM_IN_SAVE") == "1":
        os.kill(os.getpid(), signal.SIGTERM)  # half way through the export
    return real(self, *args, **kwargs)
transformers.PreTrainedModel.save_pretrained = save_pretrained
"""


def test_sigterm_during_the_final_save_leaves_a_run_that_resume_finishes(train_master, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("mix.jsonl", "c.yaml"):
        shutil.copy(train_master / name, ws / name)
    monkeypatch.setenv("SIGTERM_IN_SAVE", "1")
    result = _train(ws, "c.yaml", "output_dir=run", "save_every=0", prelude=_SIGTERM_IN_FINAL_SAVE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "during the final save" in result.stderr
    run = ws / "run"
    assert not (run / "final.tmp").exists() and not (run / "final").exists()
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-2"]  # the finished steps, complete
    assert json.loads((run / "run.json").read_text())["finished"] is False
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]

    monkeypatch.setenv("SIGTERM_IN_SAVE", "0")
    result = _train(ws, "c.yaml", "output_dir=run", "save_every=0", "resume=true", prelude=_SIGTERM_IN_FINAL_SAVE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "final" / "model.safetensors").is_file() and not (run / "final.tmp").exists()
    record = json.loads((run / "run.json").read_text())
    assert record["finished"] is True and record["steps_done"] == 2 and record["resumed_from_step"] == 2
    assert [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()] == losses


# -- examples/report_smollm2.py: every input checked before anything is written -----------------
RESULTS = ROOT / "docs" / "results" / "smollm2-gettext"


def _report_module():
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "examples"))
    spec = importlib.util.spec_from_file_location("report_smollm2_under_test", ROOT / "examples" / "report_smollm2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def rep_ws(tmp_path):
    ws = tmp_path / "res"
    shutil.copytree(RESULTS, ws)
    return ws


def _first_record(ws: Path) -> Path:
    return sorted((ws / "runs").glob("*.json"))[0]


def _record_edit(change):
    def apply(ws: Path) -> str:
        path = _first_record(ws)
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
        return path.name
    return apply


def _first_lang(data) -> str:
    return sorted(data["scores"])[0]


def _write(name: str, content: bytes):
    def apply(ws: Path) -> str:
        (ws / "runs" / name).write_bytes(content)
        return name
    return apply


def _dup(ws: Path) -> str:
    src = _first_record(ws)
    shutil.copy(src, ws / "runs" / "zz-copy.json")
    return "zz-copy.json"


def _no_heldout(ws: Path) -> str:
    (ws / "heldout" / "zh.jsonl").unlink()
    return "zh.jsonl"


def _bad_laws(ws: Path) -> str:
    (ws / "laws.json").write_text('{"format": "budgetlaw-laws/1", "laws": []}')
    return "laws.json"


RECORD_CASES = {
    "string score": _record_edit(lambda d: d["scores"][_first_lang(d)].__setitem__("chrf", "3.4")),
    "NaN score": _record_edit(lambda d: d["scores"][_first_lang(d)].__setitem__("nll", float("nan"))),
    "bool score": _record_edit(lambda d: d["scores"][_first_lang(d)].__setitem__("bleu", True)),
    "no nll": _record_edit(lambda d: d["scores"][_first_lang(d)].pop("nll")),
    "scores a list": _record_edit(lambda d: d.__setitem__("scores", [1, 2])),
    "no scores": _record_edit(lambda d: d.pop("scores")),
    "seed a string": _record_edit(lambda d: d.__setitem__("seed", "1")),
    "negative size": _record_edit(lambda d: d.__setitem__("sizes", {"ar": -5})),
    "train a string": _record_edit(lambda d: d.__setitem__("train", "fast")),
    "eval_s a string": _record_edit(lambda d: d.__setitem__("eval_s", "20 min")),
    "not JSON": _write("broken.json", b'{"run": "x", "kind": '),
    "random bytes": _write("random.json", random_bytes()),
    "a JSON list": _write("list.json", b"[1, 2, 3]"),
    "empty file": _write("empty.json", b""),
    "the same run twice": _dup,
    "held-out file missing": _no_heldout,
    "laws.json damaged": _bad_laws,
}


def _run_report(folder: Path) -> "subprocess.CompletedProcess":
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, str(ROOT / "examples" / "report_smollm2.py"), str(folder)],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("case", list(RECORD_CASES))
def test_report_smollm2_refuses_a_bad_input_and_writes_nothing(rep_ws, case):
    named = RECORD_CASES[case](rep_ws)
    (rep_ws / "results.csv").write_text("sentinel\n")  # must survive: nothing is written before the checks
    before = snapshot(rep_ws)
    result = _run_report(rep_ws)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("report_smollm2.py: error: ") and named in lines[0], lines[0]
    assert snapshot(rep_ws) == before


@pytest.mark.parametrize("make", ["missing", "empty", "no runs"])
def test_report_smollm2_refuses_a_folder_without_runs(tmp_path, make):
    folder = tmp_path / "res"
    if make != "missing":
        folder.mkdir()
    if make == "no runs":
        (folder / "runs").mkdir()
        (folder / "runs" / "notes.txt").write_text("nothing yet\n")
    before = snapshot(tmp_path)
    result = _run_report(folder)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("report_smollm2.py: error: "), \
        result.stderr[-2000:]
    assert str(folder) in lines[0]
    assert snapshot(tmp_path) == before


def test_report_smollm2_takes_nll_only_records(rep_ws):
    """A transfer pilot scored without generation: its nll rows enter results.csv, no chrF row."""
    module = _report_module()
    record = {"run": "transfer-ar-el-s1", "kind": "transfer", "seed": 1, "sizes": {"ar": 90, "el": 90},
              "scores": {"ar": {"nll": 2.5, "signatures": {"nll": "nll|unit:nats/token"}},
                         "el": {"nll": 2.25, "signatures": {"nll": "nll|unit:nats/token"}}},
              "eval_s": 12.0, "total_s": 30.0}
    (rep_ws / "runs" / "transfer-ar-el-s1.json").write_text(json.dumps(record))
    records = module.read_records(rep_ws)
    assert any(r["kind"] == "transfer" for r in records)
    frame = module.results_frame(rep_ws)
    mine = frame[frame.run == "transfer-ar-el-s1"]
    assert sorted(zip(mine.language, mine.metric, mine.measured)) == [("ar", "nll", 2.5), ("el", "nll", 2.25)]
    held = {lang: len((rep_ws / "heldout" / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()) for lang in ("ar", "el")}
    assert dict(zip(mine.language, mine.n)) == held
    # the tables still build (the chrF++ ones without the transfer rows)
    assert module._multi_table(frame, "chrf") is not None and module._pilot_table(frame) is not None


def test_report_smollm2_on_the_committed_folder_reproduces_its_bytes(rep_ws):
    result = _run_report(rep_ws)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("results.csv", "summary.md"):
        assert (rep_ws / name).read_bytes() == (RESULTS / name).read_bytes(), name


# -- budgetlaw fit: values near 1e300 ---------------------------------------------------------------
_SIZES5 = (1e4, 2e4, 5e4, 1e5, 2e5)
HUGE_CASES = [
    ("language,size,score,metric\n" + "".join(f"zh,{s:g},{1e200 * (1 + 1 / (1 + s / 1e4)):.6g},nll\n" for s in _SIZES5),
     ["--lower-is-better"]),
    ("language,size,score,metric\n" + "".join(f"zh,{s:g},{1e305 * (1 + 1 / (1 + s / 1e4)):.6g},nll\n" for s in _SIZES5),
     ["--lower-is-better"]),
    ("language,size,score\n" + "".join(f"zh,{s * 1e295:g},{50 + s / 1e4:g}\n" for s in _SIZES5), ["--max-score", "1e301"]),
    ("language,size,score\n" + "".join(f"zh,{s:g},{1e199 * (0.5 + s / 1e6):.6g}\n" for s in _SIZES5),
     ["--max-score", "1e200", "--free-ceiling"]),
    ("language,size,score\n" + "".join(f"ar,{s:g},{40 + s / 1e4:g}\nzh,{s:g},{50 + s / 1e4:g}\n" for s in _SIZES5),
     ["--max-score", "1e301", "--free-ceiling"]),
]


@pytest.mark.parametrize("text, flags", HUGE_CASES)
def test_fit_of_values_near_1e300_is_one_line(tmp_path, capsys, text, flags):
    from budgetlaw.cli import main

    (tmp_path / "p.csv").write_text(text)
    check_refused(main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json", "--n-boot", "5", *flags], tmp_path,
                  "overflows floating point", capsys)


def test_fit_of_huge_sizes_still_fits(tmp_path):
    """Sizes near 1e300 are fine: the law works on x / x_ref. The fitted exponent is the one of
    the data, which follow 100 - 40 (x / 1e299)^-0.1 exactly."""
    from budgetlaw.cli import main

    (tmp_path / "p.csv").write_text("language,size,score\n" + "".join(
        f"zh,{s * 1e295:g},{100 - 40 * (s / 1e4) ** -0.1:.12g}\n" for s in _SIZES5))
    assert run_in(tmp_path, main, ["fit", "p.csv", "-o", "laws.json", "--n-boot", "5"]) == 0
    law = json.loads((tmp_path / "laws.json").read_text())["laws"]["zh"]["law"]
    # K is the coefficient of x^-c: 40 * (1e299)^0.1
    assert law["c"] == pytest.approx(0.1, abs=1e-4) and law["K"] == pytest.approx(40 * 1e299 ** 0.1, rel=1e-3)


# -- language codes that would break or run in a spreadsheet; NaN called NaN ----------------------
def _pilots_csv(lang: str) -> str:
    return "language,size,score\n" + "".join(f"{code},{s:g},{50 + s / 1e4:g}\n" for code in ("zh", lang)
                                             for s in (1e4, 2e4, 5e4))


LABEL_CASES = [
    ('=cmd|" /c calc"!A1', "which a spreadsheet reads as a formula"),
    ("+ar", "which a spreadsheet reads as a formula"),
    ("-2+3", "which a spreadsheet reads as a formula"),
    ("@SUM(A1)", "which a spreadsheet reads as a formula"),
    ("a\x00r", "NUL byte"),
    ("a\x1br", "control character"),
]


@pytest.mark.parametrize("lang, needle", LABEL_CASES)
def test_fit_refuses_language_codes_unsafe_in_csv(tmp_path, capsys, lang, needle):
    from budgetlaw.cli import main

    (tmp_path / "p.csv").write_text(_pilots_csv(lang))
    line = check_refused(main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json", "--n-boot", "5"], tmp_path, needle,
                         capsys)
    assert "\x00" not in line


@pytest.mark.parametrize("lang, needle", LABEL_CASES[:3] + LABEL_CASES[4:5])
def test_pilots_refuses_language_codes_unsafe_in_csv(pi_ws, capsys, lang, needle):
    from tuning.cli import main

    (pi_ws / "bad.csv").write_text("language,task,metric,score,n,signature,model\n"
                                   f"\"{lang.replace(chr(34), chr(34) * 2)}\",flores:en-zh,comet,81.5,3,sig,m\n")
    check_refused(main, "tuning", _pilots("bad.csv", "comet", "new.csv"), pi_ws, needle, capsys)


@pytest.mark.parametrize("cell, needle", [("nan", "score is NaN"), ("NaN", "score is NaN"), ("", "score is empty"),
                                          ("  ", "score is empty")])
def test_fit_calls_nan_nan_and_empty_empty(tmp_path, capsys, cell, needle):
    from budgetlaw.cli import main

    (tmp_path / "p.csv").write_text(_pilots_csv("ar").replace("ar,20000,52", f"ar,20000,{cell}"))
    check_refused(main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json"], tmp_path, needle, capsys)


def test_read_pilots_calls_a_nan_in_a_frame_nan():
    from budgetlaw import InputError
    from budgetlaw.pilots import read_pilots

    frame = pd.DataFrame({"language": ["zh"] * 3, "size": [1e4, 2e4, 5e4], "score": [50.0, float("nan"), 55.0]})
    with pytest.raises(InputError, match="score is NaN"):
        read_pilots(frame)


def test_laws_do_not_depend_on_how_the_pilots_path_was_typed(law_ws, tmp_path):
    """`fit pilots.csv`, `fit ./pilots.csv` and `fit /abs/.../pilots.csv` are one input: one byte string."""
    from budgetlaw.cli import main

    (law_ws / "sub").mkdir()
    spellings = ["pilots.csv", "./pilots.csv", str(law_ws / "pilots.csv"), "sub/../pilots.csv"]
    for k, spelling in enumerate(spellings):
        assert run_in(law_ws, main, ["fit", spelling, "-o", f"l{k}.json", "--n-boot", "10"]) == 0
    first = (law_ws / "l0.json").read_bytes()
    assert all((law_ws / f"l{k}.json").read_bytes() == first for k in range(1, len(spellings)))
    assert json.loads(first)["signature"]["source"]["path"] == "pilots.csv"
    # a plan made from one spelling reports under the laws of another
    assert run_in(law_ws, main, ["allocate", "l1.json", "--budget", "300k", "-o", "p1.json"]) == 0
    assert run_in(law_ws, main, ["report", "l2.json", "p1.json", "-o", "rep", "--budgets", "none",
                                 "--baselines", "uniform"]) == 0
