"""Hostile input, third table (issue 19): budgetlaw's newest surfaces (fit of mixed or huge
values, demo, laws.json and plan.json on the way in, report --budgets, language codes) and
examples/report_smollm2.py. Each case is fed through the command line with the house rules of
docs/guarantees.md checked by ``_hostile.check_refused`` (exit 2, one line, nothing changed).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _hostile import LABEL_CASES, check_refused, random_bytes, run_in, snapshot

ROOT = Path(__file__).resolve().parents[1]

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
    """From the records the committed results.csv was made from (a record committed since, not
    yet reported, is set aside), the report writes the committed bytes again."""
    reported = set(pd.read_csv(RESULTS / "results.csv")["run"])
    for path in (rep_ws / "runs").glob("*.json"):
        if json.loads(path.read_text())["run"] not in reported:
            path.unlink()
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




@pytest.mark.parametrize("lang, needle", LABEL_CASES)
def test_fit_refuses_language_codes_unsafe_in_csv(tmp_path, capsys, lang, needle):
    from budgetlaw.cli import main

    (tmp_path / "p.csv").write_text(_pilots_csv(lang))
    line = check_refused(main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json", "--n-boot", "5"], tmp_path, needle,
                         capsys)
    assert "\x00" not in line


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


def test_loss_law_warnings_do_not_advise_a_flag_loss_laws_refuse(law_ws, caplog):
    """A floor at its bound used to advise '--ceiling', which `fit --lower-is-better` refuses. The
    bundled measured NLL pilots put ar's floor E at its bound 0."""
    import logging

    from budgetlaw.cli import main
    from budgetlaw.demo_data import MEASURED

    shutil.copy(MEASURED.pilots_path, law_ws / "measured.csv")
    with caplog.at_level(logging.WARNING):
        assert run_in(law_ws, main, ["fit", "measured.csv", "--lower-is-better", "-o", "f.json", "--n-boot", "5"]) == 0
    laws = json.loads((law_ws / "f.json").read_text())["laws"]
    assert laws["ar"]["law"]["ceiling"] == pytest.approx(0.0, abs=1e-9)  # E at its bound 0: a plain power law
    assert not any("ceiling_at_bound" in item["flags"] for item in laws.values())  # the normal case, no flag
    assert not any("ceiling_at_bound" in r.getMessage() for r in caplog.records)
    from budgetlaw.fitting.flags import FLAG_TEXT  # the wording a flagged loss law would get

    assert "a loss law's floor is always fitted" in FLAG_TEXT["ceiling_at_bound"]
    assert "fit with a fixed --ceiling or" not in FLAG_TEXT["ceiling_at_bound"]


def test_a_fit_of_many_languages_shows_progress_off_a_terminal(tmp_path, capsys):
    """Thousands of languages take tens of minutes: progress is shown even when stderr is a pipe
    (as here, under capsys); a fit of a few languages stays silent there."""
    from budgetlaw.cli import main
    from budgetlaw.fitting.fitter import PROGRESS_LANGUAGES

    n = PROGRESS_LANGUAGES
    rows = "".join(f"l{k},{s:g},{60 + k % 7 - 30 * (s / 1e4) ** -0.2:.4f}\n" for k in range(n)
                   for s in (1e4, 2e4, 5e4))
    (tmp_path / "many.csv").write_text("language,size,score\n" + rows)
    assert run_in(tmp_path, main, ["fit", "many.csv", "-o", "laws.json", "--n-boot", "0"]) == 0
    err = capsys.readouterr().err
    assert "fitting laws" in err and f"{n}/{n}" in err
    (tmp_path / "few.csv").write_text("language,size,score\n" + "".join(rows.splitlines(True)[:6]))
    assert run_in(tmp_path, main, ["fit", "few.csv", "-o", "few.json", "--n-boot", "0"]) == 0
    assert "fitting laws" not in capsys.readouterr().err
