"""The one home for writing and reading budgetlaw's files: atomic outputs and checked JSON.

Outputs never appear half-written (docs/guarantees.md):

- a file is written to a unique temporary name beside it (``.NAME.PID.RANDOM.tmp``), then
  renamed over the target (:func:`write_text_atomic`);
- a folder of files (a report) is built in a temporary folder beside it and its files are
  renamed in when all of them are finished (:func:`staged_folder`);
- new files get ``0o666 & ~umask`` and new folders ``0o777 & ~umask``, like any other tool.

Inputs: :func:`read_json` reads a JSON file or raises InputError naming the file and the fix.
`budgetlaw.fileio` re-exports everything here for the command lines of both packages.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from budgetlaw.errors import InputError

__all__ = ["write_text_atomic", "staged_folder", "read_json", "file_mode", "dir_mode", "umask"]


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new ordinary file gets: 0o666 less the umask (0644 under 022)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode a new ordinary folder gets: 0o777 less the umask (0755 under 022)."""
    return 0o777 & ~umask()


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder, then rename.

    The temporary name is unique (pid and a random part), so two writers of one path never
    share it. The file is created with open(..., "x"), so it gets the ordinary mode for new
    files under the umask (0644 under 022), unlike tempfile.mkstemp's 0600: plans and laws are
    handed to other jobs and accounts.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _move_into(tmp: Path, out: Path) -> None:
    """Move the finished files from ``tmp`` into ``out`` (renames, so each file appears whole)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; give a folder for the output (-o DIR)")
    for item in tmp.iterdir():
        target = out / item.name
        if item.is_dir() and target.is_dir():  # a folder the command wrote before (demo's report/)
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=out))
            os.replace(target, old / target.name)  # set aside, so the new one goes in with one rename
            os.replace(item, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(item, target)
    tmp.rmdir()


@contextmanager
def staged_folder(out) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; when the block ends normally its files are moved
    into ``out`` (``out`` itself is renamed into place when it does not exist yet), otherwise the
    temporary folder is removed and nothing reaches ``out``.

    Files already in ``out`` that the block did not write are left alone.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, dir_mode())  # mkdtemp makes 0700; an output folder is an ordinary one
        yield tmp
        _move_into(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_json(path, *, what: str = "JSON file", fix: str = "check the path") -> Any:
    """The parsed content of the JSON file ``path``, or InputError naming the file and ``fix``.

    Messages: ``PATH: no such file (the WHAT was not found); FIX`` and
    ``PATH: not valid JSON (REASON); FIX`` (REASON: the parser's message and line, bytes that
    are not UTF-8, or nesting too deep).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (the {what} was not found); {fix}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid JSON (bytes that are not UTF-8); {fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); {fix}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid JSON (nested too deeply); {fix}") from None
