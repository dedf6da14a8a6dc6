"""`tuning pilots --multilingual` takes a manifest and a results file as data: available_pairs
checked, languages the pilots file lacks refused, a model appended once however its path is
spelled, and no cell a spreadsheet would run as a formula. Each refusal is one line, exit 2,
and the pilots file is left as it was."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tuning.cli import main
from tuning.evaluation.results import RESULT_COLUMNS

PLAIN = "language,size,score,seed,metric\n" + "".join(
    f"{lang},{size},{3.0 - size / 1000:.3f},1,nll\n" for lang in ("ar", "el") for size in (25, 50, 100, 200))


def _inputs(tmp_path, *, model="runs/multi-a", available=None, languages=("ar", "el")):
    frame = pd.DataFrame([dict(language=lang, task=f"pairs:{lang}", metric="nll", score=2.5, n=200, signature="nll",
                               model=model) for lang in languages], columns=RESULT_COLUMNS)
    frame.to_csv(tmp_path / "results.csv", index=False)
    manifest = {"format": "tuning-mixture-manifest/1", "seed": 2,
                "counts": {lang: {"translation": 60, "instruction": 0} for lang in languages},
                "available_pairs": available if available is not None else {lang: 40 for lang in languages}}
    (tmp_path / "mix.manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "pilots.csv"
    if not out.exists():
        out.write_text(PLAIN, encoding="utf-8")
    return ["pilots", "--results", str(tmp_path / "results.csv"), "--manifest", str(tmp_path / "mix.manifest.json"),
            "--metric", "nll", "-o", str(out), "--append", "--multilingual"]


def _refused(tmp_path, capsys, argv, message):
    before = (tmp_path / "pilots.csv").read_bytes()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("tuning pilots: error: "), err
    assert message in err, err
    assert (tmp_path / "pilots.csv").read_bytes() == before


def test_appended_rows_use_the_distinct_pairs(tmp_path):
    assert main(_inputs(tmp_path)) == 0
    table = pd.read_csv(tmp_path / "pilots.csv", keep_default_na=False)
    new = table.iloc[8:]
    assert [float(x) for x in new["unique"]] == [40, 40]  # min(60 pairs, 40 distinct)
    assert set(new["run"]) == {"runs/multi-a"} and set(new["mixture"]) == {"ar=60;el=60"}


@pytest.mark.parametrize("value,message", [
    (float("nan"), "available_pairs['ar'] is nan, not a whole number of distinct pairs"),
    (-3, "available_pairs['ar'] is -3, not a whole number of distinct pairs"),
    ("100", "available_pairs['ar'] is '100', not a whole number"),
    (0, "available_pairs['ar'] is 0, not a whole number of distinct pairs >= 1 (the mixture gave it pairs)"),
    (12.5, "available_pairs['ar'] is 12.5"),
], ids=["nan", "negative", "text", "zero", "fraction"])
def test_available_pairs_are_checked(tmp_path, capsys, value, message):
    _refused(tmp_path, capsys, _inputs(tmp_path, available={"ar": value, "el": 40}), message)


def test_a_language_the_pilots_file_lacks(tmp_path, capsys):
    _refused(tmp_path, capsys, _inputs(tmp_path, languages=("ar", "el", "hi")),
             "has no pilots of hi, which this multilingual model is scored on or trained on")


def test_a_model_is_appended_once_however_its_path_is_spelled(tmp_path, capsys):
    assert main(_inputs(tmp_path, model="runs/multi-a")) == 0
    _refused(tmp_path, capsys, _inputs(tmp_path, model="./runs/multi-a/"), "already holds this run")
    _refused(tmp_path, capsys, _inputs(tmp_path, model="runs//multi-a"), "already holds this run")


@pytest.mark.parametrize("model", ['=HYPERLINK("http://x","y")', "+cmd", "-2+3", "@SUM(A1)"])
def test_no_formula_cells(tmp_path, capsys, model):
    _refused(tmp_path, capsys, _inputs(tmp_path, model=model), "a spreadsheet reads as a formula; pass --run NAME")
    _refused(tmp_path, capsys, _inputs(tmp_path) + [f"--run={model}"], "--run: the run name")
