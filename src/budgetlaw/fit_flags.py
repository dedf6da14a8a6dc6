"""Diagnostics of one fit: the flags that say a law is not pinned down by its pilots.

    flat_data         the values do not improve significantly with log(size)
    c_at_bound        the exponent c sits at a bound of c_bounds
    ceiling_at_bound  a free ceiling (for a loss: the floor E) sits at a bound

Computed on the fitted problem's own orientation (for a loss: the negated losses, so that
"improve" means "rise" here too).
"""

from __future__ import annotations

import numpy as np

from budgetlaw.bootstrap import Problem, Settings
from budgetlaw.law import PowerLaw

__all__ = ["FLAG_HELP", "fit_flags"]


def _flat(x: np.ndarray, y: np.ndarray) -> bool:
    """Scores do not rise significantly with log(size): least-squares slope <= 2 standard errors.

    A property of the data, not of the fit: with c at its lower bound a fixed-ceiling law still
    rises a little over the pilot range, however flat the scores are.
    """
    t = np.log(x)
    if np.ptp(y) == 0:
        return True
    slope, intercept = np.polyfit(t, y, 1)
    if slope <= 0:
        return True
    dof = x.size - 2
    if dof <= 0:
        return False
    resid = y - (slope * t + intercept)
    se = np.sqrt(np.sum(resid**2) / dof / np.sum((t - t.mean()) ** 2))
    return bool(slope <= 2 * se)


def fit_flags(law: PowerLaw, x: np.ndarray, y: np.ndarray, prob: Problem, s: Settings) -> tuple[str, ...]:
    """The flags of a fitted (score-oriented) law on data (x, y) under problem ``prob``."""
    flags = []
    if _flat(x, y):
        flags.append("flat_data")
    lo_c, hi_c = s.c_bounds
    if law.c <= lo_c * (1 + 1e-6) or law.c >= hi_c * (1 - 1e-6):
        flags.append("c_at_bound")
    if s.free:
        tol = 1e-6 * max(1.0, abs(s.max_score))
        if law.ceiling - float(prob.ceiling_lo.ravel()[0]) <= tol or float(prob.ceiling_hi.ravel()[0]) - law.ceiling <= tol:
            flags.append("ceiling_at_bound")
    return tuple(flags)


FLAG_HELP = {
    "flat_data": "scores do not rise (a loss does not fall) significantly with size (slope on log size <= 2 "
                 "standard errors); "
                 "the law is not determined: add larger pilot sizes or seeds",
    "c_at_bound": "the exponent c sits at a bound of {bounds}; add pilot sizes further apart",
    "ceiling_at_bound": "the free ceiling sits at a bound (largest median score or max_score; for a loss the floor E "
                        "at 0 or at the smallest median loss); fix the ceiling instead, or add larger pilots",
}
