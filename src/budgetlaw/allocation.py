"""Allocate a data budget across languages so that the fitted laws predict the best outcome.

Per language i, score_i(x) = C_i - K_i * x**(-c_i). The program (convex: every term is concave):

    maximize   sum_i w_i * score_i(x_i)                        objective="sum" (the paper's)
               min_i score_i(x_i)                              objective="maxmin"
               mean over bootstrap draws of sum_i w_i*score_i   objective="robust"
    subject    sum_i cost_i * x_i <= budget
               floor_i <= x_i <= available_i * max_epochs       (no cap where available is absent)
               any extra linear constraints given as callables

Loss laws (lower_is_better, L_i(x) = E_i + K_i * x**(-c_i)) turn every objective around:
"sum" minimises sum_i w_i*L_i(x_i), "maxmin" minimises the worst (largest) loss max_i L_i(x_i),
"robust" minimises the mean over draws of sum_i w_i*L_i. Internally each loss law is the score
law of -L_i (ceiling -E_i, budgetlaw.direction): maximising sum_i w_i*(-L_i) is the same program
with the same optimality condition w_i*c_i*K_i*x_i**(-c_i-1) = lambda*cost_i, so the exact and
cvxpy paths serve both. Plans report values in the laws' own units (losses as losses); the
marginal value is the improvement per extra unit of budget (for a loss: the objective's decrease).
A set of laws must not mix the two directions.

Defaults: cost_i = 1, w_i = 1, and floor_i = 1e-6 * budget / (n * cost_i) (the law is undefined
at x = 0; this floor costs one millionth of the budget in all, so it never binds in practice and
never makes a problem infeasible).

"maxmin" breaks ties by the plain sum: once the worst score is as high as it can go, any budget
left (there is some when the worst language is at its cap) goes where it adds most in total.

Solvers: without extra constraints every objective is solved exactly by `budgetlaw.exact`
(KKT conditions + bisection on one multiplier; "sum" and "robust" are separable, "maxmin" is a
bisection on the worst score followed by a "sum" solve). Extra constraints go through cvxpy
(CLARABEL, falling back to SCS), written with exponential cones so the exponents c_i are used
exactly (cvxpy's `power` would round them to fractions). The budget constraint's multiplier is
the plan's marginal value.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

import budgetlaw
from budgetlaw import exact
from budgetlaw.bands import intervals
from budgetlaw.convex import solve_cvxpy
from budgetlaw.direction import direction_of
from budgetlaw.errors import InputError
from budgetlaw.limits import parse_size
from budgetlaw.plan import Plan

__all__ = ["OBJECTIVES", "SOLVERS", "DEFAULT_FLOOR_SHARE", "allocate", "sweep", "Problem", "prepare", "make_plan"]

log = logging.getLogger(__name__)

OBJECTIVES = ("sum", "maxmin", "robust")
SOLVERS = ("auto", "exact", "cvxpy")
DEFAULT_FLOOR_SHARE = 1e-6
ROBUST_CHUNK = 2_000_000  # budgets x languages x draws per step of the exact robust solve
@dataclass(frozen=True, eq=False)
class Problem:
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
    draws: list | None  # per language (D_i, 3) arrays of (K, c, ceiling), or None
    weights: np.ndarray
    cost: np.ndarray
    floor: np.ndarray
    cap: np.ndarray  # available * max_epochs, inf where uncapped
    budget: np.ndarray
    available: dict | None
    max_epochs: float
    floor_given: bool
    lower_is_better: bool = False

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


def _law_arrays(laws):
    if not isinstance(laws, Mapping) or len(laws) == 0:
        raise InputError("laws: expected a LawSet or a non-empty dict language -> PowerLaw; fit pilots first (budgetlaw.fit)")
    languages = [str(k) for k in laws]
    items = list(laws.values())
    lower = direction_of(laws)
    sign = -1.0 if lower else 1.0
    try:  # one pass per attribute; the checks below run on whole arrays
        K = np.array([float(law.K) for law in items])
        c = np.array([float(law.c) for law in items])
        C = np.array([float(law.ceiling) for law in items])
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
    return languages, K, c, sign * C, _draws(languages, items, sign), lower  # utility ceiling: -E for a loss


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


def prepare(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None) -> Problem:
    """Validate everything once, at the door. `budget` may be a number or a sequence of budgets."""
    languages, K, c, C, draws, lower = _law_arrays(laws)
    budgets = np.atleast_1d(np.asarray(budget, dtype=object))
    if budgets.ndim != 1 or budgets.size == 0:
        raise InputError(f"budget: expected a number or a 1-D list of numbers, got {budget!r}")
    try:
        budgets = np.array([parse_size(b) if isinstance(b, str) else _number(b, "budget") for b in budgets])
    except InputError as err:
        raise InputError(f"budget: {err}") from None
    for b in budgets:
        if not (math.isfinite(b) and b > 0):
            raise InputError(f"budget is {b!r}; it must be a finite number > 0 (in the laws' units, e.g. examples)")
    epochs = _number(max_epochs, "max_epochs")
    if not (math.isfinite(epochs) and epochs > 0):
        raise InputError(f"max_epochs is {max_epochs!r}; it must be a finite number > 0 (e.g. 1, or 4 to allow repeats)")
    cost_a = _per_language("cost", cost, languages, 1.0)
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
    return Problem(laws, languages, K, c, C, draws, weight_a, cost_a, np.ascontiguousarray(floors), cap, budgets,
                   avail_d, epochs, floor is not None, lower)


def objective_values(problem: Problem, x: np.ndarray, objective: str) -> np.ndarray:
    """Objective at sizes x of shape (nb, n) -> (nb,), in the laws' units: sum_i w_i*value_i,
    the worst value (min score, max loss), or the mean over draws of sum_i w_i*value_i."""
    x = np.atleast_2d(x)
    if objective == "robust":
        terms = np.stack([(d[None, :, 2] - d[None, :, 0] * x[:, [i]] ** (-d[None, :, 1])).mean(axis=1)
                          for i, d in enumerate(problem.draws)], axis=1)
        return problem.sign * (problem.weights * terms).sum(axis=1)
    utility = problem.ceiling - problem.K * x ** (-problem.c)
    if objective == "maxmin":
        return problem.sign * utility.min(axis=1)
    return problem.sign * (problem.weights * utility).sum(axis=1)


def make_plan(problem: Problem, x, *, name, objective, marginal_value, solver, level=0.9, row=0,
              extra=0, settings=None) -> Plan:
    """Wrap sizes x (n,) into a Plan: predicted scores (with intervals when laws carry draws),
    objective value, budget accounting and a signature."""
    x = np.asarray(x, dtype=float)
    langs = problem.languages
    score = problem.sign * (problem.ceiling - problem.K * x ** (-problem.c))  # the law's value (a loss for loss laws)
    lower, upper = intervals(list(problem.laws.values()), x, level)  # one pass, not a quantile per language
    budget = float(problem.budget[row])
    used = float((problem.cost * x).sum())
    unused = budget - used
    if unused <= 1e-9 * budget:  # binding up to roundoff (or a solver's tolerance)
        unused = 0.0
    signature = {
        "budgetlaw": budgetlaw.__version__,
        "numpy": np.__version__,
        "objective": objective,
        "level": level,
        "metric": getattr(problem.laws, "metric", None),
        "laws": getattr(problem.laws, "signature", None),
        **(settings or {}),
    }
    index = pd.Index(langs, name="language")
    return Plan(
        name=name,
        sizes=pd.Series(x, index=index, name="size"),
        predicted=pd.DataFrame({"score": score, "lower": lower, "upper": upper}, index=index),
        objective=objective,
        objective_value=float(objective_values(problem, x[None], objective)[0]),
        budget=budget,
        used_budget=used,
        unused_budget=unused,
        marginal_value=float(marginal_value),
        constraints=problem.constraints_dict(row, extra),
        solver=solver,
        signature=signature,
        lower_is_better=problem.lower_is_better,
    )


def _check_choice(objective, solver, constraints, problem):
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} is unknown; choose one of {list(OBJECTIVES)}")
    if solver not in SOLVERS:
        raise InputError(f"solver {solver!r} is unknown; choose one of {list(SOLVERS)}")
    if objective == "robust" and problem.draws is None:
        raise InputError("objective 'robust' needs bootstrap draws; fit the laws with n_boot > 0 (plain PowerLaws have none)")
    if objective == "maxmin" and np.ptp(problem.weights) > 0:
        raise InputError("weights do not apply to objective 'maxmin' (it improves the worst language); drop weights or use 'sum'")
    extras = _constraint_list(constraints)
    use_exact = not extras
    if solver == "exact" and not use_exact:
        raise InputError("solver 'exact' does not take extra constraints; use solver='cvxpy' or 'auto'")
    return extras, (use_exact if solver == "auto" else solver == "exact")


def _constraint_list(constraints):
    if constraints is None:
        return []
    items = [constraints] if callable(constraints) else list(constraints)
    for i, item in enumerate(items):
        if not callable(item):
            raise InputError(f"constraints[{i}] is {type(item).__name__}; give callables x -> cvxpy constraint, "
                             "where x maps language -> cvxpy expression")
    return items


def _solve_exact(problem: Problem, objective: str):
    t0 = time.perf_counter()
    args = (problem.weights, problem.cost, problem.floor, problem.cap, problem.budget)
    if objective == "robust":
        # Each step works on (budgets, languages, draws) arrays: solve in chunks of budgets so
        # a long sweep with many draws stays within a few tens of MB.
        Kd, cd, counts = exact.pad_draws(problem.draws)
        step = max(1, int(ROBUST_CHUNK // Kd.size))
        parts = [exact.solve_robust(Kd, cd, counts, problem.weights, problem.cost, problem.floor[i:i + step],
                                    problem.cap, problem.budget[i:i + step]) for i in range(0, problem.budget.size, step)]
        sol = exact.ExactSolution(np.concatenate([p.x for p in parts]), np.concatenate([p.lam for p in parts]),
                                  max(p.iterations for p in parts))
    elif objective == "maxmin":
        sol = exact.solve_maxmin(problem.K, problem.c, problem.ceiling, *args[1:])
    else:
        sol = exact.solve_sum(problem.K, problem.c, *args)
    info = {"method": "exact", "status": "optimal", "time_s": time.perf_counter() - t0, "iterations": sol.iterations}
    return sol.x, sol.lam, info


def allocate(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None,
             objective="sum", constraints=None, solver="auto", level=0.9) -> Plan:
    """Best sizes per language under the budget; see the module docstring for the program.

    laws: LawSet or dict language -> PowerLaw. Per-language arguments (available, floor, cost,
    weights) are dicts or Series keyed by language, or one number for all; a language missing
    from `available` has no cap. constraints: callables x -> cvxpy constraint(s), x a dict
    language -> cvxpy expression for x_i. solver: "auto" (exact when it applies), "exact",
    "cvxpy". level: coverage of the predicted-score intervals.
    """
    problem = prepare(laws, budget, available=available, max_epochs=max_epochs, floor=floor, cost=cost, weights=weights)
    if problem.budget.size != 1:
        raise InputError("allocate takes one budget; use sweep(laws, budgets) for many")
    if not 0 < float(level) < 1:
        raise InputError(f"level is {level!r}; give the interval coverage as a number in (0, 1), e.g. 0.9")
    extras, use_exact = _check_choice(objective, solver, constraints, problem)
    if use_exact:
        x, lam, info = _solve_exact(problem, objective)
        x, lam = x[0], float(lam[0])
    else:
        x, lam, info = solve_cvxpy(problem, objective, extras)
    plan = make_plan(problem, x, name="optimised", objective=objective, marginal_value=lam, solver=info,
                     level=level, extra=len(extras), settings={"solver": solver})
    if plan.unused_budget > 0:
        log.info("every language is at its cap; %g of the budget %g is left unused", plan.unused_budget, plan.budget)
    return plan


def sweep(laws, budgets, **kwargs) -> pd.DataFrame:
    """The frontier: allocate at each budget. Long form, one row per (budget, language), with
    columns budget, language, size, score (the law's value: a loss for loss laws), objective_value,
    marginal_value. The exact path
    solves all budgets in one vectorised pass."""
    objective = kwargs.get("objective", "sum")
    solver = kwargs.get("solver", "auto")
    unknown = set(kwargs) - {"available", "max_epochs", "floor", "cost", "weights", "objective", "constraints", "solver", "level"}
    if unknown:
        raise InputError(f"sweep: unknown argument(s) {sorted(unknown)}; it takes the keyword arguments of allocate")
    shared = {k: kwargs.get(k) for k in ("available", "floor", "cost", "weights")}
    problem = prepare(laws, budgets, max_epochs=kwargs.get("max_epochs", 1), **shared)
    extras, use_exact = _check_choice(objective, solver, kwargs.get("constraints"), problem)
    if use_exact:
        x, lam, _ = _solve_exact(problem, objective)
        values = objective_values(problem, x, objective)
    else:
        from tqdm.auto import tqdm

        plans = [allocate(laws, b, **kwargs) for b in tqdm(problem.budget, desc="sweep", unit="budget", disable=None)]
        x = np.array([p.sizes.to_numpy() for p in plans])
        lam = np.array([p.marginal_value for p in plans])
        values = np.array([p.objective_value for p in plans])
    nb, n = x.shape
    scores = problem.sign * (problem.ceiling - problem.K * x ** (-problem.c))
    return pd.DataFrame({
        "budget": np.repeat(problem.budget, n),
        "language": np.tile(problem.languages, nb),
        "size": x.ravel(),
        "score": scores.ravel(),
        "objective_value": np.repeat(values, n),
        "marginal_value": np.repeat(lam, n),
    })
