"""The first screen of report.md: the answer, read in a minute, before any warning or table.

    ## The answer
    Split 900 pairs as: tr 206 (22.9%), el 194 (21.5%), ...      every language, largest first
    Verdict: <the verdict against uniform, reporting.worth>        the same words as the CLI's
    | against | gain (interval) | plan better in | verdict |     one row per baseline
    Best baseline: ...                                            when it is not uniform
    Expected regret of this plan: ...                             Worth.regret_note (reporting.worth)
    What would change it: ...                                     the least certain law the plan reads
    More budget: ...                                              another 10% of it, re-planned

**What would change it.** Under the laws' bootstrap draws the gain over the headline baseline
varies; per language i its spread is the width of the per-language gain interval
(Worth.per_language upper - lower). The language with the widest one contributes most to the
gain's uncertainty, so a larger pilot of it (at about its planned size, which is beyond its
largest pilot when the plan extrapolates) would most sharpen the plan. A heuristic that reads
one baseline; ``budgetlaw next`` ranks candidate pilots by the regret they remove.

**Expected regret.** The headline Worth's ``regret_note``: the plan's shortfall against the best
plan of each of the laws' bootstrap draws (budgetlaw.design.transfer_regret), its interval, and
its share of the plan's predicted gain over uniform; the line is left out when it is not known
(no draws, the objective maxmin).

**More budget.** The objective re-planned at 1.1 x the budget (build.py) minus the plan's, as
an improvement; and, when 1,000 pairs are at most a tenth of the budget (where a first-order
step is accurate), the marginal value times 1,000. Never a linear step beyond the budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from budgetlaw.reporting.plots import format_count
from budgetlaw.reporting.worth import REGRET_LABEL

__all__ = ["answer_lines", "headline", "plan_line", "sharpen_line", "budget_line", "MANY_LISTED"]

#: Languages named in the answer's plan line; the Plan table below lists every one.
MANY_LISTED = 20

_SHORT = {"worth it": "worth it", "hidden by noise": "better, hidden by noise", "can't tell": "can't tell",
          "baseline better": "baseline better", "same plan": "same plan", "noise unknown": "better (noise unknown)",
          "unknown": "cannot be computed"}


def _f(value: float, digits: int, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def headline(worths: Sequence):
    """The Worth the verdict is read from: against uniform, else the first baseline (None: none)."""
    for w in worths:
        if w.baseline == "uniform":
            return w
    return worths[0] if worths else None


def plan_line(plan, available: Mapping[str, float] | None = None) -> str:
    """'tr 206 (22.9%), el 194 (21.5%), ...': every language's pairs and share, largest first (the
    first MANY_LISTED when there are more); a language planned beyond its distinct pairs says
    how many passes over them that is."""
    sizes = plan.sizes.astype(float).sort_values(ascending=False, kind="stable")
    total = float(sizes.sum())
    parts = []
    for language, size in list(sizes.items())[:MANY_LISTED]:
        notes = [f"{100 * size / total:.1f}%"] if total > 0 else []
        unique = (available or {}).get(language)
        if unique is not None and math.isfinite(float(unique)) and size > float(unique) * (1 + 1e-9):
            notes.append(f"{size / float(unique):.2f} passes over its {float(unique):,.0f} distinct pairs")
        parts.append(f"{language} {size:,.0f}" + (f" ({'; '.join(notes)})" if notes else ""))
    more = len(sizes) - MANY_LISTED
    tail = f", and {more:,} more languages (the Plan table lists every one)" if more > 0 else ""
    return ", ".join(parts) + tail


def sharpen_line(w, plan, largest_pilot: Mapping[str, float]) -> str | None:
    """Which language's pilot would most sharpen the plan (module docstring), or None without draws."""
    if w is None or w.per_language is None or not len(w.per_language):
        return None
    width = (w.per_language["upper"].astype(float) - w.per_language["lower"].astype(float)).dropna()
    if not len(width) or not (width.max() > 0):
        return None
    order = width.sort_values(ascending=False, kind="stable")
    language = order.index[0]
    planned = float(plan.sizes.get(language, math.nan))
    largest = largest_pilot.get(language)
    where = ""
    if largest is not None and math.isfinite(float(largest)) and largest > 0:
        ratio = planned / float(largest)
        where = (f"; the plan gives it {planned:,.0f} pairs, {ratio:.1f}x its largest pilot ({float(largest):,.0f})"
                 if ratio > 1 else
                 f"; the plan gives it {planned:,.0f} pairs, inside its pilots (largest {float(largest):,.0f})")
    share = 100 * order.iloc[0] / float(width.sum())
    d = 3 if w.lower_is_better else 2
    return (f"a larger pilot of **{language}** would most sharpen this plan: its law is the least certain where the "
            f"plan reads it (its gain over {w.baseline} spans {_f(order.iloc[0], d)}, {share:.0f}% of the summed "
            f"per-language spread{where}). `budgetlaw next` ranks the candidate pilots by what they are worth.")


def budget_line(plan, more_gain: float | None, lower: bool, metric: str) -> str | None:
    """What another 10% of the budget would buy (module docstring), or None when unknown."""
    d = 3 if lower else 2
    which = f"the worst language's {metric}" if plan.objective == "maxmin" else f"the summed {metric}"
    what = f"lower {which} by" if lower else f"raise {which} by"
    parts = []
    if more_gain is not None and math.isfinite(more_gain):
        step = 0.1 * float(plan.budget)
        parts.append(f"another 10% of the budget ({format_count(step)} more) would {what} {_f(more_gain, d)} "
                     f"(re-planned at {format_count(1.1 * float(plan.budget))})")
    marginal = float(plan.marginal_value) if plan.marginal_value is not None else math.nan
    if math.isfinite(marginal) and 1000 <= 0.1 * float(plan.budget):
        parts.append(f"each 1,000 more pairs about {marginal * 1000:.3g}")
    return "; ".join(parts) if parts else None


def answer_lines(*, plan, worths: Sequence, metric: str, lower: bool, level: float,
                 available: Mapping[str, float] | None, largest_pilot: Mapping[str, float],
                 more_gain: float | None, markdown_table) -> list[str]:
    """The lines of report.md's "The answer" section (module docstring)."""
    import pandas as pd

    d = 3 if lower else 2
    n = len(plan.sizes)
    goal = {"sum": f"the summed {metric}", "maxmin": f"the worst language's {metric}",
            "robust": f"the summed {metric}, averaged over the laws' draws"}.get(plan.objective, plan.objective)
    aim = f"minimises {goal} (lower is better)" if lower else f"maximises {goal}"
    lines = ["## The answer", "",
             f"**Split {float(plan.budget):,.0f} pairs over {n:,} language{'s' if n != 1 else ''} as:** "
             f"{plan_line(plan, available)}. The plan {aim}.", ""]
    top = headline(worths)
    if top is None:
        lines += ["**Verdict:** no baseline to compare with (the report was asked for none).", ""]
    else:
        lines += [f"**Verdict:** {top.verdict}", ""]
        gain_head = f"gain in {goal} ({level:.0%} interval)"
        rows = []
        for w in worths:
            span = (f"{_f(w.gain, d, True)} [{_f(w.lower, d, True)}, {_f(w.upper, d, True)}]"
                    if math.isfinite(w.lower) else _f(w.gain, d, True))
            verdict = _SHORT.get(w.case, w.case)
            if w.case == "hidden by noise" and w.seeds is not None:
                verdict += f" ({w.seeds:,} seeds per plan to see it)"
            rows.append({"against": w.baseline, gain_head: span,
                         "plan better in": "-" if not math.isfinite(w.better_share) else f"{100 * w.better_share:.0f}% of draws",
                         "verdict": verdict})
        lines += [markdown_table(pd.DataFrame(rows)), ""]
        rivals = [w for w in worths if w.case != "same plan" and math.isfinite(w.gain)]
        best = min(rivals, key=lambda w: w.gain) if rivals else None
        if best is not None and best is not top:
            lines += [f"**Best baseline:** {best.baseline} (the smallest gain). {best.verdict}", ""]
        note = getattr(top, "regret_note", "")
        if note:
            lines += [note.replace(REGRET_LABEL, f"**{REGRET_LABEL}**", 1), ""]
        sharpen = sharpen_line(top, plan, largest_pilot)
        if sharpen:
            lines += [f"**What would change it:** {sharpen}", ""]
    more = budget_line(plan, more_gain, lower, metric)
    if more:
        lines += [f"**More budget:** {more}.", ""]
    return lines
