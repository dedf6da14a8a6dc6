"""Which pilot to run next: each candidate ranked by how much it is expected to cut the plan's regret
per unit of pilot cost, and when to stop.

    table = bl.next_pilots("pilots.csv", budget=900, available={"ar": 5827, ...}, lower_is_better=True)
    table.attrs["verdict"]        # "run these next: ..." or "stop: no pilot is worth its cost; ..."

**Value of a candidate.** With the plan x = allocate(laws) (objective "sum") and its expected
regret R_now over the laws' bootstrap draws (budgetlaw.design.regret), a candidate pilot of
language L at size s is simulated M = n_outcomes times from the current draws with L's measured
seed noise (budgetlaw.design.refit); for each outcome L's point law is refitted, the plan re-made
with the exact solver, and its expected regret taken over L's draws j reweighted by the outcome's
likelihood, each paired with the first 50 draws k of the other languages (each pair's best plan is
unchanged by the outcome: only its weight moves):

    R_after = mean_m sum_j weight_mj * mean_k regret_jk(plan_m),   cut = R_now' - R_after,
    value_per_cost = cut / cost

R_now' is R_now with L's point law through the same refit (its pilots as they are), so that a cut
is what the pilot tells and not the difference between two fitting paths; the table's
``regret_after`` is R_now - cut. A language whose law is pinned (its draws agree where the pilot
would measure), or whose planned size sits at its cap whatever its law says, has cut ~ 0: its
pilots cannot change the plan. A cut is an estimate from M outcomes and can come out slightly
negative for a pilot that tells nothing.

**Stop rule**, in the objective's units. ``stop_at`` (default STOP_SHARE = 0.5 of one model's seed
sd of the objective, sigma_J = sqrt(sum_i w_i^2 sigma_i^2) with sigma_i the pooled spread of
repeated pilots, or seed_sd=) is the regret worth removing; ``price`` (default stop_at / the
cheapest candidate's cost: the cheapest pilot must cut the regret by stop_at, one twice as costly
by twice that) is what a unit of pilot cost must buy. A candidate is *worth its cost* when cut >=
price * cost and it fits the pilot budget left. The verdict:

    stop  when R_now <= stop_at, or no candidate is worth its cost:
          "stop: no pilot is worth its cost; the plan's expected regret is X ..."
    else  "run these next: ..." (the candidates worth their cost, best first)

and, apart from it, whether planning is worth it at all: the best plan's predicted gain over
uniform against sigma_J (``attrs["planning"]``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from budgetlaw.allocation.problem import prepare
from budgetlaw.design.candidates import candidate_table, cost_model
from budgetlaw.design.refit import refit, reweight, simulate_outcomes
from budgetlaw.design.regret import best_sizes, draw_arrays, regret_of, regret_summary
from budgetlaw.direction import LOSS_METRICS
from budgetlaw.errors import InputError
from budgetlaw.fitting.engine import TUNING
from budgetlaw.fitting.options import FitOptions

__all__ = ["next_pilots", "rank_pilots", "STOP_SHARE", "COLUMNS"]

log = logging.getLogger(__name__)

#: Default stop threshold as a share of one model's seed sd of the objective.
STOP_SHARE = 0.5
#: Draws of the other languages each draw of the candidate's language is paired with.
OTHER_DRAWS = 50
COLUMNS = ("language", "size", "kind", "cost", "regret_now", "regret_after", "cut", "value_per_cost", "worth_it")


def _options(laws) -> FitOptions:
    """The fit settings of ``laws`` that a refit needs: direction, a fixed or free ceiling."""
    items = list(laws.values())
    if laws.lower_is_better:
        return FitOptions(lower_is_better=True, n_boot=0)
    free = any(getattr(f, "free_ceiling", False) for f in items)
    top = max(float(f.ceiling) for f in items)
    max_score = (laws.signature or {}).get("max_score") if hasattr(laws, "signature") else None
    if free:
        return FitOptions(free_ceiling=True, max_score=max_score or top, ceiling=max_score or top, n_boot=0)
    return FitOptions(ceiling=top, n_boot=0)


def _noise(laws, languages, pilots, seed_sd) -> tuple[dict, str]:
    """One model's seed sd per language: given, or the pooled spread of repeated pilots, or (no
    repeats at all) the fit's robust noise scale f_scale / 1.345."""
    from budgetlaw.reporting.noise import seed_spread

    if pilots is None:
        pilots = pd.DataFrame([(lang, x, y) for lang in languages for x, y in zip(laws[lang].x, laws[lang].y)],
                              columns=["language", "size", "score"])
    spread = seed_spread(pilots, languages, seed_sd)
    if spread.source != "none":
        return {k: float(v) for k, v in spread.per_language.items()}, spread.source
    return {lang: float(laws[lang].f_scale) / TUNING for lang in languages}, "fit residuals (no repeated pilots)"


def _fmt(v: float, digits: int) -> str:
    return f"{v:.{digits}f}" if math.isfinite(v) else "-"


def rank_pilots(laws, *, budget, available=None, max_epochs=1, weights=None, candidates=None, cost=None, n=5,
                seed_sd=None, pilots=None, stop_at=None, price=None, pilot_budget=None, n_outcomes=16, seed=0,
                level=0.9, cache: dict | None = None) -> pd.DataFrame:
    """``next_pilots`` on laws already fitted (a LawSet with bootstrap draws, one-language laws).

    ``cache``: a dict kept between calls (a sequential design) so that the simulated outcomes and
    refits of a language whose pilots did not change are not made again (the plans they give are). Every other argument as ``next_pilots``.
    """
    if getattr(laws, "transfer", None) is not None:
        raise InputError("next_pilots: transfer-aware laws are not simulated yet; fit the one-language pilots with "
                         "transfer='none'")
    if not (isinstance(n_outcomes, int) and n_outcomes >= 2):
        raise InputError(f"next_pilots: n_outcomes={n_outcomes!r} must be a whole number >= 2 (32 is the default)")
    problem = prepare(laws, budget, available=available, max_epochs=max_epochs, weights=weights)
    languages = problem.languages
    lower = bool(problem.lower_is_better)
    w, pc, lo, hi, B = problem.weights, problem.cost, problem.floor[0], problem.cap, float(problem.budget[0])
    Kd, cd = draw_arrays(laws, languages)
    x_plan = best_sizes(problem.K, problem.c, w, pc, lo, hi, B)
    regret = regret_summary(Kd, cd, x_plan, problem.K, problem.c, w, pc, lo, hi, B, languages=languages,
                            lower_is_better=lower, level=level)
    sigma, noise_source = _noise(laws, languages, pilots, seed_sd)
    sigma_J, tau = _stop_threshold(sigma, languages, w, stop_at)
    table, model, cheapest = _candidates(laws, problem, candidates, x_plan, cost, pilot_budget)
    price = _price(price, tau, cheapest)
    cache = {} if cache is None else cache
    cuts = _cuts(table, laws, problem, Kd, cd, sigma, n_outcomes, seed, cache)
    table = _scored(table, cuts, regret.expected, price)
    shown = table if n is None else table.head(int(n))

    d = 3 if lower else 2
    stop, verdict = _verdict(table, shown, regret, tau, sigma_J, price, stop_at is None, d)
    gain = regret.optimum_gain
    shown = shown.copy()
    shown.attrs.update(verdict=verdict, stop=stop, planning=_planning(gain, sigma_J, d),
                       planning_worth_it=bool(gain > sigma_J),
                       regret=regret.to_dict(), stop_at=tau, price=price, seed_sd=sigma_J, noise=noise_source,
                       cost=model.text, plan=dict(zip(languages, map(float, x_plan))), candidates=len(table))
    return shown


def _stop_threshold(sigma, languages, w, stop_at) -> tuple[float, float]:
    """One model's seed sd of the objective, sigma_J, and the stop threshold (stop_at, or
    STOP_SHARE x sigma_J)."""
    sigma_J = float(np.sqrt(np.sum((w * np.array([sigma[k] for k in languages])) ** 2)))
    tau = STOP_SHARE * sigma_J if stop_at is None else float(stop_at)
    if not (math.isfinite(tau) and tau >= 0):
        raise InputError(f"next_pilots: stop_at={stop_at!r} must be a finite number >= 0 in the objective's units")
    return sigma_J, tau


def _candidates(laws, problem, candidates, x_plan, cost, pilot_budget):
    """The candidate table with each candidate's cost (within ``pilot_budget`` when given), the
    cost model, and the cheapest candidate's cost (before the pilot budget)."""
    languages = problem.languages
    sizes = {lang: np.asarray(laws[lang].x, dtype=float) for lang in languages}
    caps = {lang: float(v) for lang, v in (problem.available or {}).items()}
    table = candidate_table(candidates, languages, sizes, dict(zip(languages, x_plan)), caps)
    model = cost_model(cost, min(float(s.min()) for s in sizes.values()))
    table["cost"] = [model(lang, s) for lang, s in zip(table["language"], table["size"])]
    cheapest = float(table["cost"].min())
    if pilot_budget is not None:
        try:
            left = float(pilot_budget)
        except (TypeError, ValueError):
            left = math.nan
        if not (math.isfinite(left) and left >= cheapest):
            raise InputError(f"next_pilots: pilot_budget={pilot_budget!r} is below one pilot's cost (the cheapest "
                             f"candidate costs {cheapest:g}, {model.text}); raise the pilot budget or lower cost")
        table = table[table["cost"] <= left].reset_index(drop=True)
    return table, model, cheapest


def _price(price, tau: float, cheapest: float) -> float:
    """What a unit of pilot cost must buy: given, or the stop threshold per the cheapest candidate's cost."""
    price = tau / cheapest if price is None else float(price)
    if not (math.isfinite(price) and price >= 0):
        raise InputError(f"next_pilots: price={price!r} must be a finite number >= 0 (objective per unit of cost)")
    return price


def _cuts(table, laws, problem, Kd, cd, sigma, n_outcomes, seed, cache) -> list[float]:
    """Each candidate's expected cut in the plan's regret (module docstring)."""
    languages = problem.languages
    lower = bool(problem.lower_is_better)
    w, pc, lo, hi, B = problem.weights, problem.cost, problem.floor[0], problem.cap, float(problem.budget[0])
    Kp, cp = problem.K, problem.c
    D = len(Kd)
    options = _options(laws)
    paired, judged, cuts = {}, {}, []
    for lang, size in zip(table["language"], table["size"]):
        i = languages.index(lang)
        f = laws[lang]
        if i not in paired:  # the pairs depend on every language's draws: made afresh at each call
            paired[i] = _pairs(i, Kd, cd, w, pc, lo, hi, B)
        if (lang, None) not in judged:
            K0, c0 = refit(f.x, f.y, options, f.f_scale)
            judged[(lang, None)] = _judge(K0, c0, np.full((1, D), 1.0 / D), i, Kp, cp, paired[i], w, pc, lo, hi, B)
        # what a pilot would tell of its own language depends on that language's pilots alone: cached
        key = (lang, tuple(f.x), tuple(f.y), D, seed, n_outcomes, sigma[lang], size)
        if key not in cache:
            draws = np.asarray(f.draws, float)[:D]
            scores = simulate_outcomes(draws, size, sigma[lang], lower, n_outcomes, seed)
            cache[key] = (*refit(f.x, f.y, options, f.f_scale, size, scores),
                          reweight(draws, size, scores, sigma[lang], lower))
        after = _judge(*cache[key][:2], cache[key][2], i, Kp, cp, paired[i], w, pc, lo, hi, B)
        cuts.append(judged[(lang, None)] - after)
    return cuts


def _scored(table, cuts, regret_now: float, price: float) -> pd.DataFrame:
    """The table's regret columns and worth_it, best value per cost first, in COLUMNS order."""
    table["regret_now"] = regret_now
    table["cut"] = np.asarray(cuts, dtype=float)
    table["regret_after"] = np.maximum(regret_now - table["cut"], 0.0)
    table["value_per_cost"] = table["cut"] / table["cost"]
    # a cut of a billionth of the regret is roundoff (a language at its cap in every draw), not news
    table["worth_it"] = (table["cut"] >= price * table["cost"]) & (table["cut"] > 1e-9 * regret_now)
    table = table.sort_values("value_per_cost", ascending=False, kind="stable").reset_index(drop=True)
    return table[list(COLUMNS)]


def _verdict(table, shown, regret, tau, sigma_J, price, default_stop: bool, d: int) -> tuple[bool, str]:
    """(stop, the verdict's sentence): stop when the regret is below the threshold or no candidate
    shown is worth its cost, else the candidates to run next."""
    state = regret.sentence(d)
    threshold = f"the stop threshold {_fmt(tau, d)} ({STOP_SHARE:g} x one model's seed sd {_fmt(sigma_J, d)})" \
        if default_stop else f"the stop threshold {_fmt(tau, d)}"
    worth = shown[shown["worth_it"]]
    if regret.expected <= tau:
        return True, f"stop: no pilot is worth its cost; {state}, at most {threshold}"
    if not len(worth):
        best = table.iloc[0] if len(table) else None
        detail = "" if best is None else (f"; the best candidate ({best.language} at {best['size']:g} pairs) would cut it "
                                          f"by {_fmt(best.cut, d)} for cost {best.cost:g}, less than the price "
                                          f"{price:.3g} per unit of cost asks ({_fmt(price * best.cost, d)})")
        return True, f"stop: no pilot is worth its cost; {state}{detail}"
    picks = "; ".join(f"{r.language} at {r.size:g} pairs ({r.kind}, cost {r.cost:g}: expected regret "
                      f"{_fmt(r.regret_now, d)} -> {_fmt(r.regret_after, d)})" for r in worth.itertuples())
    return False, f"run these next: {picks}; {state}, above {threshold}"


def _planning(gain: float, sigma_J: float, d: int) -> str:
    """Whether planning is worth it at all: the best plan's predicted gain over uniform against sigma_J."""
    return (f"planning is worth it here: the best plan is predicted to gain {_fmt(gain, d)} over uniform, "
            f"{gain / sigma_J:.1f} x one model's seed sd ({_fmt(sigma_J, d)})" if gain > sigma_J else
            f"planning is not worth it here: the best plan's predicted gain over uniform ({_fmt(gain, d)}) is "
            f"below one model's seed sd ({_fmt(sigma_J, d)})")


def _pairs(i, Kd, cd, w, pc, lo, hi, B):
    """Every draw j of language i with each of the first OTHER_DRAWS draws k of the others: K, c
    (D, k, n) and each pair's best plan. Language i's draws get weights of their own, so they are
    paired with the others' draws instead of riding on a joint draw index."""
    k = min(OTHER_DRAWS, len(Kd))
    K = np.repeat(Kd[None, :k], len(Kd), axis=0)
    c = np.repeat(cd[None, :k], len(Kd), axis=0)
    K[:, :, i], c[:, :, i] = Kd[:, i][:, None], cd[:, i][:, None]
    return K, c, best_sizes(K, c, w, pc, lo, hi, B)


def _judge(K_i, c_i, weights, i, Kp, cp, pairs, w, pc, lo, hi, B) -> float:
    """Expected regret of the plans made with language i's point laws (K_i, c_i), (M,), with
    language i's draws weighted by ``weights`` (M, D) (module docstring), averaged over outcomes."""
    M = len(K_i)
    K_point, c_point = np.tile(Kp, (M, 1)), np.tile(cp, (M, 1))
    K_point[:, i], c_point[:, i] = K_i, c_i
    plans = best_sizes(K_point, c_point, w, pc, lo, hi, B)  # (M, n)
    K, c, best = pairs
    per_pair = np.maximum(regret_of(plans[:, None, None, :], best[None], K[None], c[None], w), 0.0)  # (M, D, k)
    return float((weights * per_pair.mean(axis=2)).sum(axis=1).mean())


def next_pilots(pilots, *, budget, available=None, max_epochs=1, candidates=None, cost=None, n=5, metric=None,
                lower_is_better=None, seed_sd=None, stop_at=None, price=None, pilot_budget=None, n_boot=200,
                n_outcomes=32, seed=0, weights=None, level=0.9) -> pd.DataFrame:
    """The next pilots to run, best first, by expected cut in the plan's regret per unit of cost.

    pilots: CSV path or DataFrame (docs/formats/pilots.md); its one-language rows are fitted
    (multilingual rows are set aside). budget, available, max_epochs, weights: the plan's, as for
    allocate. candidates: rows (language, size) or None for the defaults (budgetlaw.design.candidates);
    cost: None (pairs + the smallest pilot size per run), a run cost, {"pair", "run"} or a function
    (language, size) -> cost. n: rows returned (None: all). lower_is_better: None reads it from the
    metric (nll, loss). seed_sd: one model's seed sd (number or language -> number; default: the
    spread of repeated pilots). stop_at, price, pilot_budget: the stop rule (module docstring).
    n_boot: bootstrap draws of the fit; n_outcomes: simulated outcomes per candidate.

    Returns a DataFrame with columns language, size, kind, cost, regret_now, regret_after, cut,
    value_per_cost, worth_it; ``attrs`` holds verdict, stop, planning, regret (ExpectedRegret.to_dict),
    stop_at, price, seed_sd, noise, cost, plan.
    """
    from budgetlaw.fitting.fitter import fit
    from budgetlaw.pilots import one_language, read_pilots

    if not (isinstance(n_boot, int) and 20 <= n_boot <= 10_000):
        raise InputError(f"next_pilots: n_boot={n_boot!r} must be a whole number from 20 to 10000 (200 is the default)")
    if lower_is_better is None:  # from the metric's name: nll and loss are losses
        raw = pilots if isinstance(pilots, pd.DataFrame) else _peek(pilots)
        names = {str(v).strip().lower() for v in raw.get("metric", pd.Series([], dtype=str)).dropna()}
        names = {str(metric).lower()} if metric is not None else names
        lower_is_better = bool(names) and names <= set(LOSS_METRICS)
    frame = read_pilots(pilots, metric=metric, lower_is_better=bool(lower_is_better), min_sizes=0)
    single = frame[one_language(frame)] if "mixture" in frame.columns else frame
    if len(single) < len(frame):
        log.info("next_pilots: %d multilingual or repetition rows set aside (one-language laws only)",
                 len(frame) - len(single))
    keep = [c for c in ("language", "size", "score", "seed", "metric") if c in single.columns]
    single = single[keep].reset_index(drop=True)
    laws = fit(single, n_boot=n_boot, seed=seed, metric=metric, lower_is_better=bool(lower_is_better))
    if isinstance(available, Mapping):
        available = {str(k): v for k, v in available.items()}
    return rank_pilots(laws, budget=budget, available=available, max_epochs=max_epochs, weights=weights,
                       candidates=candidates, cost=cost, n=n, seed_sd=seed_sd, pilots=single, stop_at=stop_at,
                       price=price, pilot_budget=pilot_budget, n_outcomes=n_outcomes, seed=seed, level=level)


def _peek(path) -> pd.DataFrame:
    """The metric column of a pilots file, to tell a loss from a score (read_pilots checks the rest)."""
    try:
        return pd.read_csv(path, dtype=str, usecols=lambda c: str(c).strip().lower() == "metric")
    except (OSError, ValueError, pd.errors.ParserError):
        return pd.DataFrame()  # read_pilots names what is wrong with the file
