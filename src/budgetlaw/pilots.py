"""Pilot runs: the table of (language, size, score) that the laws are fitted to.

pilots.csv (docs/formats/pilots.md), one row per pilot fine-tuning run:

    language,size,score[,seed][,metric]
    ar,10000,61.2,0,comet
    ar,10000,60.8,1,comet

``size`` > 0 (pairs or tokens), ``score`` in [0, max_score] (COMET x 100 by default; a table
whose every score is <= 1 against a ceiling of 10 or more, 0-1 COMET against 100, is refused with
the fix) or, for a loss (``lower_is_better=True``, e.g. metric ``nll`` in nats/token), a value in
[0, MAX_LOSS],
``seed`` an integer (several seeds per size are allowed), ``metric`` a name; a file holding
several metrics needs ``metric=`` to pick one, and a known loss metric (``nll``, ``loss``) is
refused unless ``lower_is_better=True``. Rows are identified in messages by their CSV line
(header = line 1) for files, by their 1-based data row for DataFrames.

Multilingual models (optional columns, budgetlaw.transfer): ``run`` names the model a row was
scored on (rows sharing a run are one model), ``mixture`` lists every language's pairs in that
model as ``ar=90;el=90;hi=0`` (the scored language's entry equals ``size``, which may then be 0:
a point of pure transfer), and ``unique`` is the number of distinct pairs of the scored language
(default ``size``; less than ``size`` means pairs were repeated, at most MAX_PASSES passes). A file without these columns
reads exactly as before.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from budgetlaw.direction import check_metric
from budgetlaw.errors import InputError
from budgetlaw.fileio import unsafe_label

__all__ = ["read_pilots", "parse_mixture", "one_language", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "MIXTURE_COLUMNS",
           "MAX_LOSS", "MAX_PASSES"]

REQUIRED_COLUMNS = ("language", "size", "score")
OPTIONAL_COLUMNS = ("seed", "metric")
#: Columns of multilingual and repetition rows (docs/formats/pilots.md); any one of them present
#: adds all three to what read_pilots returns.
MIXTURE_COLUMNS = ("run", "mixture", "unique")
#: Largest loss a row may give (lower_is_better): a per-token loss is a few nats (a uniform guess
#: over a 256k vocabulary is 12.5); beyond 1e6 a value is a typo or a sum, and values near 1e300
#: overflow the fit's squared residuals (a silent T = 0 before this check).
MAX_LOSS = 1e6
#: Most passes (size / unique) a repetition row may give. Data-constrained scaling saturates long
#: before (with R* = 5 a pass beyond the 40th adds less than 1e-3 of a fresh catalogue), and
#: unique = 1e-300 made the effective data underflow inside scipy.
MAX_PASSES = 1000.0

Source = Union[str, os.PathLike, pd.DataFrame]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(source: Source) -> tuple[pd.DataFrame, str, str, dict]:
    """Raw table of strings, a name for messages, the row-label word and provenance."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.columns = [str(col).strip().lower() for col in frame.columns]
        frame = frame.reset_index(drop=True)
        frame.index = frame.index + 1  # 1-based data rows
        # what was fitted, for a table with no file behind it: a plan records its laws' signature,
        # and two tables' laws must not compare equal (budgetlaw.plan.check_made_from)
        digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
        digest.update(frame.astype(str).to_csv(index=False).encode())
        return frame, "pilots table", "row", {"path": None, "sha256": digest.hexdigest()}
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: pilot file not found; give the path of a CSV with columns language,size,score")
    _refuse_nul(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty; write a header line 'language,size,score' and one row per pilot run") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        detail = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())[:200]
        raise InputError(f"{path}: not a readable CSV ({detail}); save it as UTF-8 comma-separated text") from None
    # read here, where the file's every column is still present: read_pilots keeps only its own
    synthetic = "source" in frame.columns and bool((frame["source"].str.strip() == "synthetic").any())
    frame.columns = [str(col).strip().lower() for col in frame.columns]
    frame.index = frame.index + 2  # CSV line numbers: the header is line 1
    blank = frame.apply(lambda col: col.isna() | (col.astype(str).str.strip() == "")).all(axis=1)
    frame = frame[~blank]
    # the file's name, not the path as typed: `fit ./p.csv` and `fit p.csv` (or from another folder)
    # give the same laws.json bytes; the sha256 says which bytes were fitted
    return frame, str(path), "line", {"path": path.name, "sha256": _sha256(path), "synthetic": synthetic}


def _numeric(frame: pd.DataFrame, column: str, name: str, label: str) -> pd.Series:
    raw = frame[column]
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text.where(text != "", np.nan) if raw.dtype == object else raw, errors="coerce")
    values = values.astype(float)
    missing = raw.isna() | (text == "") | (text.str.lower() == "nan")
    if missing.any():
        row = missing.idxmax()
        if text[row] == "" and not pd.isna(raw[row]):
            raise InputError(f"{name}, {label} {row}: {column} is empty; give a number or delete the row")
        raise InputError(f"{name}, {label} {row}: {column} is NaN (not a number); give a number or delete the row")
    bad = values.isna()
    if bad.any():
        row = bad.idxmax()
        raise InputError(f"{name}, {label} {row}: {column}={raw[row]!r} is not a number; write it as a plain number like 12000 or 61.5")
    infinite = ~np.isfinite(values)
    if infinite.any():
        row = infinite.idxmax()
        raise InputError(f"{name}, {label} {row}: {column}={raw[row]!r} is not finite; give a finite number")
    return values


def _check_scale(frame: pd.DataFrame, score: pd.Series, max_score: float, name: str, label: str) -> None:
    """Scores must be on the declared scale [0, max_score]. Every score <= 1 against a ceiling of
    10 or more (of 100 by default) is a scale mistake, not a result: unbabel-comet prints
    0-1 scores while the default ceiling is COMET x 100, and fitting those against 100 gives a
    law with c at its bound and R^2 far below 0 without any error."""
    bad = (score < 0) | (score > max_score)
    if bad.any():
        row = bad.idxmax()
        raise InputError(
            f"{name}, {label} {row}: score={frame['score'][row]!r} is outside [0, {max_score:g}]; put the column "
            f"score on the 0-{max_score:g} scale (COMET x 100), or give the metric's best value with --ceiling "
            f"(Python: ceiling=) or --max-score (max_score=)"
        )
    if max_score >= 10 and len(score) and float(score.max()) <= 1:
        rescale = "multiply the scores by 100" if max_score == 100 else f"put them on the 0-{max_score:g} scale"
        raise InputError(
            f"{name}: every value of the column score is <= 1 (largest {float(score.max()):g}) but the ceiling is "
            f"{max_score:g}: scores on a 0-1 scale (as unbabel-comet prints them)? fit with --ceiling 1 (Python: "
            f"ceiling=1), or {rescale}"
        )


def _refuse_nul(path: Path) -> None:
    """pandas' CSV reader silently cuts a field at a NUL byte ('a\\0r' is read as 'a')."""
    data = path.read_bytes()
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(f"{path}, line {line}: holds a NUL byte (a control character); a pilots file is plain "
                         "UTF-8 text: remove it")


def _check_spellings(languages: pd.Series, name: str, label: str) -> None:
    """Refuse one language written two ways ('zh' and ' ZH'): the fits would be split."""
    keys = languages.str.strip().str.lower().str.replace("-", "_", regex=False)
    for key, group in languages.groupby(keys, sort=False):
        spellings = list(dict.fromkeys(group.tolist()))
        if len(spellings) > 1:
            where = "; ".join(f"{s!r} at {label} {', '.join(str(r) for r in group.index[group == s][:5])}" for s in spellings)
            raise InputError(
                f"{name}: language {key!r} is spelled {len(spellings)} ways ({where}); write it the same way on every row"
            )


def _check_duplicates(out: pd.DataFrame, name: str, label: str) -> None:
    """Refuse a run written twice: a repeated row counts as an extra measurement and narrows the
    bootstrap intervals without any new evidence. A run is (language, size, seed[, metric]) when
    there is a seed column, else the whole row (two runs with the very same score are implausible)."""
    keys = ["language", "size", "seed"] if "seed" in out.columns else ["language", "size", "score"]
    if "metric" in out.columns:
        keys.append("metric")
    keys += [key for key in ("run", "mixture") if key in out.columns]  # another model is another run
    repeated = out.duplicated(subset=keys, keep=False)
    if repeated.any():
        rows = list(out.index[repeated])
        first = out.loc[rows[0], keys].tolist()
        same = [r for r in rows if out.loc[r, keys].tolist() == first]
        what = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in zip(keys, first))
        raise InputError(f"{name}, {label}s {same[0]} and {same[1]}: the same pilot run ({what}) appears twice "
                         f"({int(repeated.sum())} rows are repeats); keep one row per run, or give each run its own seed")


def parse_mixture(text: str, where: str = "mixture") -> dict[str, float]:
    """``"ar=90;el=90;hi=0"`` -> {"ar": 90.0, "el": 90.0, "hi": 0.0}: every language's pairs in one
    model, each a finite number >= 0, each language once (``,`` also separates entries)."""
    out: dict[str, float] = {}
    for item in str(text).replace(",", ";").split(";"):
        if not item.strip():
            continue
        lang, sep, value = item.partition("=")
        lang = lang.strip()
        if not sep or not lang:
            raise InputError(f"{where}: entry {item.strip()!r} is not language=pairs; write the mixture as "
                             "ar=90;el=90;hi=0 (every language's pairs in the model)")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number >= 0):
            raise InputError(f"{where}: {lang}={value.strip()!r} must be a finite number of pairs >= 0")
        if lang in out:
            raise InputError(f"{where}: language {lang!r} appears twice; give each language's pairs once")
        out[lang] = number
    if not out:
        raise InputError(f"{where}: the mixture is empty; write it as ar=90;el=90;hi=0 or leave the cell empty "
                         "for a one-language pilot")
    return out


def _cells(column: pd.Series) -> pd.Series:
    """A column as trimmed text, a missing cell (a DataFrame's NaN or None, a file's empty cell or
    'nan') as ""."""
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    return text.where(text.str.lower() != "nan", "")


def one_language(pilots: pd.DataFrame) -> pd.Series:
    """Rows that pin a language's own law: no other language's pairs in the model and no repeated
    pairs (True for every row of a table without the mixture columns)."""
    if "mixture" not in pilots.columns:
        return pd.Series(True, index=pilots.index)
    alone = [text == "" or not any(v > 0 for k, v in parse_mixture(text).items() if k != lang)
             for text, lang in zip(pilots["mixture"], pilots["language"])]
    return pd.Series(alone, index=pilots.index) & (pilots["unique"] >= pilots["size"])


def _mixture_columns(frame: pd.DataFrame, out: pd.DataFrame, name: str, label: str) -> pd.DataFrame:
    """Add run (str, "" when not given), mixture (canonical ``lang=pairs;...`` in the table's
    language order, "" for a one-language row) and unique (float) to ``out``, checked."""
    known = list(dict.fromkeys(out["language"]))
    order = {lang: k for k, lang in enumerate(known)}
    texts = _cells(frame["mixture"]) if "mixture" in frame.columns else pd.Series("", index=out.index)
    mixtures = []
    for row, text, lang, size in zip(out.index, texts, out["language"], out["size"]):
        if text == "":
            mixtures.append("")
            continue
        where = f"{name}, {label} {row}: mixture"
        parts = parse_mixture(text, where)
        unknown = [k for k in parts if k not in order]
        if unknown:
            raise InputError(f"{where} names {', '.join(map(repr, unknown))}, not a language of this table "
                             f"({', '.join(known)}); spell it as the language column does, or add its pilots")
        if lang not in parts:
            raise InputError(f"{where} has no entry for the scored language {lang!r}; add {lang}={size:g}")
        if not math.isclose(parts[lang], size, rel_tol=1e-9, abs_tol=1e-9):
            raise InputError(f"{where} gives {lang}={parts[lang]:g} but size is {size:g}; the scored language's "
                             f"entry must equal the row's size (its own pairs in the model)")
        others = any(v > 0 for k, v in parts.items() if k != lang)
        if not others and size == 0:
            raise InputError(f"{where} has no pairs at all; a model needs some language's pairs")
        ordered = sorted(parts.items(), key=lambda kv: order[kv[0]])
        mixtures.append(";".join(f"{k}={v:.15g}" for k, v in ordered))
    out["mixture"] = mixtures
    raw = _cells(frame["unique"]) if "unique" in frame.columns else pd.Series("", index=out.index)
    if (raw != "").any():
        filled = frame[["unique"]].assign(unique=raw.where(raw != "", out["size"].map(repr)))
        unique = _numeric(filled, "unique", name, label)
        bad = (unique < 0) | (unique > out["size"] * (1 + 1e-12)) | ((unique == 0) & (out["size"] > 0))
        if bad.any():
            row = bad.idxmax()
            raise InputError(f"{name}, {label} {row}: unique={frame['unique'][row]!r} must be > 0 and at most size="
                             f"{out['size'][row]:g} (the distinct pairs among those seen); leave it empty for no repeats")
        many = (out["size"] > 0) & (out["size"] > MAX_PASSES * unique)
        if many.any():
            row = many.idxmax()
            raise InputError(f"{name}, {label} {row}: unique={frame['unique'][row]!r} with size={out['size'][row]:g} "
                             f"is {out['size'][row] / unique[row]:.3g} passes over the same pairs, more than "
                             f"{MAX_PASSES:g}; give unique as the count of distinct pairs (in size's units), or "
                             "leave it empty for no repeats")
        out["unique"] = unique.where(out["size"] > 0, 0.0)
    else:
        out["unique"] = out["size"].astype(float)
    runs = _cells(frame["run"]) if "run" in frame.columns else pd.Series("", index=out.index)
    # rows with a mixture and no run id: rows sharing mixture and seed are one model
    seeds = out["seed"].astype(str) if "seed" in out.columns else pd.Series("", index=out.index)
    implied = "mixture " + out["mixture"] + (" seed " + seeds if "seed" in out.columns else "")
    out["run"] = runs.where((runs != "") | (out["mixture"] == ""), implied)
    for run, group in out[out["run"] != ""].groupby("run", sort=False):
        if group["mixture"].nunique() > 1:
            rows = ", ".join(str(r) for r in group.index[:4])
            raise InputError(f"{name}, {label}s {rows}: run {run!r} has different mixtures; rows of one model "
                             "must give the same mixture (every language's pairs in it)")
        if group["language"].duplicated().any() and "metric" not in group.columns:
            lang = group["language"][group["language"].duplicated()].iloc[0]
            raise InputError(f"{name}, run {run!r}: language {lang!r} is scored twice; keep one row per language "
                             "and model")
    return out[[col for col in out.columns if col not in MIXTURE_COLUMNS] + list(MIXTURE_COLUMNS)]


def _check_header(frame: pd.DataFrame, name: str) -> None:
    if frame.empty:
        raise InputError(f"{name}: no pilot rows; add one row per pilot run (language,size,score)")
    missing = [col for col in REQUIRED_COLUMNS if col not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)} (found {', '.join(map(str, frame.columns)) or 'none'}); "
            f"the header must name language,size,score (seed and metric are optional)"
        )


def _languages(frame: pd.DataFrame, name: str, label: str) -> pd.Series:
    """The language column, checked (not empty, a plain code, one spelling per language), trimmed."""
    language = frame["language"].astype(str)
    language = language.where(~frame["language"].isna(), "")
    empty = language.str.strip() == ""
    if empty.any():
        raise InputError(f"{name}, {label} {empty.idxmax()}: language is empty; give a language code such as ar or zh")
    for row, code in language.items():
        reason = unsafe_label(str(code))
        if reason:
            raise InputError(f"{name}, {label} {row}: language {str(code)!r} {reason}; write a plain language code")
    _check_spellings(language, name, label)
    return language.str.strip()


def _select_metric(frame: pd.DataFrame, language: pd.Series, metric: str | None, lower_is_better: bool,
                   name: str, label: str) -> tuple[pd.DataFrame, pd.Series]:
    """The rows of ``metric`` (all rows when None, which the file must then hold only one of)."""
    metrics = frame["metric"].astype(str).str.strip().where(~frame["metric"].isna(), "")
    present = list(dict.fromkeys(metrics[metrics != ""].tolist()))
    blank = metrics == ""
    if metric is None and present and blank.any():  # an unnamed row could be of any metric
        raise InputError(f"{name}, {label} {blank.idxmax()}: metric is empty while other rows are "
                         f"{present[0]!r}; name every row's metric, or pick one with metric= (command line: --metric)")
    if metric is None and len(present) > 1:
        raise InputError(
            f"{name}: the file holds several metrics ({', '.join(present)}); choose one with metric= "
            f"(command line: --metric), e.g. metric={present[0]!r}"
        )
    if metric is not None:
        if metric not in present:
            raise InputError(f"{name}: metric {metric!r} not found; the file holds {', '.join(present) or 'no metric names'}")
        keep = metrics == metric
        frame, language = frame[keep], language[keep]
    check_metric(set(metrics[metrics != ""]) if metric is None else [metric], lower_is_better, name)
    return frame, language


def _sizes(frame: pd.DataFrame, name: str, label: str) -> pd.Series:
    """size > 0; 0 only on a row of pure transfer (a mixture that gives the scored language nothing)."""
    size = _numeric(frame, "size", name, label)
    mixed = "mixture" in frame.columns
    own_zero_ok = _cells(frame["mixture"]) != "" if mixed else False  # pure transfer
    bad = (size < 0) | ((size == 0) & ~own_zero_ok)
    if bad.any():
        row = bad.idxmax()
        raise InputError(f"{name}, {label} {row}: size={frame['size'][row]!r} must be > 0 (number of training pairs or tokens)")
    return size


def _scores(frame: pd.DataFrame, max_score: float, lower_is_better: bool, name: str, label: str) -> pd.Series:
    """score in [0, max_score], or for a loss in [0, MAX_LOSS]."""
    score = _numeric(frame, "score", name, label)
    if not lower_is_better:
        _check_scale(frame, score, max_score, name, label)
        return score
    bad = score < 0
    if bad.any():
        row = bad.idxmax()
        raise InputError(f"{name}, {label} {row}: score={frame['score'][row]!r} is a negative loss; a loss "
                         f"(lower is better, e.g. nll in nats/token) must be >= 0")
    bad = score > MAX_LOSS
    if bad.any():
        row = bad.idxmax()
        # beyond 1e150 the squared residuals pass 1e308: say so, it is why nothing could be fitted
        overflow = " (squared, it overflows floating point)" if score[row] > 1e150 else ""
        raise InputError(f"{name}, {label} {row}: score={frame['score'][row]!r} is a loss above {MAX_LOSS:g}"
                         f"{overflow}, which no per-token loss reaches (a uniform guess over a 256k vocabulary is "
                         f"12.5 nats); fix the row, or rescale the column score (e.g. nats, not a sum over a corpus)")
    return score


def _table(frame: pd.DataFrame, language: pd.Series, size: pd.Series, score: pd.Series,
           name: str, label: str) -> pd.DataFrame:
    """language, size, score, and seed (a whole number) / metric when the file has them."""
    out = pd.DataFrame({"language": language, "size": size, "score": score})
    if "seed" in frame.columns:
        seed = _numeric(frame, "seed", name, label)
        if (seed != np.round(seed)).any():
            row = (seed != np.round(seed)).idxmax()
            raise InputError(f"{name}, {label} {row}: seed={frame['seed'][row]!r} must be a whole number")
        out["seed"] = seed.astype("int64")
    if "metric" in frame.columns:
        out["metric"] = frame["metric"].astype(str).str.strip()
    return out


def _runs(frame: pd.DataFrame, out: pd.DataFrame, name: str, label: str) -> tuple[pd.DataFrame, pd.Series]:
    """``out`` with the mixture columns when the file has any, checked for repeated runs, and
    which rows are one-language (all of them without the mixture columns)."""
    if not any(col in frame.columns for col in MIXTURE_COLUMNS):
        _check_duplicates(out, name, label)
        return out, pd.Series(True, index=out.index)
    given_run = "run" in frame.columns
    out = _mixture_columns(frame, out, name, label)
    single = one_language(out)
    keyed = out if given_run else out.drop(columns="run")
    _check_duplicates(keyed, name, label)
    out["run"] = out["run"].where(out["run"] != "", [f"{label} {r}" for r in out.index])
    return out, single


def _check_size_counts(out: pd.DataFrame, single: pd.Series, min_sizes: int, name: str) -> None:
    """Every language needs ``min_sizes`` distinct sizes among its one-language rows."""
    counts = out[single].groupby("language", sort=False)["size"].nunique().reindex(
        list(dict.fromkeys(out["language"])), fill_value=0)
    for lang, n_sizes in counts.items():
        if n_sizes < min_sizes:
            sizes = ", ".join(f"{s:g}" for s in sorted(out.loc[single & (out["language"] == lang), "size"].unique()))
            kind = "" if single.all() else " one-language (no other language, no repeats)"
            raise InputError(
                f"{name}: language {lang!r} has {n_sizes} distinct{kind} pilot size(s) ({sizes or 'none'}); a law "
                f"needs at least {min_sizes}: add pilot runs at other sizes for {lang!r} or drop its rows"
            )


def read_pilots(
    source: Source,
    *,
    metric: str | None = None,
    max_score: float = 100.0,
    min_sizes: int = 3,
    lower_is_better: bool = False,
) -> pd.DataFrame:
    """Read and validate pilot runs from a CSV path or a DataFrame.

    Returns a DataFrame with columns language (str), size (float), score (float), and seed
    (int) / metric (str) when given, one row per run, in file order. With ``metric`` only the
    rows of that metric are kept. ``df.attrs["source"]`` holds {"path", "sha256"} for files
    ({"path": None, "sha256" of the table as CSV} for DataFrames);
    ``df.attrs["synthetic"]`` is True when a file's ``source`` column marks a row "synthetic".
    Every language needs at least ``min_sizes`` distinct sizes. ``lower_is_better``: the
    ``score`` column is a loss (>= 0, no upper bound; ``max_score`` is not used).
    """
    frame, name, label, provenance = _load(source)
    _check_header(frame, name)
    language = _languages(frame, name, label)
    if "metric" in frame.columns:
        frame, language = _select_metric(frame, language, metric, lower_is_better, name, label)
    size = _sizes(frame, name, label)
    score = _scores(frame, max_score, lower_is_better, name, label)
    out = _table(frame, language, size, score, name, label)
    out, single = _runs(frame, out, name, label)
    _check_size_counts(out, single, min_sizes, name)
    synthetic = provenance.pop("synthetic", False)
    out.attrs["source"] = provenance
    out.attrs["synthetic"] = synthetic
    out.attrs["metric"] = metric if metric is not None else (out["metric"].iloc[0] if "metric" in out.columns else None)
    return out
