"""What one more pilot would tell: simulated outcomes of a pilot and the cheap refit of its language.

A candidate pilot of language L at size s is simulated from what is known now (a preposterior
draw): for outcome m a bootstrap draw d_m of L's law is taken as the truth and the pilot's score
is that law's value at s plus seed noise,

    y_m = value_{d_m}(s) + sigma_L * z_m,      z_m ~ Normal(0, 1)

sigma_L one model's seed sd of language L (measured from repeated pilots). L's law is then refitted
on its pilots plus (s, y_m) with the engine of budgetlaw.fitting (grid + IRLS + Levenberg-Marquardt
on the whole batch of outcomes at once; no scipy polish, the robust scale f_scale of the current
fit kept), and its residual bootstrap redone with the same batch solver: n_boot refits per outcome,
all M * n_boot of them in one call. That is the fit budgetlaw.fit makes, less the polish, which
moves a law by far less than its bootstrap spread.

Every candidate sees the same z_m, the same draw indices d_m and the same bootstrap resampling
pattern (common random numbers), so two candidates differ by what they measure, not by luck.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from budgetlaw.fitting.engine import fit_batch, make_problem, top_median
from budgetlaw.fitting.options import FitOptions

__all__ = ["Refit", "refit", "simulate_outcomes"]


@dataclass(frozen=True)
class Refit:
    """M refits of one language: point K, c (M,) and bootstrap K, c (M, B) of the identifiable law."""

    K: np.ndarray
    c: np.ndarray
    draws_K: np.ndarray
    draws_c: np.ndarray

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self.__dict__.items()}


def _stream(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(zlib.crc32(str(k).encode()) for k in keys)])


def simulate_outcomes(draws: np.ndarray, size: float, sigma: float, lower_is_better: bool, n: int,
                      seed: int) -> np.ndarray:
    """n simulated scores of a pilot at ``size`` (module docstring), in the metric's own units.

    draws: (D, 3) rows of (K, c, ceiling) (floor E for a loss); sigma: one model's seed sd."""
    rng = _stream(seed, "outcomes")
    pick = rng.integers(0, len(draws), size=n)
    z = rng.standard_normal(n)
    K, c, top = draws[pick, 0], draws[pick, 1], draws[pick, 2]
    sign = -1.0 if lower_is_better else 1.0
    return top - sign * K * float(size) ** (-c) + sigma * z


def refit(x: np.ndarray, y: np.ndarray, options: FitOptions, f_scale: float, n_boot: int, seed: int,
          extra_size: float | None = None, extra_scores: np.ndarray | None = None) -> Refit:
    """Refit one language on its pilots (x, y in the metric's units) plus, for each of the M
    ``extra_scores``, one pilot at ``extra_size``; without them a single refit (M = 1) of the
    pilots as they are. Returns the point laws and n_boot residual-bootstrap refits of each."""
    y = np.asarray(y, dtype=float)
    sign = -1.0 if options.lower_is_better else 1.0  # the engine fits scores: a loss as -loss
    if extra_size is None:
        xs, Y = np.asarray(x, dtype=float), (sign * y)[None, :]
    else:
        extra = np.asarray(extra_scores, dtype=float)
        xs = np.append(np.asarray(x, dtype=float), float(extra_size))
        Y = np.column_stack([np.tile(sign * y, (len(extra), 1)), sign * extra])
    M, n = Y.shape
    x_ref = float(xs.min())
    t = np.log(xs / x_ref)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        theta, _ = fit_batch(make_problem(options, t, top_median(xs, Y), f_scale), Y)
        fitted = theta[:, 2:3] - np.exp(theta[:, 0:1]) * np.exp(-theta[:, 1:2] * t)
        p = options.n_params
        scaled = (Y - fitted) * np.sqrt(n / max(n - p, 1))
        idx = _stream(seed, "bootstrap", n).integers(0, n, size=(n_boot, n))
        ystar = (fitted[:, None, :] + scaled[:, idx]).reshape(M * n_boot, n)
        boot, _ = fit_batch(make_problem(options, t, top_median(xs, ystar), f_scale), ystar)
    K = np.exp(theta[:, 0]) * x_ref ** theta[:, 1]
    bK = (np.exp(boot[:, 0]) * x_ref ** boot[:, 1]).reshape(M, n_boot)
    return Refit(K=K, c=theta[:, 1].copy(), draws_K=bK, draws_c=boot[:, 1].reshape(M, n_boot))
