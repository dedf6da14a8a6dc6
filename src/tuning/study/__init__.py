"""The method as one study file and one command (``tuning study run|status|report STUDY.yaml``).

A study file names the model, the languages with their corpora and held-out sets, the pilots,
the budget and the plans (docs/study.md); the study runs as a graph of jobs (``graph``) on local
workers or a SLURM cluster (``executors``), each job skipped when its record exists.

    from tuning.study import load_study, run_study
    study = load_study("study.yaml")
    run_study(study, workers=2)
"""

from tuning._lazy import lazy_attributes

_NAMES = {
    "load_study": "tuning.study.spec",
    "Study": "tuning.study.spec",
    "build_jobs": "tuning.study.graph",
    "run_study": "tuning.study.scheduler",
    "study_status": "tuning.study.status",
    "write_study_report": "tuning.study.report",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_attributes(__name__, _NAMES, globals())
