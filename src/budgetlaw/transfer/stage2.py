"""Stage 2 of a transfer fit: T (and R*) by bounded least squares with every law held fixed.

For the points k of budgetlaw.transfer.table (scored language i_k, pairs X_k, distinct pairs U_k)
and the laws' (K, c, asymptote A = C or E, sign = +1 score / -1 loss):

    e_k = eff(X_k; U_k, R*)              d_k = e_k,i + sum_{j != i} T_ij e_k,j      (i = i_k)
    r_k = y_k - (A_i - sign K_i d_k^-c_i)

minimised over the free parameters q = (theta[free], R*) of the form, 0 <= theta <= T_MAX and
R* in RSTAR_BOUNDS, by scipy.optimize.least_squares (trf) with the analytic Jacobian

    dr_k/dq = -sign K_i c_i d_k^(-c_i - 1) dd_k/dq
    dd_k/dT_ij = e_k,j (i = i_k, j != i), mapped to theta through the form's linear map T = M theta
    dd_k/dR* = de_k,i/dR* + sum_j T_ij de_k,j/dR*,  de/dR* = U (1 - (1 + z/R*) exp(-z/R*)), z = x/U - 1
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from budgetlaw.transfer.law import DEFAULT_RSTAR, RSTAR_BOUNDS, T_MAX, matrix, n_params, repeated
from budgetlaw.transfer.table import Points

__all__ = ["free_parameters", "values", "fit_stage2", "effective_data", "repeat_slope", "STARTS"]

STARTS = (0.05, 0.3, 1.0)


def free_parameters(form: str, pts: Points) -> np.ndarray:
    """Which parameters of ``form`` some point informs (bool, (p,)): T_ij needs a point scored on
    i whose model has pairs of j."""
    n = len(pts.languages)
    seen = np.zeros((n, n), dtype=bool)
    for i, x in zip(pts.lang, pts.X):
        seen[i] |= x > 0
    np.fill_diagonal(seen, False)
    if form == "pooled":
        return seen.any(axis=1)
    if form == "source":
        return seen.any(axis=0)
    if form == "full":
        return seen[~np.eye(n, dtype=bool)]
    return np.zeros(0, dtype=bool)


def effective_data(pts: Points, T, rstar):
    """(e (m, n): each language's repetition-discounted pairs per point, d (m,): the scored
    language's effective data e_i + sum_j T_ij e_j); shared by stage 2 and the joint refit."""
    e = repeated(pts.X, pts.U, rstar)
    return e, (e + e @ T.T)[np.arange(len(pts)), pts.lang]


def values(base, pts: Points, T, rstar) -> np.ndarray:
    """The laws' values at each point's effective data; base = (K, c, asymptote, sign)."""
    K, c, top, sign = base
    _, d = effective_data(pts, T, rstar)
    with np.errstate(divide="ignore"):  # d = 0 (pure transfer under T = 0): the law says +-inf
        return top[pts.lang] - sign * K[pts.lang] * d ** (-c[pts.lang])


def repeat_slope(pts: Points, rstar: float) -> np.ndarray:
    """de/dR* per point and language (0 where nothing repeats)."""
    over = np.isfinite(pts.U) & (pts.X > pts.U)
    U = np.where(over, pts.U, 1.0)
    z = np.where(over, pts.X / U - 1.0, 0.0) / rstar
    return np.where(over, U * (1.0 - (1.0 + z) * np.exp(-z)), 0.0)


def fit_stage2(base, pts: Points, form: str, *, fit_rstar: bool, start=None, rstar0: float = DEFAULT_RSTAR):
    """Least-squares theta (p,), R* and the sum of squared residuals of ``form`` on ``pts``; from
    ``start`` = (theta, R*) when given, else from every theta = each of STARTS (the best kept)."""
    n = len(pts.languages)
    p = n_params(form, n)
    free = free_parameters(form, pts) if len(pts) else np.zeros(p, dtype=bool)
    k = int(free.sum())
    K, c, _, sign = base
    Kp, cp = K[pts.lang], c[pts.lang]
    rows = np.arange(len(pts))
    # T = M theta: column q of M is T with theta = unit vector q (the form is linear in theta)
    M = matrix(form, np.eye(p), n).reshape(p, n * n).T[:, free] if p else np.zeros((n * n, 0))

    def unpack(q):
        theta = np.zeros(p)
        theta[free] = q[:k]
        return theta, (q[k] if fit_rstar else rstar0)

    def fun(q):
        theta, rstar = unpack(q)
        return pts.y - values(base, pts, matrix(form, theta, n), rstar)

    def jac(q):
        theta, rstar = unpack(q)
        T = matrix(form, theta, n)
        e, d = effective_data(pts, T, rstar)
        g = -sign * Kp * cp * d ** (-cp - 1.0)  # dr/dd
        G = np.zeros((len(pts), n, n))
        G[rows, pts.lang, :] = e
        G[rows, pts.lang, pts.lang] = 0.0
        J = (G.reshape(len(pts), n * n) @ M) * g[:, None]
        if fit_rstar:
            de = repeat_slope(pts, rstar)
            dd = de[rows, pts.lang] + (de @ T.T)[rows, pts.lang]
            J = np.column_stack([J, g * dd])
        return J

    if k + fit_rstar == 0 or len(pts) == 0:
        r = fun(np.zeros(0)) if len(pts) else np.zeros(0)
        return np.zeros(p), rstar0, float(r @ r)
    lo = np.r_[np.zeros(k), [RSTAR_BOUNDS[0]] * fit_rstar]
    hi = np.r_[np.full(k, T_MAX), [RSTAR_BOUNDS[1]] * fit_rstar]
    many = [np.r_[np.full(k, v), [rstar0] * fit_rstar] for v in STARTS]
    # a given start is moved off theta = 0: a point of pure transfer has d = 0 there (infinite loss)
    starts = many if start is None else [
        np.clip(np.r_[np.maximum(np.asarray(start[0])[free], 1e-3), [start[1]] * fit_rstar], lo, hi)]
    best = None
    for q0 in starts:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if not np.isfinite(fun(q0)).all():
                continue
            try:
                res = least_squares(fun, q0, jac=jac, bounds=(lo, hi), method="trf", ftol=1e-12, xtol=1e-12,
                                    gtol=1e-12, max_nfev=400)
            except (ValueError, np.linalg.LinAlgError):
                # scipy's SVD refuses an inf/NaN Jacobian (effective data under- or overflowing on
                # the way): this start gives no fit; the others (or the caller's inf) stand
                continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:  # no start gives finite residuals: the points cannot be fitted by this form
        return np.zeros(p), rstar0, float("inf")
    theta, rstar = unpack(best.x)
    return theta, float(rstar), float(2 * best.cost)
