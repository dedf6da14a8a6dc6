"""Where a study's jobs run: local worker processes, or a SLURM cluster through submitit.

Both give the scheduler (``tuning.study.scheduler``) the same three calls: ``free()`` (how many
more jobs may start), ``start(jobs)`` (the log file of each) and ``wait(timeout)`` (the jobs that
ended since, with their exit status), plus ``stop()`` on Ctrl-C.

- ``LocalExecutor(workers=N)``: each job is a ``python -m tuning.study.worker`` process. Worker
  slot i gets ``OMP_NUM_THREADS = cpus // N`` (and MKL's), and when the machine has GPUs, its
  ``gpus // N`` of them through ``CUDA_VISIBLE_DEVICES``. Logs: ``W/logs/<job>.log``.
- ``SlurmExecutor``: one submitit job per study job, submitted as a job array per kind of job
  with that kind's resources (study file ``resources: {default: ..., pilot: ...}``, submitit's
  parameter names), requeued on preemption or timeout (a job whose record exists does nothing
  when it starts again). Logs: ``W/submitit/<slurm id>_<task>_log.{out,err}``. ``cluster="local"``
  runs the same code on this machine through submitit's own local executor (the tests do).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from tuning.errors import InputError
from tuning.study.worker import execute

log = logging.getLogger("tuning.study")


def _gpu_ids() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES, or every one torch sees."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def _die_with_parent() -> None:
    """In a worker, before exec: SIGTERM when the scheduler dies, even by SIGKILL (Linux), so no
    orphan goes on training a job a rerun would start again. Elsewhere nothing is done."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_env(slot: int, workers: int, cpus: int, gpus: list[str]) -> dict[str, str]:
    """The environment of worker ``slot`` of ``workers``: its CPU threads and its GPUs."""
    threads = max(1, cpus // workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false"}
    if gpus:
        per = max(1, len(gpus) // workers)
        mine = gpus[(slot * per) % len(gpus):][:per]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(mine)
    return env


class LocalExecutor:
    name = "local"

    def __init__(self, study, workers: int = 1, cpus: int | None = None):
        if workers < 1:
            raise InputError(f"--workers {workers}: give a positive number of workers")
        self.study, self.workers = study, workers
        self.cpus = cpus or len(os.sched_getaffinity(0))
        self.gpus = _gpu_ids()
        self.running: dict[str, tuple[subprocess.Popen, int, object]] = {}

    def free(self) -> int:
        return self.workers - len(self.running)

    def start(self, jobs) -> dict[str, Path]:
        logs = {}
        for job in jobs:
            slot = min(set(range(self.workers)) - {s for _, s, _ in self.running.values()})
            path = self.study.work / "logs" / f"{job.id}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "w", encoding="utf-8")
            cmd = [sys.executable, "-m", "tuning.study.worker", str(self.study.path), str(self.study.results),
                   str(self.study.work), job.id]
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                    env=worker_env(slot, self.workers, self.cpus, self.gpus))
            self.running[job.id] = (proc, slot, fh)
            logs[job.id] = path
        return logs

    def wait(self, timeout: float) -> list[tuple[str, int]]:
        end = time.monotonic() + timeout
        while True:
            ended = [(jid, p.poll()) for jid, (p, _, _) in self.running.items() if p.poll() is not None]
            if ended or time.monotonic() >= end or not self.running:
                for jid, _ in ended:
                    self.running.pop(jid)[2].close()
                return ended
            time.sleep(0.2)

    def stop(self) -> None:
        for proc, _, fh in self.running.values():
            proc.terminate()  # the worker's SIGTERM handler stops its training child too
        for proc, _, fh in self.running.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            fh.close()
        self.running.clear()


def _submitit():
    try:
        import submitit
    except ImportError:
        raise InputError("--executor slurm needs submitit: pip install 'budgetlaw[study]' (or pip install submitit)") from None
    return submitit


class StudyJob:
    """What a SLURM job runs: one study job, requeued as is on preemption (submitit's
    Checkpointable protocol; the job is idempotent, so the new attempt just starts over)."""

    def __init__(self, study_path: str, results: str, work: str, job_id: str, cpus: int = 1):
        self.args, self.cpus = (study_path, results, work, job_id), cpus

    def __call__(self) -> str:
        # the job's CPU threads, for torch here and for the training child (SLURM does not set them)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(self.cpus)
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

        return execute(*self.args)

    def checkpoint(self, *args, **kwargs):
        submitit = _submitit()
        return submitit.helpers.DelayedSubmission(StudyJob(*self.args, cpus=self.cpus))


class SlurmExecutor:
    name = "slurm"

    def __init__(self, study, cluster: str | None = None, max_jobs: int = 256):
        submitit = _submitit()
        self.study, self.max_jobs = study, max_jobs
        try:
            self.executor = submitit.AutoExecutor(folder=str(study.work / "submitit" / "%j"), cluster=cluster or "slurm")
        except RuntimeError as exc:  # no srun/sbatch here
            raise InputError(f"--executor slurm: {exc}; run it on a SLURM login node, or use --executor local") from None
        self.running: dict[str, object] = {}

    @staticmethod
    def check_cluster() -> None:
        """InputError (one line) when this machine cannot submit SLURM jobs."""
        import shutil

        if shutil.which("srun") is None or shutil.which("sbatch") is None:
            raise InputError("--executor slurm: no SLURM here (srun/sbatch not found); run it on a SLURM login "
                             "node, or use --executor local")

    def free(self) -> int:
        return self.max_jobs - len(self.running)

    def _params(self, kind: str) -> dict:
        res = self.study.resources
        params = {"timeout_min": 240, "cpus_per_task": 1, **res.get("default", {}), **res.get(kind, {})}
        # set in the job script, before Python starts: numpy's BLAS reads them when first imported,
        # which is before StudyJob sets them again (on other clusters submitit ignores slurm_ keys)
        cpus = int(params["cpus_per_task"])
        setup = [f"export OMP_NUM_THREADS={cpus} MKL_NUM_THREADS={cpus} TOKENIZERS_PARALLELISM=false"]
        return {"name": f"{self.study.name}-{kind}", **params, "slurm_setup": setup}

    def start(self, jobs) -> dict[str, Path]:
        logs = {}
        by_kind: dict[str, list] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, group in by_kind.items():
            params = self._params(kind)
            self.executor.update_parameters(**params)
            handles = []
            with self.executor.batch():  # one job array per kind of job
                for job in group:
                    s = self.study
                    handles.append(self.executor.submit(StudyJob(str(s.path), str(s.results), str(s.work), job.id,
                                                                 cpus=int(params["cpus_per_task"]))))
            for job, handle in zip(group, handles):
                self.running[job.id] = handle
                logs[job.id] = Path(handle.paths.stderr)
                log.info("%s: submitted as %s", job.id, handle.job_id)
        return logs

    def wait(self, timeout: float) -> list[tuple[str, int]]:
        end = time.monotonic() + timeout
        while True:
            ended = []
            for jid, handle in list(self.running.items()):
                if handle.done():
                    try:
                        handle.result()
                        rc = 0
                    except Exception as exc:  # the job's own error: its log has the traceback
                        log.error("%s: %s", jid, str(exc).strip().splitlines()[-1] if str(exc).strip() else exc)
                        rc = 1
                    del self.running[jid]
                    ended.append((jid, rc))
            if ended or time.monotonic() >= end or not self.running:
                return ended
            time.sleep(1.0)

    def stop(self) -> None:
        for handle in self.running.values():
            handle.cancel(check=False)
        self.running.clear()
