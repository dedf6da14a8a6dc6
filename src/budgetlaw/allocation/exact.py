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

Repeated pairs (one-language laws with available U_i < cap_i, budgetlaw.allocation): f_i is
taken at the data-constrained value e = eff(x) of budgetlaw.transfer.law (x beyond U counts as
U + U R* (1 - exp(-z)), z = (x - U) / (U R*)), so f_i'(x) = g_i(e) * exp(-z) with g_i the
derivative of the law in e. Where xstar_i(lam) of the fresh-pair condition lies beyond U, the
condition is solved in z instead: phi(z) = z - H_i(log e(z)) + log lam = 0 with H_i = log(g_i /
cost_i) convex and decreasing in log e, and log e(z) concave and increasing, so phi is concave
and increasing with phi(0) < 0: Newton's method from z = 0 converges monotonically. f_i stays
increasing and strictly concave, so everything above holds.

Everything is vectorised over budgets (rows) and languages (columns); the module is pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from budgetlaw.transfer.law import repeated

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


def _repeat_arrays(unique, rstar, n):
    """U (n,) (inf: no repeats) and R* (n,) as float arrays, or (None, None) without repeats."""
    if unique is None:
        return None, None
    U = np.broadcast_to(np.asarray(unique, dtype=float), (n,))
    if not np.isfinite(U).any():
        return None, None
    return U, np.broadcast_to(np.asarray(rstar, dtype=float), (n,))


def _repeat_inverse(e, U, R):
    """x with eff(x) = e: e up to U, then U + U R* * -log(1 - (e - U) / (U R*)) (e beyond
    U (1 + R*) is out of reach: inf)."""
    over = np.isfinite(U) & (e > U)
    if not over.any():
        return e
    Us, Rs = np.where(over, U, 1.0), np.where(over, R, 1.0)
    frac = np.where(over, (e - Us) / (Us * Rs), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = np.where(frac < 1.0, Us - Us * Rs * np.log1p(-np.minimum(frac, 1.0)), np.inf)
    return np.where(over, beyond, e)


def _log_slope(x, U, R):
    """log eff'(x) = -(x - U) / (U R*) beyond U, 0 up to it."""
    over = np.isfinite(U) & (x > U)
    return np.where(over, -(x - np.where(over, U, 0.0)) / np.where(over, U * R, 1.0), 0.0)


def _repeat_root(H, loglam, U, R, x0):
    """x beyond U with H(log eff(x)) - z(x) = loglam where x0 (the fresh-pair root) is beyond U;
    x0 elsewhere. H(L) -> (value, dvalue/dL): the log marginal per unit of budget in e. Newton
    on phi(z) = z - H(L(z)) + loglam from z = 0 (module docstring: monotone)."""
    over = np.isfinite(U) & (x0 > U)
    if not over.any():
        return x0
    Us, Rs = np.where(over, U, 1.0), np.where(over, R, 1.0)
    z = np.zeros(np.broadcast_shapes(x0.shape, Us.shape))
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        return np.where(over, _newton_z(H, loglam, Us, Rs, z), x0)


def _newton_z(H, loglam, Us, Rs, z):
    """The Newton iteration of _repeat_root; returns x = U + U R* z."""
    for _ in range(_MAX_NEWTON):
        decay = np.exp(-z)
        e = Us + Us * Rs * (1.0 - decay)
        value, slope = H(np.log(e))
        phi = z - value + loglam
        dphi = 1.0 - slope * Us * Rs * decay / e  # slope < 0, so dphi >= 1
        step = np.where(np.isfinite(phi), -phi / dphi, 0.0)
        z = z + step
        if np.all(np.abs(step) <= _REL_TOL * np.maximum(1.0, np.abs(z))):
            break
    return Us + Us * Rs * z


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


def solve_sum(K, c, w, cost, lo, hi, budget, unique=None, rstar=None) -> ExactSolution:
    """Exact optimum of sum_i w_i*(C_i - K_i*e_i**(-c_i)) (ceilings do not move the argmax),
    e_i = x_i, or eff(x_i) beyond ``unique`` U_i with repetition constant ``rstar`` (module
    docstring; unique None or inf: no repeats).

    K, c, w, cost: shape (n,); lo, hi: (n,) or (n_budgets, n), hi may be inf; budget: scalar or
    (n_budgets,); unique, rstar: (n,) or scalars. Callers validate: K >= 0, c > 0, w >= 0,
    cost > 0, 0 < lo <= hi, and sum(cost*lo) <= budget.
    """
    K, c, w, cost = (np.asarray(v, dtype=float) for v in (K, c, w, cost))
    with np.errstate(divide="ignore"):
        log_a = np.log(w * c * K) - np.log(cost)  # log of lam_i * x**(c+1) at the optimum
    active = np.isfinite(log_a)
    U, R = _repeat_arrays(unique, rstar, K.size)

    def log_marginal(x):
        if U is None:
            return log_a - (c + 1.0) * np.log(x)
        return log_a - (c + 1.0) * np.log(repeated(x, U, R)) + _log_slope(x, U, R)

    def H(L):
        return log_a - (c + 1.0) * L, -(c + 1.0)

    def log_xstar(loglam):
        fresh = (log_a - loglam) / (c + 1.0)
        if U is None:
            return fresh
        with np.errstate(over="ignore"):
            return np.log(_repeat_root(H, loglam, U, R, np.exp(fresh)))

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


def solve_robust(Kd, cd, counts, w, cost, lo, hi, budget, unique=None, rstar=None) -> ExactSolution:
    """Exact optimum of the mean over draws of sum_i w_i*(C_id - K_id*e_i**(-c_id)), e_i as
    for `solve_sum` (one R* for every draw).

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

    U, R = _repeat_arrays(unique, rstar, Kd.shape[0])

    def log_marginal(x):  # x: (nb, n)
        if U is None:
            z = log_ck[None] - slope[None] * np.log(x)[..., None]
            return log_wc + _logsumexp(z)
        z = log_ck[None] - slope[None] * np.log(repeated(x, U, R))[..., None]
        return log_wc + _logsumexp(z) + _log_slope(x, U, R)

    def H(L):  # L = log e (nb, n): log of the mean marginal in e per unit of budget, and its slope
        z = log_ck[None] - slope[None] * L[..., None]
        h = _logsumexp(z)
        with np.errstate(under="ignore", invalid="ignore"):
            p = np.exp(z - h[..., None])
        return log_wc + h, -np.nansum(p * slope[None], axis=-1)

    def log_xstar(loglam):
        u = fresh_root(loglam)
        if U is None:
            return u
        with np.errstate(over="ignore"):
            x = _repeat_root(H, loglam, U, R, np.exp(u))
        return np.where(active, np.log(x), u)

    def fresh_root(loglam):  # loglam: (nb, 1)
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


def solve_maxmin(K, c, C, cost, lo, hi, budget, unique=None, rstar=None) -> ExactSolution:
    """Exact optimum of min_i (C_i - K_i*x_i**(-c_i)), ties broken by the plain sum of scores.

    The best worst score is t* = min(t_cap, t_budget): t_cap = min_i score_i(hi_i) (no language
    can pass its score at its cap) and t_budget solves sum_i cost_i*max(lo_i, inverse_i(t)) = B
    (bisection on t; the left side increases with t). Every x_i >= inverse_i(t*) then keeps the
    worst score, so the sizes are the "sum" optimum with floors raised to clip(inverse_i(t*),
    lo_i, hi_i): leftover budget (there is some when a cap decides t*) goes where it adds most.

    lam = dt*/dB: 0 when a cap decides t*, else 1 / sum_i cost_i * d inverse_i/dt over the
    languages above their floors, with d inverse_i/dt = x_i / (c_i*(C_i - t)) (with repeats
    e_i / (c_i*(C_i - t)) / eff'(x_i): the score is read at e_i = eff(x_i), unique/rstar as for
    `solve_sum`).
    """
    K, c, C, cost = (np.asarray(v, dtype=float) for v in (K, c, C, cost))
    budget, lo, hi = _as_rows(budget, lo, hi)
    U, R = _repeat_arrays(unique, rstar, K.size)
    eff = (lambda x: x) if U is None else (lambda x: repeated(x, U, R))
    size_of = (lambda e: e) if U is None else (lambda e: _repeat_inverse(e, U, R))  # x reaching e
    with np.errstate(divide="ignore"):
        at_cap = np.where(np.isfinite(hi), C - K * eff(hi) ** (-c), C)
        at_floor = C - K * eff(lo) ** (-c)
    t_cap = at_cap.min(axis=1)

    def inverse(t):
        return size_of(_inverse(K, c, C, t))

    def spend(t):
        return (cost * np.maximum(lo, inverse(t[:, None]))).sum(axis=1)

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
    floors = np.clip(inverse(t_star[:, None]), lo, hi)
    # The raised floors cost at most B by construction; roundoff may leave them a hair over.
    over = (floors * cost).sum(axis=1) / budget
    floors = np.where((over > 1)[:, None], np.maximum(lo, floors / over[:, None]), floors)
    rest = solve_sum(K, c, np.ones_like(K), cost, floors, hi, budget, unique, rstar)
    e_t = _inverse(K, c, C, t_star[:, None])
    x_t = size_of(e_t)
    free = (x_t > lo) & (x_t < hi)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        per_e = 1.0 if U is None else np.exp(-_log_slope(x_t, U, R))  # dx/de = 1 / eff'(x)
        slope = np.where(free, cost * per_e * e_t / (c * (C - t_star[:, None])), 0.0).sum(axis=1)
        lam = np.where((t_cap > left) & (slope > 0), 1.0 / slope, 0.0)
    return ExactSolution(x=rest.x, lam=lam, iterations=iterations + rest.iterations)
