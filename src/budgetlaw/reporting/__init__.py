"""Stage 3 of the pipeline, laws.json + plan.json -> a report folder: figures, tables, report.md.

    build.py     report = build_report (compute every table) + write_report (files, all at once)
    summary.py   the Markdown summary (report.md): tables, warnings, provenance
    plots.py     the PNG figures, drawn from plain tables
"""

from budgetlaw.reporting.build import (DEFAULT_BASELINES, MAX_LAW_PANELS, ReportContent, build_report,
                                       constraint_kwargs, focus_languages, frontier_budgets, report,
                                       resolve_baselines, write_report)

__all__ = ["report", "build_report", "write_report", "ReportContent", "DEFAULT_BASELINES", "MAX_LAW_PANELS",
           "focus_languages", "constraint_kwargs", "resolve_baselines", "frontier_budgets"]
