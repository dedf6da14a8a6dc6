"""Solve the allocation and wrap the answer into a Plan: ``allocate`` (one budget), ``sweep``
(the frontier over many budgets) and ``make_plan`` (shared with the baselines).

The exact path (budgetlaw.allocation.exact) solves every objective without extra constraints;
extra constraints, or solver="cvxpy", go through budgetlaw.allocation.convex; a transfer law
with T != 0 (or with repeats beyond `available`) through budgetlaw.allocation.transfer. See
budgetlaw.allocation for the program.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from budgetlaw import __version__
from budgetlaw.allocation.convex import solve_cvxpy
from budgetlaw.allocation.effective import active, effective_sizes, repeats, unique_of
from budgetlaw.allocation.exact import ExactSolution, pad_draws, solve_maxmin, solve_robust, solve_sum
from budgetlaw.allocation.problem import OBJECTIVES, SOLVERS, AllocationProblem, objective_values, prepare
from budgetlaw.allocation.transfer import solve_transfer
from budgetlaw.bands import check_level, intervals
from budgetlaw.errors import InputError
from budgetlaw.plan import Plan
from budgetlaw.transfer.prediction import predict

__all__ = ["allocate", "sweep", "make_plan", "ROBUST_CHUNK"]

log = logging.getLogger(__name__)

ROBUST_CHUNK = 2_000_000  # budgets x languages x draws per step of the exact robust solve


def make_plan(problem: AllocationProblem, x, *, name, objective, marginal_value, solver, level=0.9, row=0,
              extra=0, settings=None) -> Plan:
    """Wrap sizes x (n,) into a Plan: predicted scores (with intervals when laws carry draws),
    objective value, budget accounting and a signature."""
    x = np.asarray(x, dtype=float)
    langs = problem.languages
    if active(problem):  # every language at its effective data, the interval over draws of the laws and T
        table = predict(problem.laws, dict(zip(langs, x)), unique=problem.available, level=level)
        score, lower, upper = (table[col].to_numpy() for col in ("predicted", "lower", "upper"))
    else:
        score = problem.sign * (problem.ceiling - problem.K * x ** (-problem.c))  # the law's value (a loss for loss laws)
        lower, upper = intervals(list(problem.laws.values()), x, level,  # one pass, not a quantile per language
                                 stacked=getattr(problem.laws, "stacked_draws", None))
    budget = float(problem.budget[row])
    used = float((problem.cost * x).sum())
    unused = budget - used
    if unused <= 1e-9 * budget:  # binding up to roundoff (or a solver's tolerance)
        unused = 0.0
    signature = {
        "budgetlaw": __version__,
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
    """The extra constraints as a list, and whether the exact path solves the problem."""
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} is unknown; choose one of {list(OBJECTIVES)}")
    if solver not in SOLVERS:
        raise InputError(f"solver {solver!r} is unknown; choose one of {list(SOLVERS)}")
    if objective == "robust" and problem.draws is None:
        raise InputError("objective 'robust' needs bootstrap draws; fit the laws with n_boot > 0 (plain PowerLaws have none)")
    if objective == "maxmin" and np.ptp(problem.weights) > 0:
        raise InputError("weights do not apply to objective 'maxmin' (it improves the worst language); drop weights or use 'sum'")
    extras = _constraint_list(constraints)
    # one-language laws with repeats have an exact solution too (budgetlaw.allocation.exact)
    transfer_law = active(problem) and not problem.repeats_only
    use_exact = not extras and not transfer_law
    if solver == "exact" and transfer_law:
        raise InputError("solver 'exact' solves laws without transfer only (one-language laws, repeats or not); this law has a "
                         "transfer matrix (or its own R* for repeats beyond `available`): use solver='cvxpy' or 'auto'")
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


def _solve_exact(problem: AllocationProblem, objective: str):
    t0 = time.perf_counter()
    args = (problem.weights, problem.cost, problem.floor, problem.cap, problem.budget)
    # repeats of one-language laws: e = eff(x) beyond the distinct pairs, R* of the zero transfer
    rep = (unique_of(problem), problem.transfer.rstar) if problem.repeats_only else (None, None)
    if objective == "robust":
        # Each step works on (budgets, languages, draws) arrays: solve in chunks of budgets so
        # a long sweep with many draws stays within a few tens of MB.
        Kd, cd, counts = pad_draws(problem.draws)
        step = max(1, int(ROBUST_CHUNK // Kd.size))
        parts = [solve_robust(Kd, cd, counts, problem.weights, problem.cost, problem.floor[i:i + step],
                              problem.cap, problem.budget[i:i + step], *rep) for i in range(0, problem.budget.size, step)]
        sol = ExactSolution(np.concatenate([p.x for p in parts]), np.concatenate([p.lam for p in parts]),
                            max(p.iterations for p in parts))
    elif objective == "maxmin":
        sol = solve_maxmin(problem.K, problem.c, problem.ceiling, *args[1:], *rep)
    else:
        sol = solve_sum(problem.K, problem.c, *args, *rep)
    info = {"method": "exact", "status": "optimal", "time_s": time.perf_counter() - t0, "iterations": sol.iterations}
    if problem.repeats_only:
        info.update(repeats=[lang for lang, r in zip(problem.languages, repeats(problem)) if r],
                    rstar=problem.transfer.rstar)
    return sol.x, sol.lam, info


def allocate(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None,
             objective="sum", constraints=None, solver="auto", level=0.9) -> Plan:
    """Best sizes per language under the budget; see budgetlaw.allocation for the program.

    laws: LawSet or dict language -> PowerLaw. Per-language arguments (available, floor, cost,
    weights) are dicts or Series keyed by language, or one number for all; a language missing
    from `available` has no cap. constraints: callables x -> cvxpy constraint(s), x a dict
    language -> cvxpy expression for x_i. solver: "auto" (exact when it applies), "exact",
    "cvxpy". level: coverage of the predicted-score intervals.
    """
    problem = prepare(laws, budget, available=available, max_epochs=max_epochs, floor=floor, cost=cost, weights=weights)
    if problem.budget.size != 1:
        raise InputError("allocate takes one budget; use sweep(laws, budgets) for many")
    check_level(level, "allocate")
    extras, use_exact = _check_choice(objective, solver, constraints, problem)
    if use_exact:
        x, lam, info = _solve_exact(problem, objective)
        x, lam = x[0], float(lam[0])
    elif active(problem):
        x, lam, info = solve_transfer(problem, objective, extras)
    else:
        x, lam, info = solve_cvxpy(problem, objective, extras)
    plan = make_plan(problem, x, name="optimised", objective=objective, marginal_value=lam, solver=info,
                     level=level, extra=len(extras), settings={"solver": solver})
    if plan.unused_budget > 0:
        log.info("every language is at its cap; %g of the budget %g is left unused", plan.unused_budget, plan.budget)
    return plan


def sweep(laws, budgets, *, available=None, max_epochs=1, floor=None, cost=None, weights=None,
          objective="sum", constraints=None, solver="auto", level=0.9) -> pd.DataFrame:
    """The frontier: allocate at each budget (the keyword arguments are allocate's).

    Long form, one row per (budget, language), with columns budget, language, size, score (the
    law's value: a loss for loss laws), objective_value, marginal_value. The exact path solves
    all budgets in one vectorised pass; the cvxpy path (extra constraints, or solver="cvxpy")
    calls allocate once per budget.
    """
    shared = dict(available=available, floor=floor, cost=cost, weights=weights)
    problem = prepare(laws, budgets, max_epochs=max_epochs, **shared)
    check_level(level, "sweep")
    extras, use_exact = _check_choice(objective, solver, constraints, problem)
    if use_exact:
        x, lam, _ = _solve_exact(problem, objective)
        values = objective_values(problem, x, objective)
    else:
        from tqdm.auto import tqdm

        plans = [allocate(laws, b, max_epochs=max_epochs, objective=objective, constraints=constraints, solver=solver,
                          level=level, **shared)
                 for b in tqdm(problem.budget, desc="sweep", unit="budget", disable=None)]
        x = np.array([p.sizes.to_numpy() for p in plans])
        lam = np.array([p.marginal_value for p in plans])
        values = np.array([p.objective_value for p in plans])
    nb, n = x.shape
    if use_exact:  # at the effective data where pairs repeat (one-language laws: d = eff(x))
        d = effective_sizes(problem, x) if active(problem) else x
        scores = problem.sign * (problem.ceiling - problem.K * d ** (-problem.c))
    else:  # the plans' own predictions: under a transfer law, at the effective data
        scores = np.array([p.predicted["score"].to_numpy() for p in plans])
    return pd.DataFrame({
        "budget": np.repeat(problem.budget, n),
        "language": np.tile(problem.languages, nb),
        "size": x.ravel(),
        "score": scores.ravel(),
        "objective_value": np.repeat(values, n),
        "marginal_value": np.repeat(lam, n),
    })
