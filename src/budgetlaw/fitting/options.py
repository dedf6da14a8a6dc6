"""Every setting of a fit, checked once: the FitOptions dataclass behind ``fit`` and its engine.

    FitOptions(ceiling=None, free_ceiling=False, max_score=None, loss="soft_l1", n_boot=1000,
               seed=0, f_scale=None, c_bounds=(0.005, 2.0), lower_is_better=False)

``fit(pilots, **settings)`` builds one; the robust engine (budgetlaw.fitting.engine) reads the
same object, so a setting is validated in exactly one place (``__post_init__``), with an error
that names the key and the fix. Resolved values, as the engine fits them:

    score law:  ceiling C = ceiling or 100 (give 1 for 0-1 COMET); a free C lies in [largest
                per-size median, max_score] with max_score = max_score or C. The fit's bounds and
                tolerances are relative to the scale, so a table x 100 fits to the same c and 100 x K
    loss law:   (lower_is_better) the negated losses are fitted as a score law whose free
                ceiling -E lies in [-smallest per-size median loss, 0]: fit_ceiling =
                fit_max_score = 0, always free; ceiling and max_score do not apply
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from budgetlaw.errors import InputError

__all__ = ["FitOptions", "LOSSES", "C_BOUNDS"]

LOSSES = ("soft_l1", "huber", "cauchy", "linear")
#: Bounds on the exponent c. Above 2 a law would lose 3/4 of its gap when data doubles, far
#: steeper than any data-scaling exponent reported for fine-tuning; below 0.005 the curve is
#: flat for any realistic range of sizes (x**-0.005 moves 3.5% over a factor 1000).
C_BOUNDS = (0.005, 2.0)


def _whole(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


@dataclass(frozen=True)
class FitOptions:
    """What a fit was asked for; see the module docstring for how ceilings resolve.

    ceiling: fixed best score (None = 100); free_ceiling: fit the ceiling too, at most max_score
    (None = ceiling); loss: soft_l1 | huber | cauchy | linear (plain least squares); n_boot:
    residual-bootstrap draws (0 = none); seed: bootstrap seed; f_scale: robust-loss scale (None
    = 1.345 * MAD noise estimate); c_bounds: (low, high) bounds of the exponent;
    lower_is_better: the values are a loss (e.g. nll), fitted as E + K * x**(-c).
    """

    ceiling: float | None = None
    free_ceiling: bool = False
    max_score: float | None = None
    loss: str = "soft_l1"
    n_boot: int = 1000
    seed: int = 0
    f_scale: float | None = None
    c_bounds: tuple[float, float] = C_BOUNDS
    lower_is_better: bool = False

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        lower = self.lower_is_better
        if not isinstance(lower, (bool, np.bool_)):
            raise InputError(f"fit: lower_is_better={lower!r} must be True or False")
        put("lower_is_better", bool(lower))
        ceiling, max_score = self.ceiling, self.max_score
        if lower:
            if ceiling is not None or max_score is not None:
                raise InputError(f"fit: ceiling={ceiling!r} / max_score={max_score!r} do not apply to a loss "
                                 "(lower_is_better=True): its floor E is fitted in [0, smallest median loss]; drop them")
        else:
            try:
                ceiling = 100.0 if ceiling is None else float(ceiling)
                max_score = ceiling if max_score is None else float(max_score)
            except (TypeError, ValueError):
                raise InputError(f"fit: ceiling={ceiling!r} / max_score={max_score!r} must be numbers, e.g. 100") from None
            if not (math.isfinite(ceiling) and math.isfinite(max_score)) or max_score <= 0 or ceiling <= 0:
                raise InputError(f"fit: ceiling={ceiling} and max_score={max_score} must be finite and > 0, "
                                 "e.g. 100 for COMET x 100")
            put("ceiling", ceiling)
            put("max_score", max_score)
        put("free_ceiling", bool(self.free_ceiling))
        if self.loss not in LOSSES:
            raise InputError(f"fit: loss={self.loss!r} is unknown; choose one of {', '.join(LOSSES)}")
        if not _whole(self.n_boot) or self.n_boot < 0:
            raise InputError(f"fit: n_boot={self.n_boot!r} must be a whole number >= 0 (0 = no bootstrap)")
        put("n_boot", int(self.n_boot))
        if not _whole(self.seed) or self.seed < 0:
            raise InputError(f"fit: seed={self.seed!r} must be a whole number >= 0")
        put("seed", int(self.seed))
        if self.f_scale is not None:
            try:
                f_scale = float(self.f_scale)
            except (TypeError, ValueError):
                f_scale = math.nan
            if not (math.isfinite(f_scale) and f_scale > 0):
                raise InputError(f"fit: f_scale={self.f_scale!r} must be a number > 0, or None to estimate it")
            put("f_scale", f_scale)
        try:
            c_lo, c_hi = (float(v) for v in self.c_bounds)
        except (TypeError, ValueError):
            c_lo = c_hi = math.nan
        if not 0 < c_lo < c_hi < math.inf:
            raise InputError(f"fit: c_bounds={self.c_bounds!r} must be (low, high) with 0 < low < high, e.g. {C_BOUNDS}")
        put("c_bounds", (c_lo, c_hi))

    # -- what the engine fits (a loss as the score law of its negated values) ---------------------
    @property
    def free(self) -> bool:
        """The (score-oriented) ceiling is fitted: free_ceiling, or always for a loss."""
        return self.lower_is_better or self.free_ceiling

    @property
    def fit_ceiling(self) -> float:
        """The fixed ceiling of the fitted score law (0 for a loss: its ceiling -E is free)."""
        return 0.0 if self.lower_is_better else float(self.ceiling)

    @property
    def fit_max_score(self) -> float:
        """Upper bound of a free ceiling (0 for a loss: E >= 0)."""
        return 0.0 if self.lower_is_better else float(self.max_score)

    @property
    def n_params(self) -> int:
        return 3 if self.free else 2

    @property
    def scale_floor(self) -> float:
        """Smallest f_scale: noiseless data would otherwise give f = 0. In the scale's units (1e-6
        of the ceiling, 1e-6 for a loss), so a 0-1 table and the same table x 100 fit alike."""
        return 1e-6 * (abs(self.fit_max_score) or 1.0)

    def signature(self) -> dict:
        """The settings part of a LawSet's signature (laws.json "signature"), in file order."""
        lower = self.lower_is_better
        return {
            "direction": "lower_is_better" if lower else "higher_is_better",
            "loss": self.loss,
            "f_scale": "auto" if self.f_scale is None else self.f_scale,
            "ceiling": ("floor free in [0, smallest median]" if lower
                        else f"free<={self.max_score:g}" if self.free_ceiling else f"fixed={self.ceiling:g}"),
            "max_score": None if lower else self.max_score,
            "c_bounds": list(self.c_bounds),
        }
