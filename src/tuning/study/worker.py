"""Run one job of a study: ``python -m tuning.study.worker STUDY.yaml RESULTS WORK JOB_ID``.

The local executor starts one such process per job (with its share of the CPU threads or its
GPUs in the environment); the SLURM executor calls :func:`execute` inside the cluster job. A job
whose output exists is skipped here too, so a requeued or duplicated job does no work twice.
Exit status: 0 done, 1 the job failed (the log's last lines say why).
"""

from __future__ import annotations

import logging
import sys

from budgetlaw.fileio import sigterm_as_interrupt
from tuning.study import runs, steps
from tuning.study.graph import build_jobs, is_done
from tuning.study.report import write_study_report
from tuning.study.spec import load_study

log = logging.getLogger("tuning.study")


def execute(study_path: str, results: str, work: str, job_id: str) -> str:
    """Run ``job_id`` of the study unless its output exists; returns the job id."""
    study = load_study(study_path, results=results, work=work)
    job = {j.id: j for j in build_jobs(study)}[job_id]
    if is_done(study, job):
        log.info("%s: already done", job_id)
        return job_id
    for noisy in ("tuning.data.mixture", "tuning.data.sampling", "tuning.data.tokenize"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    runs.threads_for_worker()
    for sub in ("runs", "predictions", "heldout"):
        (study.results / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("mix", "models"):
        (study.work / sub).mkdir(parents=True, exist_ok=True)

    if job.kind == "prepare":
        steps.prepare(study, job)
    elif job.kind == "heldout":
        steps.heldout(study, job)
    elif job.kind == "base":
        runs.run_base(study, job)
    elif job.id == "plan":
        steps.plan(study, job)
    elif job.id == "transfer-plan":
        steps.transfer_plan(study, job)
    elif job.kind == "report":
        write_study_report(study)
    else:
        runs.run_model(study, job)
    return job_id


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print("usage: python -m tuning.study.worker STUDY.yaml RESULTS WORK JOB_ID", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    sigterm_as_interrupt()  # SIGTERM stops the training child too (subprocess.run kills it on the way out)
    execute(*args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
