"""What the laws predict for any mixture: ``predict(laws, sizes)``, for transfer laws and plain ones.

For every language i of the laws, with x the pairs of every language in the model (0 where
``sizes`` leaves a language out) and U the distinct pairs (``unique``; none given: no repeats):

    effective_i = eff_i(x_i) + sum_{j != i} T_ij eff_j(x_j)      (budgetlaw.transfer.law)
    predicted_i = C_i - K_i effective_i^-c_i   (loss: E_i + K_i effective_i^-c_i)

A LawSet without a transfer section (or a dict of PowerLaws) has T = 0 and R* = DEFAULT_RSTAR.
The interval is the percentile band over the bootstrap draws: draw d of every law together
with draw d of T and R* (one resample of whole models), NaN when the laws carry no draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np
import pandas as pd

from budgetlaw.bands import check_level, quantiles
from budgetlaw.errors import InputError
from budgetlaw.transfer.law import DEFAULT_RSTAR, Transfer

__all__ = ["predict", "per_language", "law_transfer"]


def per_language(name: str, values, languages: list[str], default: float, *, positive: bool = False) -> np.ndarray:
    """A dict/Series language -> number as an array in ``languages`` order (``default`` where
    absent); InputError for an unknown language or a value that is negative or not finite."""
    if values is None:
        return np.full(len(languages), default)
    if isinstance(values, pd.Series):
        values = values.to_dict()
    if not isinstance(values, Mapping):
        raise InputError(f"{name}: expected a dict language -> pairs, got {type(values).__name__}")
    known = set(languages)
    unknown = [str(k) for k in values if str(k) not in known]
    if unknown:
        raise InputError(f"{name}: {', '.join(unknown)} has no law (laws cover {', '.join(languages)}); drop it or "
                         "fit pilots that score it")
    out = np.full(len(languages), default)
    for k, lang in enumerate(languages):
        if lang in values:
            try:
                number = float(values[lang])
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number) or number < 0 or (positive and number == 0):
                need = "> 0" if positive else ">= 0"
                raise InputError(f"{name}[{lang}] is {values[lang]!r}; give a finite number of pairs {need}")
            out[k] = number
    return out


def law_transfer(laws, languages=None) -> Transfer:
    """The transfer law every reading of ``laws`` uses, over ``languages`` (default: the laws'
    order): ``laws.transfer``, or for one-language laws (a LawSet without one, a dict of
    PowerLaws) T = 0 with R* = DEFAULT_RSTAR, so that repeats beyond the distinct pairs count at
    the data-constrained value alike everywhere: ``law_transfer(laws).effective(x, U)`` is the
    effective data d (budgetlaw.transfer.law.effective) the allocator, its plans and predict use."""
    return _transfer(laws, [str(k) for k in laws] if languages is None else list(languages))


def _transfer(laws, languages) -> Transfer:
    found = getattr(laws, "transfer", None)
    if found is None:
        return Transfer("none", tuple(languages), np.zeros(0), DEFAULT_RSTAR)
    return found.reorder(languages)


def _noise(noise_sd, languages: list[str]) -> np.ndarray:
    """noise_sd (a number or dict language -> sd) as an array in ``languages`` order (0 where absent)."""
    given = dict(noise_sd) if isinstance(noise_sd, Mapping) else dict.fromkeys(languages, noise_sd)
    unknown = [str(k) for k in given if str(k) not in languages]
    if unknown:
        raise InputError(f"noise_sd: {', '.join(unknown)} has no law (laws cover {', '.join(languages)}); drop it")
    out = np.zeros(len(languages))
    for k, lang in enumerate(languages):
        value = given.get(lang, 0.0)
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
        if not (math.isfinite(number) and number >= 0):
            raise InputError(f"noise_sd[{lang}] is {value!r}; give one model's seed noise as a finite number >= 0 "
                             "in the metric's units")
        out[k] = number
    return out


def predict(laws, sizes, unique=None, level: float = 0.9, noise_sd=None) -> pd.DataFrame:
    """Every language's predicted value for the mixture ``sizes`` (dict language -> pairs).

    Returns a DataFrame with columns language, size, effective, predicted, lower, upper: one row
    per language of the laws, in their order. unique: dict language -> distinct pairs (repeats
    beyond them count at the data-constrained value); level: the interval's coverage.

    Without ``noise_sd`` the interval is the band of the mean curve (what the laws are unsure
    of). One trained model scatters around that curve by its own seed noise, so to say where a
    *measured* model will fall give ``noise_sd`` (a number, or dict language -> sd, in the
    metric's units): each half-width h of the band becomes sqrt(h^2 + (z sd)^2), z the normal
    quantile of the level (a normal approximation; with no draws the band is just +-z sd).
    """
    if not isinstance(laws, Mapping) or len(laws) == 0:
        raise InputError("predict: expected a LawSet or a dict language -> PowerLaw; fit pilots first (budgetlaw.fit)")
    check_level(level, "predict")
    languages = [str(k) for k in laws]
    x = per_language("sizes", sizes, languages, 0.0)
    U = None if unique is None else per_language("unique", unique, languages, math.inf, positive=True)
    transfer = _transfer(laws, languages)
    d = transfer.effective(x, U)
    items = list(laws.values())
    with np.errstate(divide="ignore"):
        value = np.array([float(item.predict(float(di))) for item, di in zip(items, d)])
    lower = upper = np.full(len(languages), np.nan)
    draws = [getattr(item, "draws", None) for item in items]
    if all(dr is not None and len(dr) for dr in draws):
        D = min(len(dr) for dr in draws)
        if len(transfer.draws) >= D:
            dd = transfer.effective_draws(x, U)[:D]
        else:  # a plain LawSet has no T draws: T = 0, the point R*
            dd = np.broadcast_to(transfer.effective(x, U), (D, len(x)))
        stacked = np.stack([np.asarray(dr, dtype=float)[:D] for dr in draws], axis=1)  # (D, n, 3)
        sign = np.array([-1.0 if getattr(item, "lower_is_better", False) else 1.0 for item in items])
        with np.errstate(divide="ignore", invalid="ignore"):
            curves = stacked[..., 2] - sign * stacked[..., 0] * dd ** (-stacked[..., 1])
        lower, upper = quantiles(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
    if noise_sd is not None:
        sd = _noise(noise_sd, languages)
        z = float(NormalDist().inv_cdf((1 + level) / 2))
        below, above = np.where(np.isnan(lower), 0.0, value - lower), np.where(np.isnan(upper), 0.0, upper - value)
        lower, upper = value - np.hypot(below, z * sd), value + np.hypot(above, z * sd)
    return pd.DataFrame({"language": languages, "size": x, "effective": d, "predicted": value,
                         "lower": lower, "upper": upper})
