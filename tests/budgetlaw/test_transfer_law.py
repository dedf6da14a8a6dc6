"""The transfer-aware law: effective data, repetition, forms of T, laws.json, predict, and the
mixed pilots table. Expected numbers are worked out by hand in the comments."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import budgetlaw as bl
from budgetlaw.errors import InputError
from budgetlaw.fitting import FittedLaw, LawSet, load_laws
from budgetlaw.law import PowerLaw
from budgetlaw.pilots import read_pilots
from budgetlaw.transfer.law import Transfer, effective, matrix, parameter_names, repeated

ROOT = Path(__file__).resolve().parents[2]
LANGS = ["ar", "el", "hi"]


def loss_laws(transfer=None, draws=0, seed=0):
    """Three loss laws E + K x^-c (K, c, E below) with optional draws scattered around them."""
    rng = np.random.default_rng(seed)
    K, c, E = [3.0, 2.0, 4.0], [0.5, 0.4, 0.6], [1.5, 1.2, 1.0]
    laws = {}
    for k, lang in enumerate(LANGS):
        d = np.column_stack([K[k] * np.exp(0.05 * rng.normal(size=draws)), c[k] + 0.01 * rng.normal(size=draws),
                             np.full(draws, E[k])]) if draws else np.empty((0, 3))
        law = PowerLaw.from_identifiable(K[k], c[k], ceiling=E[k], lower_is_better=True)
        laws[lang] = FittedLaw(lang, law, np.array([25.0, 50, 100]), law.predict(np.array([25.0, 50, 100])), d)
    return LawSet(laws, metric="nll", transfer=transfer)


def test_repetition_value_by_hand():
    # U = 100, R* = 5, x = 400: 100 + 500 (1 - e^-0.6) = 100 + 500 * 0.4511883639 = 325.5941820
    assert repeated(400.0, 100.0, 5.0) == pytest.approx(325.5941820, abs=1e-6)
    assert repeated(80.0, 100.0, 5.0) == 80.0  # no repeats below U
    assert repeated(400.0, None, 5.0) == 400.0 and repeated(400.0, math.inf, 5.0) == 400.0
    # slope 1 at U (continuous derivative), and the limit U (1 + R*)
    h = 1e-4
    assert (repeated(100 + h, 100.0, 5.0) - 100.0) / h == pytest.approx(1.0, abs=1e-4)
    assert repeated(1e9, 100.0, 5.0) == pytest.approx(600.0)


def test_forms_of_the_matrix():
    assert matrix("pooled", [0.2, 0.1, 0.3], 3).tolist() == [[0, 0.2, 0.2], [0.1, 0, 0.1], [0.3, 0.3, 0]]
    assert matrix("source", [0.2, 0.1, 0.3], 3).tolist() == [[0, 0.1, 0.3], [0.2, 0, 0.3], [0.2, 0.1, 0]]
    assert matrix("full", [1, 2, 3, 4, 5, 6], 3).tolist() == [[0, 1, 2], [3, 0, 4], [5, 6, 0]]
    assert parameter_names("full", ["a", "b"]) == ["T:a<b", "T:b<a"]
    # d = x + T x: x = (100, 100, 100) under pooled (0.2, 0.1, 0.3) -> (140, 120, 160)
    d = effective(np.array([100.0, 100, 100]), matrix("pooled", [0.2, 0.1, 0.3], 3))
    assert d.tolist() == pytest.approx([140, 120, 160])


def test_transfer_refuses_bad_parameters():
    with pytest.raises(InputError, match="needs 3 finite parameters"):
        Transfer("pooled", LANGS, [0.1, -0.2, 0.3])
    with pytest.raises(InputError, match="unknown"):
        Transfer("diagonal", LANGS, [])


def test_reorder_permutes_the_matrix():
    tr = Transfer("full", LANGS, [1, 2, 3, 4, 5, 6], draws=[[1, 2, 3, 4, 5, 6, 5.0]])
    back = tr.reorder(["hi", "ar", "el"])
    # T[hi][ar] = 5, T[ar][el] = 1, T[el][hi] = 4
    assert back.T[0, 1] == 5 and back.T[1, 2] == 1 and back.T[2, 0] == 4
    assert back.draw_T[0].tolist() == back.T.tolist()
    with pytest.raises(InputError, match="never scored"):
        tr.reorder(["ar", "el", "tr"])


def test_predict_by_hand_and_laws_json_round_trip(tmp_path):
    laws = loss_laws(Transfer("pooled", LANGS, [0.2, 0.1, 0.3]))
    table = bl.predict(laws, {"ar": 100, "el": 100, "hi": 100})
    assert list(table.columns) == ["language", "size", "effective", "predicted", "lower", "upper"]
    # ar: 1.5 + 3 * 140^-0.5 = 1.5 + 0.2535463; hi: 1 + 4 * 160^-0.6 = 1 + 0.1903649
    assert table["predicted"].tolist()[0] == pytest.approx(1.5 + 3 / math.sqrt(140))
    assert table["predicted"].tolist()[2] == pytest.approx(1 + 4 * 160 ** -0.6)
    assert table["lower"].isna().all()  # no draws
    # a pure-transfer language (0 own pairs) still has data: el gets 0.1 * (100 + 100) = 20
    assert bl.predict(laws, {"ar": 100, "hi": 100})["effective"].tolist()[1] == pytest.approx(20.0)
    path = laws.save(tmp_path / "laws.json")
    again = load_laws(path)
    assert again.transfer.form == "pooled" and again.transfer.T.tolist() == laws.transfer.T.tolist()
    assert again.to_dict() == json.loads(path.read_text())


def test_predict_with_repeats_and_draws():
    rng = np.random.default_rng(1)
    draws = np.column_stack([rng.uniform(0, 0.4, size=(40, 3)), rng.uniform(2, 8, size=40)])
    laws = loss_laws(Transfer("pooled", LANGS, [0.2, 0.1, 0.3], rstar=5.0, draws=draws), draws=40)
    table = bl.predict(laws, {"ar": 400, "el": 100, "hi": 0}, unique={"ar": 100})
    # ar repeats: eff = 325.594182; el gets 0.1 * 325.594182 from ar -> 132.5594182
    assert table["effective"].tolist() == pytest.approx([325.594182 + 0.2 * 100, 100 + 32.5594182,
                                                         0.3 * (325.594182 + 100)])
    assert (table["lower"] <= table["upper"]).all() and table["lower"].notna().all()
    with pytest.raises(InputError, match="tr has no law"):
        bl.predict(laws, {"tr": 10})
    with pytest.raises(InputError, match=r"sizes\[ar\]"):
        bl.predict(laws, {"ar": -1})


def test_predict_on_plain_laws_matches_each_law():
    laws = loss_laws(draws=50)
    table = bl.predict(laws, {"ar": 50, "el": 70, "hi": 90})
    for row in table.itertuples():
        assert row.effective == row.size
        assert row.predicted == pytest.approx(laws[row.language].predict(row.size))
        lo, hi = laws[row.language].interval(row.size)
        assert (row.lower, row.upper) == pytest.approx((lo, hi), rel=1e-12)


def test_committed_laws_json_loads_and_saves_unchanged(tmp_path):
    path = ROOT / "docs" / "results" / "smollm2-gettext" / "laws.json"
    laws = load_laws(path)
    assert laws.transfer is None and "transfer" not in laws.to_dict()
    saved = laws.save(tmp_path / "again.json")
    assert saved.read_bytes() == path.read_bytes()


MIXED = """language,size,score,seed,run,mixture,unique
ar,25,3.0,1,,,
ar,50,2.8,1,,,
ar,100,2.6,1,,,
el,25,3.1,1,,,
el,50,2.9,1,,,
el,100,2.7,1,,,
ar,90,2.5,1,m1,ar=90;el=60,
el,60,2.6,1,m1,el=60;ar=90,
el,0,2.9,1,m2,ar=100;el=0,
ar,200,2.55,1,rep,,100
"""


def test_mixed_table_reads(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(MIXED)
    df = read_pilots(path, lower_is_better=True)
    assert list(df.columns) == ["language", "size", "score", "seed", "run", "mixture", "unique"]
    assert df["mixture"].tolist()[6:9] == ["ar=90;el=60", "ar=90;el=60", "ar=100;el=0"]
    assert df["run"].tolist()[0] == "line 2" and df["run"].tolist()[6] == "m1"
    assert df["unique"].tolist()[-1] == 100 and df["unique"].tolist()[0] == 25


@pytest.mark.parametrize("row, pattern", [
    ("ar,90,2.5,1,m3,ar=90;tr=60,", r"line 12: mixture names 'tr', not a language"),
    ("ar,90,2.5,1,m3,ar=80;el=60,", r"gives ar=80 but size is 90"),
    ("ar,90,2.5,1,m3,ar=90;el=-6,", r"el='-6' must be a finite number of pairs >= 0"),
    ("ar,90,2.5,1,m3,ar=90;el=inf,", r"el='inf' must be a finite"),
    ("ar,90,2.5,1,m3,el=60,", r"no entry for the scored language 'ar'"),
    ("ar,90,2.5,1,m3,ar=90;el,", r"entry 'el' is not language=pairs"),
    ("ar,90,2.5,1,m1,ar=90;el=70,", r"run 'm1' has different mixtures"),
    ("ar,90,2.5,1,,,120", r"unique='120' must be > 0 and at most size=90"),
    ("ar,0,2.5,1,,,", r"size='0' must be > 0"),
])
def test_mixed_table_refuses(tmp_path, row, pattern):
    path = tmp_path / "p.csv"
    path.write_text(MIXED + row + "\n")
    with pytest.raises(InputError, match=pattern):
        read_pilots(path, lower_is_better=True)


def test_min_sizes_counts_one_language_rows_only():
    frame = pd.read_csv(__import__("io").StringIO(MIXED), dtype=str, keep_default_na=False)
    frame = frame[~((frame["language"] == "el") & (frame["size"] == "100"))]
    with pytest.raises(InputError, match=r"'el' has 2 distinct one-language .* \(25, 50\)"):
        read_pilots(frame, lower_is_better=True)


def test_dataframe_with_nan_cells_reads_like_the_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(MIXED)
    from_file = read_pilots(path, lower_is_better=True)
    frame = pd.read_csv(path)  # empty cells are NaN, numbers are numbers
    from_frame = read_pilots(frame, lower_is_better=True)
    cols = ["language", "size", "score", "mixture", "unique"]
    assert from_frame[cols].reset_index(drop=True).equals(from_file[cols].reset_index(drop=True))
    assert from_frame["run"].tolist()[6:] == ["m1", "m1", "m2", "rep"]


@pytest.mark.parametrize("edit, pattern", [
    (lambda t: t.update(form="diag"), "form 'diag'"),
    (lambda t: t["parameters"].pop("tau:ar"), "parameters must be"),
    (lambda t: t["parameters"].update({"tau:ar": "x"}), "not a list of numbers"),
    (lambda t: t["parameters"].update({"tau:ar": -0.1}), "finite parameters >= 0"),
    (lambda t: t.update(rstar=0), "rstar=0.0 must be"),
    (lambda t: t["draws"].update(values=[[0.1, 0.2]]), "rows must hold 4 numbers"),
    (lambda t: t.update(languages=["ar", "el", "tr"], parameters={"tau:ar": 0.2, "tau:el": 0.1, "tau:tr": 0.3}),
     r"laws.json: the transfer law covers ar, el, tr but the laws cover ar, el, hi; hi was never scored"),
])
def test_a_damaged_transfer_section_is_one_clear_error(tmp_path, edit, pattern):
    laws = loss_laws(Transfer("pooled", LANGS, [0.2, 0.1, 0.3], draws=[[0.2, 0.1, 0.3, 5.0]]))
    data = laws.to_dict()
    edit(data["transfer"])
    path = tmp_path / "laws.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=pattern):
        load_laws(path)


def test_predict_with_noise_widens_the_band_in_quadrature():
    """noise_sd: half-width h of the curve's band -> sqrt(h^2 + (z sd)^2), z = 1.6448536 at 90%."""
    z = 1.6448536269514722
    plain = loss_laws()  # no draws: the band is the noise alone
    table = bl.predict(plain, {"ar": 100, "el": 100, "hi": 100}, noise_sd={"ar": 0.1, "el": 0.0})
    # ar: E + K x^-c = 1.5 + 3 * 100^-0.5 = 1.8, +- 1.6448536 * 0.1
    assert table.loc[0, ["predicted", "lower", "upper"]].tolist() == pytest.approx([1.8, 1.8 - 0.16448536, 1.8 + 0.16448536])
    assert table.loc[1, "lower"] == table.loc[1, "upper"] == pytest.approx(1.2 + 2 * 100 ** -0.4)
    assert table.loc[2, "lower"] == table.loc[2, "upper"]  # not given: 0
    drawn = loss_laws(draws=50)
    band = bl.predict(drawn, {"ar": 50, "el": 70, "hi": 90})
    wide = bl.predict(drawn, {"ar": 50, "el": 70, "hi": 90}, noise_sd=0.05)
    below = np.sqrt((band["predicted"] - band["lower"]) ** 2 + (z * 0.05) ** 2)
    above = np.sqrt((band["upper"] - band["predicted"]) ** 2 + (z * 0.05) ** 2)
    assert wide["lower"].tolist() == pytest.approx((band["predicted"] - below).tolist())
    assert wide["upper"].tolist() == pytest.approx((band["predicted"] + above).tolist())
    with pytest.raises(InputError, match=r"noise_sd\[ar\]"):
        bl.predict(drawn, {"ar": 50}, noise_sd={"ar": -0.1})
    with pytest.raises(InputError, match="tr has no law"):
        bl.predict(drawn, {"ar": 50}, noise_sd={"tr": 0.1})
