"""Is the plan worth it? The predicted gain of a plan over a baseline, its paired interval, and
roughly how many seeds per plan a measurement would need to see it.

    w = worth(laws, plan, "uniform", seed_sd=0.02)       # or a baseline Plan; pilots= for the spread
    w.gain, w.lower, w.upper, w.seeds, w.verdict, w.per_language, w.to_dict()

**Sign.** A gain is an improvement, positive when the plan is better (budgetlaw.direction): plan
minus baseline for a score, baseline minus plan for a loss (a lower loss is a gain).

**Gain and its interval.** Both plans are judged under the same laws: value_i(x) is language i's
predicted value (``ceiling_i - sign * K_i * d_i ** (-c_i)``, d_i = x_i for one-language laws; see
``predict_values`` for laws with transfer). The objective is the plan's own: sum_i w_i value_i
(``sum``; ``robust`` is the sum per draw and its mean over draws as the point), or the worst
language (``maxmin``). Under bootstrap draw d of every language (the laws' draws are indexed
alike) g_d = sign * (J_d(plan) - J_d(baseline)), and the interval is the quantiles of g_d at
(1 - level)/2 and (1 + level)/2: a *paired* interval. It is not the difference of the two plans'
intervals: a draw that makes a language steeper moves both plans together. Per language the same
with value_i in place of J.

**Seed noise**: how much one model's value moves from seed to seed, from repeated pilots or
``seed_sd=`` (budgetlaw.reporting.noise).

Of the objective: ``sum``/``robust`` with equal weights w and a known ``mean_sd``: w * n * mean_sd
(noise shared by the languages of one model is kept); otherwise sqrt(sum_i w_i^2 s_i^2)
(languages independent); ``maxmin``: s of the plan's worst language.

**Verdict** (``classify``), against each baseline: *worth it* when the gain's interval lies
above zero and the gain is at least one model's seed sd of the objective (one seed per plan
would likely show it); *hidden by noise* when the interval lies above zero but the gain is below
the seed noise (the plan is better, and the verdict says how many seeds per plan would show it);
*can't tell* when the interval spans zero (only then does the report say the baseline is "as good
as" the plan); *baseline better* when it lies below zero; *same plan* when the baseline's sizes
are the plan's; *noise unknown* when the plan is better but no seed noise is known. Without
bootstrap draws the point gain's sign stands in for the interval's.

**Seeds per plan.** Paired two-sided test at 5% with 80% power (normal approximation), seeds of
the two plans independent, so the paired difference has sd_diff = sqrt(2) * s:

    n = ((z_0.975 + z_0.8) * sd_diff / gain) ** 2  =  15.70 * (s / gain) ** 2,   seeds = max(2, ceil(n))

None when the gain is not positive. It is rough: it takes the laws' point gain as the truth (their
error is not in it), assumes normal noise equal for both plans (a t test needs a seed or two more
at small n), and pilot spread measured at small sizes overstates the noise of larger models.

**Expected regret** (``regret``, ``regret_lower``, ``regret_upper``, ``regret_share``,
``regret_note``): how much the plan falls short of the best plan of each bootstrap draw, in the
objective's units, its mean and ``level`` interval over the draws (budgetlaw.design.
transfer_regret.plan_regret: re-planned per draw, under a transfer law too). A property of the
plan, not of the baseline: computed once per plan and the same in every baseline's Worth (the
report passes it in). ``regret_share`` is always the regret over the plan's predicted gain over
*uniform* (water-filled under the caps, point laws), whichever the baseline, so that one number
reads alike everywhere; above 1 the pilots leave more in doubt than the plan gains. NaN (null in
JSON, and read as NaN from a dict without the key) when the laws have no draws or the objective
is ``maxmin``; the share is NaN too when the plan gains nothing over uniform.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from budgetlaw.allocation.problem import law_arrays, objective_at
from budgetlaw.design.transfer_regret import plan_regret
from budgetlaw.direction import direction_of
from budgetlaw.errors import InputError
from budgetlaw.plan import check_made_from
from budgetlaw.reporting.compare import resolve_baselines
from budgetlaw.reporting.noise import SeedSpread, clean, parse_seed_sd, seed_spread
from budgetlaw.transfer.prediction import law_transfer

__all__ = ["Worth", "SeedSpread", "worth", "seed_spread", "seeds_needed", "predict_values", "parse_seed_sd",
           "worth_section", "transfer_of", "plan_objective", "objective_value", "Z_SUM", "CASES", "classify",
           "regret_note", "REGRET_LABEL"]  # SeedSpread, seed_spread, parse_seed_sd: from reporting.noise

#: z_0.975 + z_0.8: a two-sided test at 5% with 80% power.
Z_SUM = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)


def seeds_needed(gain: float, sd: float) -> float:
    """n = ((z_0.975 + z_0.8) * sqrt(2) * sd / gain) ** 2, the seeds per plan (unrounded) for a
    paired two-sided test at 5% with 80% power; inf when the gain is not positive."""
    if not (math.isfinite(gain) and gain > 0):
        return math.inf
    return (Z_SUM * math.sqrt(2.0) * float(sd) / gain) ** 2


def _seeds(gain: float, sd: float) -> int | None:
    n = seeds_needed(gain, sd)  # 0 with no noise: the two-seed minimum
    return max(2, math.ceil(n)) if math.isfinite(n) and math.isfinite(sd) else None


def _draw_params(laws, languages) -> np.ndarray | None:
    """(3, n, D): K, c and ceiling (floor E for a loss) of every draw, or None without draws."""
    stacked = getattr(laws, "stacked_draws", None)
    if isinstance(stacked, np.ndarray) and list(laws) == languages:
        return stacked
    draws = [getattr(laws[lang], "draws", None) for lang in languages]
    if any(d is None or np.size(d) == 0 for d in draws):
        return None
    draws = [np.asarray(d, dtype=float).reshape(-1, 3) for d in draws]
    n = min(len(d) for d in draws)
    return np.stack([np.stack([d[:n, k] for d in draws]) for k in range(3)])


def _effective(laws, sizes: pd.Series, unique) -> tuple[np.ndarray, np.ndarray | None]:
    """Effective data of ``sizes``' languages under ``laws.transfer``: point (n,) and per draw
    (D, n) (None: the same d in every draw). One-language laws read x, with the pairs beyond
    ``unique`` (language -> distinct pairs) discounted as budgetlaw.transfer.prediction.law_transfer
    prices them, as the allocator does; x itself when no distinct pairs are given."""
    x = sizes.to_numpy(dtype=float)
    transfer = getattr(laws, "transfer", None)
    if transfer is None and unique is None:
        return x, None
    languages = [str(k) for k in sizes.index]
    if transfer is None or hasattr(transfer, "effective_draws"):  # a Transfer: T, R* and their draws
        order = [str(k) for k in laws]
        transfer = law_transfer(laws, order)  # one-language laws: T = 0, repeats at DEFAULT_RSTAR
        full = sizes.reindex(order).fillna(0.0).to_numpy(dtype=float)
        U = None if unique is None else np.array([float(unique.get(k, math.inf)) for k in order])
        pick = [order.index(k) for k in languages]
        drawn = transfer.effective_draws(full, U)[:, pick] if len(transfer.draws) else None
        return transfer.effective(full, U)[pick], drawn
    matrix, order = transfer_of(laws)
    full = sizes.reindex(order).fillna(0.0).to_numpy(dtype=float)
    return pd.Series(full + matrix @ full, index=order).reindex(languages).to_numpy(), None


def transfer_of(laws) -> tuple[np.ndarray, tuple] | None:
    """(matrix, languages) of ``laws.transfer``, rows = the receiving language: an object with
    ``.matrix`` (or ``.T``, budgetlaw.transfer.law.Transfer) and ``.languages``, or a plain n x n
    array in the laws' order; None when the laws carry no transfer."""
    transfer = getattr(laws, "transfer", None)
    if transfer is None:
        return None
    if isinstance(transfer, np.ndarray):
        return np.asarray(transfer, dtype=float), tuple(str(k) for k in laws)
    matrix = getattr(transfer, "matrix", None)
    matrix = getattr(transfer, "T", None) if matrix is None else matrix
    return None if matrix is None else (np.asarray(matrix, dtype=float), tuple(str(k) for k in transfer.languages))


def predict_values(laws, sizes: pd.Series, unique=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Every language's predicted value at the mixture ``sizes`` (index = languages): the point
    (n,) and one value per bootstrap draw (n, D), or None without draws.

    Each law is read at its effective data d: x for one-language laws (repeats beyond ``unique``
    discounted at DEFAULT_RSTAR, as the allocator prices them); with ``laws.transfer`` a
    budgetlaw.transfer Transfer, d = eff(x) + T eff(x) with repeats beyond ``unique`` (language ->
    distinct pairs) discounted, draw d of T and R* with draw d of every law (as bl.predict); with
    a plain matrix (``transfer_of``), d = x + T x in every draw.
    """
    languages = [str(k) for k in sizes.index]
    d, drawn = _effective(laws, sizes.astype(float), unique)
    items = [laws[lang] for lang in languages]
    sign = np.array([getattr(item, "law", item).sign for item in items])
    with np.errstate(divide="ignore"):
        point = np.array([float(getattr(item, "law", item).predict(v)) for item, v in zip(items, d)])
        params = _draw_params(laws, languages)
        if params is None:
            return point, None
        D = params.shape[2] if drawn is None else min(params.shape[2], len(drawn))
        K, c, ceiling = params[:, :, :D]
        at = d[:, None] if drawn is None else drawn[:D].T
        return point, ceiling - sign[:, None] * K * at ** (-c)


def _weights(plan, languages) -> np.ndarray:
    weights = (plan.constraints or {}).get("weights") or {}
    return np.array([float(weights.get(lang, 1.0)) for lang in languages])


def plan_objective(laws, plan):
    """A function ``value(sizes, draws=False)``: ``plan``'s objective at any plan's ``sizes``, so
    every plan is judged alike (see ``objective_value``), under a transfer law at the plan's
    effective data (as ``predict_values``). The laws' arrays are read once, so a report that
    judges many plans and budgets does not read thousands of laws each time."""
    languages = list(plan.sizes.index)
    chosen = laws if list(laws) == languages else {lang: laws[lang] for lang in languages}
    _, K, c, ceiling, _, lower = law_arrays(chosen, with_draws=False)
    args = dict(K=K, c=c, ceiling=ceiling, weights=_weights(plan, languages), sign=-1.0 if lower else 1.0)
    unique = (plan.constraints or {}).get("available")
    shared = getattr(laws, "transfer", None) is not None or unique is not None  # else d = x
    drawn: list = []  # filled on first use: stacking every law's draws is the expensive part

    def value(sizes, *, draws: bool = False):
        x = pd.Series(sizes).reindex(languages).astype(float)
        d, d_draws = _effective(laws, x, unique) if shared else (x.to_numpy(), None)
        if draws or plan.objective == "robust":
            if not drawn:
                drawn.append(law_arrays(chosen)[4])
            if drawn[0] is None:
                return None if draws else math.nan
            if draws:
                return objective_at(plan.objective, d if d_draws is None else d_draws, per_draw=True, draws=drawn[0],
                                    **args)
            if d_draws is not None:  # draw d of T with draw d of the laws: the mean of the sum per draw
                return float(np.mean(objective_at("sum", d_draws, per_draw=True, draws=drawn[0], **args)))
            return float(objective_at(plan.objective, d[None], draws=drawn[0], **args)[0])
        with np.errstate(divide="ignore"):  # a size of 0 is -inf for a score, as PowerLaw.predict gives
            return float(objective_at(plan.objective, d[None], **args)[0])

    return value


def objective_value(laws, plan, sizes: pd.Series, *, draws: bool = False):
    """``plan``'s objective evaluated at ``sizes`` (any plan's), so every plan is judged alike;
    the objective is budgetlaw.allocation.problem.objective_at, the allocator's own.

    sum: sum_i w_i score_i;  maxmin: min_i score_i;  robust: mean over draws of sum_i w_i score_i.
    Loss laws: the same in losses, maxmin the largest loss (value = E + K x**(-c)).
    With ``draws=True`` returns the value under each bootstrap draw (draw j of every language
    taken together, as the laws' draws are indexed alike), or None when a law has no draws.
    """
    return plan_objective(laws, plan)(sizes, draws=draws)


@dataclass(frozen=True, eq=False)
class Worth:
    """The gain of ``plan`` over ``baseline`` in the plan's objective (positive: plan better), its
    paired ``level`` interval over the draws (NaN without draws), the share of draws in which the
    plan is better, one model's seed sd of the objective, the seeds per plan to see the gain
    (None: not positive or no noise known), the verdict's ``case`` (CASES, ``classify``) and its
    plain-words ``verdict``, and ``per_language``
    (index language; columns gain, lower, upper, seed_sd, seeds); and the plan's expected regret
    (module docstring: the same for every baseline)."""

    plan: str
    baseline: str
    objective: str
    lower_is_better: bool
    level: float
    gain: float
    lower: float
    upper: float
    better_share: float
    seed_sd: float
    seeds: int | None
    verdict: str
    noise: str
    per_language: pd.DataFrame
    case: str = "unknown"  # one of CASES (``classify``)
    regret: float = math.nan  # the plan's expected regret (module docstring), NaN: not known
    regret_lower: float = math.nan
    regret_upper: float = math.nan
    regret_share: float = math.nan  # of the plan's predicted gain over uniform
    regret_note: str = ""  # regret_note(): the sentence report.md's answer says

    def to_dict(self) -> dict:
        out = {k: clean(getattr(self, k)) for k in self.__dataclass_fields__ if k != "per_language"}
        out["per_language"] = {str(lang): {k: clean(v) for k, v in row.items()}
                               for lang, row in self.per_language.to_dict(orient="index").items()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Worth":
        fields = {k: (math.nan if v is None and k not in ("seeds",) else v) for k, v in data.items()
                  if k != "per_language" and k in cls.__dataclass_fields__}
        if not isinstance(fields.get("regret_note", ""), str):
            fields["regret_note"] = ""
        frame = pd.DataFrame.from_dict(data["per_language"], orient="index", dtype=object)
        frame = frame.astype({"gain": float, "lower": float, "upper": float, "seed_sd": float})
        frame.index.name = "language"
        return cls(**fields, per_language=frame)


def _objective(objective: str, values: np.ndarray, weights: np.ndarray, lower: bool) -> np.ndarray:
    """The objective over axis 0 of ``values`` (n,) or (n, D): weighted sum, or the worst language."""
    if objective == "maxmin":
        return values.max(axis=0) if lower else values.min(axis=0)
    return np.tensordot(weights, values, axes=1)


#: The verdict's cases (Worth.case), from the plan's point of view.
CASES = ("worth it", "hidden by noise", "can't tell", "baseline better", "same plan", "noise unknown", "unknown")


def classify(gain: float, low: float, high: float, sd: float, same: bool = False) -> str:
    """The verdict's case (one of CASES) for a gain, its interval (NaN without draws) and one
    model's seed sd of the objective (NaN when unknown).

    same plan: the baseline gives every language the plan's pairs; can't tell: the interval
    spans zero (the laws cannot say which plan is better; without draws: a gain of 0);
    baseline better: the interval lies below zero; otherwise the plan is better, and the case
    says whether one model would show it: worth it (gain >= seed sd), hidden by noise (gain <
    seed sd), noise unknown (no seed sd)."""
    if same:
        return "same plan"
    if not math.isfinite(gain):
        return "unknown"
    if math.isfinite(low) and math.isfinite(high):
        if high < 0:
            return "baseline better"
        if low <= 0:
            return "can't tell"
    elif gain < 0:
        return "baseline better"
    elif gain == 0:
        return "can't tell"
    if not math.isfinite(sd):
        return "noise unknown"
    return "worth it" if gain >= sd else "hidden by noise"


def _verdict(case: str, baseline: str, gain: float, low: float, high: float, share: float, sd: float,
             seeds: int | None, digits: int) -> str:
    """The verdict in plain words: the same sentence in report.md, the CLI and Worth.verdict."""
    def f(v, signed=False):
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    sure = math.isfinite(low)
    interval = f" [{f(low, True)}, {f(high, True)}]" if sure else ""
    drawn = f", better in {100 * share:.0f}% of the laws' draws" if sure and math.isfinite(share) else ""
    if case == "same plan":
        return f"Same plan: {baseline} gives every language the same pairs as this plan, so there is nothing to gain."
    if case == "unknown":
        return f"The gain over {baseline} cannot be computed (a language gets no data in one of the plans)."
    if case == "can't tell":
        return (f"Can't tell: the predicted gain over {baseline} is {f(gain, True)}{interval}, an interval that spans "
                f"zero, so the laws cannot say which split is better; {baseline} is as good as this plan as far as the "
                "pilots show.")
    if case == "baseline better":
        return (f"{baseline} is better: the plan's predicted gain over it is {f(gain, True)}{interval}, below zero; "
                f"use {baseline}, or check the plan's objective and constraints.")
    if case == "noise unknown":
        return (f"Better: the plan beats {baseline} by {f(gain)}{interval}{drawn}; the seed noise is unknown (no "
                "repeated pilots), so whether one trained model would show it cannot be said (give seed_sd / --seed-sd).")
    if case == "hidden by noise":
        return (f"Better, but hidden by noise: the plan beats {baseline} by {f(gain)}{interval}{drawn}, less than one "
                f"model's seed noise ({f(sd)}); you would need about {seeds:,} seeds per plan to see it.")
    ratio = f"{gain / sd:.1f} times" if sd > 0 else "far above"
    return (f"Worth it: the plan beats {baseline} by {f(gain)}{interval}{drawn}, {ratio} one model's seed noise "
            f"({f(sd)}); {seeds:,} seeds per plan would show it in a test at 5% with 80% power.")


#: How the regret's sentence begins: report.md's answer bolds it.
REGRET_LABEL = "Expected regret of this plan:"


def regret_note(regret, metric: str, lower: bool, transfer: bool = False) -> str:
    """The plan's expected regret in plain words, the same in report.md's answer and Worth.regret_note
    ("" when it is not known). ``regret``: a budgetlaw.design ExpectedRegret, or None; ``transfer``:
    the laws carry a transfer law that is not zero, which ``budgetlaw next`` does not simulate."""
    if regret is None or not math.isfinite(regret.expected):
        return ""
    d = 3 if lower else 2
    share = _share(regret)
    of = f" ({100 * share:.0f}% of its predicted gain over uniform)" if math.isfinite(share) else ""
    return (f"{REGRET_LABEL} {regret.expected:.{d}f} [{regret.lower:.{d}f}, {regret.upper:.{d}f}] in the summed "
            f"{metric}{of}: under the laws' draws the best plan does that much better on average, so more pilots "
            "could still change the plan by about that much; `budgetlaw next` names the pilot that would cut it most"
            + (" (it reads the one-language laws of the same pilots, so its regret differs)" if transfer else "") + ".")


def _share(regret) -> float:
    """The regret over the plan's predicted gain over uniform (NaN when it gains nothing)."""
    return regret.expected / regret.plan_gain if regret.plan_gain > 0 else math.nan


def _regret_fields(regret, laws, lower: bool) -> dict:
    if regret is None:
        return {}
    metric = getattr(laws, "metric", None) or ("loss" if lower else "score")
    transfer = getattr(laws, "transfer", None)
    moved = transfer is not None and not getattr(transfer, "is_zero", False)
    return {"regret": float(regret.expected), "regret_lower": float(regret.lower), "regret_upper": float(regret.upper),
            "regret_share": float(_share(regret)), "regret_note": regret_note(regret, metric, lower, moved)}


#: ``judge``'s default ``regret``: the plan's expected regret is computed there (None: not known).
_COMPUTE = object()


def worth(laws, plan, baseline, *, seed_sd=None, pilots: pd.DataFrame | None = None, level: float = 0.9,
          spread: SeedSpread | None = None) -> Worth:
    """How much ``plan`` gains over ``baseline`` (a Plan, or a baseline name built at the plan's
    budget under its constraints) and how many seeds it would take to see it (module docstring).

    seed_sd: one model's seed sd, a number or language -> number; else the spread of repeated
    ``pilots`` (default: the pilot points the laws keep); ``spread``: one already computed.
    A plan made from other laws is refused (budgetlaw.plan.check_made_from), as the CLI does."""
    check_made_from(plan, laws)
    return judge(laws, plan, baseline, seed_sd=seed_sd, pilots=pilots, level=level, spread=spread)


def judge(laws, plan, baseline, *, seed_sd=None, pilots: pd.DataFrame | None = None, level: float = 0.9,
          spread: SeedSpread | None = None, regret=_COMPUTE) -> Worth:
    """``worth`` for a plan already checked against ``laws`` (the report checks it once for
    every baseline); ``regret``: the plan's ExpectedRegret at ``level`` (plan_regret) when already
    computed, so that judging many baselines re-plans the draws once (None: not known)."""
    if isinstance(baseline, str):
        plans, notes = resolve_baselines(laws, plan, [baseline])
        if not plans:
            raise InputError(notes[0])
        baseline = plans[0]
    languages = [str(k) for k in plan.sizes.index]
    lower = direction_of(laws)
    sign = -1.0 if lower else 1.0
    weights = _weights(plan, languages)
    unique = (plan.constraints or {}).get("available")  # distinct pairs: repeats beyond them count less
    mine, mine_draws = predict_values(laws, plan.sizes.astype(float), unique)
    theirs, theirs_draws = predict_values(laws, baseline.sizes.reindex(plan.sizes.index).fillna(0.0), unique)
    per_gain = sign * (mine - theirs)
    gain = float(sign * (_objective(plan.objective, mine, weights, lower) - _objective(plan.objective, theirs, weights, lower)))
    q = [(1 - level) / 2, (1 + level) / 2]
    per_low = per_high = np.full(len(languages), math.nan)
    low = high = share = math.nan
    if mine_draws is not None and theirs_draws is not None:
        with np.errstate(invalid="ignore"):
            per_draw = sign * (mine_draws - theirs_draws)  # (n, D): both plans under draw d
            total = sign * (_objective(plan.objective, mine_draws, weights, lower)
                            - _objective(plan.objective, theirs_draws, weights, lower))
        per_low, per_high = np.quantile(per_draw, q, axis=1)
        low, high = (float(v) for v in np.quantile(total, q))
        share = float(np.mean(total > 0))
        if plan.objective == "robust":
            gain = float(total.mean())
    if spread is None:
        if pilots is None and seed_sd is None:
            pilots = _kept_pilots(laws, languages)
        spread = seed_spread(pilots, languages, seed_sd)
    sd = np.array([spread.per_language.get(k, math.nan) for k in languages], dtype=float)
    if plan.objective == "maxmin":
        worst = int(np.argmax(mine) if lower else np.argmin(mine))
        objective_sd, noise = float(sd[worst]), f"seed sd of the worst language ({languages[worst]})"
    elif spread.mean_sd is not None and np.all(weights == weights[0]) and spread.source == "pilots":
        objective_sd = float(weights[0] * len(languages) * spread.mean_sd)
        noise = "pooled seed sd of models scored on every language"
    else:
        objective_sd = float(np.sqrt(np.sum((weights * sd) ** 2)))
        noise = "per-language seed sd, languages taken as independent"
    noise = ("unknown: no repeated pilots; give seed_sd" if spread.source == "none" else
             {"given": "given seed_sd"}.get(spread.source, "repeated pilots") + f", {noise}")
    seeds = _seeds(gain, objective_sd)
    frame = pd.DataFrame({"gain": per_gain, "lower": per_low, "upper": per_high, "seed_sd": sd,
                          "seeds": pd.Series([_seeds(g, s) for g, s in zip(per_gain, sd)], index=languages, dtype=object)},
                         index=pd.Index(languages, name="language"))
    other = baseline.sizes.reindex(plan.sizes.index).fillna(0.0).to_numpy(dtype=float)
    same = bool(np.allclose(plan.sizes.to_numpy(dtype=float), other, rtol=1e-9, atol=1e-9 * max(1.0, plan.budget)))
    case = classify(gain, low, high, objective_sd, same)
    verdict = _verdict(case, baseline.name, gain, low, high, share, objective_sd, seeds, 3 if lower else 2)
    if regret is _COMPUTE:
        regret = plan_regret(laws, plan, level=level)
    return Worth(plan=plan.name, baseline=baseline.name, objective=plan.objective, lower_is_better=lower,
                 level=float(level), gain=gain, lower=low, upper=high, better_share=share, seed_sd=objective_sd,
                 seeds=seeds, verdict=verdict, noise=noise, per_language=frame, case=case,
                 **_regret_fields(regret, laws, lower))


def _kept_pilots(laws, languages) -> pd.DataFrame | None:
    """The pilot points the laws keep (FittedLaw x, y), one row per run."""
    rows = [(lang, x, y) for lang in languages
            for x, y in zip(np.ravel(getattr(laws[lang], "x", [])), np.ravel(getattr(laws[lang], "y", [])))]
    return pd.DataFrame(rows, columns=["language", "size", "score"]) if rows else None


def worth_section(worths: Sequence[Worth], *, markdown_table) -> list[str]:
    """The lines of report.md's "Is the plan worth it?" section (docs/reports.md)."""
    if not worths:
        return []
    first = worths[0]
    d = 3 if first.lower_is_better else 2

    def f(v, signed=False):
        return "-" if v is None or not math.isfinite(v) else (f"{v:+.{d}f}" if signed else f"{v:.{d}f}")

    def span(g, lo, hi):
        return f"{f(g, True)} [{f(lo, True)}, {f(hi, True)}]" if math.isfinite(lo) else f(g, True)

    lines = [
        "## Is the plan worth it?",
        "",
f"Gain in the plan's objective (**{first.objective}**) = "
        + ("baseline minus plan (a lower loss is a gain)" if first.lower_is_better else "plan minus baseline")
        + f", positive when the plan is better, with its paired {first.level:.0%} interval: both plans under the same bootstrap draw, the gain per "
        "draw, then its quantiles. `seed sd` = how much one model's objective moves from seed to seed "
        f"({first.noise}); `seeds per plan` = ((z_0.975 + z_0.8) * sqrt(2) * sd / gain)^2, rounded up (at least 2): "
        "a paired two-sided test at 5% with 80% power, taking the laws' gain as true. A rough guide, not a promise.",
        "",
    ]
    table = pd.DataFrame([{"baseline": w.baseline, f"gain ({w.level:.0%} interval)": span(w.gain, w.lower, w.upper),
                           "plan better in": "-" if not math.isfinite(w.better_share) else f"{100 * w.better_share:.0f}% of draws",
                           "seed sd": f(w.seed_sd),
                           "gain / seed sd": "-" if not (math.isfinite(w.seed_sd) and w.seed_sd > 0)
                           else f"{w.gain / w.seed_sd:.2f}",
                           "seeds per plan": "-" if w.seeds is None else str(w.seeds)} for w in worths])
    lines += [markdown_table(table), ""]
    lines += [f"- **vs {w.baseline}**: {w.verdict}" for w in worths]
    per = pd.DataFrame({"language": list(first.per_language.index),
                        "seed sd": [f(v) for v in first.per_language["seed_sd"]]})
    for w in worths:
        rows = w.per_language.reindex(first.per_language.index)
        per[f"vs {w.baseline}: gain [interval], seeds"] = [
            f"{span(r.gain, r.lower, r.upper)}, {'-' if r.seeds is None else r.seeds}"
            for r in rows.itertuples()]
    lines += ["", "Per language (seeds: to see that language's gain alone; `-`: no gain there, or no noise known):",
              "", markdown_table(per), ""]
    return lines
