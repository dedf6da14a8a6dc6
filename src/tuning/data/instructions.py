"""Instruction data: Alpaca JSON (a list of objects) or JSONL (one object per line).

Each object needs ``instruction`` (non-empty string) and ``output`` (non-empty string), and may
have ``input`` (string, "" or null when the task has none); other keys are ignored::

    [{"instruction": "Name three colours.", "input": "", "output": "Red, green, blue."}, ...]

``.json`` is read as one JSON document (a list); ``.jsonl`` (also ``.jsonl.gz``) line by line,
blank lines skipped. Errors name the file and the item number (JSON) or line (JSONL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from budgetlaw.fileio import read_json

from tuning.data.reading import iter_jsonl
from tuning.errors import InputError

__all__ = ["read_instructions", "iter_instructions"]


def _record(obj, path: Path, where: str) -> dict:
    if not isinstance(obj, dict):
        raise InputError(f"{path}, {where}: expected a JSON object with instruction/input/output, "
                         f"got {type(obj).__name__}")
    out = {}
    for key, required in (("instruction", True), ("input", False), ("output", True)):
        value = obj.get(key)
        if value is None and not required:
            value = ""
        if not isinstance(value, str):
            what = "missing" if key not in obj else f"a {type(value).__name__}, not a string"
            raise InputError(f"{path}, {where}: {key!r} is {what}; every record needs "
                             "'instruction' and 'output' strings ('input' optional)")
        if required and not value.strip():
            raise InputError(f"{path}, {where}: empty {key!r}; remove the record or fill it in")
        out[key] = value
    return out


def iter_instructions(path) -> Iterator[dict]:
    """Yield ``{"instruction", "input", "output"}`` dicts from a .json or .jsonl file."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        for number, obj in iter_jsonl(path):
            yield _record(obj, path, f"line {number}")
        return
    if not name.endswith(".json"):
        raise InputError(f"{path}: instruction data must be .json (a list) or .jsonl")
    doc = read_json(path, error=InputError, message=lambda exc: _json_error(path, exc))
    if not isinstance(doc, list):
        raise InputError(f"{path}: expected a JSON list of records (Alpaca format), got "
                         f"{type(doc).__name__}")
    for i, obj in enumerate(doc):
        yield _record(obj, path, f"item {i}")


def _json_error(path: Path, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{path}: cannot open ({exc.strerror}); check the path"
    if isinstance(exc, UnicodeDecodeError):
        return f"{path}: bytes that are not UTF-8 at byte {exc.start}; convert the file to UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return (f"{path}, line {exc.lineno}: malformed JSON ({exc.msg} at column "
                f"{exc.colno}); if the file has one object per line, name it .jsonl")
    return (f"{path}: JSON nested too deeply to read; an instruction file is a list of flat "
            "objects with instruction, input and output")


def read_instructions(path) -> list[dict]:
    """All records of an instruction file; InputError if it holds none."""
    records = list(iter_instructions(path))
    if not records:
        raise InputError(f"{path}: no instruction records; the file is empty")
    return records
