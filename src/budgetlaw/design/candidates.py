"""Which pilots could run next, and what each costs.

A candidate is one pilot run, a row with

    language   the language trained and scored, e.g. "ar"
    size       its pairs (> 0); a size the language already has is another seed there

Default candidates, per language: another seed at each size it has, and new sizes at 2x and 4x
its largest pilot and at its planned size (each rounded to two significant digits), none above its
``available`` pairs (a pilot cannot train on pairs that do not exist).

**Mixture candidates** (a multilingual pilot, for transfer-aware laws) are named as the pilots
file names a multilingual model (docs/formats/pilots.md): ``language`` lists its languages joined
by ``+`` in the table's order ("ar+el"), ``size`` is its total pairs, and a column ``mixture``
gives every language's pairs, ``ar=90;el=90``. They are not simulated yet: a candidate with a
mixture is refused with a message saying so.

**Cost**, in pilot-cost units (pairs by default):

    cost(language, size) = pair * size + run

``cost=None``: pair = 1 and run = the smallest pilot size of the table (a run's fixed cost, its
start-up and evaluation, priced as one smallest pilot); a number: the run cost; a dict with keys
``pair`` and ``run``; or a callable (language, size) -> cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from budgetlaw.errors import InputError

__all__ = ["CostModel", "cost_model", "candidate_table", "default_sizes", "round2"]


def round2(x: float) -> float:
    """x to two significant digits (149.7 -> 150, 23456 -> 23000)."""
    if x <= 0 or not math.isfinite(x):
        return x
    digits = 1 - int(math.floor(math.log10(x)))
    return float(round(x, digits))


class CostModel:
    """cost(language, size) of one pilot run (module docstring); ``describe`` says how."""

    def __init__(self, fn: Callable[[str, float], float], text: str):
        self._fn, self.text = fn, text

    def __call__(self, language: str, size: float) -> float:
        value = self._fn(language, float(size))
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"cost: the cost of a pilot of {language} at {size:g} pairs is {value!r}; a cost "
                             "function must return a finite number > 0")
        return value


def cost_model(cost, smallest_size: float) -> CostModel:
    """The CostModel of ``cost`` (None, a number, a dict with pair/run, or a callable)."""
    if callable(cost):
        return CostModel(cost, "given function")
    pair, run = 1.0, float(smallest_size)
    if isinstance(cost, Mapping):
        unknown = [str(k) for k in cost if k not in ("pair", "run")]
        if unknown:
            raise InputError(f"cost: key {unknown[0]!r} is unknown; give {{'pair': cost per pair, 'run': cost per "
                             "run}}, a number (the run cost) or a function (language, size) -> cost")
        pair, run = cost.get("pair", pair), cost.get("run", run)
    elif cost is not None:
        run = cost
    try:
        pair, run = float(pair), float(run)
    except (TypeError, ValueError):
        raise InputError(f"cost: {cost!r} must be numbers (pair and run costs), e.g. {{'pair': 1, 'run': 100}}") from None
    if not (math.isfinite(pair) and math.isfinite(run) and pair >= 0 and run >= 0 and pair + run > 0):
        raise InputError(f"cost: pair={pair!r} and run={run!r} must be finite, >= 0 and not both 0")
    return CostModel(lambda lang, size: pair * size + run, f"{pair:g} per pair + {run:g} per run")


def default_sizes(sizes: np.ndarray, planned: float, available: float) -> list[float]:
    """Another seed at each existing size; 2x, 4x the largest and the planned size, below ``available``."""
    have = sorted(float(s) for s in np.unique(sizes))
    new = [round2(2 * have[-1]), round2(4 * have[-1]), round2(planned)]
    out = list(have) + [s for s in new if s not in have and s > 0]
    return sorted({s for s in out if s <= available})


def candidate_table(candidates, languages: list[str], sizes: Mapping[str, np.ndarray],
                    planned: Mapping[str, float], available: Mapping[str, float]) -> pd.DataFrame:
    """The candidates as a DataFrame (language, size, kind), checked: every language has a law,
    every size is a finite number > 0 and at most the language's available pairs."""
    if candidates is None:
        rows = [(lang, s) for lang in languages
                for s in default_sizes(sizes[lang], planned[lang], available.get(lang, math.inf))]
    else:
        frame = candidates if isinstance(candidates, pd.DataFrame) else pd.DataFrame(
            list(candidates), columns=None if candidates and isinstance(next(iter(candidates)), Mapping)
            else ["language", "size"])
        if "mixture" in frame.columns and frame["mixture"].astype(str).str.strip().replace("nan", "").ne("").any():
            raise InputError("candidates: mixture candidates (a multilingual pilot) are not simulated yet; give "
                             "one-language candidates (language, size), see budgetlaw.design.candidates")
        missing = [c for c in ("language", "size") if c not in frame.columns]
        if missing:
            raise InputError(f"candidates: missing column {missing[0]!r}; give rows (language, size), e.g. "
                             "[('ar', 200), ('hi', 400)]")
        rows = list(zip(frame["language"].astype(str), frame["size"]))
        if not rows:
            raise InputError("candidates: the list is empty; give at least one (language, size) or None for the defaults")
    known = set(languages)
    out = []
    for lang, size in rows:
        if lang not in known:
            raise InputError(f"candidates: language {lang!r} has no pilots to fit (laws cover {', '.join(languages)}); "
                             "drop it or add its pilots")
        try:
            value = float(size)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"candidates: size {size!r} for {lang} must be a finite number of pairs > 0")
        cap = float(available.get(lang, math.inf))
        if value > cap:
            raise InputError(f"candidates: size {value:g} for {lang} is above its available pairs ({cap:g}); a pilot "
                             "cannot train on pairs that do not exist: lower the size")
        kind = "another seed" if np.any(np.isclose(sizes[lang], value)) else "new size"
        out.append((lang, value, kind))
    return pd.DataFrame(out, columns=["language", "size", "kind"]).drop_duplicates(["language", "size"],
                                                                                   ignore_index=True)
