"""The report's figures, drawn from plain tables (no law or plan objects needed).

Every function takes pandas/NumPy data plus an output path and writes one PNG with
matplotlib's Agg canvas (no pyplot, no display, no global backend switch).
budgetlaw.reporting.build computes the tables; these functions only draw, so they can be reused
on any numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # Figure.savefig renders PNG with Agg; pyplot is never touched
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from budgetlaw.reporting.heatmap import plot_transfer  # its own module: plots.py is full

__all__ = ["plot_laws", "plot_allocation", "allocation_scale", "plot_gains", "plot_frontier", "plot_transfer", "format_count",
           "plan_colors", "MANY", "TOP"]

#: Above this many languages a bar per language and plan is unreadable (100 languages drew a
#: 14,508-pixel strip): the figures switch to the TOP languages as sorted horizontal bars, next
#: to a scatter (allocation) or a ranked profile (gains) of all of them.
MANY = 20
TOP = 20

_DPI = 110
_OPTIMISED_COLOR = "#1f4e79"
_BASELINE_COLORS = ["#e6a23c", "#8fbc8f", "#c0504d", "#9b72b0", "#7f7f7f", "#4bacc6"]


def format_count(value: float) -> str:
    """Short human form of a count: 1200000 -> '1.2M', 50000 -> '50k', 800 -> '800'."""
    if value is None or not math.isfinite(value):
        return "-"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.3g}"
            return f"{text}{suffix}"
    return f"{value:.3g}"


_COUNT_TICKS = FuncFormatter(lambda v, _pos: format_count(v))


def plan_colors(names) -> dict[str, str]:
    """One fixed colour per plan name: the optimised plan dark blue, baselines from a palette."""
    colors, k = {}, 0
    for name in names:
        if name == "optimised":
            colors[name] = _OPTIMISED_COLOR
        else:
            colors[name] = _BASELINE_COLORS[k % len(_BASELINE_COLORS)]
            k += 1
    return colors


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    return path


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return math.ceil(n / cols), cols


def plot_laws(
    curves: pd.DataFrame,
    path: str | Path,
    *,
    pilots: pd.DataFrame | None = None,
    extrapolate_from: Mapping[str, float] | None = None,
    planned: Mapping[str, float] | None = None,
    planned_scores: Mapping[str, float] | None = None,
    flags: Mapping[str, tuple] | None = None,
    metric: str = "score",
    level: float = 0.9,
    total: int | None = None,
) -> Path:
    """One panel per language: fitted curve, bootstrap band, pilot points, extrapolation shaded.

    ``total``: how many languages the report covers when ``curves`` holds only a selection of
    them (the title then says so).

    ``curves``: columns language, size, score and optionally lower, upper (NaN = no band).
    ``pilots``: columns language, size, score (points). ``extrapolate_from``: language -> largest
    pilot size; the region to its right is shaded. ``planned``: language -> planned size (marked on
    the curve, or at ``planned_scores``' value when given: a transfer law's prediction for the
    whole mixture, which is not on the own-pairs curve).
    ``flags``: language -> fit warnings, printed in red in the panel title.
    """
    languages = list(dict.fromkeys(curves["language"]))
    rows, cols = _grid(len(languages))
    fig = Figure(figsize=(4.6 * cols, 3.5 * rows))
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    handles = {}
    for k, language in enumerate(languages):
        ax = axes[k // cols][k % cols]
        curve = curves[curves["language"] == language].sort_values("size")
        x = curve["size"].to_numpy(float)
        if {"lower", "upper"} <= set(curve.columns) and curve["lower"].notna().any():
            handles["band"] = ax.fill_between(
                x, curve["lower"], curve["upper"], color=_OPTIMISED_COLOR, alpha=0.18, lw=0,
                label=f"{level:.0%} bootstrap band",
            )
        (handles["curve"],) = ax.plot(x, curve["score"], color=_OPTIMISED_COLOR, lw=2, label="fitted law")
        if pilots is not None:
            points = pilots[pilots["language"] == language]
            handles["pilots"] = ax.scatter(
                points["size"], points["score"], s=16, color="black", zorder=3, label="pilot runs"
            )
        edge = (extrapolate_from or {}).get(language)
        if edge is not None and math.isfinite(edge) and edge < x.max():
            handles["extra"] = ax.axvspan(edge, x.max(), color="#f2c94c", alpha=0.22, lw=0,
                                          label="extrapolation (beyond largest pilot)")
        if planned and language in planned and planned[language] > 0:
            size = planned[language]
            if planned_scores and language in planned_scores:
                score, label = float(planned_scores[language]), "optimised plan (with transfer from the others)"
            else:
                score, label = float(np.interp(np.log(size), np.log(x), curve["score"])), "optimised plan"
            handles["plan"] = ax.scatter([size], [score], marker="*", s=140, color="#c0504d", zorder=4, label=label)
            ax.annotate(format_count(size), (size, score), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlim(x.min(), x.max())
        _count_axis(ax.xaxis, x.min(), x.max())
        ax.grid(True, which="major", alpha=0.3)
        bad = tuple((flags or {}).get(language, ()))
        if bad:
            ax.set_title(f"{language}  (warning: {', '.join(bad)})", color="#c0504d", fontsize=10)
        else:
            ax.set_title(language, fontsize=11)
        if k % cols == 0:
            ax.set_ylabel(metric)
        if k // cols == rows - 1 or k + cols >= len(languages):
            ax.set_xlabel("training pairs (log scale)")
    for k in range(len(languages), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    order = [h for key in ("curve", "band", "pilots", "extra", "plan") if (h := handles.get(key)) is not None]
    fig.legend(handles=order, loc="lower center", ncol=len(order), frameon=False, bbox_to_anchor=(0.5, -0.02))
    shown = "" if total is None or total <= len(languages) else (
        f"\n({len(languages)} of {total} languages: the largest planned sizes and gains; every law is in report.md)")
    fig.suptitle(f"Fitted scaling laws: {metric} against pairs per language{shown}", fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return _save(fig, path)


def _count_axis(axis, low: float, high: float) -> None:
    """Log axis over [low, high] with at least three labelled ticks: 1-2-5 steps, or every
    integer step of a decade (1, 1.5, 2, 3, ...) on a short range such as 8-32."""
    for subs in ((1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), tuple(np.arange(1.0, 10.0, 0.5))):
        decades = 10.0 ** np.arange(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
        ticks = np.sort(np.concatenate([decades * sub for sub in subs]))
        ticks = ticks[(ticks >= low * (1 - 1e-9)) & (ticks <= high * (1 + 1e-9))]
        if len(ticks) >= 3:
            break
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(_COUNT_TICKS)
    axis.set_minor_formatter(NullFormatter())


def allocation_scale(values: np.ndarray, caps) -> tuple[bool, float, float]:
    """(log axis?, low, high) of allocation.png's size axis: logarithmic when the bars span more
    than 20x (so the smallest stays visible), and reaching only caps up to 1.5x the tallest bar
    (higher caps are drawn as arrows at the top edge: to scale they would flatten every bar)."""
    values = np.asarray(values, dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    top = float(positive.max()) if positive.size else 1.0
    log_axis = bool(positive.size) and top / float(positive.min()) > 20
    in_view = [float(cap) for cap in caps if float(cap) <= 1.5 * top]
    high = max([top, *in_view]) * (3.0 if log_axis else 1.18)
    return log_axis, (float(positive.min()) / 2 if log_axis else 0.0), high


def _cap_label(max_epochs: int) -> str:
    return "cap: available pairs" if max_epochs <= 1 else f"cap: available x {max_epochs} passes"


def plot_allocation(
    sizes: pd.DataFrame,
    path: str | Path,
    *,
    available: Mapping[str, float] | None = None,
    budget: float | None = None,
    distinct: Mapping[str, float] | None = None,
    max_epochs: int = 1,
) -> Path:
    """Grouped bars: pairs per language (rows of ``sizes``) for each plan (columns of ``sizes``),
    the first plan's count written on its bar.

    ``available``: language -> cap (available x max_epochs): a dashed tick inside the axis, or,
    when the cap lies far above every plan (a plan of 200 pairs under a cap of 38k would be a
    flat line), an arrow at the top edge with the cap written beside it. ``distinct``: language ->
    distinct pairs; the part of a bar beyond them (repeated pairs) is hatched. The axis is
    logarithmic when the bars span more than 20x, so the smallest planned bar stays visible.
    """
    languages = list(sizes.index)
    names = list(sizes.columns)
    if len(languages) > MANY:
        return _allocation_many(sizes, path, available=available, budget=budget, max_epochs=max_epochs)
    caps = {lang: float(cap) for lang, cap in (available or {}).items()
            if lang in languages and cap is not None and math.isfinite(float(cap))}
    log_axis, low, high = allocation_scale(sizes.to_numpy(float), list(caps.values()))
    fig = Figure(figsize=(max(6.5, 1.3 * len(languages) + 2), 4.4))
    ax = fig.subplots()
    _allocation_bars(ax, sizes, distinct, low if log_axis else 0.0)
    _cap_marks(ax, languages, caps, high, log_axis, _cap_label(max_epochs))
    ax.set_xticks(np.arange(len(languages)), languages)
    ax.set_xlim(-0.6, len(languages) - 0.4)
    if log_axis:
        ax.set_yscale("log")
        ax.set_ylim(low, high)
        _count_axis(ax.yaxis, low, high)
        ax.set_ylabel("training pairs (log scale)")
    else:
        ax.set_ylim(0, high)
        ax.yaxis.set_major_formatter(_COUNT_TICKS)
        ax.set_ylabel("training pairs")
    ax.grid(True, axis="y", alpha=0.3)
    title = "Allocation per language"
    if budget is not None:
        title += f" (budget {format_count(budget)})"
    ax.set_title(title)
    # below the axes: inside, the legend would hide tall bars or cap marks
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, frameon=False, fontsize=9, ncol=min(6, len(labels)), loc="upper center",
              bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    return _save(fig, path)


def _allocation_bars(ax, sizes: pd.DataFrame, distinct: Mapping[str, float] | None, bottom: float) -> None:
    """One group of bars per language, one bar per plan from ``bottom``; the part beyond a
    language's distinct pairs hatched; the first plan's counts written on its bars."""
    languages = list(sizes.index)
    names = list(sizes.columns)
    colors = plan_colors(names)
    width = 0.8 / max(1, len(names))
    x = np.arange(len(languages))
    for j, name in enumerate(names):
        heights = sizes[name].to_numpy(float)
        left = x - 0.4 + width * (j + 0.5)
        fresh = np.array([min(h, float((distinct or {}).get(lang, math.inf))) for h, lang in zip(heights, languages)])
        ax.bar(left, fresh - bottom, width, bottom=bottom, label=name, color=colors[name], edgecolor="white", lw=0.5)
        again = heights - fresh
        if np.any(again > 0):
            ax.bar(left, again, width, bottom=fresh, color=colors[name], edgecolor="white", hatch="///", lw=0.5,
                   alpha=0.55, label=f"{name}: repeated pairs" if j == 0 else None)
        if j == 0:
            for xi, h in zip(left, heights):
                if math.isfinite(h):
                    ax.annotate(format_count(h), (xi, h), textcoords="offset points", xytext=(0, 2), ha="center",
                                va="bottom", fontsize=7, color=colors[name])


def _cap_marks(ax, languages, caps: Mapping[str, float], high: float, log_axis: bool, label: str) -> None:
    """Each language's cap: a dashed tick within the axis, or an arrow at its top edge with the
    cap written beside it when the cap is off the scale (one legend entry of each kind)."""
    drawn = arrow = False
    for i, language in enumerate(languages):
        cap = caps.get(language)
        if cap is None:
            continue
        if cap <= high:
            ax.hlines(cap, i - 0.45, i + 0.45, colors="black", linestyles="--", lw=1.2,
                      label=None if drawn else label)
        else:  # off the scale: an arrow at the top edge, the cap written beside it
            ax.annotate("", xy=(i, high), xytext=(i, high / 1.6 if log_axis else high * 0.9),
                        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.0))
            ax.annotate(f"cap {format_count(cap)}", (i, high), textcoords="offset points", xytext=(4, -10),
                        fontsize=7, ha="left", va="top")
            if not arrow:
                ax.plot([], [], color="black", marker=r"$\uparrow$", ls="none", label=f"{label} (off the scale)")
            arrow = True
            continue
        drawn = True


def _hbars(ax, frame: pd.DataFrame, colors: Mapping[str, str], labels: Mapping[str, str] | None = None) -> None:
    """Grouped horizontal bars, one group per row of ``frame`` (first row on top)."""
    names = list(frame.columns)
    height = 0.8 / max(1, len(names))
    y = np.arange(len(frame))[::-1]
    for j, name in enumerate(names):
        ax.barh(y + 0.4 - height * (j + 0.5), frame[name].to_numpy(float), height, color=colors[name],
                edgecolor="white", lw=0.4, label=(labels or {}).get(name, name))
    ax.set_yticks(y, [str(v) for v in frame.index], fontsize=8)
    ax.set_ylim(-0.6, len(frame) - 0.4)


def _allocation_many(sizes: pd.DataFrame, path, *, available, budget, max_epochs: int = 1) -> Path:
    """Many languages: the TOP largest optimised allocations as sorted horizontal bars (caps as
    ticks), and every language as a point (baseline size, optimised size) on log axes."""
    names = list(sizes.columns)
    colors = plan_colors(names)
    first = names[0]
    top = sizes.sort_values(first, ascending=False, kind="stable").head(TOP)
    fig = Figure(figsize=(12, 7.5))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    _hbars(left, top, colors)
    caps = [(i, (available or {}).get(lang)) for i, lang in enumerate(top.index)]
    caps = [(len(top) - 1 - i, cap) for i, cap in caps if cap is not None and math.isfinite(cap)]
    widest = float(np.nanmax(top.to_numpy(float))) if top.size else 0.0
    beyond = [cap for _, cap in caps if cap > 1.5 * widest]
    caps = [(y, cap) for y, cap in caps if cap <= 1.5 * widest]  # far caps would squash every bar to nothing
    span = "" if not beyond else format_count(min(beyond)) if min(beyond) == max(beyond) else \
        f"{format_count(min(beyond))}-{format_count(max(beyond))}"
    if caps:
        left.scatter([c for _, c in caps], [y for y, _ in caps], marker="|", s=120, color="black", zorder=3,
                     label=_cap_label(max_epochs))
    left.xaxis.set_major_formatter(_COUNT_TICKS)
    left.set_xlabel("training pairs")
    left.grid(True, axis="x", alpha=0.3)
    left.set_title(f"The {len(top)} largest allocations of {len(sizes):,} languages"
                   + (f"\n({len(beyond)} of their caps, {span}, lie far beyond the axis)" if beyond else ""), fontsize=11)
    left.legend(frameon=False, fontsize=8, loc="lower right")
    mine = sizes[first].to_numpy(float)
    for name in names[1:]:
        right.scatter(sizes[name].to_numpy(float), mine, s=9, alpha=0.6, color=colors[name], label=name, lw=0)
    positive = sizes.to_numpy(float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size:
        span = [positive.min() / 1.5, positive.max() * 1.5]
        right.plot(span, span, color="black", lw=0.8, ls="--", label="same size")
        right.set_xscale("log")
        right.set_yscale("log")
        _count_axis(right.xaxis, *span)
        _count_axis(right.yaxis, *span)
    right.set_xlabel("baseline pairs (log scale)")
    right.set_ylabel(f"{first} pairs (log scale)")
    right.grid(True, alpha=0.3)
    right.set_title(f"Every language: {first} against each baseline\n(above the line: {first} gives it more)",
                    fontsize=11)
    right.legend(frameon=False, fontsize=8, loc="upper left")
    title = "Allocation per language"
    if budget is not None:
        title += f" (budget {format_count(budget)})"
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return _save(fig, path)


def _gains_many(gains: pd.DataFrame, path, *, metric: str, lower_is_better: bool) -> Path:
    """Many languages: the TOP languages with the largest gain over any baseline as sorted
    horizontal bars, and each baseline's gains over all languages, ranked, as a profile."""
    names = list(gains.columns)
    colors = plan_colors(["optimised", *names])
    labels = {name: f"vs {name} (mean {np.nanmean(gains[name].to_numpy(float)):+.2f})" for name in names}
    what = "improvement" if lower_is_better else "gain"
    fig = Figure(figsize=(12, 7.5))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    if names:
        order = gains.abs().max(axis=1).sort_values(ascending=False, kind="stable").index[:TOP]
        _hbars(left, gains.loc[order], colors, labels)
        for name in names:
            values = np.sort(gains[name].to_numpy(float))[::-1]
            right.plot(np.arange(1, len(values) + 1), values, color=colors[name], lw=1.6, label=labels[name])
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    left.axvline(0.0, color="black", lw=0.8)
    right.axhline(0.0, color="black", lw=0.8)
    left.set_xlabel(f"predicted {metric} {what}")
    left.set_title(f"The {min(TOP, len(gains))} languages with the largest {what}s of {len(gains)}", fontsize=11)
    left.legend(frameon=False, fontsize=8, loc="lower right")
    right.set_xlabel("languages, ranked by " + what)
    right.set_ylabel(f"predicted {metric} {what}")
    right.set_title(f"Every language, ranked (above 0: optimised is better there)", fontsize=11)
    right.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Predicted {metric} {what} of the optimised plan over each baseline "
                 f"({'baseline - optimised loss' if lower_is_better else 'optimised - baseline'})", fontsize=12)
    fig.tight_layout()
    return _save(fig, path)


def plot_gains(gains: pd.DataFrame, path: str | Path, *, metric: str = "score", lower_is_better: bool = False) -> Path:
    """Grouped bars: optimised minus baseline predicted score, per language (rows) and baseline
    (columns); the legend gives each baseline's mean gain over languages. With
    ``lower_is_better`` the bars are loss improvements, baseline minus optimised loss (the caller
    computes them); either way above 0 means the optimised plan is better."""
    languages = list(gains.index)
    names = list(gains.columns)
    if len(languages) > MANY:
        return _gains_many(gains, path, metric=metric, lower_is_better=lower_is_better)
    colors = plan_colors(["optimised", *names])
    width = 0.8 / max(1, len(names))
    x = np.arange(len(languages))
    fig = Figure(figsize=(max(6.5, 1.3 * len(languages) + 2), 4.2))
    ax = fig.subplots()
    for j, name in enumerate(names):
        values = gains[name].to_numpy(float)
        ax.bar(x - 0.4 + width * (j + 0.5), values, width, color=colors[name], edgecolor="white", lw=0.5,
               label=f"vs {name} (mean {np.nanmean(values):+.2f})")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(x, languages)
    if lower_is_better:
        ax.set_ylabel(f"predicted {metric} improvement\n(baseline - optimised)")
        ax.set_title(f"Predicted {metric} improvement of the optimised plan over each baseline, per language\n"
                     "(above 0: optimised has the lower loss there; the optimiser minimises the total, not each "
                     "language)", fontsize=11)
    else:
        ax.set_ylabel(f"predicted {metric} gain")
        ax.set_title(f"Predicted {metric} gain of the optimised plan over each baseline, per language\n"
                     "(above 0: optimised is better there; the optimiser maximises the total, not each language)",
                     fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=9, ncol=min(4, len(names)), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    return _save(fig, path)


def plot_frontier(
    sweep: pd.DataFrame,
    path: str | Path,
    *,
    current_budget: float | None = None,
    baselines: pd.DataFrame | None = None,
    objective: str = "sum",
    metric: str = "score",
    lower_is_better: bool = False,
) -> Path:
    """Left: the optimised plan's gain over each baseline against budget (where planning pays);
    without baselines, the objective itself. Right: pairs per language against budget, log-log.

    ``sweep``: long form with columns budget, language, size, objective_value (one row per budget
    and language, as budgetlaw.sweep returns). ``baselines``: index budget, one column per
    baseline with its value of the plan's objective at that budget. A gain is an improvement
    (budgetlaw.direction): positive where the optimised plan is better.
    """
    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)
    frontier = sweep.groupby("budget", sort=True)["objective_value"].first()
    label = {"sum": f"total predicted {metric}", "maxmin": f"worst language's {metric}",
             "robust": f"mean over bootstrap draws of total {metric}"}.get(objective, f"objective ({objective})")
    if baselines is not None and not baselines.empty:
        colors = plan_colors(["optimised", *baselines.columns])
        sign = -1.0 if lower_is_better else 1.0
        for name in baselines.columns:
            theirs = baselines[name].reindex(frontier.index).to_numpy(float)
            left.plot(frontier.index, sign * (frontier.to_numpy(float) - theirs), marker="o", ms=3, lw=1.6,
                      color=colors[name], label=f"vs {name}")
        left.axhline(0.0, color="black", lw=0.8)
        left.set_ylabel(f"predicted gain in {label}\n" + ("(baseline - optimised)" if lower_is_better
                                                          else "(optimised - baseline)"))
        left.set_title("Gain of the optimised plan over each baseline")
    else:
        left.plot(frontier.index, frontier.to_numpy(float), marker="o", ms=4, lw=2, color=_OPTIMISED_COLOR,
                  label="optimised")
        left.set_ylabel(label)
        left.set_title("Budget frontier")
    sizes = sweep.pivot_table(index="budget", columns="language", values="size", aggfunc="first").sort_index()
    named = list(sizes.columns)
    if len(named) > MANY:  # the largest at the top budget by name, the rest as one grey bundle
        named = list(sizes.iloc[-1].sort_values(ascending=False, kind="stable").index[:10])
        chosen = set(named)
        rest = [lang for lang in sizes.columns if lang not in chosen]
        from matplotlib.collections import LineCollection

        xs = sizes.index.to_numpy(float)
        lines = [np.column_stack([xs, sizes[lang].to_numpy(float)]) for lang in rest]
        right.add_collection(LineCollection(lines, colors="#9a9a9a", linewidths=0.6, alpha=0.4,
                                            label=f"{len(rest)} other languages"))
    for language in named:
        right.plot(sizes.index, sizes[language].to_numpy(float), marker="o", ms=3, label=language)
    budgets = frontier.index.to_numpy(float)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlim(budgets.min() / 1.1, budgets.max() * 1.1)
        _count_axis(ax.xaxis, budgets.min() / 1.1, budgets.max() * 1.1)
        ax.set_xlabel("total budget (log scale)")
        ax.grid(True, alpha=0.3)
        if current_budget is not None:
            ax.axvline(current_budget, color="black", ls=":", lw=1.2, label=f"this plan ({format_count(current_budget)})")
    values = sizes.to_numpy(float)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size:
        right.set_yscale("log")
        right.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
        _count_axis(right.yaxis, positive.min() / 1.5, positive.max() * 1.5)
    right.set_ylabel("pairs allocated (log scale)")
    right.set_title("Optimised allocation as the budget grows")
    left.legend(frameon=False, fontsize=8)
    right.legend(frameon=False, fontsize=8, ncol=2)
    fig.tight_layout()
    return _save(fig, path)
