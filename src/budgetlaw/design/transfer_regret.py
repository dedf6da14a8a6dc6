"""The plan's expected regret for any law the report reads: one-language laws, and laws with
transfer between languages or repeated pairs (budgetlaw.transfer.law).

    r = plan_regret(laws, plan, level=0.9)     # an ExpectedRegret (design.regret), or None

**Which path.** One-language laws whose plan cannot repeat pairs: ``expected_regret``, the exact
solver per draw. Otherwise (a transfer matrix that is not zero, in the fit or a draw, or a cap
above a language's distinct pairs) the best plan of each draw is found here, under draw d of
every law and of T and R* (index-aligned; the point T and R* in every draw when the transfer has
no draws, as for one-language laws), with the plan's own budget, floors, caps, costs and weights:

    f_d(x) = sum_i w_i K_di d_di(x)**(-c_di),   d_d(x) = e_d(x) + T_d e_d(x),
    e_dj(x) = x_j  (x_j <= U_j),   U_j + U_j R*_d (1 - exp(-(x_j - U_j) / (U_j R*_d)))  (x_j > U_j)

    regret_d = f_d(plan) - min_x f_d(x)  over  sum_i cost_i x_i = budget, lo <= x <= hi

in the objective's units (the ceilings cancel, for a score and for a loss alike). f_d is convex
and decreasing in every x_j (T >= 0, e concave and increasing), so the budget binds unless every
cap fits it. The minimum is found by projected gradient descent in the spends s_j = n cost_j x_j /
budget (sum s = n), with a backtracking step per draw, started at the plan, every draw at once;
the projection onto {sum s = n, l <= s <= h} is exact (the breakpoints of the clipped sum).
The Frank-Wolfe gap bounds the shortfall from the true minimum: it is checked against
``TOLERANCE`` of the objective and logged when a draw does not reach it.

``plan_gain`` (and the share) take the uniform split water-filled under the caps, as
``expected_regret`` does. None (and a log line saying why) for the objective ``maxmin`` (not a
sum per draw), laws without bootstrap draws, or a plan whose languages are not the laws'.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from budgetlaw.allocation.baselines import water_fill
from budgetlaw.design.regret import ExpectedRegret, draw_arrays, expected_regret, plan_arrays
from budgetlaw.direction import direction_of
from budgetlaw.errors import InputError
from budgetlaw.transfer.law import effective
from budgetlaw.transfer.prediction import law_transfer

__all__ = ["plan_regret", "best_transfer_sizes", "TOLERANCE"]

log = logging.getLogger(__name__)

#: Frank-Wolfe gap, relative to f_d at the plan, below which a draw's best plan counts as found.
TOLERANCE = 1e-7
_MAX_ITERATIONS = 3000
_CHECK_EVERY = 25


def plan_regret(laws, plan, *, level: float = 0.9) -> ExpectedRegret | None:
    """The plan's expected regret over the laws' draws (module docstring), or None where it is
    not defined for these laws and plan (the reason is logged)."""
    try:
        languages = [str(k) for k in plan.sizes.index]
        if plan.objective not in ("sum", "robust"):
            raise InputError(f"objective {plan.objective!r} is not a sum per draw")
        p = plan_arrays(plan)
        unique = (plan.constraints or {}).get("available") or {}
        U = np.array([float(unique.get(lang, math.inf)) for lang in languages])
        transfer = getattr(laws, "transfer", None)
        if transfer is not None and not hasattr(transfer, "draw_T"):
            raise InputError("the laws' transfer is a plain matrix without draws (not a budgetlaw.transfer Transfer)")
        repeats = bool((np.isfinite(U) & (p["hi"] > U * (1 + 1e-12))).any())
        if (transfer is None or transfer.is_zero) and not repeats:
            if transfer is not None:  # a zero transfer: the one-language laws it leaves
                laws = {lang: laws[lang] for lang in languages}
            return expected_regret(laws, plan, level=level)
        if sorted(languages) != sorted(str(k) for k in laws):
            raise InputError("the plan's languages are not the laws' (a transfer law reads every language)")
        return _transfer_regret(laws, plan, p, U, level)
    except InputError as exc:
        log.info("expected regret not computed: %s", exc)
        return None


def _transfer_regret(laws, plan, p, U, level: float) -> ExpectedRegret:
    languages = p["languages"]
    K, c = draw_arrays(laws, languages)
    tr = law_transfer(laws, languages)
    if len(tr.draws):
        D = min(len(K), len(tr.draws))
        K, c, T, rstar = K[:D], c[:D], tr.draw_T[:D], tr.draw_rstar[:D]
    else:
        T, rstar = np.broadcast_to(tr.T, (len(K), *tr.T.shape)), np.full(len(K), tr.rstar)
    args = dict(w=p["w"], cost=p["cost"], lo=p["lo"], hi=p["hi"], budget=p["budget"], U=U)
    best = best_transfer_sizes(K, c, T, rstar, start=p["x"], **args)
    regret = np.maximum(_gaps(p["x"], K, c, T, rstar, p["w"], U) - _gaps(best, K, c, T, rstar, p["w"], U), 0.0)
    uniform, _ = water_fill(np.ones(len(languages)), p["lo"], p["hi"], p["cost"], p["budget"])
    optimum_gain = float(np.mean(_gaps(uniform, K, c, T, rstar, p["w"], U) - _gaps(best, K, c, T, rstar, p["w"], U)))
    Kp = np.array([float(laws[lang].K) for lang in languages])
    cp = np.array([float(laws[lang].c) for lang in languages])
    plan_gain = float(_gaps(uniform, Kp, cp, tr.T, tr.rstar, p["w"], U) - _gaps(p["x"], Kp, cp, tr.T, tr.rstar, p["w"], U))
    low, high = (float(v) for v in np.quantile(regret, [(1 - level) / 2, (1 + level) / 2]))
    expected = float(regret.mean())
    spread = np.std(np.log(best), axis=0)
    return ExpectedRegret(objective=plan.objective, lower_is_better=bool(direction_of(laws)), level=float(level),
                          expected=expected, lower=low, upper=high,
                          share=expected / optimum_gain if optimum_gain > 0 else math.nan,
                          optimum_gain=optimum_gain, plan_gain=plan_gain, draws=int(len(K)), budget=float(p["budget"]),
                          worst_language=str(languages[int(np.argmax(spread))]))


def _effective(x, T, rstar, U):
    """d (..., n), budgetlaw.transfer.law.effective, and e'(x) (..., n): the slope of each
    language's own e, exp(-(x - U) / (U R*)) beyond its distinct pairs U, 1 within them."""
    x = np.asarray(x, dtype=float)
    r = np.asarray(rstar, dtype=float)[..., None] if np.ndim(rstar) else rstar
    Us = np.where(np.isfinite(U), U, 1.0)
    slope = np.where(np.isfinite(U) & (x > U), np.exp(-np.maximum(x - Us, 0.0) / (Us * r)), 1.0)
    return effective(x, T, U, rstar), slope


def _gaps(x, K, c, T, rstar, w, U) -> np.ndarray:
    """f(x) = sum_i w_i K_i d_i(x)**(-c_i) over the last axis."""
    d, _ = _effective(x, T, rstar, U)
    return (w * K * d ** (-c)).sum(axis=-1)


def _value_and_gradient(x, K, c, T, rstar, w, U):
    d, slope = _effective(x, T, rstar, U)
    term = w * K * d ** (-c)
    outer = -c * term / d  # df/dd_i
    grad = slope * (outer + np.einsum("...ij,...i->...j", T, outer))  # d_i = e_i + sum_j T_ij e_j
    return term.sum(axis=-1), grad


def _project(v, lo, hi, total: float) -> np.ndarray:
    """argmin |s - v| over sum s = total, lo <= s <= hi, per row of v (D, n): s = clip(v - mu, lo, hi)
    with mu where the clipped sum, piecewise linear and decreasing in mu, crosses ``total``."""
    low_end = (v.min(axis=-1, keepdims=True) - total)  # there every s sits at min(hi, >= total)
    points = np.concatenate([v - lo, np.where(np.isfinite(hi), v - hi, low_end)], axis=-1)
    points = np.sort(np.maximum(points, low_end), axis=-1)
    sums = np.clip(v[..., None, :] - points[..., :, None], lo, hi).sum(axis=-1)  # (D, 2n), decreasing
    k = np.clip((sums > total).sum(axis=-1), 1, points.shape[-1] - 1)  # sums[k-1] > total >= sums[k]
    rows = np.arange(len(v))
    a, b, sa, sb = points[rows, k - 1], points[rows, k], sums[rows, k - 1], sums[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(sa > sb, a + (sa - total) * (b - a) / (sa - sb), b)
    return np.clip(v - mu[:, None], lo, hi)


def _fw_gap(s, g, lo, hi, total: float) -> np.ndarray:
    """g . s - min over the feasible set of g . s' (>= f(s) - min f, f convex): the cheapest-slope
    spends filled first."""
    order = np.argsort(g, axis=-1)
    gs = np.take_along_axis(g, order, axis=-1)
    lo_s = np.broadcast_to(lo, g.shape)
    room = np.take_along_axis(np.broadcast_to(hi - lo, g.shape), order, axis=-1)
    left = total - lo_s.sum(axis=-1, keepdims=True)
    before = np.concatenate([np.zeros_like(left), np.cumsum(room, axis=-1)[..., :-1]], axis=-1)
    fill = np.clip(left - before, 0.0, room)
    best = (gs * fill).sum(axis=-1) + (g * lo_s).sum(axis=-1)
    return (g * s).sum(axis=-1) - best


def best_transfer_sizes(K, c, T, rstar, *, w, cost, lo, hi, budget, U, start) -> np.ndarray:
    """argmin_x f_d(x) (module docstring) per draw: K, c (D, n), T (D, n, n), rstar (D,); w, cost,
    lo, hi, U (n,) (hi, U may be inf); start (n,) a feasible plan. Returns x (D, n)."""
    K, c, T, rstar = (np.asarray(v, dtype=float) for v in (K, c, T, rstar))
    w, cost, lo, hi, U = (np.asarray(v, dtype=float) for v in (w, cost, lo, hi, U))
    D, n = K.shape
    if float((cost * hi).sum()) <= budget:
        return np.broadcast_to(hi, (D, n)).copy()
    unit = budget / (n * cost)  # x = unit * s
    lo_s, hi_s = lo / unit, hi / unit

    def value(s):
        return _value_and_gradient(unit * s, K, c, T, rstar, w, U)

    s = _project(np.broadcast_to(np.asarray(start, dtype=float) / unit, (D, n)).copy(), lo_s, hi_s, n)
    f, g = value(s)
    scale = f.copy()  # f_d at the plan: the tolerance is relative to it
    g = g * unit
    step = 1.0 / np.maximum(np.abs(g).max(axis=-1), 1e-300) * 1e-2 * n
    for iteration in range(1, _MAX_ITERATIONS + 1):
        trial = _project(s - step[:, None] * g, lo_s, hi_s, n)
        f_new, g_new = value(trial)
        move = trial - s
        ok = f_new <= f + (g * move).sum(axis=-1) + (move ** 2).sum(axis=-1) / (2 * step) + 1e-15 * np.abs(f)
        s = np.where(ok[:, None], trial, s)
        f = np.where(ok, f_new, f)
        g = np.where(ok[:, None], g_new * unit, g)
        step = np.where(ok, step * 1.5, step * 0.5)
        if iteration % _CHECK_EVERY == 0:
            gap = _fw_gap(s, g, lo_s, hi_s, n)
            if np.all(gap <= TOLERANCE * scale):
                break
    else:
        gap = _fw_gap(s, g, lo_s, hi_s, n)
        worst = int(np.argmax(gap / scale))
        log.warning("expected regret: the best plan of %d of %d draws is within %.2g of the objective, not %.0e "
                    "(draw %d); the regret may be that much low", int(np.sum(gap > TOLERANCE * scale)), D,
                    float(gap[worst] / scale[worst]), TOLERANCE, worst)
    return unit * s
