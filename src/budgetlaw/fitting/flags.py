"""Diagnostics of one fit: the flags that say a law is not pinned down by its pilots.

    flat_data         the values do not improve significantly with log(size)
    c_at_bound        the exponent c sits at a bound of c_bounds
    ceiling_at_bound  a free ceiling sits at a bound (for a loss: the floor E at the smallest median
                      loss; E = 0 is a plain power law, the normal case, and not flagged)

Computed on the fitted problem's own orientation (for a loss: the negated losses, so that
"improve" means "rise" here too).

FLAG_TEXT is the one wording of what each flag means and what to do about it: the fit's log
warnings and the report's Warnings section (report.md) both use it.
"""

from __future__ import annotations

import numpy as np

from budgetlaw.fitting.engine import FitProblem
from budgetlaw.fitting.options import FitOptions
from budgetlaw.law import PowerLaw

__all__ = ["FLAG_TEXT", "fit_flags"]


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


def fit_flags(law: PowerLaw, x: np.ndarray, y: np.ndarray, prob: FitProblem, s: FitOptions) -> tuple[str, ...]:
    """The flags of a fitted (score-oriented) law on data (x, y) under problem ``prob``."""
    flags = []
    if _flat(x, y):
        flags.append("flat_data")
    lo_c, hi_c = s.c_bounds
    if law.c <= lo_c * (1 + 1e-6) or law.c >= hi_c * (1 - 1e-6):
        flags.append("c_at_bound")
    if s.free:
        tol = 1e-6 * max(1.0, abs(s.fit_max_score))
        at_low = law.ceiling - float(prob.ceiling_lo.ravel()[0]) <= tol
        # a loss's floor E at 0 (the upper bound of the fitted ceiling -E) is a plain power law, the
        # normal case for a per-token loss far from its floor: not a warning. E at the smallest
        # median loss (the other bound) means the law could not bend and is one.
        at_high = float(prob.ceiling_hi.ravel()[0]) - law.ceiling <= tol and not s.lower_is_better
        if at_low or at_high:
            flags.append("ceiling_at_bound")
    return tuple(flags)


#: What each flag means for the reader, and what to do about it (logged by ``fit``, listed in
#: report.md's Warnings).
FLAG_TEXT = {
    "c_at_bound": "the exponent c hit its search bound, so the curve's shape is not pinned down by the pilots; "
    "add pilots at more sizes before trusting the plan",
    "flat_data": "the scores barely change across pilot sizes, so slope and noise cannot be told apart; "
    "use a wider range of pilot sizes",
    # the fixed-ceiling advice is for score laws only: `fit --lower-is-better` refuses --ceiling
    "ceiling_at_bound": "the free ceiling (for a loss: the floor E) hit its bound; add larger pilots (a score "
    "law may instead be fitted with a fixed --ceiling; a loss law's floor is always fitted)",
}
