"""Run a study's jobs in dependency order on an executor, skipping what is recorded.

A job starts once every job it needs is done; ready jobs start in the study's order (the
headline comparison first, graph.build_jobs). A job that fails is marked failed and the jobs
that need it are left pending; the others go on. ``W/status/<job>.json`` says what runs
(started, log) and what failed (exit status, log) for ``tuning study status``; a job's marker is
removed when it succeeds (its output is then the proof).

``run_study`` holds the study's lock (tuning.study.lock) for the whole run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import time
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from tuning.study.door import check_study
from tuning.study.executors import LocalExecutor, SlurmExecutor
from tuning.study.graph import STAGES, build_jobs, is_done, select
from tuning.study.lock import StudyLock
from tuning.study.runs import write_json

log = logging.getLogger("tuning.study")


def marker_path(study, job_id: str) -> Path:
    return study.work / "status" / f"{job_id}.json"


def _mark(study, job_id: str, **info) -> None:
    path = marker_path(study, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, info)


def _bars(study, jobs, todo, enabled: bool) -> dict:
    if not enabled:
        return {}
    from tqdm import tqdm

    bars = {}
    for i, stage in enumerate(s for s in STAGES if any(j.stage == s for j in todo)):
        mine = [j for j in jobs if j.stage == stage]
        done = sum(is_done(study, j) for j in mine)
        bars[stage] = tqdm(total=len(mine), initial=done, desc=f"{stage:>15}", position=i, leave=True,
                           file=sys.stderr, unit="job")
    return bars


def run_jobs(study, executor, *, until: str | None = None, progress: bool = False, poll_s: float = 2.0) -> dict:
    """Run what the study still needs; returns {"done": [...], "failed": [...], "blocked": [...]}."""
    jobs = build_jobs(study)
    todo = select(study, jobs, until)
    order = {j.id: i for i, j in enumerate(jobs)}
    by_id = {j.id: j for j in jobs}
    finished = {j.id for j in jobs if is_done(study, j)}
    failed: set[str] = set()
    started: dict[str, float] = {}
    bars = _bars(study, jobs, todo, progress)
    log.info("%s: %d jobs, %d done, %d to run (%s executor)", study.name, len(jobs), len(finished), len(todo),
             executor.name)
    pending = {j.id for j in todo}
    try:
        while True:
            ready = sorted((jid for jid in pending if jid not in started
                            and all(n in finished for n in by_id[jid].needs)), key=order.get)
            free = executor.free()
            if ready and free > 0:
                batch = [by_id[jid] for jid in ready[:free]]
                for job in batch:
                    log.info("==== %s ====", job.id)
                logs = executor.start(batch)
                for job in batch:
                    started[job.id] = time.time()
                    _mark(study, job.id, state="running", started=started[job.id], log=str(logs[job.id]),
                          host=socket.gethostname(), executor=executor.name)
            if not started.keys() - finished - failed:
                break  # nothing running, nothing could start
            for jid, rc in executor.wait(poll_s):
                job = by_id[jid]
                ok = rc == 0 and (job.output is None or is_done(study, job))
                pending.discard(jid)
                if ok:
                    finished.add(jid)
                    marker_path(study, jid).unlink(missing_ok=True)
                    if job.stage in bars:
                        bars[job.stage].update(1)
                else:
                    failed.add(jid)
                    info = json.loads(marker_path(study, jid).read_text(encoding="utf-8"))
                    _mark(study, jid, **{**info, "state": "failed", "rc": rc, "ended": time.time()})
                    log.error("%s failed (exit %s); see %s", jid, rc, info.get("log"))
    except BaseException:
        executor.stop()
        for jid in started.keys() - finished - failed:
            marker_path(study, jid).unlink(missing_ok=True)  # killed by us: pending again, not failed
        raise
    finally:
        for bar in bars.values():
            bar.close()
    blocked = sorted(pending - failed, key=order.get)
    return {"done": sorted(finished & {j.id for j in todo}, key=order.get), "failed": sorted(failed, key=order.get),
            "blocked": blocked}


def make_executor(study, executor: str = "local", workers: int = 1, cluster: str | None = None,
                  threads: int | None = None):
    if executor == "local":
        return LocalExecutor(study, workers, cpus=threads * workers if threads else None)
    return SlurmExecutor(study, cluster=cluster)


def run_study(study, *, executor: str = "local", workers: int = 1, threads: int | None = None,
              until: str | None = None, cluster: str | None = None, progress: bool = False) -> dict:
    """The whole study (or up to the stage ``until``), under the study's lock; the files the
    study names are checked first (tuning.study.door), before anything is written."""
    check_study(study)
    ex = make_executor(study, executor, workers, cluster, threads)
    with StudyLock(study.work / "study.lock", str(study.path), executor=executor, workers=workers):
        for sub in ("runs", "predictions", "heldout"):
            (study.results / sub).mkdir(parents=True, exist_ok=True)
        write_json(study.work / "study.json", study.to_dict())
        # with bars on the terminal, log lines are written above them instead of through them
        with logging_redirect_tqdm() if progress else contextlib.nullcontext():
            return run_jobs(study, ex, until=until, progress=progress)
