"""File plumbing shared by the readers and writers: checked line and JSON reading, hashing, atomic writes.

Every file tuning writes goes through :func:`atomic_paths` (and :func:`atomic_write` /
:func:`write_json` on top of it), not budgetlaw.fileio.write_text_atomic: tuning streams large
outputs through a file handle (mixture.jsonl, CSVs written by pandas), writes several files
that must appear together, and refuses an output whose folder is missing instead of creating
it. The modes of new files and folders come from budgetlaw.fileio, so both packages agree.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any
from pathlib import Path

from tuning.errors import InputError

__all__ = ["iter_lines", "iter_jsonl", "read_json", "sha256_file", "sha256_files", "atomic_write", "atomic_paths",
           "write_json", "check_output", "file_mode", "dir_mode", "chmod_tree"]

_CHUNK = 1 << 20


def file_mode() -> int:
    """Mode of a new ordinary file: 0o666 less the umask (see budgetlaw.fileio)."""
    from budgetlaw.fileio import file_mode as mode

    return mode()


def dir_mode() -> int:
    """Mode of a new ordinary folder: 0o777 less the umask."""
    from budgetlaw.fileio import dir_mode as mode

    return mode()


def chmod_tree(root: str | os.PathLike) -> None:
    """Give a freshly written folder and everything in it the ordinary modes under the umask
    (libraries write some files 0600 and tempfile.mkdtemp makes folders 0700)."""
    fmode, dmode = file_mode(), dir_mode()
    root = Path(root)
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, dmode)
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), fmode)


def check_output(path, inputs=(), *, kind: str = "file", option: str = "-o", names=()) -> Path:
    """Refuse an output that is one of ``inputs``, an existing folder (or file, for kind "dir"),
    or lies in a missing or unwritable folder; see budgetlaw.fileio.check_output, whose
    budgetlaw.InputError (the base of tuning's) passes through unchanged."""
    from budgetlaw.fileio import check_output as check

    expanded = []
    for item in inputs:
        if item is None:
            continue
        expanded += [p for p in str(item).split(",") if p] if "," in str(item) else [item]
    return check(path, expanded, kind=kind, option=option, names=names)


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


def read_json(path: str | os.PathLike, message: Callable[[BaseException], str | None]) -> Any:
    """The JSON document in the UTF-8 file ``path``.

    A file that cannot be opened, is not UTF-8, is not JSON or is nested too deeply raises
    InputError with ``message(exc)``: each reader says what its file should be. When ``message``
    returns None the original exception propagates.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        text = message(exc)
        if text is None:
            raise
        raise InputError(text) from None


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


@contextlib.contextmanager
def atomic_paths(*targets: str | os.PathLike):
    """Temporary paths beside each target, renamed onto the targets only if the block succeeds.

    ``with atomic_paths(a, b) as (tmp_a, tmp_b): ...`` -- nothing half-written is ever left at
    ``a`` or ``b``; on an exception the temporary files are removed.
    """
    temps = []
    try:
        for target in targets:
            target = Path(target)
            if target.parent and not target.parent.exists():
                raise InputError(f"{target}: the directory {target.parent} does not exist; create it first")
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield temps if len(temps) > 1 else temps[0]
        for tmp, target in zip(temps, targets):
            os.chmod(tmp, file_mode())  # mkstemp makes 0600; outputs are ordinary files under the umask
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file beside ``target`` for writing; rename it onto target on success."""
    with atomic_paths(target) as tmp:
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
            kwargs.setdefault("newline", "\n")
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_json(path: str | os.PathLike, data: Any, *, indent: int = 2, sort_keys: bool = True,
               default: Callable | None = None) -> Path:
    """Write ``json.dumps(data, ...)`` and a final newline to ``path`` atomically."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    with atomic_write(path) as fh:
        fh.write(text)
    return Path(path)
