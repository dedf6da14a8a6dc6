"""The Markdown summary of a report (report.md): tables, warnings and provenance.

Number formats, fixed so a reader (and a test) can check them: pair counts are whole numbers
with thousands commas (``123,456``), scores and score gains have 2 decimals (losses and loss
improvements 3, as they move by hundredths), R^2 and RMSE 3, law parameters 4 significant digits.

Loss laws (lower is better) are reported in their own units; every "gain" is an improvement,
positive when the optimised plan is better (for a loss: baseline loss - optimised loss).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from budgetlaw.direction import direction_of, improvement, value_label
from budgetlaw.fitting.flags import FLAG_TEXT
from budgetlaw.reporting.plots import format_count
from budgetlaw.reporting.worth import objective_value, plan_objective  # judged as worth judges

__all__ = [
    "FLAG_TEXT",
    "objective_value",
    "plan_objective",
    "fmt_size",
    "fmt_score",
    "markdown_table",
    "law_rows",
    "plan_rows",
    "comparison_rows",
    "gain_rows",
    "plan_warnings",
    "render_summary",
]

# A leave-largest-out miss above this many score points is reported as a warning; for a loss,
# a miss above this share of the observed loss (2% of an nll of 1.65 is 0.033 nats/token).
HOLDOUT_WARN = 1.0
HOLDOUT_WARN_LOSS = 0.02


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt_size(value) -> str:
    return f"{float(value):,.0f}" if _finite(value) else "-"


def fmt_score(value, signed: bool = False, digits: int = 2) -> str:
    if not _finite(value):
        return "-"
    return f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"


def _digits(lower_is_better: bool) -> int:
    """Decimals of a value: 2 for scores (0-100), 3 for losses (~1-4)."""
    return 3 if lower_is_better else 2


def _fmt(value, spec: str) -> str:
    return format(float(value), spec) if _finite(value) else "-"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub pipe table of ``frame`` (cells used as given; the index is not written)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def law_rows(laws) -> pd.DataFrame:
    """language, a, b, c, K, ceiling (floor E for loss laws), R^2, RMSE, holdout error, points,
    largest pilot, flags."""
    asymptote = "floor E" if direction_of(laws) else "ceiling"
    d = _digits(asymptote == "floor E")
    rows = []
    for language, item in laws.items():
        law = getattr(item, "law", item)
        holdout = getattr(item, "holdout", None) or {}
        flags = tuple(getattr(item, "flags", ()) or ())
        rows.append(
            {
                "language": language,
                "a": _fmt(law.a, ".4g"),
                "b": _fmt(law.b, ".4g"),
                "c": _fmt(law.c, ".4g"),
                "K": _fmt(law.K, ".4g"),
                asymptote: _fmt(law.ceiling, ".4g"),
                "R^2": _fmt(getattr(item, "r2", None), ".3f"),
                "RMSE": _fmt(getattr(item, "rmse", None), ".3f"),
                "holdout error": fmt_score(holdout.get("error"), signed=True, digits=d),
                "points": str(getattr(item, "n_points", "-")),
                "largest pilot": fmt_size(getattr(item, "max_pilot_size", None)),
                "flags": ", ".join(f"**{f}**" for f in flags) if flags else "none",
            }
        )
    return pd.DataFrame(rows)


def plan_rows(plan, caps: Mapping[str, float], largest_pilot: Mapping[str, float]) -> pd.DataFrame:
    """language, pairs, share of pairs, cap, predicted, lower, upper, x largest pilot; with
    ``distinct`` (min(pairs, available)) and ``passes`` (pairs / distinct, as Plan.to_frame) after ``pairs`` when
    the plan may repeat pairs (max_epochs > 1)."""
    total = float(plan.sizes.sum())
    available = (plan.constraints or {}).get("available") or {}
    repeats = int((plan.constraints or {}).get("max_epochs") or 1) > 1 and bool(available)
    d = _digits(bool(getattr(plan, "lower_is_better", False)))
    rows = []
    predicted = plan.predicted.reindex(plan.sizes.index)  # whole columns, not a .loc per language
    columns = {col: (predicted[col].tolist() if col in predicted else [None] * len(predicted))
               for col in ("score", "lower", "upper")}
    for k, (language, size) in enumerate(plan.sizes.items()):
        pred = {col: values[k] for col, values in columns.items()}
        largest = largest_pilot.get(language)
        unique = available.get(language)
        unique = float(unique) if _finite(unique) else math.inf
        extra = {}
        if repeats:
            distinct = min(float(size), unique)  # passes as Plan.to_frame: how often each pair used is seen
            extra = {"distinct": fmt_size(distinct), "passes": f"{float(size) / distinct:.2f}" if distinct > 0 else "-"}
        rows.append(
            {
                "language": language,
                "pairs": fmt_size(size),
                **extra,
                "share": f"{100 * float(size) / total:.1f}%" if total > 0 else "-",
                "cap": fmt_size(caps.get(language)),
                "predicted": fmt_score(pred.get("score"), digits=d),
                "lower": fmt_score(pred.get("lower"), digits=d),
                "upper": fmt_score(pred.get("upper"), digits=d),
                "x largest pilot": f"{float(size) / float(largest):.1f}x" if _finite(largest) and largest else "-",
            }
        )
    return pd.DataFrame(rows)


def comparison_rows(plans: Sequence, laws, level: float = 0.9) -> pd.DataFrame:
    """One row per plan (the optimised plan first): its value of the optimised plan's objective,
    sum / mean / worst predicted score, pairs used, unused budget and, when the laws carry
    bootstrap draws, the optimised plan's gain in that objective over the row's plan with its
    interval over the draws, and the share of draws in which the optimised plan is better.
    For loss laws the gain is the row's value minus the optimised plan's (a lower loss is a
    gain) and the worst language is the one with the largest loss."""
    first = plans[0]
    lower = direction_of(laws)
    d = _digits(lower)
    total = "sum of losses" if lower else "sum of scores"
    judge = plan_objective(laws, first)
    mine = judge(first.sizes, draws=True)
    rows = []
    for p in plans:
        scores = p.predicted["score"].astype(float)
        gain_text = better = "-"
        if mine is not None and p is not first:
            theirs = judge(p.sizes, draws=True)
            gain = improvement(mine, theirs, lower)
            point = float(improvement(judge(first.sizes), judge(p.sizes), lower))
            low, high = np.quantile(gain, [(1 - level) / 2, (1 + level) / 2])
            gain_text = f"{point:+.{d}f} [{low:+.{d}f}, {high:+.{d}f}]"
            better = f"{100 * np.mean(gain > 0):.0f}% of draws"
        rows.append(
            {
                "plan": p.name,
                "objective value": _fmt(judge(p.sizes), f".{d}f"),
                total: fmt_score(scores.sum(), digits=d),
                "mean loss" if lower else "mean score": fmt_score(scores.mean(), digits=d),
                "worst language": (f"{fmt_score(scores.max(), digits=d)} ({scores.idxmax()})" if lower
                                   else f"{fmt_score(scores.min())} ({scores.idxmin()})"),
                "pairs used": fmt_size(p.sizes.sum()),
                "unused budget": fmt_size(p.unused_budget),
                f"optimised gain ({level:.0%} interval)": gain_text,
                "optimised better in": better,
            }
        )
    return pd.DataFrame(rows)


def gain_rows(plan, baselines: Sequence) -> pd.DataFrame:
    """language, then one column per baseline: optimised minus baseline predicted score (for a
    loss plan: baseline minus optimised loss, so positive always means optimised is better)."""
    languages = list(plan.sizes.index)
    frame = pd.DataFrame({"language": languages})
    lower = bool(getattr(plan, "lower_is_better", False))
    mine = plan.predicted["score"].reindex(languages).astype(float)
    diffs = {b.name: pd.Series(improvement(mine, b.predicted["score"].reindex(languages).astype(float), lower),
                               index=languages) for b in baselines}
    d = _digits(lower)
    for b in baselines:
        frame[f"vs {b.name}"] = [fmt_score(v, signed=True, digits=d) for v in diffs[b.name]]
    if baselines:
        means = {f"vs {b.name}": fmt_score(diffs[b.name].mean(), signed=True, digits=d) for b in baselines}
        frame = pd.concat([frame, pd.DataFrame([{"language": "**mean**", **means}])], ignore_index=True)
    return frame


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items)


def plan_warnings(laws, plan, flags: Mapping[str, tuple], extrapolate_from: Mapping[str, float],
                  extra: Sequence[str] = ()) -> list[str]:
    """Plain-language warnings, one line per kind with its languages listed together, ordered by
    how much they bear on the plan: solver trouble, unused budget, extrapolation (and ``extra``
    lines of that weight, e.g. the far-extrapolation check), holdout misses (saying whether the
    plan reads the law inside or beyond its pilots), fit flags, missing bands."""
    out = []
    lower = direction_of(laws)
    status = str((plan.solver or {}).get("status", "optimal"))
    if status.lower() not in ("optimal", "ok", "converged"):
        out.append(f"**Solver status {status!r}** - the optimiser did not report an optimal solution; the plan may "
                   "not be the best split.")
    if _finite(plan.unused_budget) and plan.unused_budget > 1e-3 * plan.budget:
        out.append(
            f"**Unused budget {fmt_size(plan.unused_budget)}** - every language is at its cap "
            "(available x max_epochs); raise the caps or lower the budget."
        )
    far = []
    for language, size in plan.sizes.items():
        edge = extrapolate_from.get(language)
        if _finite(edge) and edge > 0 and float(size) > edge * (1 + 1e-9):
            far.append(f"{language} {format_count(float(size))} = {float(size) / edge:.1f}x")
    if far:
        out.append(
            "**Extrapolation** - planned sizes beyond the largest pilot run: " + ", ".join(far)
            + f". Predicted {'losses' if lower else 'scores'} there rest on the law's shape, not on data (shaded region in laws.png)."
        )
    out += [f"**Far extrapolation** - {line}." for line in extra]
    inside, beyond = [], []
    for language, item in laws.items():
        holdout = getattr(item, "holdout", None) or {}
        if not _finite(holdout.get("error")):
            continue
        error = float(holdout["error"])
        observed = float(holdout["observed"]) if _finite(holdout.get("observed")) else math.nan
        missed = abs(error) > HOLDOUT_WARN_LOSS * abs(observed) if lower else abs(error) > HOLDOUT_WARN
        if not missed:
            continue
        text = f"{language} {error:+.{_digits(lower)}f} at {fmt_size(holdout.get('size'))}"
        planned = float(plan.sizes.get(language, math.nan)) if language in plan.sizes.index else math.nan
        (beyond if _finite(holdout.get("size")) and planned >= float(holdout["size"]) else inside).append(text)
    if inside or beyond:
        limit = f"{HOLDOUT_WARN_LOSS:.0%} of the loss" if lower else f"{HOLDOUT_WARN:g} point"
        parts = []
        if beyond:
            parts.append(f"{_listed(beyond)}: planned at or beyond that size, so the miss bears directly on the plan")
        if inside:
            parts.append(f"{_listed(inside)}: planned inside the pilots, where the law was fitted, so the miss matters "
                         "less to this plan")
        out.append(f"**Holdout misses** - refitted without its largest pilot size, a law missed it by more than {limit} "
                   f"(predicted - observed): " + "; ".join(parts) + ".")
    by_flag: dict = {}
    for language, bad in flags.items():
        for flag in bad:
            by_flag.setdefault(flag, []).append(str(language))
    for flag in ("c_at_bound", "flat_data", "ceiling_at_bound", *sorted(set(by_flag) - set(FLAG_TEXT))):
        if flag in by_flag:
            out.append(f"**{flag}** ({_listed(by_flag[flag])}) - {FLAG_TEXT.get(flag, 'see docs/reports.md')}.")
    if any(getattr(item, "draws", None) is None for item in laws.values()):
        out.append("Some laws carry no bootstrap draws, so their predictions have no uncertainty band.")
    return out


def _json_block(data) -> str:
    return "```json\n" + json.dumps(data, indent=2, sort_keys=True, default=str) + "\n```"


def render_summary(
    *,
    title: str,
    laws,
    plan,
    baselines: Sequence,
    law_table: str,
    warnings: Sequence[str],
    notes: Sequence[str],
    synthetic: bool,
    figures: Mapping[str, str],
    metric: str,
    level: float,
    caps: Mapping[str, float],
    largest_pilot: Mapping[str, float],
    version: str,
    worth: Sequence[str] = (),
    answer: Sequence[str] = (),
) -> str:
    """The whole report.md text; see docs/reports.md for its sections."""
    lower = direction_of(laws)
    lines = [f"# {title}", ""]
    if synthetic:
        lines += [
            "> **Synthetic data.** The pilot scores behind these laws are synthetic: drawn from known laws "
            "by `budgetlaw.synthetic`, not measured. Use the numbers to learn the tool, not to plan a real run.",
            "",
        ]
    lines += list(answer)  # "The answer" (reporting.answer): what a reader came for, before anything else
    lines += ["## Warnings", ""]
    lines += [f"- {w}" for w in [*warnings, *notes]] or ["None: every fit is healthy and the plan stays within its data."]
    lines += _plan_section(plan, metric, lower, level, caps, largest_pilot)
    if baselines:
        lines += _comparison_section(plan, baselines, laws, metric, lower, level)
    lines += list(worth)  # "Is the plan worth it?" (reporting.worth.worth_section)
    lines += _laws_section(metric, lower, law_table)
    if figures:
        lines += _figures_section(figures)
    lines += _how_made_section(laws, plan, version)
    return "\n".join(lines)


def _plan_section(plan, metric: str, lower: bool, level: float, caps: Mapping[str, float],
                  largest_pilot: Mapping[str, float]) -> list[str]:
    """The "## Plan" section: objective, budget, marginal value, solver, and the table of the plan's rows."""
    d = _digits(lower)
    label = value_label(metric, lower)
    marginal = float(plan.marginal_value) if _finite(plan.marginal_value) else math.nan
    return [
        "",
        "## Plan",
        "",
        (f"- Objective: **{plan.objective}**, value {_fmt(plan.objective_value, f'.{d}f')} ({metric}, minimised: "
         "lower is better)" if lower else
         f"- Objective: **{plan.objective}**, value {_fmt(plan.objective_value, '.2f')} ({metric} points)"),
        f"- Budget: {fmt_size(plan.budget)}; used {fmt_size(plan.used_budget)}; unused {fmt_size(plan.unused_budget)}",
        (f"- Marginal value at this budget: {_fmt(marginal, '.3g')} {metric} shed from the objective per extra pair "
         "(a slope at this budget; \"More budget\" above re-plans at +10%)" if lower else
         f"- Marginal value at this budget: {_fmt(marginal, '.3g')} objective points per extra pair "
         "(a slope at this budget; \"More budget\" above re-plans at +10%)"),
        f"- Solver: {(plan.solver or {}).get('method', '-')} ({(plan.solver or {}).get('status', '-')})",
        "",
        f"Predicted {label} with its {level:.0%} bootstrap interval (lower, upper); `cap` = available x max_epochs; "
        "`x largest pilot` > 1 means extrapolation"
        + ("; `distinct` = the distinct pairs a language's `pairs` use, `passes` = pairs / distinct, how often each "
           "of them is seen (repeats count less than new pairs: docs/formats/plan.md)." if int((plan.constraints or {}).get("max_epochs") or 1) > 1
           else "."),
        "",
        markdown_table(plan_rows(plan, caps, largest_pilot)),
        "",
    ]


def _comparison_section(plan, baselines: Sequence, laws, metric: str, lower: bool, level: float) -> list[str]:
    """The "## Comparison with baselines" section: every plan judged by the optimised plan's objective; the gains."""
    return [
        "## Comparison with baselines",
        "",
        f"All plans spend the same budget under the same caps and floors; {'losses' if lower else 'scores'} are "
        "predicted by the fitted laws. "
        f"`objective value` = each plan judged by the optimised plan's objective (**{plan.objective}**); "
        + ("`optimised gain` = that plan minus optimised in this objective (a lower loss is a gain), with its "
           "interval over the bootstrap " if lower else
           "`optimised gain` = optimised minus that plan in this objective, with its interval over the bootstrap ")
        + "draws (laws refitted to resampled pilots); `optimised better in` = share of draws in which the "
        "optimised plan is better.",
        "",
        markdown_table(comparison_rows([plan, *baselines], laws, level)),
        "",
        (f"Predicted {metric} improvement of the optimised plan over each baseline, baseline minus optimised "
         "(positive: optimised is better):" if lower else
         f"Predicted {metric} gain of the optimised plan over each baseline (positive: optimised is better):"),
        "",
        markdown_table(gain_rows(plan, baselines)),
        "",
    ]


def _laws_section(metric: str, lower: bool, law_table: str) -> list[str]:
    """The "## Fitted laws" section: the law's formula, what is identified, and the table of laws."""
    return [
        "## Fitted laws",
        "",
        (f"{metric} = E + a * (b * x) ** (-c) = E + K * x ** (-c) (lower is better; E = `floor E`, the "
         "irreducible loss, fitted in [0, smallest median loss]); only K, c and E are identified "
         if lower else
         f"{metric} = ceiling - a * (b * x) ** (-c) = ceiling - K * x ** (-c); only K and c are identified ")
        + "by data, b is a reporting convention (docs/formats/laws.md). `holdout error` = predicted - observed mean "
        f"{'loss' if lower else 'score'} at the largest pilot size, by the law refitted without that size.",
        "",
        law_table,
        "",
    ]


def _figures_section(figures: Mapping[str, str]) -> list[str]:
    """The "## Figures" section: each figure with its caption."""
    lines = ["## Figures", ""]
    captions = {
        "laws_plot": "Fitted laws with pilot points; shaded: beyond the largest pilot",
        "allocation_plot": "Allocation per language, optimised against baselines",
        "gains_plot": "Predicted gain over each baseline",
        "frontier_plot": "Budget frontier",
        "transfer_plot": "Transfer matrix: rows receive, columns give",
    }
    for key, name in figures.items():
        lines += [f"![{captions.get(key, key)}]({name})", ""]
    return lines


def _how_made_section(laws, plan, version: str) -> list[str]:
    """The "## How this was made" section: the version and the laws' and plan's signatures."""
    return [
        "## How this was made",
        "",
        f"budgetlaw {version}. Laws:",
        "",
        _json_block(getattr(laws, "signature", None) or {"laws": "plain PowerLaw objects"}),
        "",
        "Plan:",
        "",
        _json_block({"signature": getattr(plan, "signature", None), "constraints": plan.constraints, "solver": plan.solver}),
        "",
    ]
