"""Outputs that never appear half-written (docs/guarantees.md), with the modes any tool gives.

- a file goes to a unique temporary name beside it (``.NAME.PID.RANDOM.tmp``) and is renamed
  over the target when the block succeeds (:func:`atomic_paths`, :func:`atomic_write`,
  :func:`write_text_atomic`, :func:`write_json`); several targets appear together or not at all;
- a folder of files (a report) is built in a temporary folder beside it and its files are
  renamed in when all of them are finished (:func:`staged_folder`);
- new files get ``0o666 & ~umask`` and new folders ``0o777 & ~umask`` (:func:`chmod_tree` for
  a folder a library wrote with 0600 files or a 0700 mkdtemp).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from budgetlaw.errors import InputError

__all__ = ["umask", "file_mode", "dir_mode", "chmod_tree", "atomic_paths", "atomic_write", "write_text_atomic",
           "write_json", "staged_folder"]


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


def chmod_tree(root: str | os.PathLike) -> None:
    """Give a freshly written folder and everything in it the ordinary modes under the umask
    (libraries write some files 0600 and tempfile.mkdtemp makes folders 0700)."""
    fmode, dmode = file_mode(), dir_mode()
    for folder, _dirs, files in os.walk(Path(root)):
        os.chmod(folder, dmode)
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), fmode)


def _temporary_beside(target: Path) -> Path:
    """A new empty file beside ``target`` under a name no other writer uses (pid and a random
    part). open(..., "x") gives it the ordinary mode under the umask, unlike mkstemp's 0600:
    plans, laws and mixtures are handed to other jobs and accounts."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "x"):
        pass
    return tmp


@contextlib.contextmanager
def atomic_paths(*targets: str | os.PathLike, make_folders: bool = False):
    """Temporary paths beside each target, renamed onto the targets only if the block succeeds.

    ``with atomic_paths(a, b) as (tmp_a, tmp_b): ...`` (one target: one path): nothing
    half-written is ever left at ``a`` or ``b``; on an exception the temporary files are
    removed. A target whose folder is missing is refused (InputError), unless ``make_folders``.
    """
    temps: list[Path] = []
    try:
        for target in map(Path, targets):
            if make_folders:
                target.parent.mkdir(parents=True, exist_ok=True)
            elif not target.parent.exists():
                raise InputError(f"{target}: the directory {target.parent} does not exist; create it first")
            temps.append(_temporary_beside(target))
        yield temps if len(temps) > 1 else temps[0]
        for tmp, target in zip(temps, targets):
            os.chmod(tmp, file_mode())  # a library may have replaced the file with a 0600 one
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike, mode: str = "w", *, make_folders: bool = False, **kwargs):
    """Open a temporary file beside ``target`` for writing (UTF-8, "\\n" line ends in text mode);
    it is renamed onto ``target`` when the block succeeds."""
    with atomic_paths(target, make_folders=make_folders) as tmp:
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
            kwargs.setdefault("newline", "\n")
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating missing parent folders."""
    path = Path(path)
    with atomic_write(path, make_folders=True) as fh:
        fh.write(text)
    return path


def write_json(path: str | os.PathLike, data: Any, *, indent: int = 2, sort_keys: bool = True,
               default: Callable | None = None) -> Path:
    """Write ``json.dumps(data, ...)`` and a final newline to ``path`` atomically (its folder must exist)."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    with atomic_write(path) as fh:
        fh.write(text)
    return Path(path)


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


@contextlib.contextmanager
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
