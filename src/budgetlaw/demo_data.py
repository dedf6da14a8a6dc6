"""The two data sets `budgetlaw demo` runs on: measured pilots (the default) and synthetic ones.

measured   SmolLM2-135M-Instruct (an English LLM) tuned one language at a time on 25, 50, 100 and
           200 English->X gettext pairs (ar, el, hi, tr, vi, zh), scored by the references'
           negative log-likelihood per token on 200 held-out messages per language (lower is
           better). They are the pilots the committed plan of docs/results/smollm2-gettext was
           made from, and the limits are each language's available gettext pairs, so the demo
           reproduces that plan at its budget of 900 pairs.
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
    label="SmolLM2-135M-Instruct tuned on English->X gettext pairs; held-out reference NLL per token (lower is better)",
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
