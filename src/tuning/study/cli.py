"""``tuning study run|status|report|predict|jobs STUDY.yaml``: the whole method from one study file.

No torch at import time (``tuning --help`` stays fast). The study file is read and checked
before anything runs or is written: bad input is one line, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tuning.errors import InputError
from tuning.study.executors import SlurmExecutor, _submitit
from tuning.study.graph import STAGES, build_jobs, is_done, output_path
from tuning.study.predict import predict_study
from tuning.study.report import write_study_report
from tuning.study.scheduler import run_study
from tuning.study.spec import load_study
from tuning.study.status import format_status, study_status

log = logging.getLogger("tuning.study")


def _common(p) -> None:
    p.add_argument("study", help="the study file (YAML; docs/study.md)")
    p.add_argument("--results", default=None, help="results folder (default: the study file's results:)")
    p.add_argument("--work", default=None, help="scratch folder (default: the study file's work:)")


def register(subparsers) -> None:
    study = subparsers.add_parser("study", help="run a whole study (pilots, laws, plans, models, report) from a study file",
                                  description="The method as one study file and one command; see docs/study.md.")
    sub = study.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run every job not recorded yet (resumes where a run stopped)")
    _common(run)
    run.add_argument("--executor", choices=("local", "slurm"), default="local",
                     help="local worker processes (default) or a SLURM cluster through submitit")
    run.add_argument("--workers", type=int, default=1, help="local: jobs at once, each with its share of the CPU "
                     "threads, or of the GPUs (default 1)")
    run.add_argument("--threads", type=int, default=None, help="local: CPU threads per worker (default: the "
                     "machine's CPUs / workers)")
    run.add_argument("--cluster", default=None, help=argparse.SUPPRESS)  # submitit's cluster= (tests: local)
    run.add_argument("--until", choices=STAGES, default=None, help="stop after this stage")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(func=run_cmd)
    status = sub.add_parser("status", help="what is done, running, failed and pending")
    _common(status)
    status.set_defaults(func=status_cmd)
    report = sub.add_parser("report", help="refit and write results.csv, summary.md and figures from the records")
    _common(report)
    report.set_defaults(func=report_cmd)
    predict = sub.add_parser("predict", help="predict every model not trained yet with the current transfer-aware law "
                             "(appends to predicted_before_training.csv; never revises a row)")
    _common(predict)
    predict.set_defaults(func=predict_cmd)
    jobs = sub.add_parser("jobs", help="list the study's jobs, their needs and outputs")
    _common(jobs)
    jobs.set_defaults(func=jobs_cmd)


def _load(args):
    return load_study(args.study, results=args.results, work=args.work)


def run_cmd(args) -> int:
    study = _load(args)
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: give a positive number of workers")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads {args.threads}: give a positive number of threads per worker")
    if args.executor == "slurm":
        _submitit()  # the one-line errors before anything starts: no submitit, no SLURM
        if args.cluster is None:
            SlurmExecutor.check_cluster()
    for noisy in ("tuning.data.mixture", "tuning.data.sampling", "tuning.data.tokenize"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    out = run_study(study, executor=args.executor, workers=args.workers, threads=args.threads, until=args.until,
                    cluster=args.cluster,
                    progress=not args.no_progress and sys.stderr.isatty())
    if out["failed"]:
        log.error("%d job(s) failed: %s; %d left pending behind them. `tuning study status %s` shows why; "
                  "rerun to retry", len(out["failed"]), ", ".join(out["failed"]), len(out["blocked"]), args.study)
        return 1
    log.info("%s: %d jobs run, nothing left to do%s", study.name, len(out["done"]),
             f" up to {args.until}" if args.until else "")
    return 0


def status_cmd(args) -> int:
    study = _load(args)
    return _print(format_status(study, study_status(study)))


def _print(text: str) -> int:
    """Print ``text``; a reader that has closed the pipe (``| head``) ends it quietly."""
    import os

    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # what is left in the buffer would fail again at exit: send it nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def report_cmd(args) -> int:
    study = _load(args)
    out = write_study_report(study)
    log.info("report written to %s", out)
    return 0


def predict_cmd(args) -> int:
    predict_study(_load(args))
    return 0


def jobs_cmd(args) -> int:
    study = _load(args)
    lines = []
    for job in build_jobs(study):
        state = "done" if is_done(study, job) else "todo"
        lines.append(f"{state}  {job.stage:<15} {job.id:<28} needs {len(job.needs):>3}  -> "
                     f"{output_path(study, job) or study.work / 'report.sha256'}")
    return _print("\n".join(lines))
