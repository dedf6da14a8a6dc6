"""`tuning` command line: a thin dispatcher over the sub-command modules.

Each sub-command lives beside the code it drives and exposes ``register(subparsers)``, which
adds its parser(s) and sets ``func`` (a callable taking the parsed args and returning an exit
status). Those modules must not import torch at module level, so ``tuning --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from tuning.errors import InputError

# Modules that register sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "tuning.data.cli",  # mix, tokens
    "tuning.train.cli",  # train
    "tuning.evaluation.cli",  # generate, eval, pilots, align
    "tuning.convert",  # convert (GGUF -> model directory)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuning",
        description="Turn a budgetlaw plan into a mixture, train on it, evaluate the model.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that part of the package is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse's own one-line message, SystemExit(2)
    from budgetlaw.fileio import one_line, sigterm_as_interrupt

    sigterm_as_interrupt()  # the clean-up that runs on Ctrl-C runs on SIGTERM too
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"tuning {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the checks at the door could not foresee (disk full, a race)
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"tuning {args.command}: error: {where}{one_line(exc.strerror or exc)}; check the path, its "
              "permissions and the free space", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:  # a reader that did not expect bytes that are not UTF-8
        print(f"tuning {args.command}: error: an input holds bytes that are not UTF-8 ({one_line(exc)[:120]}); "
              "convert it to UTF-8 or check that it is the file you meant", file=sys.stderr)
        return 2
    except (MemoryError, RecursionError) as exc:
        print(f"tuning {args.command}: error: the input is too large or too deeply nested "
              f"({type(exc).__name__}); use smaller settings or check the input files", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tuning {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
