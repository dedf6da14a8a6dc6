"""The allocation problem: validated inputs as arrays, and the objective every plan is judged by.

Per language i, score_i(x) = C_i - K_i * x**(-c_i) (a loss law, lower is better, is handled as
the score law of -L_i: ceiling -E_i, budgetlaw.direction). ``prepare`` checks every input once
and returns an AllocationProblem; ``objective_at`` is the one definition of the objectives
("sum", "maxmin", "robust"), used by the solvers' plans and by the report alike. The program
itself is described in budgetlaw.allocation.

Defaults: cost_i = 1, w_i = 1, and floor_i = 1e-6 * budget / (n * cost_i) (the law is undefined
at x = 0; this floor costs one millionth of the budget in all, so it never binds in practice and
never makes a problem infeasible).
"""


from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from budgetlaw.allocation.effective import active, effective_sizes
from budgetlaw.direction import direction_of
from budgetlaw.errors import InputError
from budgetlaw.law import parameter_arrays
from budgetlaw.limits import check_cost_spread, parse_size
from budgetlaw.transfer.law import DEFAULT_RSTAR, Transfer

__all__ = ["OBJECTIVES", "SOLVERS", "DEFAULT_FLOOR_SHARE", "AllocationProblem", "prepare", "law_arrays",
           "objective_at", "objective_values"]

log = logging.getLogger(__name__)

OBJECTIVES = ("sum", "maxmin", "robust")
SOLVERS = ("auto", "exact", "cvxpy")
DEFAULT_FLOOR_SHARE = 1e-6


@dataclass(frozen=True, eq=False)
class AllocationProblem:
    """Validated inputs, as arrays in the order of `languages`. budget: (nb,); floor: (nb, n).

    ``ceiling`` and the draws' third column are the *utility* ceilings: C_i for a score law,
    -E_i for a loss law, so that utility_i(x) = ceiling_i - K_i*x**(-c_i) = sign * value_i(x)
    is maximised either way (sign = +1 for scores, -1 for losses).
    """

    laws: Mapping
    languages: list
    K: np.ndarray
    c: np.ndarray
    ceiling: np.ndarray
    draw_laws: list = field(repr=False)  # the laws in the order of `languages`, for `draws`
    weights: np.ndarray
    cost: np.ndarray
    floor: np.ndarray
    cap: np.ndarray  # available * max_epochs, inf where uncapped
    budget: np.ndarray
    available: dict | None
    max_epochs: float
    floor_given: bool
    lower_is_better: bool = False
    # the laws' budgetlaw.transfer.law.Transfer in the order of `languages`, or None (T = 0);
    # for one-language laws whose plan can repeat pairs, the zero transfer with the default R*
    # (``repeats_only``): repeats count at the data-constrained value, as under a transfer law
    transfer: object | None = None
    repeats_only: bool = False

    @cached_property
    def draws(self) -> list | None:
        """Per language (D_i, 3) arrays of (K, c, utility ceiling) bootstrap draws, or None when a
        law has none. Stacked on first use: only the robust objective needs them, and stacking
        thousands of draw arrays costs more than the solve."""
        return _draws(self.languages, self.draw_laws, self.sign)

    @property
    def sign(self) -> float:
        """+1 for score laws, -1 for loss laws: value = sign * utility."""
        return -1.0 if self.lower_is_better else 1.0

    def constraints_dict(self, row: int = 0, extra: int = 0) -> dict:
        epochs = int(self.max_epochs) if float(self.max_epochs).is_integer() else self.max_epochs
        return {
            "available": self.available,
            "max_epochs": epochs,
            "floor": dict(zip(self.languages, map(float, self.floor[row]))),
            "floor_default": None if self.floor_given else f"{DEFAULT_FLOOR_SHARE:g} * budget / (n * cost)",
            "cost": dict(zip(self.languages, map(float, self.cost))),
            "weights": dict(zip(self.languages, map(float, self.weights))),
            "extra": extra,
        }


def _number(value, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} is {value!r}; give a number") from None


def _positive(value, name: str, example: str, *, size: bool = False) -> float:
    """``value`` as a finite number > 0 (text such as "1.2M" read by parse_size where ``size``):
    the one check of a budget and of max_epochs, whose message names ``name`` and ``example``."""
    if size and isinstance(value, str):
        try:
            number = parse_size(value)
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
    else:
        number = _number(value, name)
    if not (math.isfinite(number) and number > 0):
        shown = value if type(value) in (str, int, float) else number  # as written; a numpy scalar as a float
        raise InputError(f"{name} is {shown!r}; it must be a finite number > 0 ({example})")
    return number


def _per_language(name, value, languages, default, *, allow_zero=False, allow_inf=False):
    """Scalar, dict or Series keyed by language -> array in language order (default fills gaps)."""
    out = np.full(len(languages), default, dtype=float)
    if value is None:
        return out
    if isinstance(value, pd.Series):
        value = value.to_dict()
    if isinstance(value, Mapping):
        known = set(languages)  # a set: a list made this check quadratic in the number of languages
        unknown = [str(k) for k in value if str(k) not in known]
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            covered = ", ".join(list(languages)[:8]) + (f", ... ({len(languages)} in all)" if len(languages) > 8 else "")
            raise InputError(
                f"{name}: language(s) {shown} have no law (laws cover {covered}); "
                f"drop them from {name} or fit laws for them"
            )
        items = {str(k): v for k, v in value.items()}
    else:
        items = dict.fromkeys(languages, value)
    # Whole arrays at once; the slow per-language path runs only to name an offending entry.
    given = [i for i, lang in enumerate(languages) if lang in items]
    raw = [items[languages[i]] for i in given]
    try:
        numbers = np.array([float(v) for v in raw], dtype=float)
    except (TypeError, ValueError):
        for i, v in zip(given, raw):
            _number(v, f"{name}[{languages[i]}]")
        raise
    with np.errstate(invalid="ignore"):
        bad = np.isnan(numbers) | (numbers < 0) | ((numbers == 0) & (not allow_zero)) | (np.isinf(numbers) & (not allow_inf))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        need = ("a number >= 0" if allow_zero else "a number > 0") + ("" if allow_inf else ", finite")
        raise InputError(f"{name}[{languages[given[k]]}] is {raw[k]!r}; it must be {need}")
    out[given] = numbers
    return out


def law_arrays(laws, *, with_draws: bool = True):
    """Validated arrays of a set of laws, in their order: (languages, K, c, utility ceiling,
    draws, lower_is_better). The utility ceiling is C_i for a score law and -E_i for a loss law;
    draws: per language (D_i, 3) arrays of (K, c, utility ceiling), or None when a law has none
    (or ``with_draws`` is False: stacking thousands of draw arrays is not free)."""
    if not isinstance(laws, Mapping) or len(laws) == 0:
        raise InputError("laws: expected a LawSet or a non-empty dict language -> PowerLaw; fit pilots first (budgetlaw.fit)")
    languages = [str(k) for k in laws]
    items = list(laws.values())
    known = getattr(laws, "lower_is_better", None)  # a LawSet checked its direction when it was made
    lower = known if isinstance(known, bool) else direction_of(laws)
    sign = -1.0 if lower else 1.0
    try:  # one pass per attribute (read once by a LawSet); the checks below run on whole arrays
        cached = getattr(laws, "law_parameters", None)
        K, c, C = cached if isinstance(cached, tuple) else parameter_arrays(items)
    except (AttributeError, TypeError, ValueError):
        for lang, law in zip(languages, items):
            try:
                float(law.K), float(law.c), float(law.ceiling)
            except (AttributeError, TypeError, ValueError):
                raise InputError(f"laws[{lang}]: {type(law).__name__} is not a law (needs K, c, ceiling)") from None
        raise
    bad = ~(np.isfinite(K) & (K >= 0) & np.isfinite(c) & (c > 0) & np.isfinite(C))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"laws[{languages[i]}]: K={K[i]}, c={c[i]}, ceiling={C[i]}; need K >= 0, c > 0, all finite; "
                         "refit this language")
    draws = _draws(languages, items, sign) if with_draws else None
    return languages, K, c, sign * C, draws, lower  # utility ceiling: -E for a loss


def _draws(languages, items, sign):
    """Per language (D_i, 3) arrays of valid (K, c, utility ceiling) draws, or None when a law has
    none. Laws with the same number of draws are checked together (a loop of small numpy calls
    per language cost more than the solve at thousands of languages)."""
    raw = [getattr(law, "draws", None) for law in items]
    if any(d is None for d in raw):
        return None
    raw = [np.asarray(d, dtype=float).reshape(-1, 3) for d in raw]
    groups: dict[int, list[int]] = {}
    for i, d in enumerate(raw):
        groups.setdefault(len(d), []).append(i)
    draws: list = [None] * len(raw)
    for members in groups.values():
        stacked = np.stack([raw[i] for i in members]) * [1.0, 1.0, sign]  # (m, D, 3)
        ok = np.isfinite(stacked).all(axis=2) & (stacked[..., 0] >= 0) & (stacked[..., 1] > 0)
        clean = ok.all(axis=1)
        for row, i in enumerate(members):
            if clean[row]:
                draws[i] = stacked[row]
            else:
                log.warning("laws[%s]: ignoring %d of %d bootstrap draws that are not valid laws",
                            languages[i], (~ok[row]).sum(), len(raw[i]))
                draws[i] = stacked[row][ok[row]]
    if any(len(d) == 0 for d in draws):
        return None
    return draws


def prepare(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None) -> AllocationProblem:
    """Validate everything once, at the door. `budget` may be a number or a sequence of budgets."""
    languages, K, c, C, _, lower = law_arrays(laws, with_draws=False)
    items = list(laws.values())  # the order of `languages`
    budgets = np.atleast_1d(np.asarray(budget, dtype=object))
    if budgets.ndim != 1 or budgets.size == 0:
        raise InputError(f"budget: expected a number or a 1-D list of numbers, got {budget!r}")
    budgets = np.array([_positive(b, "budget", "in the laws' units, e.g. examples", size=True) for b in budgets])
    epochs = _positive(max_epochs, "max_epochs", "e.g. 1, or 4 to allow repeats")
    cost_a = _per_language("cost", cost, languages, 1.0)
    check_cost_spread(dict(zip(languages, cost_a.tolist())), "allocate")
    weight_a = _per_language("weights", weights, languages, 1.0, allow_zero=True)
    if not (weight_a > 0).any():
        raise InputError("weights: every weight is 0; give at least one language a positive weight")
    avail_a = _per_language("available", available, languages, np.inf, allow_inf=True)
    cap = avail_a * epochs
    n = len(languages)
    floors = np.minimum(DEFAULT_FLOOR_SHARE * budgets[:, None] / (n * cost_a), cap)
    if floor is not None:  # a floor of 0 (or a language left out) keeps the default
        given = _per_language("floor", floor, languages, 0.0, allow_zero=True)
        for k in np.flatnonzero(given > cap):
            lang, f, top = languages[k], given[k], cap[k]
            if f > top:
                raise InputError(f"floor[{lang}] = {f:g} is above its cap available*max_epochs = {top:g}; "
                                 f"lower the floor or raise available/max_epochs for {lang}")
        floors = np.where(given > 0, given, floors)
    spent = (floors * cost_a).sum(axis=1)
    for b, s in zip(budgets, spent):
        if s > b:
            raise InputError(f"floors alone cost {s:g} but the budget is {b:g}; lower the floors or raise the budget")
    if available is None:
        avail_d = None
    else:
        avail_d = {lang: float(a) for lang, a in zip(languages, avail_a) if math.isfinite(a)}
    transfer = getattr(laws, "transfer", None)
    repeats_only = False
    if transfer is not None:  # a language the transfer law never scored is refused here
        transfer = transfer.reorder(languages, where="allocate")
    elif (np.isfinite(avail_a) & (cap > avail_a * (1 + 1e-12))).any():
        transfer, repeats_only = _repeat_transfer(languages, items), True
    return AllocationProblem(laws, languages, K, c, C, items, weight_a, cost_a, np.ascontiguousarray(floors), cap, budgets,
                             avail_d, epochs, floor is not None, lower, transfer, repeats_only)


def _repeat_transfer(languages, items):
    """The one-language law as the transfer law with T = 0 and R* = DEFAULT_RSTAR in the fit and
    in each of its D bootstrap draws (D = the fewest draws of any law, 0 when one has none), so
    that every reader of a problem's effective data (the objective, the plans' predictions, the
    cvxpy program) prices repeats as budgetlaw.transfer.law's eff does."""
    counts = [len(d) if (d := getattr(item, "draws", None)) is not None else 0 for item in items]
    D = min(counts) if counts else 0
    return Transfer("none", tuple(languages), np.zeros(0), DEFAULT_RSTAR, False, np.full((D, 1), DEFAULT_RSTAR),
                    {"one_language": "repeats priced at the default R*"})


def objective_at(objective: str, x, *, K, c, ceiling, weights, sign: float, draws=None,
                 per_draw: bool = False) -> np.ndarray:
    """The allocation objective at sizes ``x``, in the laws' units (value = sign * utility,
    utility_i(x) = ceiling_i - K_i * x**(-c_i); ceiling is the utility ceiling of law_arrays):

        sum      sum_i w_i * value_i(x_i)
        maxmin   the worst value: min_i score_i, or max_i loss_i (= sign * min_i utility_i)
        robust   mean over draws d of sum_i w_i * value_id(x_i), each language's mean taken over
                 its own D_i draws (draws: per language (D_i, 3) rows of K, c, utility ceiling)

    x: (nb, n) -> (nb,). With ``per_draw`` x is (n,) and the result (D,), D = min_i D_i: the
    objective under draw d of every language taken together (the laws' draws are indexed
    alike), "robust" scored as "sum" per draw; this is what a gain's interval is taken over.
    x may also be (D', n), one row per draw (a transfer law's effective data under each draw,
    budgetlaw.allocation.transfer.effective_sizes): then D = min(D', min_i D_i).
    """
    if per_draw:
        xs = np.asarray(x, dtype=float)
        n = min(min(len(d) for d in draws), len(xs) if xs.ndim == 2 else np.inf)
        n = int(n)
        Kd, cd, Cd = (np.stack([d[:n, k] for d in draws], axis=1) for k in range(3))  # (D, n)
        utility = Cd - Kd * (xs[:n] if xs.ndim == 2 else xs[None, :]) ** (-cd)
        if objective == "maxmin":
            return sign * utility.min(axis=1)
        return sign * (utility @ weights)
    x = np.atleast_2d(x)
    if objective == "robust":
        terms = np.stack([(d[None, :, 2] - d[None, :, 0] * x[:, [i]] ** (-d[None, :, 1])).mean(axis=1)
                          for i, d in enumerate(draws)], axis=1)
        return sign * (weights * terms).sum(axis=1)
    utility = ceiling - K * x ** (-c)
    if objective == "maxmin":
        return sign * utility.min(axis=1)
    return sign * (weights * utility).sum(axis=1)


def objective_values(problem: AllocationProblem, x: np.ndarray, objective: str) -> np.ndarray:
    """Objective (see objective_at) at sizes x of shape (nb, n) -> (nb,), in the laws' units;
    under a transfer law at the effective data (budgetlaw.allocation.transfer)."""
    if active(problem):  # every law at its effective data; "robust" pairs draw d of the laws and of T
        if objective != "robust":
            x = effective_sizes(problem, x)
        else:
            return np.array([objective_at("sum", effective_sizes(problem, row, per_draw=True), K=problem.K,
                                          c=problem.c, ceiling=problem.ceiling, weights=problem.weights,
                                          sign=problem.sign, draws=problem.draws, per_draw=True).mean()
                             for row in np.atleast_2d(x)])
    return objective_at(objective, x, K=problem.K, c=problem.c, ceiling=problem.ceiling, weights=problem.weights,
                        sign=problem.sign, draws=problem.draws if objective == "robust" else None)
