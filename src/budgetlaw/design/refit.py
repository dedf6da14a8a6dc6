"""What one more pilot would tell: simulated outcomes of a pilot, the refit of its language's law
and the update of its bootstrap draws.

A candidate pilot of language L at size s is simulated from what is known now (a preposterior
draw): for outcome m a bootstrap draw d_m of L's law is taken as the truth and the pilot's score
is that law's value at s plus seed noise,

    y_m = value_{d_m}(s) + sigma_L * z_m,      z_m ~ Normal(0, 1)

sigma_L one model's seed sd of language L (measured from repeated pilots). Then, per outcome:

* the **point law** of L is refitted on its pilots plus (s, y_m) with the engine of
  budgetlaw.fitting (grid + IRLS + Levenberg-Marquardt, the whole batch of outcomes at once, the
  robust scale f_scale of the current fit kept, no scipy polish): the law the plan would be made
  from after the pilot;
* the **draws** of L are the current bootstrap draws reweighted by the new pilot's likelihood,

      weight_md  proportional to  exp(-(y_m - value_d(s))**2 / (2 sigma_L**2))

  (the draws taken as samples of what the law may be, updated by Bayes' rule). Averaged over the
  outcomes every draw keeps its weight 1/D, so the update adds no spread of its own: a pilot that
  cannot tell the draws apart leaves them as they are, one that can keeps the draws it agrees with.
  A residual bootstrap redone on the pilots plus one simulated point does not have this property
  (the simulated residual inflates the resampled noise), which is why it is not used here.

Every candidate sees the same z_m and the same draw indices d_m (common random numbers), so two
candidates differ by what they measure, not by luck.
"""

from __future__ import annotations

import zlib

import numpy as np

from budgetlaw.fitting.engine import fit_batch, make_problem, top_median
from budgetlaw.fitting.options import FitOptions

__all__ = ["refit", "simulate_outcomes", "reweight"]


def _stream(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(zlib.crc32(str(k).encode()) for k in keys)])


def values_at(draws: np.ndarray, size: float, lower_is_better: bool) -> np.ndarray:
    """Each draw's value at ``size``: ceiling - K s**(-c), or E + K s**(-c) for a loss; (D,)."""
    sign = -1.0 if lower_is_better else 1.0
    return draws[:, 2] - sign * draws[:, 0] * float(size) ** (-draws[:, 1])


def simulate_outcomes(draws: np.ndarray, size: float, sigma: float, lower_is_better: bool, n: int,
                      seed: int) -> np.ndarray:
    """n simulated scores of a pilot at ``size`` (module docstring), in the metric's own units.

    draws: (D, 3) rows of (K, c, ceiling) (floor E for a loss); sigma: one model's seed sd."""
    rng = _stream(seed, "outcomes")
    pick = rng.integers(0, len(draws), size=n)
    z = rng.standard_normal(n)
    return values_at(draws, size, lower_is_better)[pick] + sigma * z


def reweight(draws: np.ndarray, size: float, scores: np.ndarray, sigma: float, lower_is_better: bool) -> np.ndarray:
    """(M, D) weights of the draws after seeing each of the M ``scores`` at ``size`` (rows sum to 1)."""
    gap = (np.asarray(scores, dtype=float)[:, None] - values_at(draws, size, lower_is_better)[None, :]) / sigma
    log_w = -0.5 * gap**2
    log_w -= log_w.max(axis=1, keepdims=True)
    w = np.exp(log_w)
    return w / w.sum(axis=1, keepdims=True)


def refit(x: np.ndarray, y: np.ndarray, options: FitOptions, f_scale: float, extra_size: float | None = None,
          extra_scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Point laws (K, c), each (M,), of one language refitted on its pilots (x, y in the metric's
    units) plus, for each of the M ``extra_scores``, one pilot at ``extra_size``; without them one
    refit (M = 1) of the pilots as they are."""
    y = np.asarray(y, dtype=float)
    sign = -1.0 if options.lower_is_better else 1.0  # the engine fits scores: a loss as -loss
    if extra_size is None:
        xs, Y = np.asarray(x, dtype=float), (sign * y)[None, :]
    else:
        extra = np.asarray(extra_scores, dtype=float)
        xs = np.append(np.asarray(x, dtype=float), float(extra_size))
        Y = np.column_stack([np.tile(sign * y, (len(extra), 1)), sign * extra])
    x_ref = float(xs.min())
    t = np.log(xs / x_ref)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        theta, _ = fit_batch(make_problem(options, t, top_median(xs, Y), f_scale), Y)
    return np.exp(theta[:, 0]) * x_ref ** theta[:, 1], theta[:, 1].copy()
