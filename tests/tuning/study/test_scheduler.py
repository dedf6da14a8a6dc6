"""The scheduler on a fake executor (a job "runs" by writing its output, or fails): order by
needs, a failure blocks only what needs it, markers say what failed, a rerun does the rest.
Also each local worker's share of the CPU threads and of the GPUs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuning.study.executors import worker_env
from tuning.study.graph import build_jobs, output_path
from tuning.study.scheduler import marker_path, run_jobs
from tuning.study.spec import load_study

STUDY = """\
model: model
prompt: alpaca
heldout: 8
parallel: el.tsv
languages: [el, tr]
pilots: {sizes: [8, 16, 24, 32], seeds: [1, 2], seed_sizes: [16]}
budget: 48
plans: {optimized: [1, 2], uniform: [1]}
extrapolation: {languages: [el], factors: [2]}
"""


class FakeExecutor:
    name = "fake"

    def __init__(self, study, workers=2, fail=()):
        self.study, self.workers, self.fail = study, workers, set(fail)
        self.running, self.order, self.by_id = [], [], {j.id: j for j in build_jobs(study)}

    def free(self):
        return self.workers - len(self.running)

    def start(self, jobs):
        for job in jobs:
            # every job it needs is done when it starts
            for need in job.needs:
                out = output_path(self.study, self.by_id[need])
                assert out is None or out.is_file(), f"{job.id} started before {need}"
            self.running.append(job)
            self.order.append(job.id)
        return {job.id: self.study.work / "logs" / f"{job.id}.log" for job in jobs}

    def wait(self, timeout):
        job = self.running.pop(0)
        if job.id in self.fail:
            return [(job.id, 1)]
        out = output_path(self.study, job)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("{}", encoding="utf-8")
        return [(job.id, 0)]

    def stop(self):
        self.running.clear()


@pytest.fixture()
def study(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "el.tsv").write_text("Open the file now\tx\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_text(STUDY, encoding="utf-8")
    return load_study(tmp_path / "s.yaml")


def test_jobs_run_in_order_and_a_failure_blocks_only_what_needs_it(study):
    jobs = build_jobs(study)
    ex = FakeExecutor(study, fail={"pilot-el-00024-s1"})
    out = run_jobs(study, ex)
    assert out["failed"] == ["pilot-el-00024-s1"]
    # the plan needs every first-seed pilot; the models on the plans need the plan; the report all
    assert out["blocked"] == ["plan", "multi-optimized-s1", "multi-uniform-s1", "multi-optimized-s2", "report"]
    ran = set(ex.order)
    assert ran == {j.id for j in jobs} - set(out["blocked"])  # the second seed's pilots and extrapolation ran
    # one worker's order would be the study's: the first seed's ladder before the second seed's
    assert ex.order.index("pilot-tr-00032-s1") < ex.order.index("pilot-el-00016-s2")
    marker = json.loads(marker_path(study, "pilot-el-00024-s1").read_text(encoding="utf-8"))
    assert marker["state"] == "failed" and marker["rc"] == 1 and marker["log"].endswith("pilot-el-00024-s1.log")
    assert not marker_path(study, "pilot-el-00008-s1").exists()  # success leaves its output, no marker

    again = FakeExecutor(study)
    out = run_jobs(study, again)
    assert again.order == ["pilot-el-00024-s1", "plan", "multi-optimized-s1", "multi-uniform-s1",
                           "multi-optimized-s2", "report"]
    assert out["failed"] == [] and out["blocked"] == []
    assert not marker_path(study, "pilot-el-00024-s1").exists()


def test_until_runs_the_stages_up_to_it(study):
    ex = FakeExecutor(study, workers=1)
    run_jobs(study, ex, until="plan")
    assert ex.order == ["heldout-el", "heldout-tr", "base"] + [
        f"pilot-{lang}-{size:05d}-s1" for size in (8, 16, 24, 32) for lang in ("el", "tr")] + ["plan"]


def test_each_worker_gets_its_threads_and_gpus():
    env = worker_env(1, 2, 16, ["0", "1", "2", "3"])
    assert env["OMP_NUM_THREADS"] == "8" and env["MKL_NUM_THREADS"] == "8"
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert worker_env(0, 2, 16, ["0", "1", "2", "3"])["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert worker_env(3, 4, 4, ["5", "7", "8", "9"])["CUDA_VISIBLE_DEVICES"] == "9"  # ids as CUDA lists them
    assert worker_env(2, 3, 2, [])["OMP_NUM_THREADS"] == "1"  # at least one thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_its_scheduler(tmp_path):
    """SIGKILL of the scheduler alone (not its process group) leaves no worker training on."""
    code = ("import subprocess, sys, time\nfrom tuning.study.executors import _die_with_parent\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], preexec_fn=_die_with_parent)\n"
            "print(child.pid, flush=True)\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):  # the kernel signals the child at once; give it up to 10 s to go
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{child}/stat", encoding="utf-8") as fh:
            if fh.read().split(")")[-1].split()[0] == "Z":
                break  # exited, waiting for init to reap it
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the worker outlived its scheduler")


def test_a_slurm_job_script_limits_the_threads_before_python_starts(study):
    """numpy's BLAS reads OMP_NUM_THREADS when first imported, before StudyJob sets it: the job
    script sets it from the job kind's cpus_per_task (submitit's local cluster ignores slurm_ keys)."""
    pytest.importorskip("submitit")
    from tuning.study.executors import SlurmExecutor

    ex = SlurmExecutor(dataclasses.replace(study, resources={"default": {"cpus_per_task": 3}, "pilot": {"cpus_per_task": 2}}),
                       cluster="local")
    assert ex._params("pilot")["slurm_setup"] == ["export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false"]
    assert ex._params("plan")["slurm_setup"] == ["export OMP_NUM_THREADS=3 MKL_NUM_THREADS=3 TOKENIZERS_PARALLELISM=false"]
    ex.executor.update_parameters(**ex._params("pilot"))  # accepted by submitit as it is
