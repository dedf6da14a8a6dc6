"""Atomic text output: a reader never sees a half-written laws.json or plan.json."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename.

    The temporary file is created with open(..., "x"), so it gets the ordinary mode for new
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
