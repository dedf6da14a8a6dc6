"""The results folder of a study, from its records alone: ``tuning study report STUDY.yaml``.

Writes (R = the results folder): ``pilots.csv``, ``laws.json``, ``laws_chrf.json`` (the laws of
every pilot point, refitted each time), ``results.csv`` and ``summary.md``
(tuning.study.report_tables), ``figures/*.png`` (tuning.study.report_figures) and, once
transfer pilots exist, the transfer-aware law's files (tuning.study.report_transfer). Works on a
partial study: what has not run yet is left out, so it can be rerun while the study goes on.
"""

from __future__ import annotations

from pathlib import Path

from budgetlaw.fileio import atomic_write
from tuning.study import report_figures as fig
from tuning.study.graph import REPORT_STAMP, report_digest
from tuning.study.predict import FILE, read_predictions
from tuning.study.records import read_records
from tuning.study.report_tables import ReportError, _load, results_frame, write_summary
from tuning.study.steps import refit as refit_laws


def write_report(results, *, title: str, note: str, hardware: str, budget: int | None = None,
                 stage1: str = "separate") -> None:
    """results.csv, summary.md and the figures of the results folder ``results``; stage1: the
    transfer law's (budgetlaw.fit's, the study's transfer.stage1)."""
    import matplotlib

    matplotlib.use("Agg")
    from tuning.study.report_transfer import write_transfer_report

    results = Path(results)
    records, laws = _load(results)
    frame = results_frame(results, records, laws)
    if frame.empty:
        raise ReportError(f"{results}: the run records hold no scores; nothing to report")
    with atomic_write(results / "results.csv") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")
    write_summary(results, frame, records, laws, title=title, note=note, hardware=hardware)
    figs = results / "figures"
    figs.mkdir(exist_ok=True)
    for metric in ("nll", "chrf"):
        fig.plot_laws(frame, laws, metric, figs / f"laws_{metric}.png")
    fig.plot_pilots(frame, figs / "pilots.png")
    fig.plot_measured_vs_predicted(frame, figs / "measured_vs_predicted.png")
    fig.plot_optimized_vs_uniform(frame, figs / "optimized_vs_uniform.png")
    fig.plot_gains(frame, figs / "gains.png", budget)
    fig.plot_alignment(results, figs / "alignment.png")
    write_transfer_report(results, stage1=stage1)


def write_study_report(study, *, refit: bool = True) -> Path:
    """Refit the laws of every pilot point (when any pilot is recorded) and write the report."""
    # every input checked before anything is written: a damaged record (or a torn prediction
    # row) is one line, and no file of the results folder is rewritten from it
    read_records(study.results, study.codes, require=True, heldout=True)
    if (study.results / FILE).is_file():
        read_predictions(study.results / FILE)
    if refit and any((study.results / "runs").glob("pilot-*.json")):
        refit_laws(study)
    r = study.report
    write_report(study.results, title=r["title"], note=r["note"], hardware=r["hardware"], budget=study.budget,
                 stage1=study.transfer.stage1 if study.transfer is not None else "separate")

    # the stamp, last: the report job is done (status, a rerun) until what it read changes
    study.work.mkdir(parents=True, exist_ok=True)
    with atomic_write(study.work / REPORT_STAMP) as fh:
        fh.write(report_digest(study) + "\n")
    return study.results
