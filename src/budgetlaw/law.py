"""The saturating power law that links data size to score.

    score(x) = ceiling - a * (b * x) ** (-c)                      (paper form)
             = ceiling - K * x ** (-c),   K = a * b ** (-c)       (identifiable form)

x is the number of training pairs (or tokens) for one language, score a quality metric whose
best possible value is ``ceiling`` (100 for COMET x 100). Only K and c can be learned from data:
any (a, b) with a * b**(-c) == K predicts the same numbers. When a law is fitted we report
b = 1 / x_ref with x_ref the smallest pilot size, so ``a`` reads as the gap to the ceiling at
the smallest pilot size (see docs/formats/laws.md). A law typed in from a paper keeps its own
(a, b) and predicts with exactly that formula.

Derived quantities (vectorised over x or score):

    marginal(x) = d score / d x = c * K * x ** (-c - 1)
    inverse(s)  = x such that score(x) = s = (K / (ceiling - s)) ** (1 / c),  s < ceiling
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from budgetlaw.errors import InputError

__all__ = ["PowerLaw"]


def _positive_finite(name: str, value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {name}={value!r} is not a number; give a positive number") from None
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"{where}: {name}={value!r} must be a finite number > 0")
    return number


def _as_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _out(result: np.ndarray, like: Any):
    """Return a Python float for scalar input, an array otherwise."""
    if np.ndim(like) == 0:
        return float(result)
    return result


@dataclass(frozen=True)
class PowerLaw:
    """score(x) = ceiling - a * (b * x) ** (-c); a, b, c > 0, ceiling finite.

    ``PowerLaw(a=42.5, b=0.04, c=0.11)`` is the published En-Ar COMET law.
    """

    a: float
    b: float
    c: float
    ceiling: float = 100.0

    def __post_init__(self) -> None:
        where = "PowerLaw"
        for name in ("a", "b", "c"):
            object.__setattr__(self, name, _positive_finite(name, getattr(self, name), where))
        try:
            ceiling = float(self.ceiling)
        except (TypeError, ValueError):
            raise InputError(f"{where}: ceiling={self.ceiling!r} is not a number; give the metric's best score, e.g. 100") from None
        if not math.isfinite(ceiling):
            raise InputError(f"{where}: ceiling={self.ceiling!r} must be finite, e.g. 100 for COMET x 100")
        object.__setattr__(self, "ceiling", ceiling)

    # -- identifiable form -------------------------------------------------------------------
    @property
    def K(self) -> float:  # noqa: N802 - the name used in the docs and the paper
        """K = a * b ** (-c), so that score = ceiling - K * x ** (-c)."""
        return self.a * self.b ** (-self.c)

    @property
    def x_ref(self) -> float:
        """The size at which ``a`` is the gap to the ceiling: x_ref = 1 / b."""
        return 1.0 / self.b

    @classmethod
    def from_identifiable(cls, K: float, c: float, ceiling: float = 100.0, b: float = 1.0) -> "PowerLaw":  # noqa: N803
        """Law with score = ceiling - K * x**(-c), reported with the given b (a = K * b**c)."""
        K = _positive_finite("K", K, "PowerLaw.from_identifiable")
        c = _positive_finite("c", c, "PowerLaw.from_identifiable")
        b = _positive_finite("b", b, "PowerLaw.from_identifiable")
        return cls(a=K * b**c, b=b, c=c, ceiling=ceiling)

    # -- evaluation ----------------------------------------------------------------------------
    def predict(self, x):
        """score(x) = ceiling - a * (b * x) ** (-c); x > 0 (x = 0 gives -inf)."""
        xs = _as_array(x)
        with np.errstate(divide="ignore"):
            result = self.ceiling - self.a * (self.b * xs) ** (-self.c)
        return _out(result, x)

    __call__ = predict

    def gap(self, x):
        """ceiling - score(x) = a * (b * x) ** (-c)."""
        xs = _as_array(x)
        with np.errstate(divide="ignore"):
            result = self.a * (self.b * xs) ** (-self.c)
        return _out(result, x)

    def marginal(self, x):
        """d score / d x = c * a * b**(-c) * x**(-c-1) = c * gap(x) / x."""
        xs = _as_array(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = self.c * self.a * (self.b * xs) ** (-self.c) / xs
        return _out(result, x)

    def inverse(self, score):
        """Size x reaching ``score``: x = (K / (ceiling - score)) ** (1/c) = (a / gap)**(1/c) / b.

        Scores at or above the ceiling give inf.
        """
        s = _as_array(score)
        gap = self.ceiling - s
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where(gap > 0, (self.a / np.where(gap > 0, gap, 1.0)) ** (1.0 / self.c) / self.b, np.inf)
        return _out(result, score)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """{"a", "b", "c", "ceiling", "K", "x_ref"}; K and x_ref = 1/b are for reading only."""
        return {"a": self.a, "b": self.b, "c": self.c, "ceiling": self.ceiling, "K": self.K, "x_ref": self.x_ref}

    @classmethod
    def from_dict(cls, data: dict) -> "PowerLaw":
        """Inverse of to_dict. Accepts the paper form (a, b, c[, ceiling]) or (K, c[, ceiling, x_ref])."""
        if not isinstance(data, dict):
            raise InputError(f"PowerLaw.from_dict: expected a JSON object, got {type(data).__name__}")
        ceiling = data.get("ceiling", 100.0)
        if "a" in data and "b" in data and "c" in data:
            return cls(a=data["a"], b=data["b"], c=data["c"], ceiling=ceiling)
        if "K" in data and "c" in data:
            x_ref = data.get("x_ref", 1.0)
            b = 1.0 / _positive_finite("x_ref", x_ref, "PowerLaw.from_dict")
            return cls.from_identifiable(data["K"], data["c"], ceiling=ceiling, b=b)
        raise InputError(
            f"PowerLaw.from_dict: keys {sorted(data)} are not a law; give a, b, c (and ceiling) or K, c (and ceiling)"
        )
