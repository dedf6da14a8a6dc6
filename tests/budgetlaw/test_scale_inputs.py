"""Issue 25, scale and units and the value classes of the pilots: scores that cannot be on the
declared scale are refused with the fix, the 0-1 scale fits when asked, and rows no metric could
give (a loss near 1e300, unique=1e-300) are refused in one line naming the row, in Python and on
the command line (exit 2, no traceback, no laws.json written)."""

import numpy as np
import pandas as pd
import pytest

import budgetlaw as bl
from budgetlaw.cli import main

SIZES = (1000, 2000, 4000, 8000, 16000)
# generating laws on the 0-1 COMET scale: score = 1 - K x^-c
TRUE01 = {"ar": (3.0, 0.30), "el": (2.0, 0.25)}


def comet01(noise=0.0):
    rng = np.random.default_rng(7)
    rows = [{"language": lang, "size": x, "score": 1.0 - K * x ** (-c) + noise * rng.standard_normal(), "seed": s}
            for lang, (K, c) in TRUE01.items() for x in SIZES for s in range(2)]
    return pd.DataFrame(rows)


def run_err(argv, capsys):
    status = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    return status, lines[-1] if lines else ""


# -- the 0-1 scale ---------------------------------------------------------------------------------
def test_comet_0_1_against_ceiling_100_is_refused_with_the_fix(tmp_path, capsys):
    with pytest.raises(bl.InputError, match=r"every value of the column score is <= 1 .*ceiling=1.*multiply the "
                                            r"scores by 100"):
        bl.fit(comet01(), n_boot=0)
    path = tmp_path / "comet.csv"
    comet01().to_csv(path, index=False)
    out = tmp_path / "laws.json"
    status, line = run_err(["fit", str(path), "-o", str(out), "--n-boot", "0"], capsys)
    assert status == 2 and str(path) in line and "--ceiling 1" in line and "column score" in line
    assert not out.exists()


def test_ceiling_1_recovers_the_generating_law():
    laws = bl.fit(comet01(), ceiling=1, n_boot=0)
    for lang, (K, c) in TRUE01.items():
        assert laws[lang].ceiling == 1.0
        assert laws[lang].c == pytest.approx(c, rel=1e-6)
        assert laws[lang].K == pytest.approx(K, rel=1e-5)
        assert laws[lang].r2 > 0.999999


@pytest.mark.parametrize("free", [False, True])
def test_0_1_table_fits_as_the_same_table_times_100(free):
    """Every bound of the fit is relative to the scale: the same c, K / 100, and the bootstrap
    draws likewise (same seed), the ceiling 1 against 100."""
    small = comet01(noise=2e-3)
    big = small.assign(score=small["score"] * 100)
    kw = dict(free_ceiling=True, max_score=1.0) if free else dict(ceiling=1)
    a = bl.fit(small, n_boot=30, seed=3, **kw)
    b = bl.fit(big, n_boot=30, seed=3, **({"free_ceiling": True, "max_score": 100.0} if free else {}))
    for lang in TRUE01:
        assert a[lang].c == pytest.approx(b[lang].c, rel=1e-7)
        assert a[lang].K == pytest.approx(b[lang].K / 100, rel=1e-7)
        assert a[lang].ceiling == pytest.approx(b[lang].ceiling / 100, rel=1e-9)
        np.testing.assert_allclose(a[lang].draws[:, 1], b[lang].draws[:, 1], rtol=1e-6)
        np.testing.assert_allclose(a[lang].draws[:, 0], b[lang].draws[:, 0] / 100, rtol=1e-6)


def test_a_score_above_the_ceiling_names_the_row_column_and_fix(tmp_path, capsys):
    table = comet01().assign(score=lambda d: d["score"] * 100)
    table.loc[3, "score"] = 100.5
    with pytest.raises(bl.InputError, match=r"row 4: score=100\.5 is outside \[0, 100\]; put the column score on "
                                            r"the 0-100 scale .*--ceiling"):
        bl.fit(table, n_boot=0)
    path = tmp_path / "p.csv"
    table.to_csv(path, index=False)
    status, line = run_err(["fit", str(path), "-o", str(tmp_path / "l.json"), "--n-boot", "0"], capsys)
    assert status == 2 and "line 5" in line and "--ceiling" in line and not (tmp_path / "l.json").exists()
    # with the ceiling at 1 a value of 1.2 is above it too
    with pytest.raises(bl.InputError, match=r"score=1\.2 is outside \[0, 1\]"):
        bl.fit(comet01().assign(score=lambda d: d["score"].where(d.index != 0, 1.2)), ceiling=1, n_boot=0)


# -- values no metric could take -------------------------------------------------------------------
def mixed_loss_table():
    """One-language nll pilots of ar and el, then one multilingual model of both."""
    rows = [{"language": lang, "size": x, "score": 1.0 + K * x ** (-0.3), "seed": 0, "run": f"{lang}-{x}",
             "mixture": "", "unique": ""} for lang, K in (("ar", 30.0), ("el", 20.0)) for x in SIZES]
    rows += [{"language": "ar", "size": 1000, "score": 1.0 + 30.0 * 1500 ** (-0.3), "seed": 0, "run": "m",
              "mixture": "ar=1000;el=1000", "unique": ""},
             {"language": "el", "size": 1000, "score": 1.0 + 20.0 * 1500 ** (-0.3), "seed": 0, "run": "m",
              "mixture": "ar=1000;el=1000", "unique": ""}]
    return pd.DataFrame(rows)


def test_the_clean_mixed_table_fits_its_transfer():
    """The control: the multilingual model was made with T = 0.5 both ways, which the fit finds."""
    laws = bl.fit(mixed_loss_table(), lower_is_better=True, transfer="pooled", n_boot=0)
    np.testing.assert_allclose(laws.transfer.params, [0.5, 0.5], rtol=1e-4)


@pytest.mark.parametrize("transfer", ["auto", "pooled"])
def test_a_multilingual_loss_near_1e300_is_refused(tmp_path, capsys, transfer):
    """It used to turn the transfer fit silently into T = 0 (pooled: every T at its start 0.05)."""
    table = mixed_loss_table()
    table.loc[len(table) - 1, "score"] = 1e300
    with pytest.raises(bl.InputError, match=r"row 12: score=1e\+300 is a loss above 1e\+06"):
        bl.fit(table, lower_is_better=True, transfer=transfer, n_boot=0)
    path, out = tmp_path / "p.csv", tmp_path / "l.json"
    table.to_csv(path, index=False)
    status, line = run_err(["fit", str(path), "--lower-is-better", "--transfer", transfer, "-o", str(out),
                            "--n-boot", "0"], capsys)
    assert status == 2 and "line 13" in line and "score" in line and not out.exists()


def test_a_one_language_loss_near_1e300_is_refused():
    table = mixed_loss_table()
    table.loc[0, "score"] = 1e300
    with pytest.raises(bl.InputError, match=r"row 1: score=1e\+300 is a loss above"):
        bl.fit(table, lower_is_better=True, n_boot=0)
    # a loss of 1e6 itself is still a number a loss can be (the bound is inclusive)
    assert bl.read_pilots(table.assign(score=table["score"].where(table.index != 0, 1e6)),
                          lower_is_better=True)["score"].max() == 1e6


def test_a_repetition_row_with_unique_1e_300_is_refused(tmp_path, capsys):
    """It used to raise a scipy traceback (an inf Jacobian in stage 2)."""
    table = mixed_loss_table()
    table.loc[len(table)] = {"language": "ar", "size": 4000, "score": 1.5, "seed": 0, "run": "rep", "mixture": "",
                             "unique": 1e-300}
    with pytest.raises(bl.InputError, match=r"row 13: unique=1e-300 with size=4000 is 4e\+303 passes .* more than "
                                            r"1000"):
        bl.fit(table, lower_is_better=True, n_boot=0)
    path, out = tmp_path / "p.csv", tmp_path / "l.json"
    table.to_csv(path, index=False)
    status, line = run_err(["fit", str(path), "--lower-is-better", "-o", str(out), "--n-boot", "0"], capsys)
    assert status == 2 and "line 14" in line and "unique" in line and not out.exists()
    # 1000 passes are still a repetition row
    table.loc[len(table) - 1, "unique"] = 4.0
    assert bl.read_pilots(table, lower_is_better=True)["unique"].min() == 4.0
