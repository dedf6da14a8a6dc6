"""The allocation as a cvxpy program: the modelling layer for extra linear constraints.

`budgetlaw.allocation.optimise` calls :func:`solve_cvxpy` when a user adds constraints or asks
for solver="cvxpy"; without them the exact path in `budgetlaw.allocation.exact` solves the same
program. The exact path and this one are tested to agree (relative objective gap <= 1e-6).

Failures: extra constraints that cannot hold together with the floors, caps and budget are the
user's input (InputError); a solver that returns no usable optimum for an accepted problem is a
SolverError.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import TYPE_CHECKING

import numpy as np

from budgetlaw.allocation.exact import pad_draws
from budgetlaw.errors import BudgetlawError, InputError, SolverError

if TYPE_CHECKING:
    from budgetlaw.allocation.problem import AllocationProblem

__all__ = ["solve_cvxpy", "run"]

log = logging.getLogger(__name__)

# Tighter than the solvers' defaults (1e-8 gaps give sizes good to ~1e-4 only); CLARABEL reaches
# these in a few more interior-point steps, and an "almost solved" answer is still accepted.
_TOLERANCES = {
    "CLARABEL": {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "tol_ktratio": 1e-8},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
}


def solve_cvxpy(problem: AllocationProblem, objective: str, extras: list):
    """cvxpy model in y_i = n*cost_i*x_i/budget (mean 1 whatever the units and the number of
    languages; budget shares themselves, ~1/n, stall CLARABEL at a few hundred languages), with
    the objective the weighted gaps over their value at the even split, so it stays O(1).

    K_i*x_i**(-c_i) = K_i*(budget/cost_i)**(-c_i) * exp(-c_i*s_i) with s_i <= log(y_i): two
    exponential cones per term and the exponents exact. At the optimum s_i = log(y_i).
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    B, n = float(problem.budget[0]), len(problem.languages)
    unit = B / (n * problem.cost)  # x_i = unit_i * y_i
    # "sum" and "robust" maximise -sum_i w_i gap_i (the ceilings do not move the optimum) over the
    # weighted gap at the even split, O(1) at any budget: over the total weight, gaps of 1e-12
    # beside ceilings of O(1) (a budget of 1e40) fell below the solver's tolerance
    scale = 1.0 if objective == "maxmin" else float(problem.weights @ (problem.K * unit ** (-problem.c)))
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0 if objective == "maxmin" else float(problem.weights.sum())
    y, s = cp.Variable(n), cp.Variable(n)
    budget_con = cp.sum(y) <= n
    cons = [budget_con, s <= cp.log(y), y >= problem.floor[0] / unit]
    capped = np.isfinite(problem.cap)
    if capped.any():
        cons.append(y[np.flatnonzero(capped)] <= problem.cap[capped] / unit[capped])
    if objective == "robust":
        Kd, cd, counts = pad_draws(problem.draws)
        coef = problem.weights[:, None] * Kd * unit[:, None] ** (-cd) / counts[:, None]
        S = cp.reshape(s, (n, 1), order="F") @ np.ones((1, Kd.shape[1]))
        goal = cp.Maximize(-cp.sum(cp.multiply(coef, cp.exp(cp.multiply(-cd, S)))) / scale)
    else:
        gap = cp.multiply(problem.K * unit ** (-problem.c), cp.exp(cp.multiply(-problem.c, s)))
        if objective == "maxmin":
            t = cp.Variable()
            cons_worst = problem.ceiling - gap >= t
            cons.append(cons_worst)
            goal = cp.Maximize(t)
        else:
            goal = cp.Maximize(-(problem.weights @ gap) / scale)
    xs = {lang: unit[i] * y[i] for i, lang in enumerate(problem.languages)}
    cons.extend(user_constraints(cp, extras, xs))
    problem_cp = cp.Problem(goal, cons)
    status, used = run(cp, problem_cp, len(extras))
    lam = max(float(budget_con.dual_value) * scale * n / B, 0.0)
    stats = problem_cp.solver_stats
    iterations = stats.num_iters
    y_best = np.asarray(y.value, dtype=float)
    if objective == "maxmin":
        # The worst language fixes the objective and leaves the others undetermined (say the worst
        # is at its cap): a second solve keeps the worst score and spends the rest on the sum.
        worst = float(t.value) - 1e-7 * max(1.0, abs(float(t.value)))
        kept = [con for con in cons if con is not cons_worst]
        second = cp.Problem(cp.Maximize(-cp.sum(gap) / n), kept + [problem.ceiling - gap >= worst])
        try:
            if run(cp, second, len(extras))[0] in ("optimal", "optimal_inaccurate"):
                y_best = np.asarray(y.value, dtype=float)
                iterations += second.solver_stats.num_iters
        except BudgetlawError:
            log.warning("maxmin: the tie-breaking second solve failed; keeping the first solution")
    x = np.clip(unit * y_best, problem.floor[0], problem.cap)
    info = {"method": "cvxpy", "solver": used, "status": status, "time_s": time.perf_counter() - t0,
            "iterations": iterations, "solve_time_s": stats.solve_time, "cvxpy": cp.__version__}
    return x, lam, info


def user_constraints(cp, extras: list, xs: dict) -> list:
    """The cvxpy constraints the user's callables make from ``xs`` (language -> pairs expression),
    each checked to be a constraint and convex (DCP); shared by both cvxpy programs."""
    out = []
    for i, make in enumerate(extras):
        made = make(xs)
        made = list(made) if isinstance(made, (list, tuple)) else [made]
        for item in made:
            if not isinstance(item, cp.constraints.constraint.Constraint):
                raise InputError(f"constraints[{i}] returned {type(item).__name__}, not a cvxpy constraint; "
                                 "return e.g. x['ar'] >= 2 * x['tr']")
            if not item.is_dcp():
                raise InputError(f"constraints[{i}] ({item}) is not convex (DCP); use linear constraints in x")
        out.extend(made)
    return out


def _solve(problem_cp, solver: str, tolerances: dict) -> None:
    """problem_cp.solve without cvxpy's "Solution may be inaccurate" warning: :func:`run` reads
    the status itself and logs an inaccurate optimum once."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
        problem_cp.solve(solver=solver, **tolerances)


def run(cp, problem_cp, n_extra: int):
    """Solve with CLARABEL, then SCS; return (status, solver used).

    Raises InputError when the problem is infeasible (the extra constraints contradict the
    floors, caps and budget) and SolverError when neither solver gives a usable optimum.
    """
    status, used = None, None
    for name in ("CLARABEL", "SCS"):
        try:
            _solve(problem_cp, name, _TOLERANCES[name])
        except cp.error.SolverError as err:
            log.warning("cvxpy solver %s failed (%s); trying the next one", name, err)
            continue
        status, used = problem_cp.status, name
        if status in ("optimal", "optimal_inaccurate", "infeasible", "unbounded"):
            break  # conclusive: SCS is only for a CLARABEL failure
    if status == "optimal_inaccurate" and used == "CLARABEL":
        # the tight tolerances above can stall a few steps short on a badly scaled point; the
        # solver's own (1e-8 gaps) then often certify it: an optimum at those is not "inaccurate"
        try:
            _solve(problem_cp, "CLARABEL", {})
        except cp.error.SolverError:
            pass
        else:
            if problem_cp.status == "optimal":
                status = "optimal"
                log.info("cvxpy (CLARABEL) certified the optimum at its default tolerances (1e-8)")
    if status in ("infeasible", "infeasible_inaccurate"):
        raise InputError(f"the allocation is infeasible: the {n_extra} extra constraint(s) cannot hold together with "
                         "the floors, caps and budget; relax a constraint or raise the budget")
    if status not in ("optimal", "optimal_inaccurate"):
        raise SolverError(f"cvxpy could not solve the allocation (status {status!r}); check the extra constraints "
                          "and that the laws' K and c are of ordinary size")
    if status == "optimal_inaccurate":
        worst = max(float(np.max(con.violation())) for con in problem_cp.constraints)
        if worst > 1e-6:
            raise SolverError(f"cvxpy ({used}) stopped at an inaccurate point that breaks a constraint by {worst:.2g}; "
                              "check that the extra constraints can hold together with the floors, caps and budget")
        log.warning("cvxpy (%s) reports an inaccurate optimum; check the plan", used)
    return status, used
