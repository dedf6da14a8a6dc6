#!/usr/bin/env python
"""The transfer-aware law of the SmolLM2 experiment, measured on multilingual models it never saw.

    python examples/report_transfer.py docs/results/smollm2-gettext

What it writes, and how: tuning.study.report_transfer (its docstring lists the files).
``examples/report_smollm2.py`` calls it after the tables; ``tuning study report`` does the same.
"""

from __future__ import annotations

import sys

from tuning.study.report_transfer import write_transfer_report

if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    folder = sys.argv[1] if len(sys.argv) > 1 else "docs/results/smollm2-gettext"
    if not write_transfer_report(folder):
        sys.exit(f"{folder}: no transfer pilot recorded yet (runs/xfer-*.json); run examples/smollm2_six_languages.py")
