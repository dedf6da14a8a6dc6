"""results.csv (one row per language, task and metric) and its conversion to budgetlaw pilots.

results.csv columns, in order: ``language, task, metric, score, n, signature, model``.
``score`` is on a 0..100 scale for every metric (BLEU, chrF++, COMET x100, QA means x100,
off-target rate in percent) except the losses of :data:`LOSS_METRICS` (``nll``: the references'
negative log-likelihood in nats per token, lower is better, any value >= 0); ``n`` the number of segments scored; ``signature`` the metric's
settings (sacrebleu-style ``key:value|...``); ``model`` the model directory evaluated.

pilots.csv (budgetlaw's input): ``language, size, score, seed, metric``, where size is the
number of translation pairs the model was trained on for that language, read from the mixture
manifest: ``counts[language]["translation"]``. A multilingual model's rows (``multilingual=True``)
add ``run, mixture, unique``: the model's name, every language's pairs in its mixture
(``ar=90;el=90;hi=0``) and the scored language's distinct pairs, min(pairs, the manifest's
``available_pairs``); see budgetlaw's docs/formats/pilots.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

from budgetlaw import LOSS_METRICS
from budgetlaw.fileio import atomic_write, read_json
from tuning.errors import InputError
from budgetlaw.fileio import unsafe_label
from tuning.languages import canonical

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["language", "task", "metric", "score", "n", "signature", "model"]
PILOT_COLUMNS = ["language", "size", "score", "seed", "metric"]
MIXTURE_COLUMNS = ["run", "mixture", "unique"]  # rows of a multilingual model (budgetlaw.transfer)
# LOSS_METRICS (imported above): lower is better and the scale is open; budgetlaw fits them with
# --lower-is-better. budgetlaw's own list, so a metric taken here as a score is never a loss there.


@dataclasses.dataclass(frozen=True)
class ResultRow:
    language: str
    task: str
    metric: str
    score: float
    n: int
    signature: str
    model: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ResultRow:
        return cls(**{k: data[k] for k in RESULT_COLUMNS})


def results_frame(rows: Iterable[ResultRow]):
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in rows], columns=RESULT_COLUMNS)


def write_results(rows, path: str | Path, *, append: bool = False) -> Path:
    """Write result rows (ResultRow list or DataFrame) to ``path`` atomically.

    With ``append`` the rows are added to an existing file's rows (same columns required).
    """
    import pandas as pd

    frame = rows if isinstance(rows, pd.DataFrame) else results_frame(rows)
    path = Path(path)
    if append and path.exists():
        frame = pd.concat([read_results(path), frame], ignore_index=True)
    with atomic_write(path) as fh:
        frame[RESULT_COLUMNS].to_csv(fh, index=False)
    return path


def read_results(path: str | Path):
    """results.csv -> DataFrame, checked: the columns above, numeric score and n."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"results file {path} does not exist; write it with `tuning eval`")
    if b"\x00" in path.read_bytes():  # pandas would cut the field there silently
        raise InputError(f"results file {path}: holds a NUL byte (a control character); write it with `tuning eval`")
    try:
        frame = pd.read_csv(path, dtype={"language": str, "task": str, "metric": str,
                                         "signature": str, "model": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"results file {path}: not a CSV ({exc}); write it with `tuning eval`") from None
    missing = [c for c in RESULT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"results file {path}: missing column(s) {', '.join(missing)}; "
                         f"expected {', '.join(RESULT_COLUMNS)}")

    for k, code in enumerate(frame["language"]):
        reason = unsafe_label(str(code))
        if reason:
            raise InputError(f"results file {path}, line {k + 2}: language {str(code)!r} {reason}; "
                             "write a plain language code")
    for col in ("score", "n"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            line = int(bad.idxmax()) + 2  # header is line 1
            raise InputError(f"results file {path}, line {line}: {col} {frame[col][bad.idxmax()]!r} is not a number")
        frame[col] = values
    return frame


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest {path} does not exist; it is written by `tuning mix` next to the mixture")
    manifest = read_json(path, error=InputError, message=lambda exc: (
        f"manifest {path}: not JSON ({exc.msg} at line {exc.lineno})" if isinstance(exc, json.JSONDecodeError)
        else None if isinstance(exc, OSError)
        else f"manifest {path}: not a UTF-8 JSON manifest; use the OUT.manifest.json `tuning mix` wrote"))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("counts"), dict):
        raise InputError(f"manifest {path}: no 'counts' object; is this a tuning-mixture-manifest/1 file?")
    return manifest


def results_to_pilots(results, manifest: dict, metric: str, *, task: str | None = None,
                      seed: int | None = None, model: str | None = None, manifest_path: str = "manifest",
                      multilingual: bool = False, run: str | None = None):
    """Pilot rows: one per language that has ``metric`` in ``results`` and is in the manifest.

    ``task`` keeps rows whose task equals it or starts with it (``flores:en-``). Several rows
    for one language (e.g. both FLORES directions) are averaged. English is skipped (the laws
    are about the other languages). ``seed`` defaults to the manifest's seed.

    A pilot point is one model's score at the size its mixture gave: rows of several models
    (a results.csv grown with ``tuning eval --append``) are refused unless ``model`` picks one.
    Languages the mixture did not plan (zero-shot evaluations) or gave no pairs are skipped
    with a warning. Scores must lie in 0..100, the scale budgetlaw's laws use; a loss metric
    (:data:`LOSS_METRICS`) must be finite and >= 0 (fit it with ``budgetlaw fit --lower-is-better``).

    ``multilingual``: the rows of one multilingual model, each with the columns of
    :data:`MIXTURE_COLUMNS`: ``run`` (``run``, default the model's name), ``mixture`` (every
    non-English language of the manifest and every evaluated one, with its pairs; 0 for an
    evaluated language the mixture left out, whose row is then a point of pure transfer) and
    ``unique``. budgetlaw fits how languages share data from such rows.
    """
    import pandas as pd

    metric = metric.lower()
    rows = _metric_rows(results, metric, task, model)
    counts = manifest["counts"]
    if seed is None:
        seed = _manifest_seed(manifest, manifest_path)
    out = []
    for lang, group in rows.groupby("language", sort=True):
        if lang == "en":
            continue
        if lang not in counts and not multilingual:
            log.warning("%s: not in %s (a zero-shot evaluation?); no pilot row written", lang, manifest_path)
            continue
        size = _pilot_size(counts, lang, manifest_path)
        if size <= 0 and not multilingual:
            # A law is a function of x > 0: a zero-pair point would make the whole pilots file
            # unreadable for budgetlaw, and it says nothing about the slope anyway.
            log.warning("%s: the mixture has no translation pairs for it; no pilot row written", lang)
            continue
        if len(group) > 1:
            log.info("%s: averaging %d %s rows (%s)", lang, len(group), metric, ", ".join(group["task"]))
        out.append({"language": lang, "size": size, "score": _pilot_score(group, lang, metric),
                    "seed": seed, "metric": metric})
    if not out:
        raise InputError(f"{manifest_path}: none of the evaluated languages ({', '.join(sorted(set(rows['language'])))}) "
                         "has translation pairs in this mixture, so there is no pilot point to write; "
                         "use the manifest of the evaluated model's mixture")
    frame = pd.DataFrame(out, columns=PILOT_COLUMNS)
    if multilingual:
        frame = _mixture_rows(frame, manifest, rows, run, manifest_path)
    return frame.drop(columns="seed") if seed is None else frame


def _metric_rows(results, metric: str, task: str | None, model: str | None):
    """The rows of ``metric`` (and ``task``), of one model: ``model``, or the only one there is."""
    rows = results[results["metric"].str.lower() == metric]
    if task:
        rows = rows[rows["task"].str.startswith(task)]
    if rows.empty:
        have = ", ".join(sorted(set(results["metric"]))) or "none"
        raise InputError(f"results have no rows for metric {metric!r}"
                         f"{' and task ' + repr(task) if task else ''} (metrics present: {have})")
    if model is not None:
        have = sorted(set(rows["model"].astype(str)))
        rows = rows[rows["model"].astype(str) == model]
        if rows.empty:
            raise InputError(f"results have no {metric} rows for model {model!r} (models present: {', '.join(have)})")
    models = sorted(set(rows["model"].astype(str)))
    if len(models) > 1:
        raise InputError(f"results have {metric} rows of {len(models)} models ({', '.join(models)}); a pilot point "
                         "is one model's score at its mixture's size: pass --model NAME (the model trained on "
                         "this manifest's mixture)")
    return rows


def _manifest_seed(manifest: dict, manifest_path: str) -> int | None:
    """The seed the mixture was drawn with, from the manifest (None when it has none)."""
    seed = manifest.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(f"{manifest_path}: key 'seed' is {seed!r}, not a whole number; pass --seed N "
                         "(the seed the mixture was drawn with)")
    return seed


def _pilot_size(counts: dict, lang: str, manifest_path: str) -> float:
    """The language's translation pairs in the mixture (0 when the manifest does not plan it: a
    multilingual model's point of pure transfer), a whole number."""
    try:
        value = counts[lang]["translation"] if lang in counts else 0  # multilingual: pure transfer
    except (KeyError, TypeError):
        value = None
    size = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    if not math.isfinite(size) or size != int(size):
        raise InputError(f"{manifest_path}: counts[{lang!r}]['translation'] is {value!r}, not a whole number "
                         "of pairs; use the manifest `tuning mix` wrote for the evaluated mixture")
    return size


def _pilot_score(group, lang: str, metric: str) -> float:
    """The mean of a language's rows, checked: a score on 0..100, or a loss (finite, >= 0)."""
    score = float(group["score"].mean())
    if metric not in LOSS_METRICS and (100.0 < score <= 100.0 + 1e-9 or -1e-9 <= score < 0.0):
        score = min(100.0, max(0.0, score))  # floating-point rounding (sacrebleu's perfect BLEU), not a scale error
    if metric.startswith("comet") and 0.0 < score <= 1.0:
        raise InputError(f"{lang}: {metric} score {score:g} looks like COMET on its 0..1 scale; pilots use "
                         "0..100 (tuning eval writes COMET x100): multiply the scores by 100 in the results file")
    if metric in LOSS_METRICS:
        if not (math.isfinite(score) and score >= 0.0):
            raise InputError(f"{lang}: {metric} {score:g} is not a loss (a finite number >= 0); "
                             "leave this model out of the pilots")
    elif not 0.0 <= score <= 100.0:
        raise InputError(f"{lang}: {metric} score {score:g} is outside 0..100, the scale budgetlaw's laws use; "
                         "use a metric on that scale (COMET models that output 0..1, e.g. wmt22-comet-da, are "
                         "written x100) or leave this model out of the pilots")
    return score


def _mixture_rows(frame, manifest: dict, rows, run: str | None, manifest_path: str):
    """``frame`` with run, mixture and unique (results_to_pilots, multilingual=True)."""
    pairs = {}
    for lang, entry in manifest["counts"].items():
        value = entry.get("translation") if isinstance(entry, dict) else None
        if lang == "en":
            continue
        reason = unsafe_label(str(lang))
        if reason:
            raise InputError(f"{manifest_path}: counts has a language {str(lang)!r} that {reason}; use the manifest "
                             "`tuning mix` wrote for the evaluated mixture")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InputError(f"{manifest_path}: counts[{lang!r}]['translation'] is {value!r}, not a whole number of "
                             "pairs; use the manifest `tuning mix` wrote for the evaluated mixture")
        pairs[lang] = float(value)
    for lang in frame["language"]:
        pairs.setdefault(lang, 0.0)  # evaluated, not trained on: pure transfer
    if not any(v > 0 for v in pairs.values()):
        raise InputError(f"{manifest_path}: the mixture has no translation pairs at all; use the manifest of the "
                         "evaluated model's mixture")
    available = _available(manifest, pairs, manifest_path)
    names = sorted(set(rows["model"].astype(str)))
    frame = frame.copy()
    frame["run"] = run_name(run or (names[0] if names else manifest_path),
                            "--run" if run else f"the model column of the results ({names[0] if names else ''})")
    frame["mixture"] = ";".join(f"{lang}={pairs[lang]:.15g}" for lang in sorted(pairs))
    unique = []
    for lang, size in zip(frame["language"], frame["size"]):
        distinct = available.get(lang)
        unique.append(min(size, float(distinct)) if distinct is not None and size > 0 else size)
    frame["unique"] = unique
    return frame


def _available(manifest: dict, pairs: dict, manifest_path: str) -> dict:
    """The manifest's ``available_pairs`` {language: distinct pairs}, checked: whole numbers, at
    least 1 for a language the mixture gave pairs (NaN, -3, "100" or 0 there are refused)."""
    available = manifest.get("available_pairs", {})
    if available is None:
        available = {}
    if not isinstance(available, dict):
        raise InputError(f"{manifest_path}: available_pairs is {available!r}, not an object "
                         "{language: distinct pairs}; use the manifest `tuning mix` wrote")
    for lang, n in available.items():
        whole = isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) and n == int(n)
        if not whole or n < 0 or (n < 1 and pairs.get(lang, 0) > 0):
            raise InputError(f"{manifest_path}: available_pairs[{lang!r}] is {n!r}, not a whole number of distinct "
                             f"pairs{' >= 1 (the mixture gave it pairs)' if whole and n >= 0 else ''}; use the "
                             "manifest `tuning mix` wrote for the evaluated mixture")
    return available


def run_name(text: str, where: str) -> str:
    """The run column's name of a model: a path spelled one way (``./runs/multi-a/`` is
    ``runs/multi-a``), so a model is appended once whatever the spelling; refused when a
    spreadsheet would run it as a formula or it holds a control character."""
    text = str(text).strip()
    if "/" in text or "\\" in text or text.startswith("."):
        text = os.path.normpath(text)
    reason = unsafe_label(text)
    if reason:
        raise InputError(f"{where}: the run name {text!r} {reason}; pass --run NAME (a plain name)")
    return text


def write_pilots(pilots, path: str | Path, *, append: bool = False) -> Path:
    """Write pilots.csv atomically; with ``append`` add to an existing file's rows.

    Appending follows the existing file: its header spelling (budgetlaw reads headers
    case-insensitively), its columns (a seed or metric the file does not track is left out)
    and its spelling of each language (``zh_CN`` stays ``zh_CN``), so budgetlaw reads the
    new rows as more points of the same laws.
    """
    import pandas as pd

    path = Path(path)
    frame = pilots
    if append and path.exists():
        old = _read_pilots_for_append(path)
        names = {str(c).strip().lower() for c in old.columns}
        if "mixture" in pilots.columns:
            _refuse_unknown_languages(old, pilots, path)
        for col in MIXTURE_COLUMNS:  # a multilingual model's rows into a file of one-language pilots
            if col in pilots.columns and col not in names:
                old[col] = ""  # empty: the file's own rows stay one-language pilots
        frame = pd.concat([old, _like_file(pilots, old, path)], ignore_index=True)
    with atomic_write(path) as fh:
        frame.to_csv(fh, index=False)
    return path


def _read_pilots_for_append(path: Path):
    import pandas as pd

    try:
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"pilots file {path}: cannot append, not a CSV ({exc})") from None
    names = [str(c).strip().lower() for c in old.columns]
    missing = [c for c in ("language", "size", "score") if c not in names]
    if missing:
        raise InputError(f"pilots file {path}: cannot append, missing column(s) {', '.join(missing)} "
                         "(the header must name language,size,score)")
    return old


def _like_file(pilots, old, path: Path):
    """The new rows with the existing file's column names, columns and language spellings."""

    by_name = {str(c).strip().lower(): c for c in old.columns}
    new = pilots.copy()
    lang_col = by_name["language"]
    spelling: dict[str, str] = {}
    for text in old[lang_col]:
        try:
            spelling.setdefault(canonical(text.strip()), text)
        except InputError:
            continue  # a language tuning does not know: nothing of ours can be it
    new["language"] = [spelling.get(lang, lang) for lang in new["language"]]
    dropped = [c for c in new.columns if c not in by_name]
    if "metric" in dropped:
        raise InputError(f"pilots file {path} has no metric column, so the appended {new['metric'].iloc[0]} rows could "
                         "not be told from its rows (budgetlaw would fit them as one metric); add a metric column "
                         "naming every row's metric, or write the new rows to a new file")
    if dropped:
        log.info("%s tracks no %s column; leaving it out of the appended rows", path, "/".join(dropped))
    absent = [by_name[c] for c in by_name if c not in new.columns]
    if any(c.strip().lower() == "seed" for c in absent):
        raise InputError(f"pilots file {path} has a seed column but the new rows have no seed (the manifest "
                         "records none); pass --seed N")
    new = new[[c for c in new.columns if c in by_name]].rename(columns=by_name)
    new = new.astype(str).reindex(columns=old.columns, fill_value="")
    _refuse_repeats(old, new, [by_name[c] for c in ("language", "size", "seed", "metric", "run") if c in by_name],
                    path)
    return new


def _refuse_unknown_languages(old, pilots, path: Path) -> None:
    """A multilingual model's rows go beside each of its languages' own pilots: budgetlaw's
    transfer law needs each language's own curve, so a language the file lacks is refused."""
    lang_col = next(c for c in old.columns if str(c).strip().lower() == "language")
    have = set()
    for text in old[lang_col]:
        try:
            have.add(canonical(str(text).strip()))
        except InputError:
            continue
    langs = set(pilots["language"])
    for mixture in set(pilots["mixture"]):
        langs.update(part.split("=")[0] for part in mixture.split(";") if part and float(part.split("=")[1]) > 0)
    missing = sorted(lang for lang in langs if lang not in have)
    if missing:
        raise InputError(f"pilots file {path}: has no pilots of {', '.join(missing)}, which this multilingual model "
                         "is scored on or trained on; append the one-language pilots of each language first "
                         "(the transfer law needs each language's own curve)")


def _refuse_repeats(old, new, keys: list[str], path: Path) -> None:
    """A run already in the file (same language, size, seed and metric) appended again would count
    as a second pilot run: budgetlaw's intervals would narrow without new evidence."""
    def key(row) -> tuple:
        out = []
        for col in keys:
            text = str(row[col]).strip()
            if str(col).strip().lower() == "run" and text:
                text = os.path.normpath(text) if "/" in text or text.startswith(".") else text
            try:
                out.append(float(text))  # 3 and 3.0 are one size
            except ValueError:
                out.append(text.lower())
        return tuple(out)

    seen = {key(row): k + 2 for k, (_, row) in enumerate(old.iterrows())}  # header is line 1
    for _, row in new.iterrows():
        if key(row) in seen:
            raise InputError(f"pilots file {path}, line {seen[key(row)]}: already holds this run "
                             f"({', '.join(f'{c}={row[c]}' for c in keys)}); it is appended once (pass --seed N "
                             "for another seed's run)")
