"""Helpers of the hostile-input tables (tests/test_hostile_inputs_2.py): run a command on bad
input and check the house rules of docs/guarantees.md. Imported as ``from _hostile import ...``."""

from __future__ import annotations

import hashlib
import os
import random
import stat
from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """relative path -> (sha256 or 'dir', mode) of everything under root."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = (digest, stat.S_IMODE(st.st_mode))
    return out


def random_bytes(n: int = 600, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def run_in(ws: Path, main, argv: list[str]) -> int:
    cwd = os.getcwd()
    os.chdir(ws)
    try:
        return main(argv)
    finally:
        os.chdir(cwd)


def check_refused(main, prog: str, argv: list[str], ws: Path, needle: str, capsys) -> str:
    """Run main(argv) in ws: exit 2, one line ``PROG COMMAND: error: ...`` holding ``needle``,
    no traceback, the workspace unchanged byte for byte and mode for mode; return the line."""
    before = snapshot(ws)
    status = run_in(ws, main, argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, (status, captured.err)
    assert "Traceback" not in captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"{prog} {argv[0]}: error: "), lines[0]
    assert needle.lower() in lines[0].lower(), (needle, lines[0])
    assert snapshot(ws) == before, "an input changed or an output/temporary file was left"
    return lines[0]


# Language codes a CSV output must not carry: a spreadsheet formula, control characters (NUL:
# pandas cuts the field there). (code, words of the refusal)
LABEL_CASES = [
    ('=cmd|" /c calc"!A1', "which a spreadsheet reads as a formula"),
    ("+ar", "which a spreadsheet reads as a formula"),
    ("-2+3", "which a spreadsheet reads as a formula"),
    ("@SUM(A1)", "which a spreadsheet reads as a formula"),
    ("a\x00r", "NUL byte"),
    ("a\x1br", "control character"),
]
