"""The saturating power law that links data size to score (or to a loss).

    score(x) = ceiling - a * (b * x) ** (-c)                      (paper form)
             = ceiling - K * x ** (-c),   K = a * b ** (-c)       (identifiable form)

    loss(x)  = E + a * (b * x) ** (-c) = E + K * x ** (-c)         lower_is_better=True

A lower-is-better law (a loss such as the held-out negative log-likelihood, nats/token) keeps
its irreducible loss E >= 0 in the ``ceiling`` field (read it as ``floor``): the curve falls
towards E as data grows. It is the mirror image of the score law with ceiling -E, which is how
it is fitted and allocated (budgetlaw.direction).

x is the number of training pairs (or tokens) for one language, score a quality metric whose
best possible value is ``ceiling`` (100 for COMET x 100). Only K and c can be learned from data:
any (a, b) with a * b**(-c) == K predicts the same numbers. When a law is fitted we report
b = 1 / x_ref with x_ref the smallest pilot size, so ``a`` reads as the gap to the ceiling at
the smallest pilot size (see docs/formats/laws.md). A law typed in from a paper keeps its own
(a, b) and predicts with exactly that formula.

Derived quantities (vectorised over x or score); ``sign`` = +1 for a score, -1 for a loss:

    gap(x)      = |value(x) - asymptote| = K * x ** (-c)                  (> 0 either way)
    marginal(x) = d value / d x = sign * c * K * x ** (-c - 1)          (< 0 for a loss)
    improvement(x) = sign * marginal(x) = c * K * x ** (-c - 1)         (> 0 either way)
    inverse(v)  = x such that value(x) = v = (K / gap) ** (1 / c),  gap = sign * (ceiling - v) > 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from budgetlaw.errors import InputError

__all__ = ["PowerLaw", "parameter_arrays"]


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

    With ``lower_is_better=True`` the law is a loss, loss(x) = E + a * (b * x) ** (-c), and
    ``ceiling`` holds the floor E >= 0 (alias: ``floor``).

    ``PowerLaw(a=42.5, b=0.04, c=0.11)`` is the published En-Ar COMET law (ceiling 100 when
    not given); a loss law must give its floor: ``PowerLaw(a, b, c, ceiling=E, lower_is_better=True)``.
    """

    a: float
    b: float
    c: float
    ceiling: float | None = None
    lower_is_better: bool = False

    def __post_init__(self) -> None:
        where = "PowerLaw"
        for name in ("a", "b", "c"):
            object.__setattr__(self, name, _positive_finite(name, getattr(self, name), where))
        if self.ceiling is None:  # 100 (COMET x 100) for a score; a loss has no natural floor
            if self.lower_is_better is True:
                raise InputError(f"{where}: a loss law (lower_is_better=True) needs ceiling=E, its floor E >= 0")
            object.__setattr__(self, "ceiling", 100.0)
        try:
            ceiling = float(self.ceiling)
        except (TypeError, ValueError):
            raise InputError(f"{where}: ceiling={self.ceiling!r} is not a number; give the metric's best score, e.g. 100") from None
        if not math.isfinite(ceiling):
            raise InputError(f"{where}: ceiling={self.ceiling!r} must be finite, e.g. 100 for COMET x 100")
        object.__setattr__(self, "ceiling", ceiling)
        if not isinstance(self.lower_is_better, (bool, np.bool_)):
            raise InputError(f"{where}: lower_is_better={self.lower_is_better!r} must be true or false")
        object.__setattr__(self, "lower_is_better", bool(self.lower_is_better))
        if self.lower_is_better and ceiling < 0:
            raise InputError(f"{where}: the floor E={ceiling!r} of a loss law must be >= 0 (the irreducible loss)")

    # -- direction -----------------------------------------------------------------------------
    @property
    def sign(self) -> float:
        """+1 for a score (higher is better), -1 for a loss: value = ceiling - sign * K * x**(-c)."""
        return -1.0 if self.lower_is_better else 1.0

    @property
    def floor(self) -> float:
        """The irreducible loss E of a lower-is-better law (the ``ceiling`` field)."""
        if not self.lower_is_better:
            raise AttributeError("floor: this law is higher-is-better; its asymptote is `ceiling`")
        return self.ceiling

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
    def from_identifiable(cls, K: float, c: float, ceiling: float | None = None, b: float = 1.0,  # noqa: N803
                          lower_is_better: bool = False) -> "PowerLaw":
        """Law with score = ceiling - K * x**(-c) (loss = ceiling + K * x**(-c) with
        lower_is_better), reported with the given b (a = K * b**c)."""
        K = _positive_finite("K", K, "PowerLaw.from_identifiable")
        c = _positive_finite("c", c, "PowerLaw.from_identifiable")
        b = _positive_finite("b", b, "PowerLaw.from_identifiable")
        return cls(a=K * b**c, b=b, c=c, ceiling=ceiling, lower_is_better=lower_is_better)

    # -- evaluation ----------------------------------------------------------------------------
    def predict(self, x):
        """score(x) = ceiling - a * (b * x) ** (-c) (loss: E + a * (b * x) ** (-c)); x > 0
        (x = 0 gives -inf for a score, +inf for a loss)."""
        xs = _as_array(x)
        with np.errstate(divide="ignore"):
            result = self.ceiling - self.sign * self.a * (self.b * xs) ** (-self.c)
        return _out(result, x)

    __call__ = predict

    def gap(self, x):
        """ceiling - score(x) (loss: loss(x) - E) = a * (b * x) ** (-c), positive either way."""
        xs = _as_array(x)
        with np.errstate(divide="ignore"):
            result = self.a * (self.b * xs) ** (-self.c)
        return _out(result, x)

    def marginal(self, x):
        """d value / d x = sign * c * a * b**(-c) * x**(-c-1) = sign * c * gap(x) / x: positive
        for a score, negative for a loss (see ``improvement`` for the gain either way)."""
        return _out(self.sign * _as_array(self.improvement(x)), x)

    def improvement(self, x):
        """Improvement per extra unit of data, c * K * x**(-c-1) > 0: the score gained, or the
        loss shed, by one more example at x (what the allocation equalises across languages)."""
        xs = _as_array(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = self.c * self.a * (self.b * xs) ** (-self.c) / xs
        return _out(result, x)

    def inverse(self, score):
        """Size x reaching ``score`` (a loss value for a loss law): x = (K / gap) ** (1/c) =
        (a / gap)**(1/c) / b with gap = ceiling - score (loss: score - E).

        Scores at or above the ceiling (losses at or below the floor) give inf.
        """
        s = _as_array(score)
        gap = self.sign * (self.ceiling - s)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where(gap > 0, (self.a / np.where(gap > 0, gap, 1.0)) ** (1.0 / self.c) / self.b, np.inf)
        return _out(result, score)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """{"a", "b", "c", "ceiling", "lower_is_better", "K", "x_ref"}; K and x_ref = 1/b are
        for reading only; for a loss ``ceiling`` is the floor E."""
        return {"a": self.a, "b": self.b, "c": self.c, "ceiling": self.ceiling,
                "lower_is_better": self.lower_is_better, "K": self.K, "x_ref": self.x_ref}

    @classmethod
    def from_dict(cls, data: dict) -> "PowerLaw":
        """Inverse of to_dict. Accepts the paper form (a, b, c[, ceiling]) or (K, c[, ceiling, x_ref]);
        ``lower_is_better`` absent (files written before loss laws) means a score law."""
        if not isinstance(data, dict):
            raise InputError(f"PowerLaw.from_dict: expected a JSON object, got {type(data).__name__}")
        lower = data.get("lower_is_better", False)
        if not isinstance(lower, bool):
            raise InputError(f"PowerLaw.from_dict: lower_is_better={lower!r} must be true or false")
        ceiling = data.get("ceiling")
        if "a" in data and "b" in data and "c" in data:
            return cls(a=data["a"], b=data["b"], c=data["c"], ceiling=ceiling, lower_is_better=lower)
        if "K" in data and "c" in data:
            x_ref = data.get("x_ref", 1.0)
            b = 1.0 / _positive_finite("x_ref", x_ref, "PowerLaw.from_dict")
            return cls.from_identifiable(data["K"], data["c"], ceiling=ceiling, b=b, lower_is_better=lower)
        raise InputError(
            f"PowerLaw.from_dict: keys {sorted(data)} are not a law; give a, b, c (and ceiling) or K, c (and ceiling)"
        )


def parameter_arrays(laws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K, c, ceiling) of laws (anything with those attributes, e.g. PowerLaw or FittedLaw) as
    three float arrays in their order; AttributeError, TypeError or ValueError for a non-law."""
    laws = list(laws)
    return tuple(np.array([float(getattr(law, key)) for law in laws]) for key in ("K", "c", "ceiling"))
