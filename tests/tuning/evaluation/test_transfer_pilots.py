"""`tuning pilots --multilingual`: a multilingual model's results.csv and manifest become pilots
rows with run, mixture and unique columns that budgetlaw reads as one model."""

import json

import pandas as pd
import pytest

from budgetlaw.pilots import read_pilots
from tuning.cli import main
from tuning.evaluation.results import RESULT_COLUMNS, read_results, results_to_pilots

PLAIN = """language,size,score,seed,metric
ar,25,3.0,1,nll
ar,50,2.8,1,nll
ar,100,2.6,1,nll
el,25,3.1,1,nll
el,50,2.9,1,nll
el,100,2.7,1,nll
hi,25,2.9,1,nll
hi,50,2.7,1,nll
hi,100,2.5,1,nll
ar,200,2.5,1,nll
el,200,2.6,1,nll
hi,200,2.4,1,nll
"""


def _multi(tmp_path):
    rows = [("ar", 2.4), ("el", 2.5), ("hi", 2.6), ("en", 1.0)]
    frame = pd.DataFrame([dict(language=l, task=f"pairs:{l}", metric="nll", score=s, n=200, signature="nll",
                               model="runs/multi-a") for l, s in rows], columns=RESULT_COLUMNS)
    frame.to_csv(tmp_path / "results.csv", index=False)
    # hi is evaluated but has no pairs in the mixture; ar's 150 pairs come from 100 distinct ones
    manifest = {"format": "tuning-mixture-manifest/1", "seed": 2,
                "counts": {"en": {"translation": 0, "instruction": 40}, "ar": {"translation": 150, "instruction": 5},
                           "el": {"translation": 60, "instruction": 5}},
                "available_pairs": {"ar": 100, "el": 5000}}
    (tmp_path / "mix.manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path / "results.csv", tmp_path / "mix.manifest.json"


def test_multilingual_rows(tmp_path):
    results, manifest = _multi(tmp_path)
    rows = results_to_pilots(read_results(results), json.loads(manifest.read_text()), "nll", multilingual=True)
    assert rows["language"].tolist() == ["ar", "el", "hi"]  # English skipped
    assert rows["size"].tolist() == [150, 60, 0]
    assert set(rows["mixture"]) == {"ar=150;el=60;hi=0"} and set(rows["run"]) == {"runs/multi-a"}
    assert rows["unique"].tolist() == [100, 60, 0]  # ar: min(150, 100 available)
    plain = results_to_pilots(read_results(results), json.loads(manifest.read_text()), "nll")
    assert "mixture" not in plain.columns and plain["language"].tolist() == ["ar", "el"]


def test_cli_appends_multilingual_rows_that_budgetlaw_reads(tmp_path):
    results, manifest = _multi(tmp_path)
    out = tmp_path / "pilots.csv"
    out.write_text(PLAIN)
    argv = ["pilots", "--results", str(results), "--manifest", str(manifest), "--metric", "nll", "-o", str(out),
            "--append", "--multilingual", "--run", "multi-a-s2"]
    assert main(argv) == 0
    table = read_pilots(out, lower_is_better=True)
    assert len(table) == 15 and table["run"].tolist()[-1] == "multi-a-s2"
    assert table["mixture"].tolist()[:12] == [""] * 12  # the file's own rows stay one-language pilots
    assert table["unique"].tolist()[-3:] == [100, 60, 0]
    assert main(argv) == 2  # the same model's rows again: refused


def test_budgetlaw_fits_the_written_rows(tmp_path):
    import budgetlaw as bl

    results, manifest = _multi(tmp_path)
    out = tmp_path / "pilots.csv"
    out.write_text(PLAIN)
    assert main(["pilots", "--results", str(results), "--manifest", str(manifest), "--metric", "nll", "-o", str(out),
                 "--append", "--multilingual"]) == 0
    laws = bl.fit(out, metric="nll", lower_is_better=True, n_boot=0, transfer="pooled")
    assert laws.transfer.form == "pooled" and laws.transfer.fitted_on["models"]["multilingual"] == 1
    assert laws.transfer.rstar_fitted  # ar repeats 100 distinct pairs 1.5 times
    # full: ar<el, el<ar, hi<ar, hi<el are informed (hi had no pairs to give): 4 > 3 points
    with pytest.raises(bl.InputError, match="transfer='full' has 4 free parameters .* use transfer='pooled'"):
        bl.fit(out, metric="nll", lower_is_better=True, n_boot=0, transfer="full")
