"""The study file's transfer.stage1 reaches the transfer fit (budgetlaw.fit's stage1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_spec import STUDY, folder  # noqa: F401 - the fixture, reused

from tuning.errors import InputError
from tuning.study.spec import load_study

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "budgetlaw"))
from test_transfer_fit import POOLED, table  # noqa: E402 - the synthetic mixed table


def test_stage1_defaults_to_separate_and_is_checked(folder):  # noqa: F811
    (folder / "s.yaml").write_text(STUDY + "transfer: {loo_budget: 20}\n", encoding="utf-8")
    assert load_study(folder / "s.yaml").transfer.stage1 == "separate"
    (folder / "s.yaml").write_text(STUDY + "transfer: {loo_budget: 20, stage1: auto}\n", encoding="utf-8")
    assert load_study(folder / "s.yaml").transfer.stage1 == "auto"
    (folder / "s.yaml").write_text(STUDY + "transfer: {loo_budget: 20, stage1: both}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"transfer.stage1: 'both' is not one of separate, joint, auto"):
        load_study(folder / "s.yaml")


def test_fit_transfer_passes_stage1():
    from tuning.study.steps import fit_transfer

    frame = table(POOLED).assign(metric="nll")
    assert "stage1" not in fit_transfer(frame, 0, transfer="pooled").signature["transfer"]
    assert fit_transfer(frame, 0, transfer="pooled", stage1="joint").signature["transfer"]["stage1"] == "joint"


def test_transfer_md_names_the_stage1_the_law_used():
    """The report's header says which stage 1 the law used and, when auto chose it, what was asked."""
    from pathlib import Path

    import budgetlaw as bl
    import pandas as pd

    from tuning.study.report_transfer import summary_lines

    root = Path(__file__).resolve().parents[3] / "docs" / "results" / "smollm2-gettext"
    laws = bl.load_laws(root / "laws_transfer.json")
    held, lomo = pd.read_csv(root / "heldout_mixtures.csv"), pd.read_csv(root / "transfer_lomo.csv")
    # the committed law: the study asks for auto, which kept the two-stage fit
    assert laws.transfer.fitted_on["selection"]["stage1"] == {**laws.transfer.fitted_on["selection"]["stage1"],
                                                              "requested": "auto", "chosen": "separate"}
    header = summary_lines(held, lomo, laws)[2]
    assert header.startswith(f"Transfer form chosen: **{laws.transfer.form}**, stage 1 **separate** (asked for: auto) (R* ")
    # a law fitted with separate asked for records no stage 1: no "asked for"
    laws.transfer.fitted_on["selection"].pop("stage1")
    laws.signature["transfer"].pop("stage1", None)
    assert summary_lines(held, lomo, laws)[2].startswith(f"Transfer form chosen: **{laws.transfer.form}**, stage 1 "
                                                         "**separate** (R* ")
