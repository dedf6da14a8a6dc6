"""`tuning` command line: a thin dispatcher over the sub-command modules.

Each sub-command lives beside the code it drives and exposes ``register(subparsers)``, which
adds its parser(s) and sets ``func`` (a callable taking the parsed args and returning an exit
status). Those modules must not import torch at module level, so ``tuning --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging

from budgetlaw import InputError as BudgetlawInputError
from budgetlaw.fileio import add_global_options, log_level, run_command, sigterm_as_interrupt
from tuning import __version__

# Modules that register sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "tuning.data.cli",  # mix, tokens
    "tuning.train.cli",  # train
    "tuning.evaluation.cli",  # generate, eval, pilots, align
    "tuning.convert",  # convert (GGUF -> model directory)
    "tuning.study.cli",  # study run|status|report
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuning",
        description="Turn a budgetlaw plan into a mixture, train on it, evaluate the model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that part of the package is not built yet
            raise
        module.register(sub)
    add_global_options(parser, f"tuning {__version__}")  # last: every sub-command takes them too
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse's own one-line message, SystemExit(2)

    sigterm_as_interrupt()  # the clean-up that runs on Ctrl-C runs on SIGTERM too
    logging.basicConfig(
        level=log_level(args, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    # budgetlaw's InputError is the base of tuning's: one clause catches both packages' errors.
    return run_command("tuning", args, (BudgetlawInputError,))


if __name__ == "__main__":
    raise SystemExit(main())
