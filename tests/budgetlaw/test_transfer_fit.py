"""Fitting a transfer-aware law: a synthetic case with known K, c, E, T and R* is recovered,
the form choice and its refusals, the whole-model bootstrap, and the plain table unchanged."""

import io

import numpy as np
import pandas as pd
import pytest

import budgetlaw as bl
from budgetlaw.cli_output import print_selection
from budgetlaw.errors import InputError
from budgetlaw.fitting.fitter import fit as fit_one_language

LANGS = ["ar", "el", "hi"]
K, C, E = np.array([3.0, 2.0, 4.0]), np.array([0.5, 0.4, 0.6]), np.array([1.5, 1.2, 1.0])
MIXES = [(100, 100, 100), (40, 200, 60), (0, 150, 150), (150, 0, 150), (150, 150, 0), (300, 50, 20)]


def truth(x, T, U=None, rstar=3.0):
    """Loss of every language for pairs x, written out here (not the library's code)."""
    x = np.asarray(x, dtype=float)
    e = x.copy()
    if U is not None:
        U = np.asarray(U, dtype=float)
        over = x > U
        e[over] = U[over] + U[over] * rstar * (1 - np.exp(-(x[over] / U[over] - 1) / rstar))
    d = np.array([e[i] + sum(T[i][j] * e[j] for j in range(3) if j != i) for i in range(3)])
    with np.errstate(divide="ignore"):  # a language without pairs and T = 0: infinite loss, unused
        return E + K * d ** (-C)


def table(T, noise=0.0, seed=0, repeats=False, rstar=3.0):
    rng = np.random.default_rng(seed)
    rows = []
    for i, lang in enumerate(LANGS):
        for x in (25, 50, 100, 200, 400):
            rows.append({"language": lang, "size": x, "score": E[i] + K[i] * x ** -C[i] + noise * rng.normal(),
                         "run": f"pilot-{lang}-{x}", "mixture": "", "unique": ""})
    for m, mix in enumerate(MIXES):
        y = truth(mix, T)
        for i, lang in enumerate(LANGS):
            rows.append({"language": lang, "size": mix[i], "score": y[i] + noise * rng.normal(), "run": f"multi-{m}",
                         "mixture": ";".join(f"{a}={b}" for a, b in zip(LANGS, mix)), "unique": ""})
    if repeats:  # ar: 100 distinct pairs seen 2x and 4x; hi: 50 seen 3x
        for i, x, u in ((0, 200, 100), (0, 400, 100), (2, 150, 50)):
            xs, us = np.zeros(3), np.full(3, np.inf)
            xs[i], us[i] = x, u
            rows.append({"language": LANGS[i], "size": x, "score": truth(xs, np.zeros((3, 3)), us, rstar)[i],
                         "run": f"rep-{i}-{x}", "mixture": "", "unique": u})
    return pd.DataFrame(rows)


POOLED = [[0, 0.2, 0.2], [0.1, 0, 0.1], [0.3, 0.3, 0]]
FULL = [[0, 0.05, 0.4], [0.2, 0, 0.1], [0.3, 0.02, 0]]


def test_pooled_transfer_is_recovered_and_chosen_noiseless():
    laws = bl.fit(table(POOLED), lower_is_better=True, n_boot=0)
    tr = laws.transfer
    assert tr.form == "pooled"  # the lowest leave-one-model-out error; full fits as well but has more parameters
    assert tr.fitted_on["selection"]["criterion"] == "leave-one-mixture-out RMSE, one-standard-error rule"
    np.testing.assert_allclose(tr.T, POOLED, atol=1e-6)
    for i, lang in enumerate(LANGS):
        assert (laws[lang].K, laws[lang].c, laws[lang].ceiling) == pytest.approx((K[i], C[i], E[i]), rel=1e-6)
    assert not tr.rstar_fitted and tr.rstar == 5.0


def test_one_standard_error_rule_on_hand_made_folds():
    from budgetlaw.transfer.fit import one_se_choice

    sizes = {"none": 0, "pooled": 3, "full": 6}
    inf = float("inf")
    # full beats pooled in 3 of 4 folds: per-fold differences d = (0.2, 0.1, 0.5, -0.1), sample
    # variance 0.0625, SE = sqrt(4 * 0.0625) / 10 = 0.05 < the MSE difference (10 - 9.3) / 10 = 0.07
    steady = {"none": [inf] * 4, "pooled": [1, 2, 3, 4], "full": [0.8, 1.9, 2.5, 4.1]}
    chosen, best, se = one_se_choice(steady, sizes, 10)
    assert (chosen, best) == ("full", "full")
    assert se["pooled"] == pytest.approx(0.05) and se["full"] == 0.0 and se["none"] == inf
    # one lucky fold: d = (0.9, 0, 0, -0.1), variance 0.22, SE = sqrt(0.88) / 10 = 0.0938 > 0.08
    lucky = {"none": [inf] * 4, "pooled": [1, 2, 3, 4], "full": [0.1, 2, 3, 4.1]}
    chosen, best, se = one_se_choice(lucky, sizes, 10)
    assert (chosen, best) == ("pooled", "full")
    assert se["pooled"] == pytest.approx((4 * 0.22) ** 0.5 / 10)


def test_a_richer_form_must_beat_pooled_by_more_than_the_folds_scatter():
    # noisy pooled truth where full has the lowest held-out error (0.024 vs 0.028) by luck of
    # one mixture: the rule keeps pooled, and the report says why
    laws = bl.fit(table(POOLED, noise=0.02, seed=4), lower_is_better=True, n_boot=0)
    sel = laws.transfer.fitted_on["selection"]
    assert sel["lowest"] == "full" and sel["scores"]["full"] < sel["scores"]["pooled"]
    assert laws.transfer.form == "pooled"
    assert (sel["scores"]["pooled"] ** 2 - sel["scores"]["full"] ** 2) <= sel["mse_se"]["pooled"]
    out = io.StringIO()
    print_selection(laws, out)
    assert "full has the lowest error, pooled is within one standard error with fewer parameters" in out.getvalue()


def test_full_transfer_is_recovered_when_asked():
    laws = bl.fit(table(FULL), lower_is_better=True, n_boot=0, transfer="full")
    np.testing.assert_allclose(laws.transfer.T, FULL, atol=1e-6)
    auto = bl.fit(table(FULL), lower_is_better=True, n_boot=0)
    assert auto.transfer.form == "full"  # pooled cannot express it: its held-out error is larger


def test_repetition_constant_is_recovered():
    laws = bl.fit(table(POOLED, repeats=True, rstar=3.0), lower_is_better=True, n_boot=0, transfer="pooled")
    assert laws.transfer.rstar_fitted
    assert laws.transfer.rstar == pytest.approx(3.0, rel=1e-4)
    np.testing.assert_allclose(laws.transfer.T, POOLED, atol=1e-6)


def test_lightly_noisy_fit_and_whole_model_bootstrap():
    laws = bl.fit(table(POOLED, noise=0.003, seed=3), lower_is_better=True, n_boot=60, transfer="pooled", seed=1)
    tr = laws.transfer
    np.testing.assert_allclose(tr.params, [0.2, 0.1, 0.3], atol=0.05)
    assert tr.draws.shape == (60, 4)
    lo, hi = np.quantile(tr.draws[:, :3], [0.05, 0.95], axis=0)
    assert (hi - lo > 0).all() and (hi - lo < 0.5).all()
    for lang in LANGS:  # draw d of every law comes with draw d of T: one count each
        assert laws[lang].draws.shape == (60, 3)
    assert laws.signature["bootstrap"].startswith("whole models")
    table_ = bl.predict(laws, {"ar": 100, "el": 100, "hi": 100})
    assert (table_["lower"] < table_["predicted"]).all() and (table_["predicted"] < table_["upper"]).all()


def test_too_many_parameters_are_refused_naming_a_form_that_fits():
    small = table(FULL)
    small = small[~small["run"].isin([f"multi-{m}" for m in range(1, 6)])]  # one model: 3 points
    with pytest.raises(InputError, match=r"transfer='full' has 6 free parameters .* 3 multilingual point.*"
                                         r"use transfer='pooled'"):
        bl.fit(small, lower_is_better=True, n_boot=0, transfer="full")
    one = bl.fit(small, lower_is_better=True, n_boot=0)
    assert one.transfer.fitted_on["selection"]["criterion"] == "AICc"


def test_plain_table_gives_the_one_language_fit():
    plain = table(POOLED)
    plain = plain[plain["mixture"] == ""][["language", "size", "score"]]
    laws = bl.fit(plain, lower_is_better=True, n_boot=20)
    assert laws.transfer is None
    assert laws.to_dict() == fit_one_language(plain, lower_is_better=True, n_boot=20).to_dict()
    with pytest.raises(InputError, match="needs multilingual rows"):
        bl.fit(plain, lower_is_better=True, n_boot=0, transfer="pooled")
    with pytest.raises(InputError, match="transfer='diag' is unknown"):
        bl.fit(plain, lower_is_better=True, transfer="diag")


def test_cli_fit_with_transfer(tmp_path, capsys):
    from budgetlaw.cli import main

    path = tmp_path / "pilots.csv"
    table(POOLED).to_csv(path, index=False)
    assert main(["fit", str(path), "-o", str(tmp_path / "laws.json"), "--lower-is-better", "--n-boot", "0",
                 "--transfer", "pooled"]) == 0
    out = capsys.readouterr().out
    assert "transfer: form pooled" in out
    laws = bl.load_laws(tmp_path / "laws.json")
    np.testing.assert_allclose(laws.transfer.T, POOLED, atol=1e-6)
    assert main(["fit", str(path), "-o", str(tmp_path / "bad.json"), "--lower-is-better", "--transfer", "x"]) == 2
    assert main(["allocate", str(tmp_path / "laws.json"), "--budget", "900", "-o", str(tmp_path / "plan.json")]) == 0
    assert bl.load_plan(tmp_path / "plan.json").solver["method"] == "cvxpy (transfer law)"


def test_models_of_one_mixture_are_left_out_together():
    from budgetlaw.pilots import read_pilots
    from budgetlaw.transfer.fit import folds
    from budgetlaw.transfer.table import split_table

    frame = table(POOLED)
    twin = frame[frame["run"] == "multi-0"].assign(run="multi-0-seed2", score=lambda f: f["score"] + 0.01)
    frame = pd.concat([frame, twin], ignore_index=True)
    _, pts = split_table(read_pilots(frame, lower_is_better=True), LANGS)
    groups = folds(pts)
    assert len(groups) == len(MIXES)  # 7 models, 6 mixtures
    assert sorted(len(g) for g in groups) == [3] * 5 + [6]


def test_forms_that_cannot_fit_pure_transfer_rows_are_never_chosen(tmp_path):
    # under T = 0 a language with no pairs of its own has no data at all: its loss is infinite
    laws = bl.fit(table(POOLED), lower_is_better=True, n_boot=0, transfer="none")
    assert laws.transfer.form == "none" and laws.transfer.fitted_on["rmse"] is None
    assert laws.save(tmp_path / "laws.json").is_file()  # still a valid JSON file
    scores = bl.fit(table(POOLED), lower_is_better=True, n_boot=0).transfer.fitted_on["selection"]["scores"]
    assert scores["none"] is None and scores["pooled"] < 1e-9


def test_bootstrap_starts_off_a_zero_weight():
    # hi receives nothing (tau_hi = 0): its estimate sits at the bound, and every draw, started
    # there, must still refit (the pure-transfer row of hi is dropped: under tau_hi = 0 its loss is infinite)
    T = [[0, 0.2, 0.2], [0.1, 0, 0.1], [0, 0, 0]]
    frame = table(T, noise=0.002, seed=5)
    frame = frame[~((frame["run"] == "multi-4") & (frame["language"] == "hi"))]
    laws = bl.fit(frame, lower_is_better=True, n_boot=20, transfer="pooled", seed=2)
    assert laws.transfer.params[2] < 0.02 and np.isfinite(laws.transfer.draws).all()


def test_source_transfer_is_recovered_when_asked():
    # T_ij = s_j: what a pair of j is worth to any other language, s = (0.3, 0.05, 0.15)
    source = [[0, 0.05, 0.15], [0.3, 0, 0.15], [0.3, 0.05, 0]]
    laws = bl.fit(table(source), lower_is_better=True, n_boot=0, transfer="source")
    np.testing.assert_allclose(laws.transfer.params, [0.3, 0.05, 0.15], atol=1e-6)
    assert bl.fit(table(source), lower_is_better=True, n_boot=0).transfer.form == "source"


@pytest.mark.parametrize("loss", ["soft_l1", "linear"])
def test_a_resample_as_counts_fits_like_the_repeated_rows(loss):
    import dataclasses

    from budgetlaw.fitting.engine import fit_points
    from budgetlaw.fitting.options import FitOptions
    from budgetlaw.transfer.fit import _refit_counts

    x = np.array([25.0, 25, 50, 100, 200, 200, 400])
    y = -(1.5 + 3 * x ** -0.5 + np.array([0.02, -0.01, 0.015, -0.02, 0.01, 0.0, -0.005]))  # a loss, negated
    counts = np.array([[2, 0, 1, 1, 0, 3, 1], [1, 1, 1, 1, 1, 1, 1], [0, 1, 2, 0, 2, 1, 1]], dtype=float)
    opts = dataclasses.replace(FitOptions(lower_is_better=True, loss=loss, f_scale=0.01), n_boot=0)
    got = _refit_counts(x, y, counts, opts)
    for row, count in zip(got, counts):
        keep = np.repeat(np.arange(x.size), count.astype(int))
        law = fit_points(x[keep], y[keep], opts)[0]  # the ordinary fit of the resampled rows themselves
        assert row == pytest.approx([law.K, law.c, law.ceiling], rel=1e-4, abs=1e-6)


def test_over_training_repeats_sit_at_the_rstar_bound_and_stay_out_of_the_multilingual_scatter():
    """ar's 100 distinct pairs seen 2x and 4x both scoring *worse* than seen once (over-training,
    which the never-decreasing eff(x) cannot fit): R* goes to its lower bound (repeats worth as
    little as the form allows), the multilingual points are still fitted exactly
    (rmse_multilingual ~ 0), and only the all-points rmse carries the misfit."""
    frame = table(POOLED, repeats=True, rstar=3.0)
    frame = frame[frame["run"] != "rep-2-150"].copy()  # ar's repeats only
    once = E[0] + K[0] * 100.0 ** -C[0]  # ar, 100 distinct pairs seen once
    frame.loc[frame["run"] == "rep-0-200", "score"] = once + 0.05
    frame.loc[frame["run"] == "rep-0-400", "score"] = once + 0.10
    laws = bl.fit(frame, lower_is_better=True, n_boot=0, transfer="pooled")
    fitted = laws.transfer.fitted_on
    assert laws.transfer.rstar == pytest.approx(0.1, abs=1e-6)
    assert fitted["rmse_multilingual"] < 1e-6
    assert fitted["rmse"] > 0.02  # 18 multilingual points exact, 2 repetition points off by >= 0.05
    np.testing.assert_allclose(laws.transfer.T, POOLED, atol=1e-5)


@pytest.mark.parametrize("module", ["budgetlaw.transfer.fit", "budgetlaw.transfer.joint", "tuning.study.spec"])
def test_modules_import_first_in_a_fresh_interpreter(module):
    # budgetlaw.transfer.fit imports budgetlaw.fitting's engine, whose package names fit: imported
    # first (as the study spec does for the stage-1 choices), a circular import broke it
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr.strip().splitlines()[-1:]
