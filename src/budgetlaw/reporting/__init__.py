"""Stage 3 of the pipeline, laws.json + plan.json -> a report folder: figures, tables, report.md.

    build.py     report = build_report (compute every table) + write_report (files, all at once)
    compare.py   the baselines a plan is compared with (at its budget, under its constraints)
    worth.py     is the plan worth it: gain over a baseline, its paired interval, seeds to see it
    answer.py    report.md's first screen: the plan, the verdict, what would change it
    summary.py   the Markdown summary (report.md): tables, warnings, provenance
    plots.py     the PNG figures, drawn from plain tables (heatmap.py: the transfer matrix)
"""

from budgetlaw.reporting.build import (DEFAULT_BASELINES, MAX_LAW_PANELS, ReportContent, build_report,
                                       constraint_kwargs, focus_languages, frontier_budgets, report,
                                       resolve_baselines, write_report)
from budgetlaw.reporting.worth import SeedSpread, Worth, seed_spread, seeds_needed, worth

__all__ = ["report", "build_report", "write_report", "ReportContent", "DEFAULT_BASELINES", "MAX_LAW_PANELS",
           "focus_languages", "constraint_kwargs", "resolve_baselines", "frontier_budgets",
           "worth", "Worth", "seed_spread", "SeedSpread", "seeds_needed"]
