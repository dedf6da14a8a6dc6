"""The joint refit of stage 1: every language's K_i, c_i refitted together with T (and R*).

Stage 1 fits language i's own law on its one-language pilots alone, and stage 2 fits T with those
laws fixed. The multilingual points also read each language's curve, at effective data d_i that
lie beyond or between its pilots, so they carry information on K_i and c_i too. The joint refit
starts from both stages and minimises, over q = (log K (n), c (n), theta[free] (k), R* when fitted),

    S(q) = sum_r w_r (y_r - (A_i - sign K_i x_r^-c_i))^2          one-language rows r (i = i_r)
         + sum_k (y_k - (A_i - sign K_i d_k^-c_i))^2              stage-2 points k (i = i_k)

    d_k = e_k,i + sum_{j != i} T_ij e_k,j,   e = eff(X_k; U_k, R*),   T = M theta (the form's map)

with bounds c_i in FitOptions.c_bounds, 0 <= theta <= T_MAX, R* in RSTAR_BOUNDS and log K free,
by scipy.optimize.least_squares (trf) with the analytic Jacobian

    dr/dlog K_i = sign K_i z^-c_i                  dr/dc_i = -sign K_i z^-c_i log z     (z = x_r or d_k)
    dr_k/dq_T   = -sign K_i c_i d_k^(-c_i - 1) dd_k/dq_T      (as in budgetlaw.transfer.stage2)

times sqrt(w_r) on the one-language rows. w_r = 1 in the point fit; in the bootstrap, the number
of times draw b drew the row's model (a whole-model resample is a fit with integer weights).

**What pins what.** K_i and c_i: the one-language pilots of i *and* every point scored on i (its
curve read at d_k); theta and R*: the stage-2 points, as in stage 2. The asymptote (E_i of a loss,
C_i of a score) is *held at stage 1's value*: it is pinned by the largest one-language sizes, where
the curve has flattened, and a free asymptote trades off with K_i (E up, K up give nearly the same
values over a decade of sizes), which the multilingual points - read at d between and beyond the
pilots - cannot settle; freeing it moves E along that ridge and makes K, c, T swing with it.

**Plain least squares, not stage 1's robust loss.** The joint cost is stage 2's cost (plain least
squares) plus the one-language rows' squared residuals, so with K, c held fixed it reduces to
stage 2 exactly, and the two fits are compared on one scale. Stage 1's robust loss has a scale
per language (1.345 times its own noise estimate); one robust loss over the whole vector would
need one scale for pilots and multilingual models of six languages at once, and would downweight
the very multilingual points that the refit is for whenever they disagree with the stage-1 curve.
Outlying pilots are the risk that remains: `stage1="auto"` keeps the joint refit only when it
predicts left-out mixtures better (budgetlaw.transfer.fit).

A table where some language has no stage-2 point refits that language's K_i, c_i on its own rows
alone (plain least squares instead of the robust fit): still the minimum of S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from budgetlaw.transfer.law import RSTAR_BOUNDS, T_MAX, matrix, n_params
# the stage-2 effective data and its R* slope, shared so both fits differentiate d the same way
from budgetlaw.transfer.stage2 import effective_data, repeat_slope, values
from budgetlaw.transfer.table import Points

__all__ = ["OneLanguageRows", "JointFit", "fit_joint", "METHOD"]

METHOD = ("scipy least_squares (trf), plain least squares over one-language rows and stage-2 points; "
          "log K and c refitted, asymptote fixed at stage 1")
MAX_NFEV = 2000
#: a start theta at exactly 0 is moved here: a pure-transfer point (own pairs 0) has d = 0 there
THETA_FLOOR = 1e-3


@dataclass(frozen=True)
class OneLanguageRows:
    """The one-language pilots as arrays: lang (r,) index into the languages, x (r,) pairs,
    y (r,) values, weight (r,) (1 in the point fit; a bootstrap draw's counts)."""

    lang: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, languages) -> "OneLanguageRows":
        order = {lang: k for k, lang in enumerate(languages)}
        x = frame["size"].to_numpy(float)
        return cls(frame["language"].map(order).to_numpy(int), x, frame["score"].to_numpy(float), np.ones(x.size))

    def weighted(self, weight) -> "OneLanguageRows":
        return OneLanguageRows(self.lang, self.x, self.y, np.asarray(weight, dtype=float))


@dataclass(frozen=True)
class JointFit:
    """K (n,), c (n,), theta (p,), R*; rss_points / rss_single: the squared residuals of the
    stage-2 points / of the (weighted) one-language rows; ok False when no finite start existed
    (then K, c, theta, R* are the start's and the sums infinite)."""

    K: np.ndarray
    c: np.ndarray
    theta: np.ndarray
    rstar: float
    rss_points: float
    rss_single: float
    ok: bool = True


def fit_joint(base, rows: OneLanguageRows, pts: Points, form: str, free: np.ndarray, theta0, rstar0: float, *,
              fit_rstar: bool, c_bounds: tuple[float, float]) -> JointFit:
    """Minimise S(q) of the module docstring from base = (K, c, asymptote, sign) and (theta0, rstar0);
    a theta outside ``free`` (no point informs it) stays at theta0, R* at rstar0 unless fit_rstar."""
    K0, c0, top, sign = base
    n = len(K0)
    p = n_params(form, n)
    free = np.asarray(free, dtype=bool)
    k = int(free.sum())
    theta0 = np.asarray(theta0, dtype=float)
    M = matrix(form, np.eye(p), n).reshape(p, n * n).T[:, free] if p else np.zeros((n * n, 0))
    sw = np.sqrt(rows.weight)
    log_x = np.log(rows.x)
    s_rows, p_rows = np.arange(rows.x.size), np.arange(len(pts))
    n_single = rows.x.size

    def unpack(q):
        theta = theta0.copy()
        theta[free] = q[2 * n:2 * n + k]
        return np.exp(q[:n]), q[n:2 * n], theta, (q[-1] if fit_rstar else rstar0)

    def fun(q):
        K, c, theta, rstar = unpack(q)
        own = sw * (rows.y - (top[rows.lang] - sign * K[rows.lang] * np.exp(-c[rows.lang] * log_x)))
        return np.r_[own, pts.y - values((K, c, top, sign), pts, matrix(form, theta, n), rstar)]

    def jac(q):
        K, c, theta, rstar = unpack(q)
        J = np.zeros((n_single + len(pts), 2 * n + k + fit_rstar))
        power = K[rows.lang] * np.exp(-c[rows.lang] * log_x)  # K_i x^-c_i
        J[s_rows, rows.lang] = sw * sign * power
        J[s_rows, n + rows.lang] = -sw * sign * power * log_x
        T = matrix(form, theta, n)
        e, d = effective_data(pts, T, rstar)
        Kp, cp = K[pts.lang], c[pts.lang]
        power = Kp * d ** (-cp)
        at = n_single + p_rows
        J[at, pts.lang] = sign * power
        J[at, n + pts.lang] = -sign * power * np.log(d)
        g = -sign * cp * power / d  # dr/dd
        G = np.zeros((len(pts), n, n))
        G[p_rows, pts.lang, :] = e
        G[p_rows, pts.lang, pts.lang] = 0.0
        J[n_single:, 2 * n:2 * n + k] = (G.reshape(len(pts), n * n) @ M) * g[:, None]
        if fit_rstar:
            de = repeat_slope(pts, rstar)
            J[n_single:, -1] = g * (de[p_rows, pts.lang] + (de @ T.T)[p_rows, pts.lang])
        return J

    c_lo, c_hi = c_bounds
    lo = np.r_[np.full(n, -np.inf), np.full(n, c_lo), np.zeros(k), [RSTAR_BOUNDS[0]] * fit_rstar]
    hi = np.r_[np.full(n, np.inf), np.full(n, c_hi), np.full(k, T_MAX), [RSTAR_BOUNDS[1]] * fit_rstar]
    q0 = np.clip(np.r_[np.log(K0), c0, np.maximum(theta0[free], THETA_FLOOR), [rstar0] * fit_rstar], lo, hi)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        start = fun(q0)
        if not np.isfinite(start).all():
            return JointFit(np.asarray(K0, float), np.asarray(c0, float), theta0, float(rstar0), math.inf, math.inf,
                            ok=False)
        res = least_squares(fun, q0, jac=jac, bounds=(lo, hi), method="trf", ftol=1e-12, xtol=1e-12, gtol=1e-12,
                            max_nfev=MAX_NFEV)
        r = fun(res.x)
    K, c, theta, rstar = unpack(res.x)
    return JointFit(K, c, theta, float(rstar), float(r[n_single:] @ r[n_single:]), float(r[:n_single] @ r[:n_single]))
