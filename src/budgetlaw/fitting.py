"""Fit one saturating power law per language to pilot runs, with bootstrap uncertainty.

    score(x) = ceiling - K * x ** (-c)        fitted: K > 0, c in C_BOUNDS, ceiling fixed or free
    loss(x)  = E + K * x ** (-c)              lower_is_better=True: 0 <= E <= smallest median loss

Fit, per language (engine in budgetlaw.bootstrap):
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

import json
import logging
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
from tqdm.auto import tqdm

from budgetlaw import __version__
from budgetlaw.bootstrap import (C_BOUNDS, LOSSES, Settings, fit_batch, fit_points, make_problem, resample,
                                 top_median)
from budgetlaw.direction import direction_of, mirror_fitted
from budgetlaw.errors import InputError
from budgetlaw.fileio import write_text_atomic
from budgetlaw.fit_flags import FLAG_HELP, fit_flags
from budgetlaw.law import PowerLaw
from budgetlaw.pilots import read_pilots

__all__ = ["fit", "FittedLaw", "LawSet", "load_laws", "LAWS_FORMAT"]

LAWS_FORMAT = "budgetlaw-laws/1"
DRAW_COLUMNS = ("K", "c", "ceiling")
log = logging.getLogger(__name__)


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
        if not 0 < level < 1:
            raise InputError(f"interval: level={level!r} must be between 0 and 1, e.g. 0.9")
        xs = np.asarray(x, dtype=float)
        if len(self.draws) == 0:
            nan = np.full(xs.shape, np.nan)
            return _out(nan, x), _out(nan, x)
        K, c, ceil = (self.draws[:, i].reshape((-1,) + (1,) * xs.ndim) for i in range(3))
        curves = ceil - self.law.sign * K * xs[None] ** (-c)
        lower, upper = np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
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

    def __init__(self, laws: Mapping[str, FittedLaw], metric: str | None = None, signature: dict | None = None):
        self._laws = dict(laws)
        self.metric = metric
        self.signature = dict(signature or {})
        self.lower_is_better = direction_of(self._laws, name="LawSet")

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
        return {"format": LAWS_FORMAT, "metric": self.metric, "lower_is_better": self.lower_is_better,
                "signature": self.signature, "laws": {lang: f.to_dict() for lang, f in self._laws.items()}}

    @classmethod
    def from_dict(cls, data: dict, *, name: str = "laws") -> "LawSet":
        if not isinstance(data, dict) or data.get("format") != LAWS_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"{name}: not a laws file (format {found!r}, expected {LAWS_FORMAT!r}); "
                             f"create one with `budgetlaw fit` or budgetlaw.fit(...).save(path)")
        try:
            laws = {lang: FittedLaw.from_dict(entry) for lang, entry in data["laws"].items()}
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{name}: malformed law entry ({err!r}); regenerate the file with `budgetlaw fit`") from None
        result = cls(laws, metric=data.get("metric"), signature=data.get("signature"))
        declared = data.get("lower_is_better", result.lower_is_better if laws else False)
        if declared is not result.lower_is_better:
            raise InputError(f"{name}: key 'lower_is_better' is {declared!r} but the laws are "
                             f"{'loss' if result.lower_is_better else 'score'} laws; regenerate the file with `budgetlaw fit`")
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
        text = json.dumps(data, indent=2, allow_nan=False)
        for token, values in compact.items():
            text = text.replace(token, values, 1)
        return write_text_atomic(path, text + "\n")


def load_laws(path) -> LawSet:
    """Read a laws.json written by LawSet.save (format budgetlaw-laws/1)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: laws file not found; create it with `budgetlaw fit pilots.csv -o {path}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        reason = str(err)[:200] if not isinstance(err, RecursionError) else "nested too deeply"
        raise InputError(f"{path}: not valid JSON ({reason}); regenerate it with `budgetlaw fit`") from None
    return LawSet.from_dict(data, name=str(path))


# -- fitting ------------------------------------------------------------------------------------
def _fit_language(language: str, x: np.ndarray, y: np.ndarray, s: Settings, n_boot: int, seed: int) -> FittedLaw:
    law, prob, cost, info = fit_points(x, y, s)
    pred = law.predict(x)
    flags = fit_flags(law, x, y, prob, s)
    for flag in flags:
        log.warning("%s: %s: %s", language, flag, FLAG_HELP[flag].format(bounds=s.c_bounds))

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
    if n_boot > 0:
        rng = np.random.default_rng([seed, zlib.crc32(language.encode("utf-8"))])
        ystar = resample(pred, y - pred, s.n_params, n_boot, rng)
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

    pilots: CSV path or DataFrame. ceiling: fixed ceiling (default 100), or with
    ``free_ceiling=True`` fitted in [largest per-size median score, max_score] (max_score
    defaults to ceiling). lower_is_better: the scores are a loss (e.g. nll); the floor E is
    always fitted, 0 <= E <= smallest per-size median loss (ceiling and max_score do not apply).
    loss: soft_l1 | huber | cauchy | linear (plain least squares). f_scale: robust-loss scale,
    None = 1.345 * MAD noise estimate. n_boot: residual-bootstrap draws (0 = none). Needs >= 3
    distinct sizes per language (4 with a free ceiling or a loss).
    """
    if not isinstance(lower_is_better, (bool, np.bool_)):
        raise InputError(f"fit: lower_is_better={lower_is_better!r} must be True or False")
    if lower_is_better:
        if ceiling is not None or max_score is not None:
            raise InputError(f"fit: ceiling={ceiling!r} / max_score={max_score!r} do not apply to a loss "
                             "(lower_is_better=True): its floor E is fitted in [0, smallest median loss]; drop them")
        ceiling, max_score, free_ceiling = 0.0, 0.0, True  # the negated losses' ceiling -E lies in [-min median, 0]
    else:
        try:
            ceiling = 100.0 if ceiling is None else float(ceiling)
            max_score = ceiling if max_score is None else float(max_score)
        except (TypeError, ValueError):
            raise InputError(f"fit: ceiling={ceiling!r} / max_score={max_score!r} must be numbers, e.g. 100") from None
        if not (math.isfinite(ceiling) and math.isfinite(max_score)) or max_score <= 0 or ceiling <= 0:
            raise InputError(f"fit: ceiling={ceiling} and max_score={max_score} must be finite and > 0, e.g. 100 for COMET x 100")
    if loss not in LOSSES:
        raise InputError(f"fit: loss={loss!r} is unknown; choose one of {', '.join(LOSSES)}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise InputError(f"fit: n_boot={n_boot!r} must be a whole number >= 0 (0 = no bootstrap)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"fit: seed={seed!r} must be a whole number >= 0")
    if f_scale is not None:
        try:
            ok = math.isfinite(float(f_scale)) and float(f_scale) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"fit: f_scale={f_scale!r} must be a number > 0, or None to estimate it")
    c_lo, c_hi = (float(v) for v in c_bounds)
    if not 0 < c_lo < c_hi < math.inf:
        raise InputError(f"fit: c_bounds={c_bounds!r} must be (low, high) with 0 < low < high, e.g. {C_BOUNDS}")

    frame = read_pilots(pilots, metric=metric, max_score=max_score if free_ceiling else min(ceiling, max_score),
                        min_sizes=4 if free_ceiling else 3, lower_is_better=bool(lower_is_better))
    s = Settings(ceiling=ceiling, free=bool(free_ceiling), max_score=max_score, loss=loss,
                  f_scale=None if f_scale is None else float(f_scale), c_bounds=(c_lo, c_hi))
    laws = {}
    groups = list(frame.groupby("language", sort=False))
    for language, group in tqdm(groups, desc="fitting laws", unit="language", disable=None):
        x, y = group["size"].to_numpy(float), group["score"].to_numpy(float)
        if lower_is_better:  # fit -loss = (-E) - K x^-c as a score law, then mirror it back
            laws[language] = mirror_fitted(_fit_language(language, x, -y, s, int(n_boot), int(seed)), y)
        else:
            laws[language] = _fit_language(language, x, y, s, int(n_boot), int(seed))
    source = frame.attrs.get("source") or None
    signature = {
        "metric": frame.attrs.get("metric"),
        "direction": "lower_is_better" if lower_is_better else "higher_is_better",
        "loss": loss,
        "f_scale": "auto" if f_scale is None else float(f_scale),
        "ceiling": ("floor free in [0, smallest median]" if lower_is_better
                    else f"free<={max_score:g}" if free_ceiling else f"fixed={ceiling:g}"),
        "max_score": None if lower_is_better else max_score,
        "c_bounds": [c_lo, c_hi],
        "x_ref": "smallest pilot size",
        "bootstrap": "residual",
        "n_boot": int(n_boot),
        "seed": int(seed),
        "version": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "source": source,
    }
    return LawSet(laws, metric=frame.attrs.get("metric"), signature=signature)
