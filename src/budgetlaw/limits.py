"""Sizes written by people ("600k", "1.2M") and the per-language limits file (LANGS.csv).

LANGS.csv (format in docs/formats/limits.md)::

    # lines starting with '#' are comments
    language,available,floor,cost,weight
    ar,600k,10k,1,1
    zh,1.5M,,1,2

``language`` is required; every other column is optional and an empty cell means "no limit"
(available), 0 (floor), 1 (cost) or 1 (weight) for that language. ``available`` and ``floor``
are counts of pairs (or tokens) and may use the k/M/B suffixes of :func:`parse_size`. Costs may
differ between languages by at most MAX_COST_RATIO (1e6).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from budgetlaw.errors import InputError

__all__ = ["parse_size", "read_limits", "LIMIT_COLUMNS", "check_limit_languages", "limits_to_constraints",
           "MAX_COST_RATIO", "check_cost_spread"]

#: Optional columns of LANGS.csv, and the allocate() keyword each one feeds.
LIMIT_COLUMNS = {"available": "available", "floor": "floor", "cost": "cost", "weight": "weights"}

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}
# Either a plain/scientific number, or digits grouped by commas in threes ("1,200,000").
_NUMBER = re.compile(
    r"""^(?P<num>
            \d{1,3}(?:,\d{3})+(?:\.\d+)?      # 1,200,000 or 1,200.5
          | (?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?  # 1200000, 1.2, .5, 2e6
        )
        \s*(?P<suffix>[kmbg]?)$""",
    re.IGNORECASE | re.VERBOSE,
)
VALID_FORMS = "600k, 1.2M, 2e6, 1,200,000, 1.5B or a plain number"
#: Most that one language's cost per pair may exceed another's. Costs are budget units per pair
#: (tokens per pair, or a price); real ones differ by a few orders of magnitude at most. A cost of
#: 1e-300 beside 1 made the plan 1e298 pairs of one language, or left the convex program numerically
#: infeasible ("the 0 extra constraint(s) cannot hold"); a spread beyond this is a unit mistake.
MAX_COST_RATIO = 1e6


def check_cost_spread(costs: Mapping[str, float], where: str, lines: Mapping[str, int] | None = None) -> None:
    """InputError when the largest cost exceeds the smallest by more than MAX_COST_RATIO; the
    message names the cost farther from 1 (the default) and the other end, with their ``lines``."""
    if len(costs) < 2:
        return
    low = min(costs, key=costs.get)
    high = max(costs, key=costs.get)
    ratio = costs[high] / costs[low]
    if not ratio > MAX_COST_RATIO:
        return
    odd, other = (low, high) if abs(math.log(costs[low])) >= abs(math.log(costs[high])) else (high, low)
    at = (lambda lang: f" (line {lines[lang]})" if lines and lang in lines else "")
    side = "below" if odd == low else "above"
    raise InputError(
        f"{where}{', line ' + str(lines[odd]) if lines and odd in lines else ''}: cost={costs[odd]:g} for {odd!r} is "
        f"{ratio:.3g} times {side} the cost {costs[other]:g} of {other!r}{at(other)}; costs are budget units per pair "
        f"and may differ by at most a factor {MAX_COST_RATIO:g}: give every cost in one unit (e.g. tokens per pair; "
        "an empty cell or a language left out costs 1)"
    )


def parse_size(text: Any) -> float:
    """Parse a non-negative size: "600k" -> 600000.0, "1.2M" -> 1.2e6, "2e6", "1,200,000", "1.5B".

    Suffixes (case-insensitive): k = 1e3, M = 1e6, B or G = 1e9. Ints and floats pass through.
    Anything else (negative, NaN, inf, other text) raises InputError naming the text.
    """
    if isinstance(text, bool):
        raise InputError(f"size {text!r} is not a number; write it like {VALID_FORMS}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        raw = str(text).strip()
        match = _NUMBER.match(raw.replace(" ", "")) if raw else None
        if match is None:
            hint = " (sizes cannot be negative)" if raw.startswith("-") else ""
            raise InputError(f"size {str(text)!r} is not understood{hint}; write it like {VALID_FORMS}")
        value = float(match["num"].replace(",", "")) * _SUFFIX[match["suffix"].lower()]
    if not math.isfinite(value) or value < 0:
        raise InputError(f"size {text!r} must be a finite number >= 0; write it like {VALID_FORMS}")
    return value


def _data_lines(handle: Iterable[str]):
    """Yield (line_number, text) of the lines that are neither blank nor '#' comments."""
    for number, line in enumerate(handle, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def read_limits(path: str | Path) -> pd.DataFrame:
    """Read and validate LANGS.csv -> DataFrame indexed by ``language`` (float columns).

    Columns present in the file are kept (a subset of available, floor, cost, weight); empty
    cells are NaN. Errors name the file, the line and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: limits file not found; give the path of a LANGS.csv (see docs/formats/limits.md)")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(_data_lines(handle))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file ({exc.reason}); save it as UTF-8 CSV") from None
    if not lines:
        raise InputError(f"{path}: empty limits file; write a header 'language,available' and one row per language")
    numbers = [n for n, _ in lines]
    rows = list(csv.reader(text for _, text in lines))
    header = [h.strip().lower() for h in rows[0]]
    where = f"{path}, line {numbers[0]}"
    if "language" not in header:
        raise InputError(f"{where}: header {rows[0]} has no 'language' column; the first line must be like 'language,available'")
    unknown = [h for h in header if h != "language" and h not in LIMIT_COLUMNS]
    if unknown:
        raise InputError(
            f"{where}: unknown column(s) {unknown}; allowed are language, {', '.join(LIMIT_COLUMNS)} "
            "(put notes in '#' comment lines)"
        )
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise InputError(f"{where}: column(s) {duplicated} appear twice in the header; keep one of each")

    columns = [h for h in header if h != "language"]
    records: dict[str, dict[str, float]] = {}
    first_line: dict[str, int] = {}
    for line_no, row in zip(numbers[1:], rows[1:]):
        where = f"{path}, line {line_no}"
        if len(row) != len(header):
            raise InputError(f"{where}: {len(row)} fields but the header has {len(header)} ({','.join(header)}); fix the commas")
        cells = dict(zip(header, (cell.strip() for cell in row)))
        language = cells["language"]
        if not language:
            raise InputError(f"{where}: empty language; write the language code as in the pilots file, e.g. 'ar'")
        if language in records:
            raise InputError(f"{where}: language {language!r} repeats line {first_line[language]}; keep one row per language")
        values = {}
        for column in columns:
            cell = cells[column]
            if cell == "":
                values[column] = math.nan
                continue
            try:
                value = parse_size(cell)
            except InputError:
                sign = " (negative values are not allowed)" if cell.lstrip().startswith("-") else ""
                raise InputError(
                    f"{where}: {column}={cell!r} for {language!r} is not a non-negative number{sign}; "
                    f"write it like {VALID_FORMS}, or leave the cell empty for no limit"
                ) from None
            if column == "cost" and value == 0:
                raise InputError(f"{where}: cost=0 for {language!r}; a cost must be > 0 (1 means one budget unit per pair)")
            values[column] = value
        if values.get("floor", 0) > values.get("available", math.inf):
            raise InputError(
                f"{where}: floor {values['floor']:g} exceeds available {values['available']:g} for {language!r}; "
                "lower the floor or raise available"
            )
        records[language] = values
        first_line[language] = line_no
    if not records:
        raise InputError(f"{path}: header but no rows; add one row per language, e.g. 'ar,600k'")
    if "cost" in columns:  # an empty cost cell is 1
        check_cost_spread({lang: 1.0 if math.isnan(v["cost"]) else v["cost"] for lang, v in records.items()},
                          str(path), first_line)
    frame = pd.DataFrame.from_dict(records, orient="index", columns=columns, dtype=float)
    frame.index.name = "language"
    return frame


def check_limit_languages(limits: pd.DataFrame, languages: Iterable[str], source: str = "limits file") -> None:
    """Raise InputError if ``limits`` names a language that has no law."""
    known = list(languages)
    lookup = set(known)  # a set: the list made this check quadratic in the number of languages
    missing = [lang for lang in limits.index if lang not in lookup]
    if missing:
        raise InputError(
            f"{source}: language(s) {missing} have no fitted law (laws exist for {sorted(known)}); "
            "remove those rows or add pilots for them and fit again"
        )


def limits_to_constraints(limits: pd.DataFrame | None, languages: Iterable[str], source: str = "limits file") -> dict:
    """Turn a limits table into allocate()/baselines keyword arguments.

    Returns a dict with any of ``available, floor, cost, weights`` mapping language -> float;
    a language without a value (empty cell or no row) is left out of that mapping, which the
    allocator reads as no cap (available), 0 (floor) or 1 (cost, weight).
    """
    if limits is None:
        return {}
    languages = list(languages)
    check_limit_languages(limits, languages, source)
    kwargs: dict[str, Mapping[str, float]] = {}
    for column, keyword in LIMIT_COLUMNS.items():
        if column not in limits.columns:
            continue
        values = {lang: float(v) for lang, v in limits[column].items() if not pd.isna(v)}
        if values:
            kwargs[keyword] = values
    if "cost" in kwargs:  # every language without a cost costs 1
        check_cost_spread({lang: kwargs["cost"].get(lang, 1.0) for lang in languages}, source)
    return kwargs
