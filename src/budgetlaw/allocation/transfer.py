"""The allocation on a transfer-aware law (budgetlaw.transfer.law), as one cvxpy program.

Language i's utility is its own law at its effective data (utility = value for a score, -value
for a loss; C the utility ceiling, budgetlaw.allocation.problem):

    utility_i(x) = C_i - K_i d_i(x)^(-c_i),   d_i = e_i + sum_{j != i} T_ij e_j,   e_j = eff_j(x_j)

with e_j = x_j, or, where repeats are possible (a language with ``available`` U_j whose cap
U_j * max_epochs exceeds U_j), the data-constrained value written with an auxiliary u_j:

    e_j = u_j + U_j R* (1 - exp(-(x_j - u_j) / (U_j R*))),    u_j <= x_j,  u_j <= U_j

which is jointly concave in (x_j, u_j) and equals eff_j(x_j) at its maximum over u_j (u_j =
min(x_j, U_j)), so maximising over u_j as well is exact. d_i is a non-negative combination of
concave terms (T >= 0), K d^-c = K exp(-c s) with s <= log d is convex and decreasing, so every
objective stays a convex program (DCP: exponential cones, the exponents c_i exact):

    sum      max  sum_i w_i utility_i(x)
    maxmin   max  min_i utility_i(x)            (then the plain sum, as the exact path breaks ties)
    robust   max  mean_d sum_i w_i utility_id(x) over the bootstrap draws d of the laws and of T, R*

under the budget, floors, caps and extra linear constraints of budgetlaw.allocation. The
variables are scaled as in budgetlaw.allocation.convex (y_i = n cost_i x_i / budget, pairs in
units of budget / n). A law with T = 0 and no repeats possible is left to the exact path, as are
one-language laws with repeats (AllocationProblem.repeats_only: the zero transfer with the
default R*) unless extra constraints or solver="cvxpy" bring them here.
"""

from __future__ import annotations

import time
import numpy as np

from budgetlaw.allocation.convex import run, user_constraints
from budgetlaw.allocation.effective import repeats, unique_of
from budgetlaw.errors import BudgetlawError, InputError

__all__ = ["solve_transfer"]


def _draw_arrays(problem):
    """(K, c, C) each (D, n) and T (D, n, n), R* (D,): draw d of every law and of the transfer."""
    draws, tr = problem.draws, problem.transfer
    D = min(min(len(d) for d in draws), len(tr.draws))
    if D == 0:
        raise InputError("objective 'robust' needs bootstrap draws of the transfer law; fit with n_boot > 0")
    K, c, C = (np.stack([d[:D, k] for d in draws], axis=1) for k in range(3))
    return K, c, C, tr.draw_T[:D], tr.draw_rstar[:D]


def solve_transfer(problem, objective: str, extras: list):
    """Solve the program of the module docstring; returns (x (n,), marginal value, solver info)."""
    import cvxpy as cp

    t0 = time.perf_counter()
    B, n = float(problem.budget[0]), len(problem.languages)
    unit = B / (n * problem.cost)  # x_i = unit_i * y_i
    g = float(np.exp(np.mean(np.log(problem.cost))))  # costs' geometric mean: x_i / scale_d = y_i g / cost_i
    scale_d = B / (n * g)  # the pairs one unit of y buys at the typical cost, so that d is O(1)
    weights_total = _weights_total(problem, objective, scale_d)
    y = cp.Variable(n)
    budget_con = cp.sum(y) <= n
    cons = [budget_con, y >= problem.floor[0] / unit]
    capped = np.isfinite(problem.cap)
    if capped.any():
        cons.append(y[np.flatnonzero(capped)] <= problem.cap[capped] / unit[capped])
    terms = _Terms(cp, problem, cp.multiply(g / problem.cost, y), scale_d, cons)  # x / scale_d
    goal, worst = _goal(cp, problem, objective, terms, weights_total)
    xs = {lang: unit[i] * y[i] for i, lang in enumerate(problem.languages)}
    cons.extend(user_constraints(cp, extras, xs))
    program = cp.Problem(goal, cons)
    status, used = run(cp, program, len(extras))
    lam = max(float(budget_con.dual_value) * weights_total * n / B, 0.0)
    iterations = program.solver_stats.num_iters
    y_best = np.asarray(y.value, dtype=float)
    if worst is not None:
        y_best, iterations = _maxmin_tie_break(cp, cons, worst, y, y_best, iterations, n, len(extras))
    x = np.clip(unit * y_best, problem.floor[0], problem.cap)
    # one-language laws that may repeat pairs ride here as the zero transfer: plain "cvxpy" to a reader
    method = "cvxpy" if getattr(problem, "repeats_only", False) else "cvxpy (transfer law)"
    info = {"method": method, "solver": used, "status": status, "time_s": time.perf_counter() - t0,
            "iterations": iterations, "cvxpy": cp.__version__, "transfer": problem.transfer.form,
            "repeats": [problem.languages[i] for i in terms.rep]}
    return x, lam, info


def _weights_total(problem, objective: str, scale_d: float) -> float:
    """What the objective is divided by so that it is O(1) at any budget.

    The ceilings do not move the optimum, so "sum" and "robust" maximise -sum_i w_i gap_i over
    the weighted gap at the even split: O(1) at any budget. (Dividing the utilities by the total
    weight left gaps of 1e-12 beside ceilings of O(1) at a budget of 1e40, below the solver's
    tolerance: 8e-5 of the budget came back unused.)
    """
    weights_total = 1.0 if objective == "maxmin" else float(problem.weights @ (problem.K * scale_d ** (-problem.c)))
    if not (np.isfinite(weights_total) and weights_total > 0):
        weights_total = 1.0 if objective == "maxmin" else float(problem.weights.sum())
    return weights_total


class _Terms:
    """The program's effective data and gaps in units of scale_d; ``cons`` (the program's
    constraints) receives the auxiliary u's bounds here and each gap's cone in ``gaps``."""

    def __init__(self, cp, problem, xn, scale_d: float, cons: list):
        self.cp, self.xn, self.scale_d, self.cons = cp, xn, scale_d, cons
        self.n = len(problem.languages)
        self.rep = np.flatnonzero(repeats(problem))
        self.Un = unique_of(problem) / scale_d
        self.u = None
        if self.rep.size:
            self.u = cp.Variable(self.rep.size)
            cons += [self.u <= xn[self.rep], self.u <= self.Un[self.rep]]

    def eff(self, rstar: float):
        """e (n,) as a cvxpy expression: x, or the data-constrained value where repeats are possible."""
        cp, xn, rep, u = self.cp, self.xn, self.rep, self.u
        if u is None:
            return xn
        ur = self.Un[rep] * rstar
        value = u + ur - cp.multiply(ur, cp.exp(cp.multiply(-1.0 / ur, xn[rep] - u)))
        pick = np.zeros((self.n, rep.size))
        pick[rep, np.arange(rep.size)] = 1.0
        keep = np.ones(self.n)
        keep[rep] = 0.0
        return cp.multiply(keep, xn) + pick @ value

    def gaps(self, e, T, K, c):
        """K_i d_i^-c_i for d = e + T e, through s <= log(d) (an exponential cone each)."""
        cp = self.cp
        s = cp.Variable(self.n)
        self.cons.append(s <= cp.log(e + T @ e))
        return cp.multiply(K * self.scale_d ** (-c), cp.exp(cp.multiply(-c, s)))


def _goal(cp, problem, objective: str, terms: _Terms, weights_total: float):
    """The objective to maximise, and for "maxmin" (t, its constraint, the gaps, the utilities) for
    the second pass (None otherwise)."""
    n, tr = terms.n, problem.transfer
    if objective == "robust":
        Kd, cd, Cd, Td, Rd = _draw_arrays(problem)
        D = len(Rd)
        w = np.tile(problem.weights, D)
        if terms.u is None or np.ptp(Rd) == 0:  # one e for every draw: all D * n effective data in one block
            e = terms.eff(float(Rd[0]))
            stacked = (Td + np.eye(n)).reshape(D * n, n)  # row (k, i): d_ki = e_i + sum_j T_kij e_j
            s_all = cp.Variable(D * n)
            terms.cons.append(s_all <= cp.log(stacked @ e))
            gap_all = cp.multiply(Kd.ravel() * terms.scale_d ** (-cd.ravel()), cp.exp(cp.multiply(-cd.ravel(), s_all)))
            return cp.Maximize(-(w @ gap_all) / (D * weights_total)), None
        # R* differs between draws: e differs too
        parts = [-(problem.weights @ terms.gaps(terms.eff(float(Rd[k])), Td[k], Kd[k], cd[k])) for k in range(D)]
        return cp.Maximize(cp.sum(cp.hstack(parts)) / (D * weights_total)), None
    gap = terms.gaps(terms.eff(tr.rstar), tr.T, problem.K, problem.c)
    utility = problem.ceiling - gap
    if objective == "maxmin":
        t = cp.Variable()
        cons_worst = utility >= t
        terms.cons.append(cons_worst)
        return cp.Maximize(t), (t, cons_worst, gap, utility)
    return cp.Maximize(-(problem.weights @ gap) / weights_total), None


def _maxmin_tie_break(cp, cons, worst, y, y_best, iterations, n: int, n_extras: int):
    """maxmin's second pass, as the exact path breaks ties: the best plain sum among the plans
    whose worst language is (within 1e-7) the optimum; (y, iterations), the first solution's
    when the second pass fails."""
    t, cons_worst, gap, utility = worst
    floor = float(t.value) - 1e-7 * max(1.0, abs(float(t.value)))
    kept = [con for con in cons if con is not cons_worst]
    second = cp.Problem(cp.Maximize(-cp.sum(gap) / n), kept + [utility >= floor])
    try:
        if run(cp, second, n_extras)[0] in ("optimal", "optimal_inaccurate"):
            y_best = np.asarray(y.value, dtype=float)
            iterations += second.solver_stats.num_iters
    except BudgetlawError:
        pass  # keep the first solution: its worst language is already optimal
    return y_best, iterations
