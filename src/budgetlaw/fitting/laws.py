"""Fitted laws and the laws.json file: FittedLaw (one language), LawSet (all of them), load_laws.

laws.json (format "budgetlaw-laws/1", docs/formats/laws.md)::

    {"format": "budgetlaw-laws/1", "metric": ..., "lower_is_better": false,
     "signature": {every setting of the fit, versions, the pilots' sha256},
     "laws": {language: {"law": {a, b, c, ceiling, lower_is_better, K, x_ref}, "points", "draws",
                         "holdout", "flags", "r2", "rmse", ...}}}

A law is reported with b = 1 / x_ref, x_ref the smallest pilot size, so ``a`` is the fitted gap
to the ceiling at the smallest pilot size; the draws are (K, c, ceiling) rows, the third column
the floor E for a loss law.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from budgetlaw.fileio import read_json, write_text_atomic
from budgetlaw.bands import check_level, draw_columns, quantiles
from budgetlaw.direction import direction_of
from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw, parameter_arrays
from budgetlaw.transfer.law import Transfer

__all__ = ["FittedLaw", "LawSet", "load_laws", "LAWS_FORMAT", "DRAW_COLUMNS"]

LAWS_FORMAT = "budgetlaw-laws/1"
DRAW_COLUMNS = ("K", "c", "ceiling")


def _nan_to_none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _none_to_nan(value):
    return float("nan") if value is None else float(value)


def _out(values: np.ndarray, like):
    return float(values) if np.ndim(like) == 0 else values


@dataclass(frozen=True, eq=False)
class FittedLaw:
    """A fitted law for one language with its data, diagnostics and bootstrap draws.

    residuals = observed - predicted per pilot run; draws: (n_draws, 3) columns (K, c, ceiling),
    the third column the floor E for a loss law (``lower_is_better``);
    holdout: {"size", "observed" (mean score there), "predicted", "error" = predicted - observed,
    "law"} from a refit without the largest size, or None when too few sizes remain.
    """

    language: str
    law: PowerLaw
    x: np.ndarray
    y: np.ndarray
    draws: np.ndarray
    holdout: dict | None = None
    flags: tuple[str, ...] = ()
    free_ceiling: bool = False
    f_scale: float = 1.0
    cost: float = float("nan")
    solver: dict = field(default_factory=dict)

    # -- the law ----------------------------------------------------------------------------------
    a = property(lambda self: self.law.a)
    b = property(lambda self: self.law.b)
    c = property(lambda self: self.law.c)
    K = property(lambda self: self.law.K)
    ceiling = property(lambda self: self.law.ceiling)
    lower_is_better = property(lambda self: self.law.lower_is_better)

    def predict(self, x):
        return self.law.predict(x)

    def marginal(self, x):
        return self.law.marginal(x)

    def inverse(self, score):
        return self.law.inverse(score)

    def interval(self, x, level: float = 0.9):
        """Percentile bootstrap band of the mean value at x: (lower, upper), NaN without draws.

        Draw curves: ceiling - K * x**(-c) for a score, E + K * x**(-c) for a loss."""
        check_level(level, "interval")
        xs = np.asarray(x, dtype=float)
        if len(self.draws) == 0:
            nan = np.full(xs.shape, np.nan)
            return _out(nan, x), _out(nan, x)
        K, c, ceil = (self.draws[:, i].reshape((-1,) + (1,) * xs.ndim) for i in range(3))
        # x**-c as exp(-c log x), in the order budgetlaw.bands.intervals uses for many laws at
        # once, so that both give the same numbers to the last bit
        curves = np.multiply(c, -np.log(xs)[None])
        np.exp(curves, out=curves)
        curves *= K
        curves *= self.law.sign
        curves = np.subtract(ceil, curves)
        lower, upper = quantiles(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return _out(lower, x), _out(upper, x)

    # -- diagnostics ------------------------------------------------------------------------------
    @property
    def residuals(self) -> np.ndarray:
        return self.y - self.law.predict(self.x)

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean(self.residuals**2)))

    @property
    def r2(self) -> float:
        total = float(np.sum((self.y - self.y.mean()) ** 2))
        return float("nan") if total == 0 else 1.0 - float(np.sum(self.residuals**2)) / total

    @property
    def n_points(self) -> int:
        return int(self.x.size)

    @property
    def sizes(self) -> np.ndarray:
        return np.unique(self.x)

    @property
    def max_pilot_size(self) -> float:
        return float(self.x.max())

    @property
    def points(self) -> pd.DataFrame:
        """The pilot runs: size, score, predicted, residual."""
        pred = self.law.predict(self.x)
        return pd.DataFrame({"size": self.x, "score": self.y, "predicted": pred, "residual": self.y - pred})

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "language": self.language,
            "law": self.law.to_dict(),
            "free_ceiling": self.free_ceiling,
            "f_scale": self.f_scale,
            "cost": _nan_to_none(self.cost),
            "r2": _nan_to_none(self.r2),
            "rmse": self.rmse,
            "n_points": self.n_points,
            "sizes": self.sizes.tolist(),
            "flags": list(self.flags),
            "holdout": self.holdout,
            "solver": self.solver,
            "points": {"size": self.x.tolist(), "score": self.y.tolist()},
            "draws": {"columns": list(DRAW_COLUMNS), "values": self.draws.tolist()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "FittedLaw":
        draws = np.asarray(data["draws"]["values"], dtype=float).reshape(-1, 3)
        return cls(
            language=str(data["language"]),
            law=PowerLaw.from_dict(data["law"]),
            x=np.asarray(data["points"]["size"], dtype=float),
            y=np.asarray(data["points"]["score"], dtype=float),
            draws=draws,
            holdout=data.get("holdout"),
            flags=tuple(data.get("flags", ())),
            free_ceiling=bool(data.get("free_ceiling", False)),
            f_scale=float(data.get("f_scale", 1.0)),
            cost=_none_to_nan(data.get("cost")),
            solver=dict(data.get("solver", {})),
        )

    def __repr__(self) -> str:
        flags = f", flags={list(self.flags)}" if self.flags else ""
        op = "+" if self.lower_is_better else "-"
        return (f"FittedLaw({self.language!r}: {self.ceiling:g} {op} {self.K:.4g} * x^-{self.c:.4g}, "
                f"r2={self.r2:.3f}, n={self.n_points}, draws={len(self.draws)}{flags})")


class LawSet(Mapping):
    """language -> FittedLaw, with the metric and the signature of the fit (all settings).

    Every law has the same direction (``lower_is_better``); a mix is refused.
    """

    def __init__(self, laws: Mapping[str, FittedLaw], metric: str | None = None, signature: dict | None = None,
                 transfer: Transfer | None = None):
        self._laws = dict(laws)
        self.metric = metric
        self.signature = dict(signature or {})
        self.lower_is_better = direction_of(self._laws, name="LawSet")
        # how the languages share data (budgetlaw.transfer); None: each language on its own pairs
        self.transfer = None if transfer is None else transfer.reorder(list(self._laws), where="LawSet")

    def __getitem__(self, language: str) -> FittedLaw:
        try:
            return self._laws[language]
        except KeyError:
            raise KeyError(f"no law for language {language!r}; laws exist for {', '.join(self._laws)}") from None

    def __iter__(self):
        return iter(self._laws)

    def __len__(self) -> int:
        return len(self._laws)

    def __repr__(self) -> str:
        loss = ", lower_is_better=True" if self.lower_is_better else ""
        return f"LawSet(metric={self.metric!r}, languages={list(self._laws)}{loss})"

    def values(self):  # the dict's own views: Mapping's go through __getitem__ once per language
        return self._laws.values()

    def items(self):
        return self._laws.items()

    @cached_property
    def stacked_draws(self) -> np.ndarray | None:
        """Every law's bootstrap draws as one (3, languages, draws) array, in the set's order: the
        K, c and ceiling (floor E for a loss law) of each draw, each a contiguous (languages,
        draws) block; None unless every law has the same number of draws (some). Made once: the
        laws of a set do not change, and stacking thousands of small arrays at every call is not
        free."""
        draws = [f.draws for f in self._laws.values()]
        if not draws or any(np.ndim(d) != 2 or len(d) == 0 or len(d) != len(draws[0]) for d in draws):
            return None
        return draw_columns(draws)

    @cached_property
    def law_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(K, c, ceiling) of every law as arrays in the set's order (ceiling: the floor E of a
        loss law), read once; the allocation reads them at every call."""
        return parameter_arrays(f.law for f in self._laws.values())

    def power_laws(self) -> dict[str, PowerLaw]:
        return {lang: fitted.law for lang, fitted in self._laws.items()}

    def signature_string(self) -> str:
        """Compact one-line form of the signature, like sacrebleu's."""
        sig = self.signature
        parts = [f"{key}:{sig[key]}" for key in ("metric", "direction", "loss", "f_scale", "ceiling", "max_score", "c_bounds",
                                                  "bootstrap", "n_boot", "seed", "version") if key in sig]
        return "|".join(parts)

    def to_frame(self, level: float = 0.9) -> pd.DataFrame:
        """One row per language: parameters, fit quality, holdout error, c's bootstrap interval, flags.

        The asymptote column is ``ceiling`` for score laws and ``floor`` (E) for loss laws."""
        rows = []
        for lang, f in self._laws.items():
            lo, hi = (np.quantile(f.draws[:, 1], [(1 - level) / 2, (1 + level) / 2]) if len(f.draws)
                      else (np.nan, np.nan))
            hold = f.holdout or {}
            rows.append({"language": lang, "a": f.a, "b": f.b, "c": f.c, "K": f.K,
                         "floor" if self.lower_is_better else "ceiling": f.ceiling,
                         "x_ref": f.law.x_ref, "c_lower": lo, "c_upper": hi, "r2": f.r2, "rmse": f.rmse,
                         "n_points": f.n_points, "n_sizes": len(f.sizes), "max_pilot_size": f.max_pilot_size,
                         "holdout_size": hold.get("size", np.nan), "holdout_error": hold.get("error", np.nan),
                         "flags": ";".join(f.flags)})
        return pd.DataFrame(rows).set_index("language")

    def to_dict(self) -> dict:
        data = {"format": LAWS_FORMAT, "metric": self.metric, "lower_is_better": self.lower_is_better,
                "signature": self.signature, "laws": {lang: f.to_dict() for lang, f in self._laws.items()}}
        if self.transfer is not None:  # absent: T = 0, the file of a one-language fit is unchanged
            data["transfer"] = self.transfer.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict, *, name: str = "laws") -> "LawSet":
        if not isinstance(data, dict) or data.get("format") != LAWS_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"{name}: not a laws file (format {found!r}, expected {LAWS_FORMAT!r}); "
                             f"create one with `budgetlaw fit` or budgetlaw.fit(...).save(path)")
        _check_law_entries(data, name)
        try:
            laws = {lang: FittedLaw.from_dict(entry) for lang, entry in data["laws"].items()}
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{name}: malformed law entry ({err!r}); regenerate the file with `budgetlaw fit`") from None
        transfer = (Transfer.from_dict(data["transfer"], name=name).reorder(list(laws), where=name)
                    if data.get("transfer") is not None else None)
        result = cls(laws, metric=data.get("metric"), signature=data.get("signature"), transfer=transfer)
        declared = data.get("lower_is_better", result.lower_is_better if laws else False)
        if declared is not result.lower_is_better:
            raise InputError(f"{name}: key 'lower_is_better' is {declared!r} but the laws are "
                             f"{'loss' if result.lower_is_better else 'score'} laws; regenerate the file with `budgetlaw fit`")
        direction = result.signature.get("direction")
        if direction is not None and (direction == "lower_is_better") is not result.lower_is_better:
            raise InputError(f"{name}: the laws are {'loss' if result.lower_is_better else 'score'} laws but the "
                             f"signature says they were fitted {direction!r}; regenerate the file with `budgetlaw fit`")
        return result

    def save(self, path) -> Path:
        """Write laws.json atomically (temporary file in the same directory, then rename)."""
        path = Path(path)
        data = self.to_dict()
        # draws are long lists of numbers: keep them on one line each instead of one number a line
        compact = {}
        for lang, entry in data["laws"].items():
            token = f"@@draws-{len(compact)}@@"
            compact[f'"{token}"'] = json.dumps(entry["draws"]["values"], separators=(",", ":"))
            entry["draws"]["values"] = token
        if "transfer" in data:
            token = f"@@draws-{len(compact)}@@"
            compact[f'"{token}"'] = json.dumps(data["transfer"]["draws"]["values"], separators=(",", ":"))
            data["transfer"]["draws"]["values"] = token
        text = json.dumps(data, indent=2, allow_nan=False)
        for token, values in compact.items():
            text = text.replace(token, values, 1)
        return write_text_atomic(path, text + "\n")


def load_laws(path) -> LawSet:
    """Read a laws.json written by LawSet.save (format budgetlaw-laws/1)."""
    data = read_json(path, what="laws file", fix=f"create it with `budgetlaw fit pilots.csv -o {path}`")
    return LawSet.from_dict(data, name=str(path))


def _check_law_entries(data: dict, name: str) -> None:
    """What LawSet.from_dict needs of a laws.json before it builds anything (docs/formats/laws.md):
    'laws' a non-empty object, 'signature' an object or null, each entry an object whose points
    are two lists of one length, sizes finite and > 0, scores finite (>= 0 for a loss law)."""
    laws, signature = data.get("laws"), data.get("signature")
    if not isinstance(laws, dict) or not laws:
        raise InputError(f"{name}: key 'laws' must be a non-empty object language -> law; regenerate the file "
                         "with `budgetlaw fit`")
    if signature is not None and not isinstance(signature, dict):
        raise InputError(f"{name}: key 'signature' is {type(signature).__name__}; expected an object (or null)")
    for lang, entry in laws.items():
        where = f"{name}: laws.{lang}"
        points = entry.get("points") if isinstance(entry, dict) else None
        if not isinstance(points, dict) or not all(isinstance(points.get(k), list) for k in ("size", "score")):
            raise InputError(f"{where}: 'points' must hold two lists, size and score; regenerate the file")
        sizes, scores = points["size"], points["score"]
        if len(sizes) != len(scores) or not sizes:
            raise InputError(f"{where}: points.size has {len(sizes)} values but points.score {len(scores)}; "
                             "each pilot point needs both (regenerate the file)")
        lower = isinstance(entry.get("law"), dict) and entry["law"].get("lower_is_better") is True
        for key, values, low in (("size", sizes, "> 0"), ("score", scores, ">= 0" if lower else None)):
            for k, value in enumerate(values):
                number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan
                if not np.isfinite(number) or (low == "> 0" and number <= 0) or (low == ">= 0" and number < 0):
                    raise InputError(f"{where}: points.{key}[{k}] is {value!r}; expected a finite number"
                                     f"{' ' + low if low else ''}")
