"""A report on a plan: four PNG figures, a Markdown summary and the tables behind them.

    paths = report(laws, plan, out="report/")      # baselines and frontier computed here

``report`` is two steps: ``build_report`` computes every table (plans, baselines, frontier,
warnings) and ``write_report`` draws and writes them. Files written into ``out`` (the whole set
appears at once: it is built in a temporary folder beside ``out`` and moved in at the end,
budgetlaw.fileio.staged_folder):

    report.md        summary: the answer first (plan, verdict, the plan's expected regret, what would
                     change it: reporting.answer),
                     warnings, plan, comparison with baselines, is the plan worth it (gain, its
                     paired interval, seeds to see it: reporting.worth), fitted laws, provenance
    laws.png         one panel per language: fitted curve, bootstrap band, pilots, extrapolation
    allocation.png   pairs per language, optimised plan against each baseline
    gains.png        predicted score gain of the optimised plan over each baseline, per language
    frontier.png     objective value and allocation as the budget grows (budgetlaw.sweep)
    transfer.png     the laws' transfer matrix as a heat map (only when the laws carry one)
    plans.csv        language, plan, size, score, lower, upper (one row per plan and language)
    frontier.csv     the sweep in long form (budget, language, size, score, objective_value, ...)

docs/reports.md describes each figure and table. Loss laws (lower is better) are drawn and
tabulated in the loss's own units; gains are improvements (baseline loss - optimised loss).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from budgetlaw import __version__
from budgetlaw.fileio import staged_folder
from budgetlaw.allocation import baselines as baseline_module
from budgetlaw.allocation import sweep
from budgetlaw.bands import intervals
from budgetlaw.direction import direction_of, improvement, value_label
from budgetlaw.errors import BudgetlawError, InputError
from budgetlaw.extrapolation import extrapolation_warning
from budgetlaw.design.transfer_regret import plan_regret
from budgetlaw.pilots import one_language, read_pilots
from budgetlaw.plan import check_made_from
from budgetlaw.reporting.answer import answer_lines
from budgetlaw.reporting.compare import DEFAULT_BASELINES, constraint_kwargs, resolve_baselines
from budgetlaw.reporting.plots import (MANY, format_count, plot_allocation, plot_frontier, plot_gains, plot_laws,
                                       plot_transfer)
from budgetlaw.reporting.summary import law_rows, markdown_table, plan_objective, plan_warnings, render_summary
from budgetlaw.reporting.worth import judge, seed_spread, transfer_of, worth_section

__all__ = ["report", "build_report", "write_report", "ReportContent", "DEFAULT_BASELINES", "MAX_LAW_PANELS",
           "focus_languages", "constraint_kwargs", "resolve_baselines", "frontier_budgets"]

log = logging.getLogger(__name__)

#: Law panels drawn in laws.png when a report covers more than plots.MANY languages.
MAX_LAW_PANELS = 12


def frontier_budgets(plan, n: int = 13) -> np.ndarray:
    """Budgets from budget/8 to 4 x budget, log-spaced, always including the plan's budget."""
    budgets = np.geomspace(plan.budget / 8, plan.budget * 4, n)
    return np.unique(np.append(budgets, plan.budget))


def _law_of(item):
    """The PowerLaw inside a FittedLaw, or the PowerLaw itself."""
    return getattr(item, "law", item)


def _pilot_sizes(pilots: pd.DataFrame | None) -> dict:
    """language -> array of its pilot sizes (one groupby, not a scan of the table per language)."""
    if pilots is None or not len(pilots):
        return {}
    return {str(lang): group.to_numpy(float) for lang, group in pilots.groupby("language", sort=False)["size"]}


def _own_pilots(pilots: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows a language's own law panel shows: its one-language pilots (budgetlaw.pilots.one_language).
    A multilingual or repetition row is read at its effective data, not at its own pairs (a
    pure-transfer row has 0 of them), so on the own-pairs axis it would sit off the curve."""
    if pilots is None or "mixture" not in pilots.columns:
        return pilots
    size = pd.to_numeric(pilots["size"], errors="coerce")
    unique = pd.to_numeric(pilots["unique"], errors="coerce") if "unique" in pilots.columns else size
    frame = pilots.assign(mixture=pilots["mixture"].fillna("").astype(str).str.strip(), size=size,
                          unique=unique.fillna(size))
    return pilots[one_language(frame).to_numpy() & (size > 0).to_numpy()]


def _curves(laws, plan, pilots: pd.DataFrame | None, level: float, languages=None) -> pd.DataFrame:
    """Curve table for plot_laws: a log grid covering the pilots and the planned size, for
    ``languages`` (default: all of ``laws``)."""
    frames = []
    by_language = _pilot_sizes(pilots)
    for language in (list(laws) if languages is None else languages):
        item = laws[language]
        known = getattr(item, "sizes", None)
        sizes = [] if known is None else [float(v) for v in np.ravel(known)]
        sizes += list(by_language.get(str(language), ()))
        planned = float(plan.sizes.get(language, np.nan)) if language in plan.sizes.index else np.nan
        low = min(sizes) if sizes else (planned / 20 if planned > 0 else 1e3)
        high = max([*sizes, planned if planned > 0 else 0, low * 10])
        grid = np.geomspace(low / 1.5, high * 1.5, 200)
        frame = pd.DataFrame({"language": language, "size": grid, "score": _law_of(item).predict(grid)})
        if getattr(item, "draws", None) is not None and hasattr(item, "interval"):
            lower, upper = item.interval(grid, level=level)
            frame["lower"], frame["upper"] = lower, upper
        else:
            frame["lower"] = frame["upper"] = np.nan
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def focus_languages(plan, gains: pd.DataFrame | None, k: int = MAX_LAW_PANELS) -> list:
    """The languages a figure with room for ``k`` of them should show: every language when there
    are at most MANY, else the largest planned sizes and the largest gains over any baseline,
    taken in turn (ties in language order)."""
    languages = list(plan.sizes.index)
    if len(languages) <= MANY:
        return languages
    by_size = list(plan.sizes.astype(float).sort_values(ascending=False, kind="stable").index)
    by_gain = (list(gains.abs().max(axis=1).sort_values(ascending=False, kind="stable").index)
               if gains is not None and not gains.empty else by_size)
    chosen: dict = {}
    for a, b in zip(by_size, by_gain):
        for lang in (a, b):
            if len(chosen) < k:
                chosen.setdefault(lang, None)
        if len(chosen) >= k:
            break
    return [lang for lang in languages if lang in chosen]  # in the plan's order


def _plans_table(plans: Sequence, laws, level: float) -> pd.DataFrame:
    """Long table of every plan's sizes and predictions; bands missing from a plan (e.g. one built
    from plain PowerLaws) are filled from the laws' draws when they have them."""
    frames = []
    for p in plans:
        languages = list(p.sizes.index)
        predicted = p.predicted.reindex(languages)
        sizes = p.sizes.to_numpy(dtype=float)
        lower = predicted["lower"].to_numpy(dtype=float).copy() if "lower" in predicted else np.full(len(sizes), np.nan)
        upper = predicted["upper"].to_numpy(dtype=float).copy() if "upper" in predicted else np.full(len(sizes), np.nan)
        missing = np.flatnonzero(np.isnan(lower))
        if missing.size:  # one pass over the languages without a band (budgetlaw.bands)
            lower[missing], upper[missing] = intervals([laws[languages[i]] for i in missing], sizes[missing], level)
        frames.append(pd.DataFrame({
            "plan": p.name,
            "language": languages,
            "size": sizes,
            "score": predicted["score"].to_numpy(dtype=float) if "score" in predicted else np.nan,
            "lower": lower,
            "upper": upper,
        }))
    columns = ["plan", "language", "size", "score", "lower", "upper"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _baseline_frontier(laws, plan, names: Sequence[str], budgets, kwargs) -> pd.DataFrame | None:
    """Each baseline's value of ``plan``'s objective at each budget (NaN where it cannot be built)."""
    if not names:
        return None
    languages = [str(k) for k in laws]  # a baseline covers every law, in the laws' order
    judge = plan_objective(laws, plan)
    table = {}
    for name in names:
        try:  # all budgets at once: validated once, no Plan (and no bands) per budget
            rows = baseline_module.sizes_at(name, laws, [float(b) for b in budgets], **kwargs)
            table[name] = [judge(pd.Series(row, index=languages)) for row in rows]
            continue
        except InputError:
            pass  # some budget cannot be built: fall back to one call per budget, NaN where it fails
        values = []
        for budget in budgets:
            try:
                other = getattr(baseline_module, name)(laws, float(budget), **kwargs)
                values.append(judge(other.sizes))
            except InputError:
                values.append(np.nan)
        table[name] = values
    return pd.DataFrame(table, index=pd.Index(budgets, name="budget"))


@dataclass
class ReportContent:
    """Everything a report shows, computed before any file is written (see ``build_report``).

    plans: the optimised plan first, then the baselines; tables are the frames behind the
    figures and CSV files; notes: lines for the Warnings section beyond the plan's own.
    """

    laws: Any
    plan: Any
    baselines: list
    notes: list
    synthetic: bool
    metric: str
    label: str
    level: float
    title: str
    flags: dict
    extrapolate_from: dict
    far: list  # the far-extrapolation line (budgetlaw.extrapolation), or nothing
    gains: pd.DataFrame
    curves: pd.DataFrame
    shown_pilots: pd.DataFrame | None
    sizes: pd.DataFrame
    caps: dict
    plans_table: pd.DataFrame
    frontier: pd.DataFrame | None = None
    baseline_frontier: pd.DataFrame | None = None
    worth: list = field(default_factory=list)  # reporting.worth.Worth per baseline
    more_gain: float | None = None  # the objective's improvement re-planned at 1.1 x the budget (answer.py)
    transfer: tuple | None = None  # (matrix, languages) when the laws carry a transfer matrix (worth.transfer_of)


def _pilots_of_laws(laws) -> pd.DataFrame | None:
    """The pilot runs fitted laws keep (plain PowerLaws have none), as one table."""
    # x and y arrays, not FittedLaw.points: a DataFrame per language cost seconds at 1,000
    kept = [(lang, item) for lang, item in laws.items() if getattr(item, "points", None) is not None]
    if not kept:
        return None
    return pd.DataFrame({
        "language": np.repeat([lang for lang, _ in kept], [len(np.ravel(item.x)) for _, item in kept]),
        "size": np.concatenate([np.ravel(item.x).astype(float) for _, item in kept]),
        "score": np.concatenate([np.ravel(item.y).astype(float) for _, item in kept]),
    })


def _frontier(laws, plan, budgets, baseline_plans, kwargs, notes: list):
    """The sweep over ``budgets`` (only those that pay the floors) and each default baseline's
    value of the plan's objective there; (None, None) when there is nothing to draw."""
    floor_total = sum(
        float(v) * float((kwargs.get("cost") or {}).get(k, 1.0)) for k, v in (kwargs.get("floor") or {}).items()
    )
    feasible = budgets[budgets >= floor_total]
    if len(feasible) < len(budgets):
        notes.append(f"frontier starts at {format_count(feasible.min() if len(feasible) else 0)}: "
                     f"smaller budgets cannot pay the floors ({format_count(floor_total)})")
    try:
        frontier = sweep(laws, list(feasible), objective=plan.objective, **kwargs)
    except BudgetlawError as exc:
        notes.append(f"budget frontier skipped: {exc}")
        return None, None
    if not len(frontier):
        return None, None
    names = [b.name for b in baseline_plans if b.name in DEFAULT_BASELINES]
    return frontier, _baseline_frontier(laws, plan, names, sorted(frontier["budget"].unique()), kwargs)


def build_report(laws, plan, baselines=None, budgets=None, pilots=None, *, level: float = 0.9,
                 constraints: Mapping | None = None, notes: Sequence[str] = (), title: str = "Data budget report",
                 synthetic: bool | None = None, seed_sd=None) -> ReportContent:
    """Compute every table of the report (arguments as for ``report``); writes nothing."""
    languages = list(plan.sizes.index)
    missing = [lang for lang in languages if lang not in laws]
    if missing:
        raise InputError(f"plan allocates to {missing} but the laws have no such language; use the laws.json the plan was made from")
    check_made_from(plan, laws)  # the same refusal as `budgetlaw report`: a plan judged under other laws
    lower = direction_of(laws)
    if pilots is not None and not isinstance(pilots, pd.DataFrame):
        pilots = read_pilots(pilots, lower_is_better=lower)
        if synthetic is None:  # read_pilots looked for `source` while the file's columns were all there
            synthetic = bool(pilots.attrs.get("synthetic", False))
    kwargs = constraint_kwargs(plan) if constraints is None else dict(constraints)
    baseline_plans, baseline_notes = resolve_baselines(laws, plan, baselines, kwargs)
    notes = [*notes, *baseline_notes]
    metric = getattr(laws, "metric", None) or ("loss" if lower else "score")
    if pilots is None:
        pilots = _pilots_of_laws(laws)
    if synthetic is None:
        synthetic = pilots is not None and "source" in pilots.columns and bool((pilots["source"] == "synthetic").any())

    flags = {lang: tuple(getattr(laws[lang], "flags", ()) or ()) for lang in laws}
    extrapolate_from = {}
    everything, pilots = pilots, _own_pilots(pilots)  # every row for the seed noise, own pilots on the panels
    pilot_sizes = _pilot_sizes(pilots)
    for lang in laws:
        edge = getattr(laws[lang], "max_pilot_size", None)
        if edge is None and len(pilot_sizes.get(str(lang), ())):
            edge = pilot_sizes[str(lang)].max()  # plain PowerLaws carry no sizes
        extrapolate_from[lang] = float(edge) if edge is not None else np.nan
    gains = pd.DataFrame(  # improvements: positive where the optimised plan is better
        {b.name: pd.Series(improvement(plan.predicted["score"].reindex(languages),
                                       b.predicted["score"].reindex(languages), lower), index=languages)
         for b in baseline_plans}
    )
    # Above plots.MANY languages, panels only for those that matter most (report.md lists all).
    drawn = focus_languages(plan, gains)
    all_plans = [plan, *baseline_plans]
    caps = {}
    epochs = kwargs.get("max_epochs", 1) or 1
    for lang, value in (kwargs.get("available") or {}).items():
        if value is not None and math.isfinite(float(value)):
            caps[lang] = float(value) * epochs
    content = ReportContent(
        laws=laws, plan=plan, baselines=baseline_plans, notes=notes, synthetic=synthetic, metric=metric,
        label=value_label(metric, lower), level=level, title=title, flags=flags, extrapolate_from=extrapolate_from,
        far=[line for line in [extrapolation_warning(laws, plan)] if line],
        gains=gains, curves=_curves(laws, plan, pilots, level, drawn),
        shown_pilots=pilots if pilots is None or len(drawn) == len(languages) else pilots[pilots["language"].isin(drawn)],
        sizes=pd.DataFrame({p.name: p.sizes.reindex(languages) for p in all_plans}), caps=caps,
        plans_table=_plans_table(all_plans, laws, level), transfer=_drawn_transfer(laws),
    )
    spread = seed_spread(everything, [str(k) for k in languages], seed_sd)  # once for every baseline
    regret = plan_regret(laws, plan, level=level) if baseline_plans else None  # once: it re-plans every draw
    content.worth = [judge(laws, plan, b, level=level, spread=spread, regret=regret)  # checked above
                     for b in baseline_plans]
    budgets = frontier_budgets(plan) if budgets is None else np.asarray(list(budgets), dtype=float)
    if len(budgets):  # budgets=[]: no re-planning at other budgets (no frontier, no +10% line)
        content.frontier, content.baseline_frontier = _frontier(laws, plan, budgets, baseline_plans, kwargs, notes)
        content.more_gain = _more_budget(laws, plan, kwargs, lower)
    return content


def _more_budget(laws, plan, kwargs, lower: bool) -> float | None:
    """The objective's improvement when the plan is re-planned at 1.1 x its budget (None when that
    cannot be solved): what another 10% of the budget buys, never a linear step past it."""
    try:
        again = sweep(laws, [1.1 * float(plan.budget)], objective=plan.objective, **kwargs)
    except BudgetlawError as exc:
        log.info("more-budget line skipped: %s", exc)
        return None
    value = float(again["objective_value"].iloc[0])
    return float(improvement(value, float(plan.objective_value), lower))


def _drawn_transfer(laws):
    """The transfer matrix the report draws: none for laws fitted without transfer (form "none":
    T = 0 by choice, not by measurement, so a heat map of zeros would say something untrue)."""
    transfer = getattr(laws, "transfer", None)
    return None if getattr(transfer, "form", None) == "none" else transfer_of(laws)


def write_report(content: ReportContent, out: str | Path) -> dict[str, Path]:
    """Write ``content`` into folder ``out``, all files at once; return name -> path."""
    out = Path(out)
    c = content
    plan = c.plan
    files: dict[str, Path] = {}
    with staged_folder(out) as tmp:
        files["laws_plot"] = plot_laws(
            c.curves, tmp / "laws.png", pilots=c.shown_pilots, extrapolate_from=c.extrapolate_from,
            planned=plan.sizes.to_dict(), flags=c.flags, metric=c.label, level=c.level, total=len(plan.sizes),
            # under transfer a language's value depends on the whole mixture: the star is the plan's
            # prediction at its own pairs, off the own-pairs curve by what the others teach it
            planned_scores=(plan.predicted["score"].to_dict()
                            if c.transfer is not None and np.any(c.transfer[0]) else None),
        )
        unique = {k: float(v) for k, v in ((plan.constraints or {}).get("available") or {}).items() if v is not None}
        files["allocation_plot"] = plot_allocation(c.sizes, tmp / "allocation.png", available=c.caps, budget=plan.budget,
                                                   distinct=unique, max_epochs=int(plan.constraints.get("max_epochs") or 1))
        if c.baselines:
            files["gains_plot"] = plot_gains(c.gains, tmp / "gains.png", metric=c.metric, lower_is_better=direction_of(c.laws))
        if c.transfer is not None:
            files["transfer_plot"] = plot_transfer(c.transfer[0], c.transfer[1], tmp / "transfer.png")
        c.plans_table.to_csv(tmp / "plans.csv", index=False)
        files["plans_csv"] = tmp / "plans.csv"
        if c.frontier is not None:
            c.frontier.to_csv(tmp / "frontier.csv", index=False)
            files["frontier_csv"] = tmp / "frontier.csv"
            files["frontier_plot"] = plot_frontier(
                c.frontier, tmp / "frontier.png", current_budget=plan.budget, baselines=c.baseline_frontier,
                objective=plan.objective, metric=c.label, lower_is_better=direction_of(c.laws),
            )
        answer = answer_lines(plan=plan, worths=c.worth, metric=c.metric, lower=direction_of(c.laws), level=c.level,
                              available=(plan.constraints or {}).get("available"), largest_pilot=c.extrapolate_from,
                              more_gain=c.more_gain, markdown_table=markdown_table)
        text = render_summary(
            title=c.title,
            answer=answer,
            laws=c.laws,
            plan=plan,
            baselines=c.baselines,
            law_table=markdown_table(law_rows(c.laws)),
            warnings=plan_warnings(c.laws, plan, c.flags, c.extrapolate_from, c.far),
            notes=c.notes,
            synthetic=c.synthetic,
            figures={k: v.name for k, v in files.items() if k.endswith("_plot")},
            metric=c.metric,
            level=c.level,
            caps=c.caps,
            largest_pilot=c.extrapolate_from,
            version=__version__,
            worth=worth_section(c.worth, markdown_table=markdown_table),
        )
        (tmp / "report.md").write_text(text, encoding="utf-8")
        files["summary"] = tmp / "report.md"
    log.info("report written to %s", out)
    return {key: out / path.name for key, path in files.items()}


def report(
    laws,
    plan,
    baselines=None,
    out: str | Path = "report",
    budgets=None,
    pilots: pd.DataFrame | str | Path | None = None,
    *,
    level: float = 0.9,
    constraints: Mapping | None = None,
    notes: Sequence[str] = (),
    title: str = "Data budget report",
    synthetic: bool | None = None,
    seed_sd=None,
) -> dict[str, Path]:
    """Write the report for ``plan`` (made from ``laws``) into folder ``out``; return name -> path.

    baselines: None (uniform, proportional, temperature, unimax), a list/comma string of those
    names, or Plan objects. budgets: budgets for the frontier (default frontier_budgets(plan));
    pass ``[]`` to skip the frontier and the answer's "More budget" line (no re-planning). pilots: the pilot table (or its CSV path) to draw the
    points; rows with ``source == "synthetic"`` make the report say the data are synthetic.
    constraints: keyword arguments for the baselines and the sweep (default: the plan's own).
    synthetic: say in the summary that the pilots are synthetic (default: detected from the
    pilots' ``source`` column). notes: extra lines for the Warnings section. seed_sd: one model's
    seed standard deviation (a number, or language -> number) for "Is the plan worth it?"
    (default: the spread of repeated pilots; reporting.worth).

    Two steps: ``build_report`` computes every table, ``write_report`` writes the files.
    """
    content = build_report(laws, plan, baselines, budgets, pilots, level=level, constraints=constraints, notes=notes,
                           title=title, synthetic=synthetic, seed_sd=seed_sd)
    return write_report(content, out)
