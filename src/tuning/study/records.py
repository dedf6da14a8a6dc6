"""The one reader of a study's run records (``R/runs/<id>.json``): records are data, not trust.

Every command that reads records (``tuning study status``, ``report``, ``predict``, the plan
jobs) reads them here, and a record that is not what tuning.study.runs writes is refused in one
line naming the file (RecordError, a tuning.InputError: exit status 2, no traceback) before
anything is written from any record. A record is:

    run          a non-empty string, the file's name without .json
    kind         base, pilot, optimized, uniform, proportional, extrapolation, transfer,
                 repetition or transfer-plan
    seed         a whole number
    sizes        {language: whole number of pairs >= 0}; a one-language model's scored
                 languages are all in it
    scores       {language: {nll: finite >= 0, chrf/bleu/off_target(@N): finite in 0..100,
                 generated: a count, signatures: an object}}
    epochs, unique, train, eval_s, total_s     checked when present

Languages must be codes tuning knows, written canonically (``el``, not ``EL`` or ``ell``), and,
given the study's languages, one of them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from tuning.errors import InputError
from tuning.languages import canonical

KINDS = ("base", "pilot", "optimized", "uniform", "proportional", "extrapolation", "transfer", "repetition",
         "transfer-plan")
#: kinds of model trained on one language: every language it is scored on is in its sizes
ONE_LANGUAGE = ("pilot", "extrapolation", "repetition")
BOUNDED = ("chrf", "bleu", "off_target")  # scores on 0..100
METRICS = ("nll",) + BOUNDED


class RecordError(InputError):
    """A run record that is not what a study writes (one line, names the file)."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value) -> bool:
    return _number(value) and value >= 0 and value == int(value)


def _language(path: Path, where: str, code, languages) -> None:
    try:
        canon = canonical(str(code))
    except InputError:
        canon = None
    if not isinstance(code, str) or canon != code:
        raise RecordError(f"{path}: {where}: {code!r} is not a language code tuning writes"
                          f"{f' (it would be {canon!r})' if canon else ''}; the record is damaged: delete it "
                          "and rerun the study to remake it")
    if languages is not None and code not in languages:
        raise RecordError(f"{path}: {where}: {code!r} is not one of the study's languages {list(languages)}; "
                          "move the record out of runs/ (it belongs to another study) or add the language")


def check_record(path: Path, r, languages=None) -> dict:
    """``r`` (a parsed record) as the module docstring says, or RecordError naming ``path``."""
    fix = "; the record is damaged: delete it and rerun the study to remake it"
    if not isinstance(r, dict):
        raise RecordError(f"{path}: a run record is a JSON object, not {type(r).__name__}{fix}")
    for key in ("run", "kind", "seed", "sizes", "scores"):
        if key not in r:
            raise RecordError(f"{path}: no {key!r}; every run record has run, kind, seed, sizes and scores{fix}")
    if not isinstance(r["run"], str) or not r["run"] or not isinstance(r["kind"], str) or not r["kind"]:
        raise RecordError(f"{path}: 'run' and 'kind' must be non-empty strings{fix}")
    if r["kind"] not in KINDS:
        raise RecordError(f"{path}: kind {r['kind']!r} is not one of {', '.join(KINDS)}{fix}")
    if path.suffix == ".json" and r["run"] != path.stem:
        raise RecordError(f"{path}: holds run {r['run']!r}, not {path.stem!r}; a record is named by its run "
                          "(rename or delete the file)")
    if not isinstance(r["seed"], int) or isinstance(r["seed"], bool):
        raise RecordError(f"{path}: 'seed' is {r['seed']!r}, not a whole number{fix}")
    if not isinstance(r["sizes"], dict):
        raise RecordError(f"{path}: 'sizes' must map each language to its pairs{fix}")
    for lang, n in r["sizes"].items():
        _language(path, "sizes", lang, languages)
        if not _count(n):
            raise RecordError(f"{path}: sizes.{lang} is {n!r}, not a whole number of pairs >= 0{fix}")
    if not isinstance(r["scores"], dict):
        raise RecordError(f"{path}: 'scores' must map each language to its metrics{fix}")
    for lang, sc in r["scores"].items():
        _language(path, "scores", lang, languages)
        if not isinstance(sc, dict) or "nll" not in sc:
            raise RecordError(f"{path}: scores of {lang!r} must be an object with at least 'nll'{fix}")
        for metric, value in sc.items():
            base = metric.split("@")[0]
            if base not in METRICS:
                continue
            if not _number(value):
                raise RecordError(f"{path}: scores.{lang}.{metric} is {value!r}, not a finite number{fix}")
            if base == "nll" and value < 0:
                raise RecordError(f"{path}: scores.{lang}.nll is {value!r}; an NLL is >= 0{fix}")
            if base in BOUNDED and not 0 <= value <= 100:
                raise RecordError(f"{path}: scores.{lang}.{metric} is {value!r}, outside 0..100{fix}")
        if "generated" in sc and not _count(sc["generated"]):
            raise RecordError(f"{path}: scores.{lang}.generated is {sc['generated']!r}, not a count{fix}")
        if not isinstance(sc.get("signatures", {}), dict):
            raise RecordError(f"{path}: scores.{lang}.signatures must be an object{fix}")
        if r["kind"] in ONE_LANGUAGE and lang not in r["sizes"]:
            raise RecordError(f"{path}: a {r['kind']} model scored on {lang} has no sizes.{lang}{fix}")
    if "epochs" in r and not (_count(r["epochs"]) and r["epochs"] >= 1):
        raise RecordError(f"{path}: 'epochs' is {r['epochs']!r}, not a whole number >= 1{fix}")
    if "unique" in r and not (isinstance(r["unique"], dict) and all(
            lang in r["sizes"] and _count(n) for lang, n in r["unique"].items())):
        raise RecordError(f"{path}: 'unique' must map languages of sizes to whole numbers of pairs{fix}")
    train = r.get("train", {})
    if not isinstance(train, dict) or not all(_number(train[k]) for k in ("wall_s", "tokens", "step_s") if k in train):
        raise RecordError(f"{path}: 'train' must be an object of numbers (wall_s, tokens, step_s){fix}")
    for key in ("eval_s", "total_s"):
        if key in r and not (_number(r[key]) and r[key] >= 0):
            raise RecordError(f"{path}: {key!r} is {r[key]!r}, not a number of seconds{fix}")
    return r


def read_record(path: Path, languages=None) -> dict:
    """One record file, parsed and checked (RecordError naming the file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecordError(f"{path}: not UTF-8 text; the record is damaged: delete it and rerun the study") from None
    if not text.strip():
        raise RecordError(f"{path}: empty (a copy or a disk cut it short); delete it and rerun the study to "
                          "remake it")
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise RecordError(f"{path}: not a JSON run record (truncated or edited{where}); delete it and rerun the "
                          "study to remake it") from None
    return check_record(path, record, languages)


def read_records(results, languages=None, *, require: bool = False, heldout: bool = False) -> list[dict]:
    """Every ``runs/*.json`` of ``results`` (sorted by name), each checked; RecordError at the
    first problem, before anything is written. ``languages``: the study's codes (a record of
    another language is refused); ``require``: refuse a folder without records; ``heldout``: the
    held-out file of every scored language must exist (the report's n counts its messages)."""
    results = Path(results)
    if require and not results.is_dir():
        raise RecordError(f"{results}: no such folder; give the results folder of a study")
    paths = sorted((results / "runs").glob("*.json"))
    if require and not paths:
        raise RecordError(f"{results}: no run records (runs/*.json); run the study first (tuning study run), "
                          "or give its results folder")
    records, seen = [], {}
    for path in paths:
        record = read_record(path, languages)
        if record["run"] in seen:
            raise RecordError(f"{path}: run {record['run']!r} is also recorded in {seen[record['run']].name}; "
                              "keep one record per run")
        seen[record["run"]] = path
        records.append(record)
    if heldout:
        for lang in sorted({lang for r in records for lang in r["scores"]}):
            _check_heldout(results / "heldout" / f"{lang}.jsonl", lang, records)
    return records


def _check_heldout(path: Path, lang: str, records) -> None:
    """The held-out set the report counts (its n): there, every line a record, and at least as
    many messages as any record generated on (a file cut short after the models were scored)."""
    if not path.is_file():
        raise RecordError(f"{path}: missing; the nll rows of {lang} count its held-out messages")
    n = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not (isinstance(row, dict) and isinstance(row.get("input"), str) and isinstance(row.get("reference"), str)):
            raise RecordError(f"{path}, line {number}: not a held-out record (input, reference); the file is torn: "
                              f"delete it and rerun the study (its heldout-{lang} job remakes it)")
        n += 1
    most = max((int(r["scores"][lang].get("generated", 0)) for r in records if lang in r["scores"]), default=0)
    if n == 0 or most > n:
        raise RecordError(f"{path}: holds {n} held-out messages, but a record was scored on {most}; the file was cut "
                          f"short: delete it and rerun the study (its heldout-{lang} job remakes it)")
