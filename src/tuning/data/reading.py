"""Streaming readers of the data files (text lines, JSONL, gzip) and the digests that name them.

Errors name the file and the line (tuning.InputError). Writing, JSON documents, YAML and the
checks at the door live in budgetlaw.fileio, the one home of the plumbing both packages share.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from tuning.errors import InputError

__all__ = ["iter_lines", "iter_jsonl", "sha256_file", "sha256_files"]

_CHUNK = 1 << 20


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` (1-based, without the line end) from a UTF-8 file, streaming.

    A UTF-8 byte-order mark on the first line is dropped. Bytes that are not UTF-8 raise
    InputError naming the file and line. A name ending in ".gz" is read through gzip.
    """
    path = Path(path)
    try:
        fh = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror}); check the path") from None
    with fh:
        yield from _decoded(path, fh)


def _decoded(path: Path, fh) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}, line {number}: bytes that are not UTF-8 at byte {exc.start + 1} of the line; "
                    "convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)"
                ) from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text.rstrip("\r\n")
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
        raise InputError(f"{path}, after line {number}: cannot read ({exc}); the file is damaged "
                         "or not what its name says") from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` from a JSONL file (one JSON object per line), streaming.

    Blank lines are skipped. A line that is not JSON, or JSON that is not an object, raises
    InputError naming the file and line; encoding errors as in :func:`iter_lines`.
    """
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {number}: malformed JSON ({exc.msg} at column {exc.colno}); "
                             "fix or remove the line (one JSON object per line)") from None
        except RecursionError:
            raise InputError(f"{path}, line {number}: JSON nested too deeply to read; "
                             "fix or remove the line (one flat JSON object per line)") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}, line {number}: expected a JSON object {{...}}, got {type(obj).__name__}")
        yield number, obj


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths) -> str:
    """One file: its sha256. Several: sha256 of the lines "<sha256>  <file name>\\n", in order."""
    paths = list(paths)
    if len(paths) == 1:
        return sha256_file(paths[0])
    listing = "".join(f"{sha256_file(p)}  {Path(p).name}\n" for p in paths)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()
