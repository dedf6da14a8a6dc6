"""Makes tests/_builders.py importable from every test folder (``from _builders import ...``).

pytest's default import mode would put this folder on sys.path only while collecting top-level
test modules; inserting it here makes the import independent of which tests are selected.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
