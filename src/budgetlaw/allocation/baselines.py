"""Baseline plans that do not look at the laws' shapes, under the same constraints as `allocate`.

Every baseline spreads the budget in fixed proportions r_i and water-fills:

    x_i(t) = clip(t * r_i, floor_i, cap_i),   t chosen so that sum_i cost_i * x_i(t) = budget

so a language that hits its cap (available_i * max_epochs) hands its surplus to the others in
proportion to their r_i. sum_i cost_i*x_i(t) is piecewise linear in t, so t is found exactly from
the sorted breakpoints floor_i/r_i, cap_i/r_i. When every cap fits, the plan is the caps and the
rest of the budget is reported as unused.

    uniform       r_i = 1                        equal size per language
    proportional  r_i = n_i                      n_i = available_i (the natural distribution)
    temperature   r_i = n_i ** (1 / tau)         tau = 1 proportional, tau -> inf uniform
    unimax        r_i = 1 / cost_i               equal *spend* per language, capped at max_epochs
                                                 epochs of each language's data

UniMax (Chung et al. 2023, "UniMax: Fairer and more effective language sampling for large-scale
multilingual pretraining") walks the languages from the smallest to the largest, giving each
min(remaining budget / remaining languages, max_epochs * n_i); that loop is exactly the
water-filling above with equal spend, which is how it is computed here.

Baseline plans carry objective "sum" (sum_i w_i*score_i evaluated at their sizes) so that
`Plan.compare` puts them on the same scale as the optimised plan; marginal_value is NaN.
"""

from __future__ import annotations

import math
import time

import numpy as np

from budgetlaw.allocation.optimise import make_plan
from budgetlaw.allocation.problem import AllocationProblem, prepare
from budgetlaw.bands import check_level
from budgetlaw.errors import InputError
from budgetlaw.plan import Plan

__all__ = ["NAMES", "uniform", "proportional", "temperature", "unimax", "water_fill", "sizes_at"]

#: The baselines, in the order reports and the command line list them.
NAMES = ("uniform", "proportional", "temperature", "unimax")


def water_fill(r, lo, hi, cost, budget):
    """x_i = clip(t*r_i, lo_i, hi_i) with sum(cost*x) = budget, or x = hi if all caps fit.

    r > 0, 0 < lo <= hi (hi may be inf), sum(cost*lo) <= budget. Returns (x, t)."""
    r, lo, hi, cost = (np.asarray(v, dtype=float) for v in (r, lo, hi, cost))
    if (cost * hi).sum() <= budget:
        return hi.copy(), math.inf

    def spend(t):
        return (cost * np.clip(t * r, lo, hi)).sum()

    points = np.concatenate([[0.0], lo / r, hi[np.isfinite(hi)] / r[np.isfinite(hi)]])
    points = np.unique(points)
    # spend(t) is non-decreasing (so is its floating-point sum), so the first breakpoint that
    # reaches the budget is found by bisection over the breakpoints: O(n log n), where
    # evaluating spend at every breakpoint was O(n^2) (seconds at 10,000 languages).
    last = spend(points[-1])
    if last >= budget:
        lo_k, hi_k = 0, len(points) - 1  # spend(points[hi_k]) >= budget
        while lo_k < hi_k:
            mid = (lo_k + hi_k) // 2
            if spend(points[mid]) >= budget:
                hi_k = mid
            else:
                lo_k = mid + 1
        k = hi_k
        if k == 0:
            t = points[0]
        else:  # spend is linear between consecutive breakpoints
            before, after = spend(points[k - 1]), spend(points[k])
            t = points[k - 1] + (budget - before) * (points[k] - points[k - 1]) / (after - before)
    else:  # past every breakpoint only the uncapped languages still grow, linearly
        slope = (cost * r)[~np.isfinite(hi)].sum()
        t = points[-1] + (budget - last) / slope
    return np.clip(t * r, lo, hi), float(t)


def _baseline(problem: AllocationProblem, r, name, settings, level) -> Plan:
    t0 = time.perf_counter()
    x, fill = water_fill(r, problem.floor[0], problem.cap, problem.cost, float(problem.budget[0]))
    solver = {"method": "water-filling", "status": "optimal", "time_s": time.perf_counter() - t0,
              "iterations": 0, "fill_level": fill if math.isfinite(fill) else None}
    return make_plan(problem, x, name=name, objective="sum", marginal_value=math.nan, solver=solver,
                     level=level, settings=settings)


def _prepare(laws, budget, available, max_epochs, floor, cost, weights, level, *, need_available, who):
    problem = prepare(laws, budget, available=available, max_epochs=max_epochs, floor=floor, cost=cost, weights=weights)
    if problem.budget.size != 1:
        raise InputError(f"{who} takes one budget, got {problem.budget.size}")
    check_level(level, who)
    if need_available:
        _prepare_check(problem, who)
    return problem


def _prepare_check(problem: AllocationProblem, who: str) -> None:
    missing = [lang for lang in problem.languages if lang not in (problem.available or {})]
    if missing:
        shown = f"{missing[:8]}" + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise InputError(f"{who} needs the available data size of every language; available is missing "
                         f"{shown} (give available=dict language -> size, e.g. from a limits file)")


def _ratios(name: str, problem: AllocationProblem, tau: float = 5.0) -> np.ndarray:
    """r_i of baseline ``name`` (the table in the module docstring)."""
    if name == "uniform":
        return np.ones(len(problem.languages))
    if name == "unimax":
        return 1.0 / problem.cost
    n = np.array([problem.available[lang] for lang in problem.languages])
    return n / n.max() if name == "proportional" else (n / n.max()) ** (1.0 / tau)


def sizes_at(name: str, laws, budgets, *, available=None, max_epochs=1, floor=None, cost=None, weights=None,
             tau: float = 5.0) -> np.ndarray:
    """Sizes (n_budgets, n) of baseline ``name`` at each budget, validated once: row k equals
    ``name(laws, budgets[k], ...).sizes`` without building a Plan per budget (a report's frontier
    needs only the sizes)."""
    if name not in NAMES:
        raise InputError(f"unknown baseline {name!r}; choose from {', '.join(NAMES)}")
    problem = prepare(laws, budgets, available=available, max_epochs=max_epochs, floor=floor, cost=cost,
                      weights=weights)
    if name != "uniform":
        _prepare_check(problem, name)
    r = _ratios(name, problem, tau)
    return np.array([water_fill(r, problem.floor[k], problem.cap, problem.cost, float(b))[0]
                     for k, b in enumerate(problem.budget)])


def uniform(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None, level=0.9,
            name="uniform") -> Plan:
    """Equal x_i for every language (sum_i cost_i*x_i = budget), caps and floors water-filled."""
    p = _prepare(laws, budget, available, max_epochs, floor, cost, weights, level, need_available=False, who="uniform")
    return _baseline(p, _ratios("uniform", p), name, {"baseline": "uniform"}, level)


def proportional(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None, level=0.9,
                 name="proportional") -> Plan:
    """x_i proportional to the available data n_i (needs `available` for every language)."""
    p = _prepare(laws, budget, available, max_epochs, floor, cost, weights, level, need_available=True, who="proportional")
    return _baseline(p, _ratios("proportional", p), name, {"baseline": "proportional"}, level)


def temperature(laws, budget, *, tau=5.0, available=None, max_epochs=1, floor=None, cost=None, weights=None,
                level=0.9, name="temperature") -> Plan:
    """Temperature sampling: x_i proportional to n_i ** (1/tau), n_i = available_i (tau > 0)."""
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        raise InputError(f"tau is {tau!r}; give a positive number, e.g. 5") from None
    if not (math.isfinite(tau) and tau > 0):
        raise InputError(f"tau is {tau!r}; give a finite number > 0 (1 = proportional, larger = flatter)")
    p = _prepare(laws, budget, available, max_epochs, floor, cost, weights, level, need_available=True, who="temperature")
    r = _ratios("temperature", p, tau)  # scaled by the largest n so tiny tau cannot overflow
    return _baseline(p, r, name, {"baseline": "temperature", "tau": tau}, level)


def unimax(laws, budget, *, available=None, max_epochs=1, floor=None, cost=None, weights=None, level=0.9,
           name="unimax") -> Plan:
    """UniMax: equal spend per language, each capped at max_epochs epochs of its available data;
    what capped languages cannot use goes to the rest (needs `available` for every language)."""
    p = _prepare(laws, budget, available, max_epochs, floor, cost, weights, level, need_available=True, who="unimax")
    return _baseline(p, _ratios("unimax", p), name, {"baseline": "unimax", "max_epochs": p.max_epochs}, level)
