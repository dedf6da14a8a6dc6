"""``tuning study status STUDY.yaml``: what is done, running, failed and pending, and what is left.

A job is done when its output exists (graph.is_done), running when a run holds the study's lock
and its marker ``W/status/<job>.json`` says running, failed when the marker says failed (the
log's last error line is shown), pending otherwise. Time left: per kind of job, the mean
``total_s`` of its done records (or of every record when none of that kind is done), summed
over what is pending and what is still running, divided by the run's workers.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tuning.study.graph import STAGES, build_jobs, is_done
from tuning.study.lock import holder
from tuning.study.records import read_records
from tuning.study.scheduler import marker_path

_ERROR = re.compile(r"(Error|error:|Exception|Killed|failed)")


def last_error_line(log: Path) -> str:
    """The last line of ``log`` that names an error, else its last non-empty line."""
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return f"(no log at {log})"
    for line in reversed(lines):
        if _ERROR.search(line):
            return line
    return lines[-1] if lines else "(empty log)"


def _marker(path: Path) -> dict:
    """A job's marker, or {} when there is none or it is not one (a run killed while writing it
    leaves none: markers are written atomically; anything else there is not ours to trust)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def study_status(study) -> dict:
    """{"jobs": {id: {"state", "stage", "kind", "elapsed_s", "log", "error"}}, "left_s", "runner"}."""
    jobs = build_jobs(study)
    # every record checked first: a damaged one is one line naming it, not a traceback
    recorded = {r["run"]: r for r in read_records(study.results, study.codes)}
    runner = holder(study.work / "study.lock")
    durations: dict[str, list[float]] = {}
    out = {}
    now = time.time()
    for job in jobs:
        entry = {"stage": job.stage, "kind": job.kind, "state": "pending", "elapsed_s": None, "log": None, "error": None}
        marker = marker_path(study, job.id)
        info = _marker(marker)
        if is_done(study, job):
            entry["state"] = "done"
            if job.output and job.output.startswith("results:runs/"):
                entry["elapsed_s"] = recorded.get(job.id, {}).get("total_s")
                if entry["elapsed_s"] is not None:
                    durations.setdefault(job.kind, []).append(float(entry["elapsed_s"]))
        elif info.get("state") == "failed":
            entry.update(state="failed", log=info.get("log"), elapsed_s=info.get("ended", now) - info.get("started", now),
                         error=last_error_line(Path(info["log"])) if info.get("log") else None)
        elif info.get("state") == "running" and runner is not None:
            entry.update(state="running", log=info.get("log"), elapsed_s=now - info.get("started", now))
        out[job.id] = entry
    every = [d for ds in durations.values() for d in ds]
    left = 0.0
    for jid, e in out.items():
        if e["state"] in ("pending", "running") and e["kind"] not in ("report",):
            mean = sum(durations.get(e["kind"], every) or [0.0]) / max(1, len(durations.get(e["kind"], every)))
            left += max(0.0, mean - (e["elapsed_s"] or 0.0)) if e["state"] == "running" else mean
    workers = int(runner.get("workers", 1)) if runner else 1
    return {"jobs": out, "left_s": left / max(1, workers) if every else None, "runner": runner}


def _minutes(s) -> str:
    return "?" if s is None else f"{s / 60:.1f} min"


def format_status(study, status: dict) -> str:
    jobs = status["jobs"]
    lines = [f"study {study.name}: results {study.results}"]
    runner = status["runner"]
    lines.append(f"running now: pid {runner.get('pid')} on {runner.get('host')} ({runner.get('executor', '?')}, "
                 f"{runner.get('workers', '?')} workers)" if runner else "no run holds the study now")
    for stage in STAGES:
        mine = {jid: e for jid, e in jobs.items() if e["stage"] == stage}
        if not mine:
            continue
        counts = {s: sum(e["state"] == s for e in mine.values()) for s in ("done", "running", "failed", "pending")}
        lines.append(f"  {stage:<16} {counts['done']:>3}/{len(mine):<3} done" + "".join(
            f", {n} {s}" for s, n in counts.items() if s != "done" and n))
    for jid, e in jobs.items():
        if e["state"] == "running":
            lines.append(f"  running  {jid} ({_minutes(e['elapsed_s'])}; log {e['log']})")
    for jid, e in jobs.items():
        if e["state"] == "failed":
            lines.append(f"  FAILED   {jid}: {e['error']} (log {e['log']})")
    done = [e["elapsed_s"] for e in jobs.values() if e["state"] == "done" and e["elapsed_s"] is not None]
    lines.append(f"time spent on recorded models: {_minutes(sum(done))}; estimated left: {_minutes(status['left_s'])}")
    return "\n".join(lines)
