"""The two data sets `budgetlaw demo` runs on: measured pilots (the default) and synthetic ones.

measured   SmolLM2-135M-Instruct (an English LLM) tuned on English->X gettext pairs (ar, el, hi,
           tr, vi, zh), scored by the references' negative log-likelihood per token on 200
           held-out messages per language (lower is better). The mixed pilots table of
           docs/results/smollm2-gettext (docs/formats/pilots.md): one-language pilots at 25, 50,
           100 and 200 pairs (two seeds at 50 and 200), the multilingual models that leave one
           language out (450 pairs, 90 of each other language: pure transfer into the one left
           out) and whatever multilingual or repetition models the study has added since. The
           demo fits the transfer-aware law on it (``fit(..., transfer="auto")``: each language's
           own law from its one-language pilots, the transfer matrix from the multilingual
           models) and plans 900 pairs under each language's available gettext pairs (the limits).
           The ``source`` column names the results file the rows were copied from:
           ``smollm2-gettext/pilots_transfer_plan.csv`` (the rows the study's transfer plan was
           frozen from) once the study has written it, else ``smollm2-gettext/pilots_transfer.csv``.
synthetic  COMET-scale scores drawn from six known laws at 10k-200k pairs (budgetlaw.synthetic).

The measured files are copied from the results folder, never edited by hand:
``python examples/report_smollm2.py docs/results/smollm2-gettext --bundle-demo src/budgetlaw/data``.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

__all__ = ["DemoData", "DEMOS", "MEASURED", "SYNTHETIC"]


@dataclasses.dataclass(frozen=True)
class DemoData:
    """One bundled demo: its files, how to fit them, the default budget and how to label it."""

    name: str
    pilots_file: str  # in budgetlaw/data
    limits_file: str
    metric: str
    lower_is_better: bool
    budget: str  # default --budget
    label: str  # what the pilots are: model, data and metric
    what: str  # one word for the printed summary

    @property
    def pilots_path(self) -> Path:
        return _data_file(self.pilots_file)

    @property
    def limits_path(self) -> Path:
        return _data_file(self.limits_file)

    def bundled_from(self) -> str:
        """Where the pilot rows come from: the distinct values of the file's ``source`` column
        (for the measured demo, the results file they were copied from), joined by ", "."""
        import pandas as pd

        frame = pd.read_csv(self.pilots_path, usecols=lambda c: c.strip().lower() == "source", dtype=str)
        return ", ".join(dict.fromkeys(frame.iloc[:, 0].dropna().str.strip())) if frame.shape[1] else ""


def _data_file(name: str) -> Path:
    """A file of the installed package's ``budgetlaw/data`` folder."""
    return Path(str(resources.files("budgetlaw") / "data" / name))


MEASURED = DemoData(
    name="measured",
    pilots_file="smollm2_gettext_pilots.csv",
    limits_file="smollm2_gettext_limits.csv",
    metric="nll",
    lower_is_better=True,
    budget="900",
    label="SmolLM2-135M-Instruct tuned on English->X gettext pairs, one language at a time and multilingual; "
          "held-out reference NLL per token (lower is better)",
    what="MEASURED",
)
SYNTHETIC = DemoData(
    name="synthetic",
    pilots_file="demo_pilots.csv",
    limits_file="demo_limits.csv",
    metric="comet",
    lower_is_better=False,
    budget="1.2M",
    label="synthetic COMET scores drawn from six known laws",
    what="SYNTHETIC",
)
DEMOS = {d.name: d for d in (MEASURED, SYNTHETIC)}
