"""The command-line contract both packages' command lines share (docs/guarantees.md).

- an output path is checked at the door (:func:`check_output`): it may not be one of the
  command's inputs, an existing folder where a file is written (or the reverse), or lie in a
  folder that is missing or not writable;
- a label copied into CSV outputs is refused when a spreadsheet would run it (:func:`unsafe_label`);
- SIGTERM is turned into KeyboardInterrupt (:func:`sigterm_as_interrupt`), so the clean-up that
  runs on Ctrl-C also runs when a job scheduler stops the command;
- :func:`run_command` turns the package's errors into one line and exit status 2;
- :func:`add_global_options` gives both programs ``--version``, ``-v`` and ``-q``, before or after
  the sub-command, read alike by :func:`log_level`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from budgetlaw.errors import InputError

__all__ = ["check_output", "one_line", "run_command", "sigterm_as_interrupt", "MAX_MESSAGE", "unsafe_label"]

MAX_MESSAGE = 600  # characters of an error message the command line prints


def one_line(message: object, limit: int = MAX_MESSAGE) -> str:
    """``message`` as one line of at most ``limit`` characters (lines joined with '; ')."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def unsafe_label(text: str) -> str | None:
    """Why ``text`` (a language code or another label copied into CSV outputs) is refused, or None.

    Refused: control characters (NUL, tab, line breaks: they break or hide CSV fields) and a first
    character of ``= + - @`` (a spreadsheet opening the CSV runs such a cell as a formula, e.g.
    ``=cmd|' /c calc'!A1``).
    """
    bad = next((ch for ch in text if ord(ch) < 32 or ord(ch) == 127), None)
    if bad is not None:
        return f"holds the control character {bad!r}"
    if text[:1] in ("=", "+", "-", "@"):
        return f"starts with {text[0]!r}, which a spreadsheet reads as a formula"
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _writable_folder(folder: Path, target: Path, option: str, create: bool) -> None:
    """The folder an output goes into must be (or, with ``create``, lie under) a writable folder."""
    probe = folder
    if create:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
    if not probe.exists():
        raise InputError(f"{option} {target}: the folder {folder} does not exist; create it first")
    if not probe.is_dir():
        raise InputError(f"{option} {target}: {probe} is not a folder; give an output path inside a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{option} {target}: the folder {probe} is not writable; choose an output in a folder you can write")


def check_output(path, inputs: Iterable = (), *, kind: str = "file", option: str = "-o",
                 names: Iterable[str] = ()) -> Path:
    """Refuse a bad output path before any work is done; return it as a Path.

    kind "file": ``path`` must not be an existing folder, and its folder must exist and be
    writable. kind "dir": ``path`` must not be an existing file; missing parent folders are
    created later, so the nearest existing one must be writable. In both cases ``path`` may
    not be any of ``inputs`` (compared as files on disk, so links and ``./x`` count), and for
    a folder no input may sit in it under one of ``names`` (the files the command writes).
    An input given as comma-separated paths is checked whole and part by part.
    """
    out = Path(path)
    given = []
    for item in inputs:  # "a.tsv,b.tsv" (tuning's LANG=PATH,PATH options): the whole and each part
        if item is not None:
            given += [Path(item), *(Path(p) for p in str(item).split(",") if p and "," in str(item))]
    if kind == "file":
        if out.is_dir():
            raise InputError(f"{option} {out}: is an existing folder; give a file name (e.g. {out / 'out'})")
        for item in given:
            if out.exists() and item.exists() and _same(out, item):
                raise InputError(f"{option} {out}: is also an input of this command ({item}); "
                                 "write the output to a new name, an input is never overwritten")
        _writable_folder(out.parent, out, option, create=False)
    else:
        if out.exists() and not out.is_dir():
            raise InputError(f"{option} {out}: is an existing file, not a folder; give a folder ({option} DIR)")
        names = list(names)
        for item in given:
            if not item.exists():
                continue
            if out.exists() and _same(out, item):
                raise InputError(f"{option} {out}: is also an input of this command; give a new folder")
            for name in names:
                if (out / name).exists() and _same(out / name, item):
                    raise InputError(f"{option} {out}: would replace the input {item} ({name}); "
                                     "choose another output folder, an input is never overwritten")
        _writable_folder(out if out.exists() else out.parent, out, option, create=True)
    return out


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt in the main thread, as Ctrl-C does.

    Every clean-up that runs on Ctrl-C (``try/except BaseException`` around temporary files and
    folders) then runs when a scheduler or ``kill`` stops the command too. Does nothing outside
    the main thread.
    """
    try:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:
        pass


def run_command(program: str, args, error_types: tuple[type[BaseException], ...]) -> int:
    """Run ``args.func(args)`` under the command-line contract of docs/guarantees.md.

    ``error_types`` (the package's errors: budgetlaw passes BudgetlawError, so InputError and
    SolverError alike) and the file, encoding and size errors no check at
    the door can foresee become one line ``PROGRAM COMMAND: error: ...`` and exit status 2;
    Ctrl-C and SIGTERM (see :func:`sigterm_as_interrupt`) become ``interrupted`` and 130. Shared by
    the ``budgetlaw`` and ``tuning`` command lines (tuning imports budgetlaw, never the reverse).
    """
    name = f"{program} {args.command}"
    try:
        return int(args.func(args) or 0)
    except error_types as exc:
        print(f"{name}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the checks at the door could not foresee (disk full, a race)
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{name}: error: {where}{one_line(exc.strerror or exc)}; check the path, its "
              "permissions and the free space", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:  # a reader that did not expect bytes that are not UTF-8
        print(f"{name}: error: an input holds bytes that are not UTF-8 ({one_line(exc)[:120]}); "
              "convert it to UTF-8 or check that it is the file you meant", file=sys.stderr)
        return 2
    except (MemoryError, RecursionError) as exc:
        print(f"{name}: error: the input is too large or too deeply nested "
              f"({type(exc).__name__}); use smaller settings or check the input files", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


# -- the options every command line of the project takes, where a user types them ---------------
#: logging levels from quietest to most verbose; a program's default sits at INFO or WARNING
_LEVELS = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)


def add_global_options(parser: argparse.ArgumentParser, version: str) -> None:
    """``--version``, ``-v/--verbose`` and ``-q/--quiet`` on ``parser`` and on every sub-command
    parser below it (call it after the sub-commands are added), so ``budgetlaw fit P -o L -v`` and
    ``budgetlaw -v fit P -o L`` mean the same. Both programs read them alike (``log_level``): -v is
    progress logs (INFO), -vv debug, -q a step quieter than the program's default."""
    for p in _parsers(parser):
        top = p is parser
        default = 0 if top else argparse.SUPPRESS  # absent after the sub-command: the top's count stands
        p.add_argument("--version", action="version", version=version)
        p.add_argument("-v", "--verbose", action="count", default=default,
                       help="more logging: -v progress (INFO), -vv debug" if top else argparse.SUPPRESS)
        p.add_argument("-q", "--quiet", action="count", default=default,
                       help="less logging than the default (-qq: errors only)" if top else argparse.SUPPRESS)


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases name one parser twice
                yield from _parsers(sub)


def log_level(args, default: int = logging.WARNING) -> int:
    """The logging level ``add_global_options``' flags ask for: -v INFO and -vv DEBUG in every
    program; -q one step quieter than the program's ``default`` (WARNING or INFO), down to ERROR;
    none: ``default``."""
    verbose, quiet = int(getattr(args, "verbose", 0) or 0), int(getattr(args, "quiet", 0) or 0)
    if verbose:
        return _LEVELS[min(1 + verbose, len(_LEVELS) - 1)]
    return _LEVELS[max(0, _LEVELS.index(default) - quiet)]
