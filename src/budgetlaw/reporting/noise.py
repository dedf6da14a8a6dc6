"""Seed noise: how much one model's value moves from seed to seed (for reporting.worth).

    spread = seed_spread(pilots, languages)        # or seed_spread(None, languages, seed_sd=0.02)

    per language: s_L^2 = sum_g sum_r (y_gr - mean_g)^2 / sum_g (n_g - 1)

pooled over the groups g of repeated pilots (one language, one size and, in a mixed table, one
mixture: rows equal in every column but seed, run and score) with n_g >= 2 runs. Languages with no
repeats take the pooled spread of all languages (listed in ``filled``). When multilingual models
(pilots rows with a ``mixture``; one model = one ``run``, or one mixture and seed without runs) are
scored on every planned language, the same pooled spread of each model's mean over the languages,
grouped by mixture, gives ``mean_sd``. ``seed_sd=`` replaces all of this: a number
(the same for every language) or language -> number, in the metric's units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from budgetlaw.errors import InputError

__all__ = ["SeedSpread", "seed_spread", "parse_seed_sd", "clean"]

# columns that differ between repeats of one configuration (one language, size and mixture)
_NOT_CONFIG = ("language", "score", "metric", "source", "seed", "run")


def clean(value):
    """JSON-ready: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def parse_seed_sd(text: str, option: str = "--seed-sd"):
    """``0.02`` (every language) or ``ar=0.03,hi=0.02`` (language -> sd) from the command line."""
    try:
        if "=" not in text:
            return float(text)
        pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
        return {key.strip(): float(value) for key, value in pairs}
    except ValueError:
        raise InputError(f"{option} {text!r}: give one model's seed standard deviation as a number (0.02) or "
                         "per language (ar=0.03,hi=0.02)") from None


@dataclass(frozen=True)
class SeedSpread:
    """Seed noise of one model: language -> sd (and its degrees of freedom), ``mean_sd`` the sd of
    a model's mean over the languages (None unless models scored on every language repeat),
    ``source`` "pilots", "given" or "none", ``filled``: languages given the pooled value."""

    per_language: Mapping[str, float]
    dof: Mapping[str, int]
    mean_sd: float | None = None
    mean_dof: int = 0
    source: str = "none"
    filled: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"per_language": {k: clean(v) for k, v in self.per_language.items()},
                "dof": {k: int(v) for k, v in self.dof.items()}, "mean_sd": clean(self.mean_sd),
                "mean_dof": int(self.mean_dof), "source": self.source, "filled": list(self.filled)}

    @classmethod
    def from_dict(cls, data: dict) -> "SeedSpread":
        return cls(per_language={k: math.nan if v is None else float(v) for k, v in data["per_language"].items()},
                   dof=dict(data.get("dof", {})), mean_sd=data.get("mean_sd"), mean_dof=int(data.get("mean_dof", 0)),
                   source=str(data.get("source", "none")), filled=tuple(data.get("filled", ())))


def _pooled(frame: pd.DataFrame, keys: list) -> tuple[float, int]:
    """Pooled within-group sd of ``frame.score`` grouped by columns ``keys``, and its degrees of
    freedom (sum of n_g - 1)."""
    values = frame["score"].astype(float)
    groups = values.groupby([frame[k] for k in keys], dropna=False, sort=False)
    dof = int((groups.size() - 1).sum())
    if dof <= 0:
        return math.nan, 0
    squares = float(((values - groups.transform("mean")) ** 2).sum())
    return math.sqrt(squares / dof), dof


def seed_spread(pilots: pd.DataFrame | None, languages: Sequence[str], seed_sd=None) -> SeedSpread:
    """The seed noise of ``languages`` from repeated ``pilots`` or from ``seed_sd`` (see the module
    docstring); ``source`` "none" (all NaN) when neither gives one."""
    languages = [str(lang) for lang in languages]
    if seed_sd is not None:
        given = seed_sd if isinstance(seed_sd, Mapping) else {lang: seed_sd for lang in languages}
        unknown = [str(k) for k in given if str(k) not in languages]
        if unknown:
            raise InputError(f"seed_sd: {', '.join(unknown)} is not a planned language ({', '.join(languages)}); "
                             "spell the languages as the plan does")
        values = {}
        for lang in languages:
            value = given.get(lang)
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"seed_sd[{lang}]: {given.get(lang)!r}; give one model's seed standard deviation "
                                 "as a finite number >= 0 in the metric's units, for every planned language")
            values[lang] = value
        return SeedSpread(values, {lang: 0 for lang in languages}, source="given")
    nan = SeedSpread({lang: math.nan for lang in languages}, {lang: 0 for lang in languages})
    if pilots is None or not len(pilots) or not {"language", "size", "score"} <= set(pilots.columns):
        return nan
    frame = pilots.assign(language=pilots["language"].astype(str))
    config = [c for c in frame.columns if c not in _NOT_CONFIG]  # size and any mixture columns
    known = frame[frame["language"].isin(languages)]
    if not len(known):
        return nan
    # one grouping for every language (a filter per language was quadratic at thousands of them):
    # summed over a group's rows, 1 - 1/n_g gives its n_g - 1 degrees of freedom
    values = known["score"].astype(float)
    groups = values.groupby([known[k] for k in ["language", *config]], dropna=False, sort=False)
    squares = ((values - groups.transform("mean")) ** 2).groupby(known["language"]).sum()
    dofs = (1 - 1 / groups.transform("size")).groupby(known["language"]).sum().round().astype(int)
    dof = {lang: int(dofs.get(lang, 0)) for lang in languages}
    per = {lang: math.sqrt(squares[lang] / dof[lang]) if dof[lang] else math.nan for lang in languages}
    if not any(dof.values()):
        return nan
    everyone = math.sqrt(float(squares.sum()) / sum(dof.values()))
    filled = tuple(lang for lang in languages if not dof[lang])
    for lang in filled:
        per[lang] = everyone
    mean_sd, mean_dof = math.nan, 0
    if "mixture" in frame.columns:  # multilingual rows (docs/formats/pilots.md)
        mixed = known[known["mixture"].astype(str).str.strip() != ""]
        named = "run" in mixed.columns and bool((mixed["run"].astype(str).str.strip() != "").all())
        model = ["run"] if named else ["mixture", *(["seed"] if "seed" in mixed.columns else [])]
        if len(mixed):
            covers = mixed.groupby(model, sort=False)["language"].transform("nunique") == len(languages)
            means = mixed[covers].groupby(model, sort=False).agg(score=("score", "mean"), mixture=("mixture", "first"))
            mean_sd, mean_dof = _pooled(means, ["mixture"])
    return SeedSpread(per, dof, mean_sd if mean_dof else None, mean_dof, "pilots", filled)
