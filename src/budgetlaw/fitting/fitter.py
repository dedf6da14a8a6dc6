"""Fit one saturating power law per language to pilot runs, with bootstrap uncertainty.

    score(x) = ceiling - K * x ** (-c)        fitted: K > 0, c in c_bounds, ceiling fixed or free
    loss(x)  = E + K * x ** (-c)              lower_is_better=True: 0 <= E <= smallest median loss

Fit, per language (engine in budgetlaw.fitting.engine, settings in budgetlaw.fitting.options):
  * robust loss (soft_l1 by default) with f_scale = 1.345 * sigma, sigma a MAD estimate of the
    noise from a plain least-squares fit, refined once from the robust fit's residuals;
  * a grid over c with closed-form bounded solves for the linear parameters, then damped
    Gauss-Newton and a scipy least_squares polish, so no fit depends on a starting guess;
  * a free ceiling lies between the largest per-size median score and ``max_score``;
  * a residual bootstrap (n_boot draws, all refitted at once in numpy) gives ``draws``;
  * a leave-the-largest-size-out refit checks extrapolation (``holdout``).
Reporting convention: b = 1 / x_ref with x_ref the smallest pilot size, so ``a`` is the fitted
gap to the ceiling at the smallest pilot size (see docs/formats/laws.md). A loss is fitted as
the score law of the negated losses and mirrored back (budgetlaw.direction).
"""

from __future__ import annotations

import logging
import sys
import zlib

import numpy as np
import scipy
from tqdm.auto import tqdm

from budgetlaw import __version__
from budgetlaw.direction import mirror_fitted
from budgetlaw.fitting.engine import fit_batch, fit_points, make_problem, resample, top_median
from budgetlaw.fitting.flags import FLAG_TEXT, fit_flags
from budgetlaw.fitting.laws import FittedLaw, LawSet
from budgetlaw.fitting.options import C_BOUNDS, FitOptions
from budgetlaw.pilots import read_pilots

__all__ = ["fit"]

log = logging.getLogger(__name__)
PROGRESS_LANGUAGES = 100  # from this many languages on, progress is shown off a terminal too


def _fit_language(language: str, x: np.ndarray, y: np.ndarray, s: FitOptions) -> FittedLaw:
    """Point fit, flags, holdout refit and bootstrap draws of one language (score-oriented y)."""
    law, prob, cost, info = fit_points(x, y, s)
    pred = law.predict(x)
    flags = fit_flags(law, x, y, prob, s)
    for flag in flags:
        bounds = f" (c_bounds {s.c_bounds})" if flag == "c_at_bound" else ""  # the bounds explain only that flag
        log.warning("%s: %s: %s%s", language, flag, FLAG_TEXT[flag], bounds)

    holdout = None
    largest = x.max()
    keep = x < largest
    if len(np.unique(x[keep])) >= s.n_params:
        held, _, _, _ = fit_points(x[keep], y[keep], s)
        observed = float(y[~keep].mean())
        predicted = float(held.predict(largest))
        holdout = {"size": float(largest), "observed": observed, "predicted": predicted,
                   "error": predicted - observed, "law": held.to_dict()}

    draws = np.empty((0, 3))
    if s.n_boot > 0:
        # one stream per language, so adding a language leaves the others' draws unchanged
        rng = np.random.default_rng([s.seed, zlib.crc32(language.encode("utf-8"))])
        ystar = resample(pred, y - pred, s.n_params, s.n_boot, rng)
        boot = make_problem(s, prob.t, top_median(x, ystar), prob.f_scale)
        theta, _ = fit_batch(boot, ystar)
        draws = np.column_stack([np.exp(theta[:, 0]) * law.x_ref ** theta[:, 1], theta[:, 1], theta[:, 2]])
    return FittedLaw(language=language, law=law, x=x, y=y, draws=draws, holdout=holdout, flags=flags,
                     free_ceiling=s.free, f_scale=float(prob.f_scale), cost=float(cost), solver=info)


def fit(pilots, ceiling: float | None = None, *, free_ceiling: bool = False, max_score: float | None = None,
        loss: str = "soft_l1", n_boot: int = 1000, seed: int = 0, metric: str | None = None,
        f_scale: float | None = None, c_bounds: tuple[float, float] = C_BOUNDS,
        lower_is_better: bool = False) -> LawSet:
    """Fit score = ceiling - K * x**(-c) (or loss = E + K * x**(-c)) per language of ``pilots``.

    pilots: CSV path or DataFrame (budgetlaw.pilots). metric: which metric to fit when the
    pilots hold several. Every other argument is a setting of budgetlaw.fitting.FitOptions,
    checked there: ceiling (default 100) or, with ``free_ceiling=True``, fitted in [largest
    per-size median score, max_score]; lower_is_better: the scores are a loss (e.g. nll), its
    floor E always fitted in [0, smallest per-size median loss]; loss: soft_l1 | huber | cauchy
    | linear; f_scale: robust-loss scale (None = 1.345 * MAD noise estimate); n_boot: residual-
    bootstrap draws (0 = none). Needs >= 3 distinct sizes per language (4 with a free ceiling or
    a loss).
    """
    s = FitOptions(ceiling=ceiling, free_ceiling=free_ceiling, max_score=max_score, loss=loss, n_boot=n_boot,
                   seed=seed, f_scale=f_scale, c_bounds=c_bounds, lower_is_better=lower_is_better)
    top = s.fit_max_score if s.free else min(s.fit_ceiling, s.fit_max_score)
    frame = read_pilots(pilots, metric=metric, max_score=top, min_sizes=4 if s.free else 3,
                        lower_is_better=s.lower_is_better)
    laws = {}
    groups = list(frame.groupby("language", sort=False))
    # a bar on a terminal; a long fit (thousands of languages take tens of minutes) shows its
    # progress off a terminal too, one update every 30 s (tqdm's default hides it there)
    many = len(groups) >= PROGRESS_LANGUAGES
    bar = tqdm(groups, desc="fitting laws", unit="language", disable=False if many else None,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    for language, group in bar:
        x, y = group["size"].to_numpy(float), group["score"].to_numpy(float)
        if s.lower_is_better:  # fit -loss = (-E) - K x^-c as a score law, then mirror it back
            laws[language] = mirror_fitted(_fit_language(language, x, -y, s), y)
        else:
            laws[language] = _fit_language(language, x, y, s)
    signature = {
        "metric": frame.attrs.get("metric"),
        **s.signature(),
        "x_ref": "smallest pilot size",
        "bootstrap": "residual",
        "n_boot": s.n_boot,
        "seed": s.seed,
        "version": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "source": frame.attrs.get("source") or None,
    }
    return LawSet(laws, metric=frame.attrs.get("metric"), signature=signature)
