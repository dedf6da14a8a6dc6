"""Robust fitting of many data sets at once: the engine behind ``fit`` and its bootstrap.

Model, written with t = log(x / x_ref) and x_ref the smallest pilot size:

    y = C - a * exp(-c * t)            (= C - K * x**(-c),  K = a * x_ref**c)

For a fixed exponent c the model is linear in (a, C), so a fit is
  1. a grid over c (log-spaced in [c_min, c_max]) where (a, C) come from a closed-form weighted
     least-squares solve under the bounds a >= a_min, C_lo <= C <= C_hi, re-weighted a few
     times (IRLS) for the robust loss; the best grid point puts every data set in the global
     basin without depending on a starting guess;
  2. a few damped Gauss-Newton (Levenberg-Marquardt) steps on (log a, c[, C]) with the robust
     weights, projected onto the bounds.
Both steps run on a whole batch of data sets (rows of Y) in numpy, which is what makes a
1000-draw residual bootstrap cost about as much as a handful of scipy fits. ``fit_points`` fits
one data set: the same two steps, a scipy least_squares polish, and the robust scale
f = 1.345 * sigma with sigma a MAD estimate from a least-squares fit, refined once from the
robust fit's residuals.

Robust loss, as in scipy.optimize.least_squares: cost = 0.5 * f**2 * sum(rho((r / f)**2)) with
rho(z) = z (linear), 2*(sqrt(1+z) - 1) (soft_l1), z or 2*sqrt(z) - 1 beyond 1 (huber),
log(1+z) (cauchy); the IRLS weight of a residual is rho'(z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from budgetlaw.errors import InputError
from budgetlaw.fitting.options import C_BOUNDS, LOSSES, FitOptions
from budgetlaw.law import PowerLaw

__all__ = ["LOSSES", "C_BOUNDS", "FitProblem", "fit_batch", "fit_points", "make_problem", "polish",
           "robust_scale", "resample", "top_median"]

N_GRID = 32
IRLS_STEPS = 3
LM_STEPS = 30
TUNING = 1.345  # Huber's constant: f_scale = 1.345 sigma keeps ~95% efficiency on clean normal noise


def rho(z: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """rho(z) and rho'(z) of scipy's robust losses."""
    if loss == "linear":
        return z, np.ones_like(z)
    if loss == "soft_l1":
        s = np.sqrt(1.0 + z)
        return 2.0 * (s - 1.0), 1.0 / s
    if loss == "huber":
        big = z > 1.0
        root = np.sqrt(np.where(big, z, 1.0))
        return np.where(big, 2.0 * root - 1.0, z), np.where(big, 1.0 / root, 1.0)
    if loss == "cauchy":
        return np.log1p(z), 1.0 / (1.0 + z)
    raise ValueError(f"unknown loss {loss!r}")


@dataclass(frozen=True)
class FitProblem:
    """What stays fixed across a batch of curve fits: sizes, bounds, loss.

    t: log(x / x_ref) per point, shape (n,). ceiling_lo/ceiling_hi: bounds on C, arrays
    broadcastable to (B, 1) (equal for a fixed ceiling).
    """

    t: np.ndarray
    free: bool
    ceiling_lo: np.ndarray
    ceiling_hi: np.ndarray
    a_min: float
    loss: str
    f_scale: float
    c_bounds: tuple[float, float] = C_BOUNDS

    @property
    def n_params(self) -> int:
        return 3 if self.free else 2

    def cost(self, r: np.ndarray) -> np.ndarray:
        """0.5 * f**2 * sum(rho((r/f)**2)) over the last axis."""
        f = self.f_scale
        return 0.5 * f * f * rho((r / f) ** 2, self.loss)[0].sum(axis=-1)

    def weights(self, r: np.ndarray) -> np.ndarray:
        f = self.f_scale
        return rho((r / f) ** 2, self.loss)[1]


def _linear_solve(z, y, w, lo, hi, a_min, free):
    """argmin over a >= a_min, lo <= C <= hi of sum w * (y - C + a*z)**2 (last axis).

    The objective is a convex quadratic, so its box-constrained minimum is the free minimum
    when feasible, else the best of the minima on the faces C = lo, C = hi, a = a_min.
    """
    wz = w * z
    sz, szz, szy = wz.sum(-1), (wz * z).sum(-1), (wz * y).sum(-1)
    lo, hi = lo[..., 0], hi[..., 0]
    szz_safe = np.maximum(szz, 1e-300)
    if not free:
        return np.maximum((lo * sz - szy) / szz_safe, a_min), np.broadcast_to(lo, sz.shape)
    sw, sy, syy = w.sum(-1), (w * y).sum(-1), (w * y * y).sum(-1)

    def cost(a, c):
        return syy + c * c * sw + a * a * szz - 2 * c * sy + 2 * a * szy - 2 * a * c * sz

    def a_given(c):
        return np.maximum((c * sz - szy) / szz_safe, a_min)

    candidates = []
    det = sw * szz - sz * sz
    ok = det > 1e-12 * np.maximum(sw * szz, 1e-300)
    beta = (sw * szy - sz * sy) / np.where(ok, det, 1.0)
    c_free = (sy - beta * sz) / np.maximum(sw, 1e-300)
    a_free = -beta
    feasible = ok & (a_free >= a_min) & (c_free >= lo) & (c_free <= hi)
    candidates.append((a_free, c_free, np.where(feasible, cost(a_free, c_free), np.inf)))
    for c_face in (np.broadcast_to(lo, sw.shape), np.broadcast_to(hi, sw.shape)):
        a_face = a_given(c_face)
        candidates.append((a_face, c_face, cost(a_face, c_face)))
    c_amin = np.clip((sy + a_min * sz) / np.maximum(sw, 1e-300), lo, hi)
    candidates.append((np.full_like(c_amin, a_min), c_amin, cost(a_min, c_amin)))
    costs = np.stack([cand[2] for cand in candidates])
    best = np.argmin(costs, axis=0)
    a = np.choose(best, [cand[0] for cand in candidates])
    c = np.choose(best, [np.broadcast_to(cand[1], sw.shape) for cand in candidates])
    return a, c


def _grid(prob: FitProblem, y: np.ndarray) -> np.ndarray:
    """Best (log a, c, C) per row of y (B, n) over the c grid; returns (B, 3)."""
    cs = np.geomspace(*prob.c_bounds, N_GRID)
    z = np.exp(-cs[:, None] * prob.t[None, :])[None]  # (1, G, n)
    yy = y[:, None, :]  # (B, 1, n)
    lo, hi = prob.ceiling_lo[:, None], prob.ceiling_hi[:, None]  # (B|1, 1, 1)
    w = np.ones(np.broadcast_shapes(z.shape, yy.shape))
    for step in range(IRLS_STEPS if prob.loss != "linear" else 1):
        a, c = _linear_solve(z, yy, w, lo, hi, prob.a_min, prob.free)
        r = yy - (c[..., None] - a[..., None] * z)
        if step + 1 < IRLS_STEPS:
            w = prob.weights(r)
    best = np.argmin(prob.cost(r), axis=1)
    rows = np.arange(y.shape[0])
    return np.column_stack([np.log(a[rows, best]), cs[best], c[rows, best]])


def _residuals(theta, t, y):
    z = np.exp(-theta[:, 1:2] * t)
    az = np.exp(theta[:, 0:1]) * z
    return y - (theta[:, 2:3] - az), az


def _bounds(prob: FitProblem, batch: int):
    lo = np.column_stack([np.full(batch, np.log(prob.a_min)), np.full(batch, prob.c_bounds[0]),
                          np.broadcast_to(prob.ceiling_lo[:, 0], (batch,))])
    hi = np.column_stack([np.full(batch, np.inf), np.full(batch, prob.c_bounds[1]),
                          np.broadcast_to(prob.ceiling_hi[:, 0], (batch,))])
    return lo, hi


def _levenberg_marquardt(prob: FitProblem, y: np.ndarray, theta: np.ndarray,
                         step_tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Projected, damped Gauss-Newton on (log a, c, C) with robust IRLS weights, per row."""
    lo, hi = _bounds(prob, y.shape[0])
    p = prob.n_params
    r, az = _residuals(theta, prob.t, y)
    cost = prob.cost(r)
    lam = np.full(y.shape[0], 1e-3)
    for _ in range(LM_STEPS):
        w = prob.weights(r)
        # normal equations of the weighted Gauss-Newton step, written out (p <= 3 is too small
        # for einsum to pay off); columns of d r / d theta: (az, -az*t, -1)
        t = prob.t
        wu = w * az
        wuu, wr = wu * az, w * r
        h11, h12, h22 = wuu.sum(1), -(wuu * t).sum(1), (wuu * t * t).sum(1)
        g1, g2 = (wu * r).sum(1), -(wu * r * t).sum(1)
        if p == 3:
            h13, h23, h33 = -wu.sum(1), (wu * t).sum(1), w.sum(1)
            hess = np.stack([np.stack([h11, h12, h13], -1), np.stack([h12, h22, h23], -1),
                             np.stack([h13, h23, h33], -1)], -2)
            grad = np.stack([g1, g2, -wr.sum(1)], -1)
        else:
            hess = np.stack([np.stack([h11, h12], -1), np.stack([h12, h22], -1)], -2)
            grad = np.stack([g1, g2], -1)
        diag = np.einsum("bii->bi", hess)
        damped = hess + (lam[:, None] * np.maximum(diag, 1e-12))[:, :, None] * np.eye(p)
        try:
            step = -np.linalg.solve(damped, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -grad / np.maximum(np.einsum("bii->bi", damped), 1e-300)
        trial = theta.copy()
        trial[:, :p] = np.clip(theta[:, :p] + step, lo[:, :p], hi[:, :p])
        r_trial, az_trial = _residuals(trial, prob.t, y)
        cost_trial = prob.cost(r_trial)
        better = np.isfinite(cost_trial) & (cost_trial < cost)
        # settled rows: the step no longer moves the parameters, or the cost stopped falling
        moved = np.abs(trial - theta).max(axis=1)
        settled = (moved <= step_tol * (1.0 + np.abs(theta).max(axis=1))) | (
            better & (cost - cost_trial <= 1e-15 * cost)) | (~better & (lam > 1e6))
        theta = np.where(better[:, None], trial, theta)
        r = np.where(better[:, None], r_trial, r)
        az = np.where(better[:, None], az_trial, az)
        cost = np.where(better, cost_trial, cost)
        lam = np.where(better, lam / 3.0, lam * 4.0)
        if np.all(settled):
            break
    return theta, cost


def fit_batch(prob: FitProblem, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit every row of y (B, n); returns theta (B, 3) = (log a, c, C) and the robust cost (B,)."""
    y = np.atleast_2d(np.asarray(y, dtype=float))
    theta = _grid(prob, y)
    return _levenberg_marquardt(prob, y, theta)


def polish(prob: FitProblem, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, float, dict]:
    """Refine one fit with scipy.optimize.least_squares (trf, bounds, same loss and f_scale).

    Keeps the start when scipy does not lower the cost. Returns theta (3,), cost, solver info.
    """
    lo, hi = (b[0] for b in _bounds(prob, 1))
    # a free ceiling whose bounds meet (largest median score == max_score) is not free: scipy
    # refuses equal bounds, so it is held at that value
    p = 3 if prob.free and hi[2] > lo[2] else 2
    lo, hi = lo[:p], hi[:p]
    start = np.clip(theta[:p], lo, hi)
    ceiling = theta[2]

    def full(q):
        return np.concatenate([q, [ceiling]])[:3] if p == 2 else q

    def fun(q):
        return _residuals(full(q)[None], prob.t, y[None])[0][0]

    def jac(q):
        _, az = _residuals(full(q)[None], prob.t, y[None])
        az = az[0]
        return np.column_stack([az, -az * prob.t, -np.ones_like(az)])[:, :p]

    with np.errstate(over="ignore", invalid="ignore"):
        start_cost = float(prob.cost(fun(start)))
    info = {"method": "grid+irls+lm, polished by scipy least_squares (trf)"}
    if not np.isfinite(start_cost):  # values near 1e300: the squared residuals overflow, no fit is meaningful
        raise InputError(
            f"the fit overflows floating point (scores up to {np.max(np.abs(y)):.3g}, a ceiling or floor of "
            f"{float(ceiling):.3g} with bound {float(np.max(np.abs(prob.ceiling_hi))):.3g}, sizes up to "
            f"{np.exp(float(np.max(prob.t))):.3g}x the smallest): the squared "
            "residuals pass 1e308; put scores on 0..100 (losses in nats), sizes in pairs, and keep --max-score "
            "near the scores")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            result = least_squares(fun, start, jac=jac, bounds=(lo, hi), loss=prob.loss, f_scale=prob.f_scale,
                                   method="trf", x_scale="jac", ftol=1e-14, xtol=1e-14, gtol=1e-14, max_nfev=200)
    except (ValueError, FloatingPointError, OverflowError, np.linalg.LinAlgError) as exc:
        # scipy's SVD refuses an inf/NaN Jacobian (residuals of values near 1e300 overflow on the
        # way): the start from the batch solver stands, as when scipy does not lower the cost
        return full(start), start_cost, {**info, "polish_rejected": True, "message": str(exc)[:200]}
    info.update(status=int(result.status), nfev=int(result.nfev), message=str(result.message))
    if np.isfinite(result.cost) and result.cost <= start_cost:
        return full(result.x), float(result.cost), info
    info["polish_rejected"] = True
    return full(start), start_cost, info


def robust_scale(r: np.ndarray, n_params: int) -> float:
    """1.4826 * median |r - median r|, inflated by sqrt(n / (n - p)) for the fitted parameters."""
    r = np.asarray(r, dtype=float)
    n = r.size
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    return mad * np.sqrt(n / max(n - n_params, 1))


def resample(fitted: np.ndarray, residuals: np.ndarray, n_params: int, n_draws: int,
             rng: np.random.Generator) -> np.ndarray:
    """Residual bootstrap: y* = fitted + r[i*] with r scaled by sqrt(n / (n - p)); (n_draws, n)."""
    n = residuals.size
    scaled = residuals * np.sqrt(n / max(n - n_params, 1))
    idx = rng.integers(0, n, size=(n_draws, n))
    return fitted[None, :] + scaled[idx]


# -- one data set, with the robust scale estimated from the data -----------------------------
def top_median(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Largest per-size median score of each row of y (B, n): the free ceiling's lower bound.

    A median, not the maximum, so one outlying high run cannot force the ceiling up.
    """
    y = np.atleast_2d(y)
    return np.max([np.median(y[:, x == size], axis=1) for size in np.unique(x)], axis=0)


def make_problem(s: FitOptions, t, lower, f_scale: float, loss: str | None = None) -> FitProblem:
    """The batch problem of options ``s`` on log sizes ``t``: a free ceiling in [lower, max], else
    fixed; ``loss`` overrides s.loss (the first pass of an auto-scaled fit is plain least squares)."""
    top = s.fit_max_score
    if s.free:
        lo = np.minimum(np.asarray(lower, dtype=float).reshape(-1, 1), top)
        hi = np.full((1, 1), top)
    else:
        lo = hi = np.full((1, 1), s.fit_ceiling)
    return FitProblem(t=t, free=s.free, ceiling_lo=lo, ceiling_hi=hi, a_min=1e-9 * (abs(top) or 1.0),
                      loss=s.loss if loss is None else loss, f_scale=f_scale, c_bounds=s.c_bounds)


def fit_points(x: np.ndarray, y: np.ndarray, s: FitOptions):
    """Fit one data set; returns (law, problem, cost, solver info)."""
    x_ref = float(x.min())
    t = np.log(x / x_ref)
    lower = top_median(x, y)

    def once(loss: str, f_scale: float):
        prob = make_problem(s, t, lower, f_scale, loss=loss)
        with np.errstate(over="ignore", invalid="ignore"):  # values near 1e300: polish refuses them in one line
            theta, cost = fit_batch(prob, y[None])
        theta, cost, info = polish(prob, y, theta[0])
        return theta, prob, cost, info

    if s.loss == "linear":
        theta, prob, cost, info = once("linear", 1.0)
    elif s.f_scale is not None:
        theta, prob, cost, info = once(s.loss, s.f_scale)
    else:
        theta, prob, cost, info = once("linear", 1.0)
        for _ in range(2):  # sigma from least squares, then from the robust fit itself
            r = y - (theta[2] - np.exp(theta[0]) * np.exp(-theta[1] * t))
            f_scale = max(TUNING * robust_scale(r, s.n_params), s.scale_floor)
            theta, prob, cost, info = once(s.loss, f_scale)
    law = PowerLaw(a=float(np.exp(theta[0])), b=1.0 / x_ref, c=float(theta[1]), ceiling=float(theta[2]))
    return law, prob, cost, info
