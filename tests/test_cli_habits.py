"""Issue 26: budgetlaw and tuning share their command-line habits — --version, -v and -q, before
or after the sub-command, with one meaning of -v in both."""

import logging
import subprocess
import sys

import pytest

from budgetlaw.cli import build_parser as budgetlaw_parser
from budgetlaw.fileio import log_level
from tuning.cli import build_parser as tuning_parser

FIT = ["fit", "pilots.csv", "-o", "laws.json"]
STATUS = ["study", "status", "s.yaml"]


@pytest.mark.parametrize("argv, level", [
    (FIT, logging.WARNING), (FIT + ["-v"], logging.INFO), (["-v"] + FIT, logging.INFO),
    (FIT + ["-vv"], logging.DEBUG), (["-v", "-v"] + FIT, logging.DEBUG), (FIT + ["-q"], logging.ERROR),
    (FIT + ["--verbose"], logging.INFO), (["--quiet"] + FIT, logging.ERROR),
])
def test_budgetlaw_reads_the_flags_on_either_side(argv, level):
    assert log_level(budgetlaw_parser().parse_args(argv), logging.WARNING) == level


@pytest.mark.parametrize("argv, level", [
    (STATUS, logging.INFO), (STATUS + ["-v"], logging.INFO), (["-v"] + STATUS, logging.INFO),
    (STATUS + ["-vv"], logging.DEBUG), (STATUS + ["-q"], logging.WARNING), (["-qq"] + STATUS, logging.ERROR),
    (["study", "-v", "status", "s.yaml"], logging.INFO),
])
def test_tuning_reads_the_flags_on_either_side(argv, level):
    """-v is progress logs (INFO) in both programs, -vv debug; tuning's default is INFO already."""
    assert log_level(tuning_parser().parse_args(argv), logging.INFO) == level


@pytest.mark.parametrize("program, argv", [
    ("budgetlaw", ["--version"]), ("budgetlaw", ["fit", "--version"]), ("tuning", ["--version"]),
    ("tuning", ["study", "run", "--version"]), ("tuning", ["train", "--version"]),
])
def test_version_is_answered_everywhere(program, argv):
    version = __import__(program).__version__
    out = subprocess.run([sys.executable, "-m", program, *argv], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{program} {version}"
    assert out.stderr == ""
