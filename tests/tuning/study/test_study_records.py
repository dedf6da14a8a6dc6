"""Records are data, not trust: every run record of R/runs/ goes through one reader
(tuning.study.records), and a damaged one is one line naming the file from `tuning study status`
and `report` (exit status 2, no traceback), with nothing in the results folder rewritten from it.
predicted_before_training.csv rows are whole and unique.

Nothing trains here: the records are written by hand, as tuning.study.runs writes them, with
scores from a law chosen here (nll = 2 + 30 * size ** -0.5).
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest

from tuning.cli import main
from tuning.errors import InputError

STUDY = """\
model: model
prompt: alpaca
heldout: held.tsv
languages:
  el: {parallel: el.tsv, heldout: el-held.tsv}
  tr: {parallel: tr.tsv, heldout: tr-held.tsv}
pilots: {sizes: [8, 16, 24, 32]}
budget: 48
"""
SIZES = (8, 16, 24, 32)


def _nll(size: int, lang: str) -> float:
    return 2.0 + (30.0 if lang == "el" else 20.0) * size ** -0.5


def _record(lang: str, size: int) -> dict:
    run = f"pilot-{lang}-{size:05d}-s1"
    nll = _nll(size, lang)
    return {"run": run, "kind": "pilot", "seed": 1, "sizes": {lang: size}, "available_pairs": {lang: 500},
            "scores": {lang: {"nll": nll, "chrf": 80 - 5 * nll, "bleu": 40 - 2 * nll, "off_target": 0.0,
                              "generated": 4, "signatures": {"nll": "nll"}}},
            "train": {"wall_s": 1.0, "step_s": 1.0, "steps": 2, "tokens": 100}, "eval_s": 1.0, "total_s": 10.0}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A study folder with every pilot recorded and a report made from the records."""
    folder = tmp_path_factory.mktemp("records")
    (folder / "model").mkdir()
    (folder / "model" / "config.json").write_text("{}", encoding="utf-8")
    for lang in ("el", "tr"):
        (folder / f"{lang}.tsv").write_text("".join(f"Open file {i} now\tx{i}\n" for i in range(50)), encoding="utf-8")
        (folder / f"{lang}-held.tsv").write_text("".join(f"Close window {i} now\ty{i}\n" for i in range(4)),
                                                 encoding="utf-8")
    (folder / "s.yaml").write_text(STUDY, encoding="utf-8")
    res = folder / "results" / "s"
    (res / "runs").mkdir(parents=True)
    (res / "heldout").mkdir()
    for lang in ("el", "tr"):
        rows = [{"id": f"{lang}-{i:03d}", "input": f"Close window {i} now", "reference": f"y{i}"} for i in range(4)]
        (res / "heldout" / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        for size in SIZES:
            r = _record(lang, size)
            (res / "runs" / f"{r['run']}.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n",
                                                           encoding="utf-8")
    assert main(["study", "report", str(folder / "s.yaml")]) == 0
    return folder


def _snapshot(res: Path) -> dict:
    return {str(p.relative_to(res)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(res.rglob("*"))
            if p.is_file()}


def test_the_report_of_valid_records(study):
    """The refit of the hand-made records: pilots.csv holds each record's nll as written."""
    import pandas as pd

    pilots = pd.read_csv(study / "results" / "s" / "pilots.csv")
    nll = pilots[pilots.metric == "nll"].set_index(["language", "size"])["score"]
    for lang in ("el", "tr"):
        for size in SIZES:
            assert nll[(lang, size)] == pytest.approx(_nll(size, lang), abs=1e-6)


DAMAGED = [
    ("truncated", lambda text: text[: len(text) // 2], "not a JSON run record (truncated or edited at line"),
    ("empty", lambda text: "", "empty (a copy or a disk cut it short)"),
    ("a JSON list", lambda text: "[" + text + "]", "a run record is a JSON object, not list"),
    ("no scores", lambda text: _edit(text, lambda r: r.pop("scores")), "no 'scores'"),
    ("no sizes", lambda text: _edit(text, lambda r: r.pop("sizes")), "no 'sizes'"),
    ("string nll", lambda text: _edit(text, lambda r: r["scores"]["el"].update(nll="2.5")),
     "scores.el.nll is '2.5', not a finite number"),
    ("NaN nll", lambda text: _edit(text, lambda r: r["scores"]["el"].update(nll=math.nan)),
     "scores.el.nll is nan, not a finite number"),
    ("negative nll", lambda text: _edit(text, lambda r: r["scores"]["el"].update(nll=-1.0)), "an NLL is >= 0"),
    ("chrf above 100", lambda text: _edit(text, lambda r: r["scores"]["el"].update(chrf=250.0)), "outside 0..100"),
    ("unknown language", lambda text: _edit(text, lambda r: r["scores"].update(xx=r["scores"]["el"])),
     "scores: 'xx' is not a language code tuning writes"),
    ("another study's language", lambda text: _edit(text, lambda r: r["scores"].update(de=r["scores"]["el"])),
     "scores: 'de' is not one of the study's languages ['el', 'tr']"),
    ("a spelling", lambda text: _edit(text, lambda r: r["sizes"].update(EL=8)), "(it would be 'el')"),
    ("text size", lambda text: _edit(text, lambda r: r["sizes"].update(el="8")), "sizes.el is '8', not a whole"),
    ("size without its language", lambda text: _edit(text, lambda r: r.update(sizes={"tr": 8})),
     "a pilot model scored on el has no sizes.el"),
    ("another run's name", lambda text: _edit(text, lambda r: r.update(run="pilot-el-00016-s1")),
     "holds run 'pilot-el-00016-s1', not 'pilot-el-00008-s1'"),
    ("a kind", lambda text: _edit(text, lambda r: r.update(kind="pilots")), "kind 'pilots' is not one of"),
    ("text seconds", lambda text: _edit(text, lambda r: r.update(total_s="10")), "'total_s' is '10'"),
]


@contextlib.contextmanager
def _damaged(path, change):
    """``path`` rewritten as ``change(its text)`` for the block, then put back as it was."""
    good = path.read_text(encoding="utf-8")
    path.write_text(change(good), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(good, encoding="utf-8")


def _edit(text: str, change) -> str:
    record = json.loads(text)
    change(record)
    return json.dumps(record)


@pytest.mark.parametrize("name,damage,message", DAMAGED, ids=[d[0] for d in DAMAGED])
def test_a_damaged_record_is_one_line_from_status_and_report(study, capsys, name, damage, message):
    res = study / "results" / "s"
    path = res / "runs" / "pilot-el-00008-s1.json"
    with _damaged(path, damage):
        before = _snapshot(res)
        for command in ("status", "report"):
            assert main(["study", command, str(study / "s.yaml")]) == 2, command
            captured = capsys.readouterr()
            err = captured.err.strip()
            assert len(err.splitlines()) == 1 and err.startswith(f"tuning study: error: {path}: "), err
            assert message in err, err
            assert "Traceback" not in captured.out + captured.err
            assert _snapshot(res) == before, command  # pilots.csv, laws, results.csv: nothing rewritten


def test_status_of_valid_records(study, capsys):
    assert main(["study", "status", str(study / "s.yaml")]) == 0
    out = capsys.readouterr().out
    assert "pilots             8/8   done" in out
    assert "time spent on recorded models: 1.3 min" in out  # 8 records of 10 s


# -- predicted_before_training.csv ---------------------------------------------------------------
HEADER = "run,language,size,effective,predicted,lower,upper,law\n"


def _rows(*rows) -> str:
    return HEADER + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def test_prediction_rows_are_whole_and_unique(tmp_path):
    """Measured 3.0 and 2.5; predicted 2.9 and 2.7: errors 0.1 and -0.2, RMSE sqrt(0.025)."""
    from tuning.study.predict import read_predictions, report_lines

    records = [{"run": "multi-a-s1", "kind": "transfer", "seed": 1, "sizes": {"el": 20, "tr": 20},
                "scores": {"el": {"nll": 3.0}, "tr": {"nll": 2.5}}}]
    el = ("multi-a-s1", "el", 20, 25.0, 2.9, 2.7, 3.1, "L")
    tr = ("multi-a-s1", "tr", 20, 25.0, 2.7, 2.5, 2.9, "L")
    path = tmp_path / "predicted_before_training.csv"
    path.write_text(_rows(el, tr, el), encoding="utf-8")  # el appended twice, byte for byte
    assert len(read_predictions(path)) == 2
    line = next(x for x in report_lines(tmp_path, records) if x.startswith("| multi-a-s1 | 2 |"))
    assert f"| {math.sqrt((0.1 ** 2 + 0.2 ** 2) / 2):.3f} | {(0.1 - 0.2) / 2:+.3f} | 100% |" in line

    path.write_text(_rows(el, tr, el[:4] + (9.9,) + el[5:]), encoding="utf-8")
    with pytest.raises(InputError, match=r"rows 2 and 4 both predict multi-a-s1 on el, differently; a prediction "
                                         r"is made once: keep the first"):
        read_predictions(path)
    path.write_text(_rows(el, tr)[:-20], encoding="utf-8")  # cut mid-row: "multi-a-s1,tr,20" is left
    with pytest.raises(InputError, match=r"row 3 has 3 of the 8 fields \(a torn row"):
        read_predictions(path)
    path.write_text(_rows(el, tr[:4] + ("2.7x",) + tr[5:]), encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3 \(multi-a-s1, tr\): predicted is '2.7x', not a number"):
        read_predictions(path)


def test_report_refuses_a_torn_prediction_file_before_writing(study, capsys):
    res = study / "results" / "s"
    path = res / "predicted_before_training.csv"
    path.write_text(_rows(("multi-optimized-s1", "el", 24, 24, 2.9, 2.7, 3.1, "L"))[:-12], encoding="utf-8")
    try:
        before = _snapshot(res)
        assert main(["study", "report", str(study / "s.yaml")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "a torn row" in err, err
        assert _snapshot(res) == before
    finally:
        path.unlink()


# -- the report job's state, a closed pipe, a held-out file cut short ------------------------------
def test_the_report_job_is_done_until_what_it_read_changes(study, capsys):
    from tuning.study.graph import build_jobs, is_done
    from tuning.study.spec import load_study

    s = load_study(study / "s.yaml")
    report = next(j for j in build_jobs(s) if j.id == "report")
    assert is_done(s, report)  # the fixture's report read these records
    assert main(["study", "status", str(study / "s.yaml")]) == 0
    assert "  report             1/1   done" in capsys.readouterr().out
    path = s.results / "runs" / "pilot-tr-00032-s1.json"
    good = path.read_bytes()
    try:
        path.write_text(json.dumps({**json.loads(good), "total_s": 11.0}), encoding="utf-8")
        assert not is_done(s, report)  # a record changed: the report is due again
    finally:
        path.write_bytes(good)
    assert is_done(s, report)


def test_status_into_a_closed_pipe_is_quiet(study):
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tuning", "study", "status", str(study / "s.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    proc.stdout.close()  # `| head` that has read what it wanted
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err


@pytest.mark.parametrize("cut,message", [
    (lambda text: text[: len(text) - 10], "line 4: not a held-out record (input, reference); the file is torn"),
    (lambda text: text.splitlines(keepends=True)[0], "holds 1 held-out messages, but a record was scored on 4"),
    (lambda text: "", "holds 0 held-out messages"),
], ids=["torn", "one line left", "empty"])
def test_a_held_out_file_cut_short_gives_no_report(study, capsys, cut, message):
    res = study / "results" / "s"
    path = res / "heldout" / "el.jsonl"
    with _damaged(path, cut):
        before = _snapshot(res)
        assert main(["study", "report", str(study / "s.yaml")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{path}" in err and message in err, err
        assert _snapshot(res) == before


def test_a_current_report_still_runs_after_the_jobs_of_a_run(study):
    """select: the report is current, but pending jobs will add records: it runs after them;
    with nothing pending it is not selected at all (a rerun does nothing)."""
    from tuning.study.graph import build_jobs, select
    from tuning.study.spec import load_study

    s = load_study(study / "s.yaml")
    jobs = build_jobs(s)
    chosen = [j.id for j in select(s, jobs)]
    assert "plan" in chosen and chosen[-1] == "report"  # the plan and the models are not recorded here
    assert [j.id for j in select(s, jobs, until="pilots")] == ["base"]  # up to the pilots: the base model only
