"""Exact allocation for the separable objectives, from the optimality (KKT) conditions.

Problem (languages i = 1..n, one budget B or a vector of budgets solved together):

    maximize   sum_i f_i(x_i)
    subject    sum_i cost_i * x_i <= B,   lo_i <= x_i <= hi_i

with every f_i increasing and strictly concave. The KKT conditions give each x_i as a function
of the budget multiplier lam alone:

    x_i(lam) = clip(xstar_i(lam), lo_i, hi_i),   f_i'(xstar_i(lam)) = lam * cost_i

and g(lam) = sum_i cost_i * x_i(lam) is non-increasing in lam, so lam is found by bisection in
log space until g(lam) = B to machine precision. lam is the marginal value of the budget
(objective gained per extra unit of budget). When even every cap fits in the budget, the caps
are the answer and lam = 0.

Two objectives have this form:

- "sum":    f_i(x) = w_i * (C_i - K_i * x**(-c_i)), so
            xstar_i(lam) = (w_i * c_i * K_i / (lam * cost_i)) ** (1 / (c_i + 1))   (closed form).
- "robust": f_i(x) = w_i * mean_d (C_id - K_id * x**(-c_id)) over bootstrap draws d. With
            u = log x, log f_i'(e^u) = log w_i + logsumexp_d(log(c_id*K_id) - (c_id+1)*u) - log D_i
            is decreasing and convex in u, so Newton's method started left of the root converges
            monotonically; the start max_d (log(c_id*K_id/D_i) - T) / (c_id+1) is such a point
            (each draw alone bounds the mean from below).

Everything is vectorised over budgets (rows) and languages (columns); the module is pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bisection stops once the log-multiplier bracket is this wide relative to its magnitude: a few
# units in the last place, i.e. as precise as float64 allows.
_REL_TOL = 8 * np.finfo(float).eps
_MAX_BISECTIONS = 400
_MAX_NEWTON = 60


@dataclass(frozen=True)
class ExactSolution:
    """x: (n_budgets, n) sizes; lam: (n_budgets,) budget multipliers (0 when all caps fit);
    iterations: bisection steps taken (0 when no budget needed them)."""

    x: np.ndarray
    lam: np.ndarray
    iterations: int


def _as_rows(budget, lo, hi):
    budget = np.atleast_1d(np.asarray(budget, dtype=float))
    nb = budget.shape[0]
    lo = np.broadcast_to(np.asarray(lo, dtype=float), (nb, np.shape(lo)[-1]))
    hi = np.broadcast_to(np.asarray(hi, dtype=float), lo.shape)
    return budget, lo, hi


def _solve(log_marginal, log_xstar, active, cost, lo, hi, budget) -> ExactSolution:
    """Shared multiplier search.

    log_marginal(x) -> log(f_i'(x_i) / cost_i) for x of shape (nb, n) (only `active` columns are
    read); log_xstar(loglam) -> log xstar_i for loglam of shape (nb, 1). Inactive languages (zero
    weight or a flat law) sit at their floor.
    """
    budget, lo, hi = _as_rows(budget, lo, hi)
    nb, n = lo.shape
    cost = np.asarray(cost, dtype=float)

    def sizes(loglam, lo, hi):
        with np.errstate(over="ignore", under="ignore"):
            xs = np.exp(log_xstar(loglam[:, None]))
        return np.where(active, np.clip(xs, lo, hi), lo)

    # Everything at its cap (or floor for inactive languages) fits: nothing to trade off.
    top = np.where(active, hi, lo)
    fits = (top * cost).sum(axis=1) <= budget
    x = np.where(fits[:, None], top, lo)
    lam = np.zeros(nb)
    todo = ~fits
    if not todo.any():
        return ExactSolution(x=x, lam=lam, iterations=0)

    b = budget[todo]
    lo_t, hi_t = lo[todo], hi[todo]
    # No single language can absorb more than the whole budget, which makes the bracket finite.
    hi_eff = np.minimum(hi_t, b[:, None] / cost)
    with np.errstate(divide="ignore"):
        at_top = log_marginal(hi_eff)
        at_floor = log_marginal(lo_t)
    left = np.where(active, at_top, np.inf).min(axis=1)  # g(left) >= B
    right = np.where(active, at_floor, -np.inf).max(axis=1)  # g(right) <= B (floors fit)
    left = np.minimum(left, right)

    iterations = 0
    while iterations < _MAX_BISECTIONS:
        width = right - left
        scale = np.maximum(1.0, np.maximum(np.abs(left), np.abs(right)))
        open_ = width > _REL_TOL * scale
        if not open_.any():
            break
        mid = 0.5 * (left + right)
        g = (sizes(mid, lo_t, hi_t) * cost).sum(axis=1)
        over = g > b
        left = np.where(open_ & over, mid, left)
        right = np.where(open_ & ~over, mid, right)
        iterations += 1

    # The right end never overspends, so the reported plan is always feasible.
    x_t = sizes(right, lo_t, hi_t)
    x = x.copy()
    x[todo] = x_t
    lam[todo] = np.exp(right)
    return ExactSolution(x=x, lam=lam, iterations=iterations)


def solve_sum(K, c, w, cost, lo, hi, budget) -> ExactSolution:
    """Exact optimum of sum_i w_i*(C_i - K_i*x_i**(-c_i)) (ceilings do not move the argmax).

    K, c, w, cost: shape (n,); lo, hi: (n,) or (n_budgets, n), hi may be inf; budget: scalar or
    (n_budgets,). Callers validate: K >= 0, c > 0, w >= 0, cost > 0, 0 < lo <= hi, and
    sum(cost*lo) <= budget.
    """
    K, c, w, cost = (np.asarray(v, dtype=float) for v in (K, c, w, cost))
    with np.errstate(divide="ignore"):
        log_a = np.log(w * c * K) - np.log(cost)  # log of lam_i * x**(c+1) at the optimum
    active = np.isfinite(log_a)

    def log_marginal(x):
        return log_a - (c + 1.0) * np.log(x)

    def log_xstar(loglam):
        return (log_a - loglam) / (c + 1.0)

    return _solve(log_marginal, log_xstar, active, cost, lo, hi, budget)


def pad_draws(draws_by_language):
    """Stack per-language draw arrays (D_i, 2+) of (K, c, ...) into (n, D) arrays K, c and the
    counts D_i. Missing entries get K = 0, which adds nothing to a mean divided by D_i."""
    counts = np.array([len(d) for d in draws_by_language], dtype=float)
    width = int(counts.max())
    Kd = np.zeros((len(draws_by_language), width))
    cd = np.ones_like(Kd)
    for i, d in enumerate(draws_by_language):
        Kd[i, : len(d)] = d[:, 0]
        cd[i, : len(d)] = d[:, 1]
    return Kd, cd, counts


def _logsumexp(z, axis=-1):
    top = np.max(z, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore"):
        return np.log(np.exp(z - top).sum(axis=axis)) + top.squeeze(axis)


def solve_robust(Kd, cd, counts, w, cost, lo, hi, budget) -> ExactSolution:
    """Exact optimum of the mean over draws of sum_i w_i*(C_id - K_id*x_i**(-c_id)).

    Kd, cd: (n, D) draws padded by `pad_draws` (counts: (n,) real draws per language); the
    other arguments as for `solve_sum`.
    """
    Kd, cd, counts, w, cost = (np.asarray(v, dtype=float) for v in (Kd, cd, counts, w, cost))
    with np.errstate(divide="ignore"):
        log_ck = np.log(cd * Kd) - np.log(counts)[:, None]  # (n, D), -inf for padding
        log_wc = np.log(w) - np.log(cost)
    active = np.isfinite(log_wc) & np.isfinite(log_ck).any(axis=1)
    log_ck = np.where(active[:, None], log_ck, -np.inf)
    slope = cd + 1.0

    def log_marginal(x):  # x: (nb, n)
        z = log_ck[None] - slope[None] * np.log(x)[..., None]
        return log_wc + _logsumexp(z)

    def log_xstar(loglam):  # loglam: (nb, 1)
        target = loglam - log_wc  # solve logsumexp_d(log_ck - slope*u) = target, per column
        with np.errstate(invalid="ignore"):
            u = np.max((log_ck[None] - target[..., None]) / slope[None], axis=-1)
        u = np.where(active, u, 0.0)
        for _ in range(_MAX_NEWTON):
            z = log_ck[None] - slope[None] * u[..., None]
            h = _logsumexp(z)
            with np.errstate(under="ignore", invalid="ignore"):
                p = np.exp(z - h[..., None])
            dh = -(p * slope[None]).sum(axis=-1)
            step = np.where(active, (h - target) / dh, 0.0)
            # Left of the root h > target and dh < 0, so steps are >= 0; roundoff can make a
            # converged step slightly negative, which is harmless.
            u = u - step
            if np.all(np.abs(step) <= _REL_TOL * np.maximum(1.0, np.abs(u))):
                break
        return u

    return _solve(log_marginal, log_xstar, active, cost, lo, hi, budget)


def _inverse(K, c, C, t):
    """x with C - K*x**(-c) = t, i.e. (K/(C - t))**(1/c); inf when t >= C (out of reach)."""
    gap = C - t
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = np.where(gap > 0, (K / np.where(gap > 0, gap, 1.0)) ** (1.0 / c), np.inf)
    return x


def solve_maxmin(K, c, C, cost, lo, hi, budget) -> ExactSolution:
    """Exact optimum of min_i (C_i - K_i*x_i**(-c_i)), ties broken by the plain sum of scores.

    The best worst score is t* = min(t_cap, t_budget): t_cap = min_i score_i(hi_i) (no language
    can pass its score at its cap) and t_budget solves sum_i cost_i*max(lo_i, inverse_i(t)) = B
    (bisection on t; the left side increases with t). Every x_i >= inverse_i(t*) then keeps the
    worst score, so the sizes are the "sum" optimum with floors raised to clip(inverse_i(t*),
    lo_i, hi_i): leftover budget (there is some when a cap decides t*) goes where it adds most.

    lam = dt*/dB: 0 when a cap decides t*, else 1 / sum_i cost_i * d inverse_i/dt over the
    languages above their floors, with d inverse_i/dt = x_i / (c_i*(C_i - t)).
    """
    K, c, C, cost = (np.asarray(v, dtype=float) for v in (K, c, C, cost))
    budget, lo, hi = _as_rows(budget, lo, hi)
    with np.errstate(divide="ignore"):
        at_cap = np.where(np.isfinite(hi), C - K * hi ** (-c), C)
        at_floor = C - K * lo ** (-c)
    t_cap = at_cap.min(axis=1)

    def spend(t):
        return (cost * np.maximum(lo, _inverse(K, c, C, t[:, None]))).sum(axis=1)

    left = at_floor.min(axis=1)  # every language at its floor already reaches this: spend <= B
    right = np.broadcast_to(C.min(), left.shape).astype(float)  # unreachable: spend = inf
    iterations = 0
    while iterations < _MAX_BISECTIONS:
        scale = np.maximum(1.0, np.maximum(np.abs(left), np.abs(right)))
        open_ = (right - left) > _REL_TOL * scale
        if not open_.any():
            break
        mid = 0.5 * (left + right)
        over = spend(mid) > budget
        right = np.where(open_ & over, mid, right)
        left = np.where(open_ & ~over, mid, left)
        iterations += 1
    t_star = np.minimum(t_cap, left)
    floors = np.clip(_inverse(K, c, C, t_star[:, None]), lo, hi)
    # The raised floors cost at most B by construction; roundoff may leave them a hair over.
    over = (floors * cost).sum(axis=1) / budget
    floors = np.where((over > 1)[:, None], np.maximum(lo, floors / over[:, None]), floors)
    rest = solve_sum(K, c, np.ones_like(K), cost, floors, hi, budget)
    x_t = _inverse(K, c, C, t_star[:, None])
    free = (x_t > lo) & (x_t < hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(free, cost * x_t / (c * (C - t_star[:, None])), 0.0).sum(axis=1)
        lam = np.where((t_cap > left) & (slope > 0), 1.0 / slope, 0.0)
    return ExactSolution(x=rest.x, lam=lam, iterations=iterations + rest.iterations)
