"""The study file is checked at the door: bad input is one line naming the key and the fix,
exit status 2, and nothing is written (no results or work folder appears).

The study here trains nothing: a model folder with a config.json is all the checks read.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuning.cli import main
from tuning.errors import InputError
from tuning.study.lock import StudyLock, holder
from tuning.study.spec import load_study

STUDY = """\
model: model
prompt: alpaca
heldout: 8
languages:
  el: {parallel: el.tsv}
  tr: {parallel: tr.tsv}
train: {batch_size: 4, seq_len: 128}
pilots: {sizes: [8, 16, 24, 32], seeds: [1, 2], seed_sizes: [16]}
budget: 48
plans: {optimized: [1], uniform: [1, 2]}
"""


@pytest.fixture()
def folder(tmp_path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}", encoding="utf-8")
    for lang in ("el", "tr"):  # 80 pairs: 8 held out of each language, 64 left for the pilots' 32
        (tmp_path / f"{lang}.tsv").write_text("".join(f"Open the folder number {i} now\t{lang} {i}\n"
                                                      for i in range(80)), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(STUDY, encoding="utf-8")
    return tmp_path


def test_a_valid_study_reads_with_its_defaults(folder):
    s = load_study(folder / "s.yaml")
    assert s.name == "s" and s.codes == ("el", "tr")
    assert s.results == folder / "results" / "s" and s.work == folder / ".work" / "s"
    assert s.language("el").parallel == str(folder / "el.tsv") and s.language("el").heldout == 8
    # the file's keys over the study's training defaults; global batch = batch unless given
    assert s.train == {"batch_size": 4, "lr": 5e-5, "seq_len": 128, "warmup_ratio": 0.1, "packing": False,
                       "log_every": 1, "global_batch_size": 4, "nproc": 1}
    assert s.plans == {"optimized": (1,), "uniform": (1, 2)} and s.transfer is None
    assert s.evaluate["pilot_generate"] == 100 and s.evaluate["device"] == "auto"  # the worker's GPU when it has one (issue 26)


BAD = [
    ("langauges", lambda t: t.replace("languages:", "langauges:"), "unknown key 'langauges'; did you mean 'languages'?"),
    ("train key", lambda t: t.replace("batch_size: 4,", "batchsize: 4,"), "did you mean 'batch_size'?"),
    ("pilots key", lambda t: t.replace("seed_sizes", "seed_size"), "did you mean 'seed_sizes'?"),
    ("no held-out", lambda t: t.replace("heldout: 8\n", ""), "languages.el: no held-out set"),
    ("held-out file", lambda t: t.replace("heldout: 8", "heldout: missing.tsv"), "missing.tsv does not exist"),
    ("corpus", lambda t: t.replace("tr.tsv", "tr-missing.tsv"), "tr-missing.tsv does not exist"),
    ("budget", lambda t: t.replace("budget: 48", "budget: 10"), "budget 10 gives each of the 2 languages fewer"),
    ("seed 0", lambda t: t.replace("seeds: [1, 2]", "seeds: [0, 2]"), "pilots.seeds[0]: 0 is not a positive integer"),
    ("size text", lambda t: t.replace("[8, 16, 24, 32]", "[8, 16, 24, big]"), "pilots.sizes[3]: 'big' is not a positive"),
    ("size float", lambda t: t.replace("[8, 16, 24, 32]", "[8, 16, 24, 32.5]"), "32.5 is not a positive integer"),
    ("plan seed", lambda t: t.replace("uniform: [1, 2]", "uniform: [-1]"), "plans.uniform[0]: -1 is not a positive"),
    ("three sizes", lambda t: t.replace("[8, 16, 24, 32]", "[8, 16, 24]"), "needs pilots at 4 sizes"),
    ("seed size", lambda t: t.replace("seed_sizes: [16]", "seed_sizes: [20]"), "20 is not one of pilots.sizes"),
    ("language", lambda t: t.replace("  tr: {", "  xx-nope: {"), "languages.xx-nope"),
    ("prompt", lambda t: t.replace("prompt: alpaca", "prompt: chatml"), "'chatml' is not one of chat, alpaca"),
    ("model", lambda t: t.replace("model: model", "model: ./nomodel"), "nomodel does not exist (a path, not a hub name"),
    ("train value", lambda t: t.replace("seq_len: 128", "seq_len: -5"), "seq_len"),
    ("plan name", lambda t: t.replace("uniform:", "uniformm:"), "did you mean 'uniform'?"),
    ("instructions", lambda t: t + "instructions: alpaca.json\n", "alpaca.json does not exist"),
    ("own instructions", lambda t: t.replace("el: {parallel: el.tsv}", "el: {parallel: el.tsv, instructions: el.tsv}"),
     "translated instructions go with the English ones"),
    ("two-language loo", lambda t: t + "transfer: {loo_budget: 16}\n", "the same run as its pilot of that size"),
    ("distinct language", lambda t: t + "transfer: {loo_budget: 20, distinct_languages: [xx]}\n",
     "transfer.distinct_languages: 'xx' is not one of the study's languages"),
    ("distinct twice", lambda t: t + "transfer: {loo_budget: 20, repeat_languages: [tr], distinct_languages: [tr]}\n",
     "['tr'] already get the repeat_distinct models through repeat_languages"),
    ("repeat twice", lambda t: t + "transfer: {loo_budget: 20, repeat_languages: [tr, tr]}\n",
     "a language is listed twice"),
    ("objective", lambda t: t + "objective: max\n", "objective: 'max' is not one of sum, maxmin, robust"),
    ("random shape", lambda t: t + "transfer: {loo_budget: 20, random: [[40, 1, 2, 3]]}\n",
     "transfer.random[0]: give [budget, seed] or [budget, seed, concentration]"),
    ("concentration", lambda t: t + "transfer: {loo_budget: 20, random: [[40, 1, 0]]}\n",
     "transfer.random[0] concentration: give a number > 0"),
]


def test_near_even_random_splits(folder):
    """A third number in a random split is the Dirichlet concentration: its own job id and seed
    stream, and shares whose spread follows the Dirichlet's sd sqrt((n-1) / (n^2 (n a + 1)))."""
    import numpy as np

    from tuning.study.graph import build_jobs, random_split

    text = (folder / "s.yaml").read_text(encoding="utf-8")
    (folder / "s.yaml").write_text(text + "transfer: {loo_budget: 20, random: [[40, 1], [40, 1, 4]]}\n",
                                   encoding="utf-8")
    study = load_study(folder / "s.yaml")
    assert study.transfer.random == ((40, 1, 1.0), (40, 1, 4.0))
    jobs = {j.id: j for j in build_jobs(study)}
    assert jobs["xfer-rand-00040-s1"].params["sizes"] == random_split(("el", "tr"), 40, 1)
    assert jobs["xfer-rand-00040-a4-s1"].params["sizes"] == random_split(("el", "tr"), 40, 1, 4)
    langs = ("a", "b", "c", "d", "e", "f")
    for alpha in (1, 4):
        shares = np.array([list(random_split(langs, 100000, seed, alpha).values()) for seed in range(1, 401)]) / 1e5
        assert np.allclose(shares.sum(axis=1), 1)
        expected = np.sqrt(5 / (36 * (6 * alpha + 1)))  # 0.141 at a = 1, 0.075 at a = 4
        assert abs(shares.std() / expected - 1) < 0.1


def test_the_objectives_are_budgetlaws():
    from budgetlaw.allocation.problem import OBJECTIVES

    from tuning.study.spec import OBJECTIVES as STUDY_OBJECTIVES

    assert STUDY_OBJECTIVES == OBJECTIVES


@pytest.mark.parametrize("name,edit,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(folder, capsys, name, edit, message):
    (folder / "s.yaml").write_text(edit(STUDY), encoding="utf-8")
    before = sorted(p.name for p in folder.iterdir())
    assert main(["study", "run", str(folder / "s.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("tuning study: error: "), err
    assert message in err, err
    assert sorted(p.name for p in folder.iterdir()) == before  # no results/ or .work/ folder


def test_slurm_without_submitit_is_one_line(folder, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit now raises ImportError
    assert main(["study", "run", str(folder / "s.yaml"), "--executor", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--executor slurm needs submitit: pip install" in err
    assert not (folder / "results").exists()


def test_slurm_where_there_is_no_slurm_is_one_line(folder, capsys, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(folder))  # no srun or sbatch on it
    assert main(["study", "run", str(folder / "s.yaml"), "--executor", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no SLURM here (srun/sbatch not found)" in err, err
    assert not (folder / "results").exists()


def test_a_second_run_is_refused_while_one_runs(folder, capsys):
    study = load_study(folder / "s.yaml")
    with StudyLock(study.work / "study.lock", str(study.path), executor="local", workers=1):
        assert holder(study.work / "study.lock")["pid"] == os.getpid()
        assert main(["study", "run", str(folder / "s.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"already being run by pid {os.getpid()}" in err and len(err.splitlines()) == 1
    assert not (folder / "results").exists()
    assert holder(study.work / "study.lock") is None  # released on exit


def test_a_killed_run_does_not_leave_the_study_locked(folder):
    study = load_study(folder / "s.yaml")
    lock = study.work / "study.lock"
    code = (f"import time; from tuning.study.lock import StudyLock\n"
            f"with StudyLock({str(lock)!r}, 's.yaml'):\n    print('held', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert holder(lock)["pid"] == proc.pid
        with pytest.raises(InputError, match=f"already being run by pid {proc.pid}"):
            StudyLock(lock, "s.yaml").__enter__()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert holder(lock) is None  # the lock file stays, saying running, but nobody holds it
    with StudyLock(lock, "s.yaml"):
        assert holder(lock)["pid"] == os.getpid()


def test_a_fresh_heartbeat_from_another_host_refuses(folder):
    """A shared filesystem without flocks across machines: the heartbeat still guards."""
    import json

    study = load_study(folder / "s.yaml")
    lock = study.work / "study.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 7, "host": "node-a", "started": time.time(), "heartbeat": time.time(),
                                "running": True}), encoding="utf-8")
    with pytest.raises(InputError, match="already being run by pid 7 on node-a"):
        StudyLock(lock, "s.yaml").__enter__()
    lock.write_text(json.dumps({"pid": 7, "host": "node-a", "started": 0, "heartbeat": time.time() - 3600,
                                "running": True}), encoding="utf-8")
    with StudyLock(lock, "s.yaml"):  # an hour-old heartbeat: that run is gone
        pass


def test_the_docs_hold_the_minimal_study_and_every_key():
    """docs/study.md shows examples/study_minimal.yaml (the file the tests run) verbatim, and
    names every key the study file accepts."""
    from tuning.study.graph import KINDS
    from tuning.study.spec import EVALUATE_DEFAULTS, RESOURCE_KEYS, TOP, Transfer

    root = Path(__file__).resolve().parents[3]
    doc = (root / "docs" / "study.md").read_text(encoding="utf-8")
    minimal = (root / "examples" / "study_minimal.yaml").read_text(encoding="utf-8")
    assert f"```yaml\n{minimal}```" in doc
    for key in (*TOP, *EVALUATE_DEFAULTS, *RESOURCE_KEYS, *KINDS, "nproc", "sizes", "seeds", "seed_sizes",
                *(f.name for f in dataclasses.fields(Transfer))):
        assert f"`{key}`" in doc or f"{key}:" in doc or f"`pilots.{key}`" in doc, key
