"""The joint refit of stage 1 (fit(..., stage1=...)): the truth is recovered, the multilingual
points sharpen K and c when the pilots are few and noisy, auto applies the one-standard-error
rule, bad values are refused, the CLI passes --stage1 through, and the bootstrap draws stay
whole. Every expected number comes from the truth written here, not from the code."""

import logging

import numpy as np
import pandas as pd
import pytest
# the synthetic builder of the transfer-fit tests (tests/budgetlaw is on sys.path under pytest)
from test_transfer_fit import LANGS, POOLED, C, E, K, table

import budgetlaw as bl
from budgetlaw.errors import InputError

# a score law with a fixed ceiling 100 (the COMET case): the asymptote is known, K and c are not
SK, SC = np.array([300.0, 200.0, 400.0]), np.array([0.5, 0.4, 0.6])
ST = np.array([[0, 0.2, 0.2], [0.1, 0, 0.1], [0.3, 0.3, 0]])


def score_table(seed, pilot_noise=2.0, multi_noise=0.0, n_multi=24):
    """Four one-seed pilots per language with noise sd ``pilot_noise`` (on a 0-100 score) and
    ``n_multi`` random mixtures of 20-600 pairs per language, scored 100 - K_i d_i^-c_i with
    d = x + T x (written out here)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, lang in enumerate(LANGS):
        for x in (25, 50, 100, 200):
            rows.append({"language": lang, "size": x, "score": 100 - SK[i] * x ** -SC[i] + pilot_noise * rng.normal(),
                         "run": f"pilot-{lang}-{x}", "mixture": "", "unique": ""})
    for m, mix in enumerate(rng.integers(20, 600, size=(n_multi, 3))):
        d = mix + ST @ mix
        for i, lang in enumerate(LANGS):
            rows.append({"language": lang, "size": int(mix[i]),
                         "score": 100 - SK[i] * d[i] ** -SC[i] + multi_noise * rng.normal(), "run": f"multi-{m}",
                         "mixture": ";".join(f"{a}={b}" for a, b in zip(LANGS, mix)), "unique": ""})
    return pd.DataFrame(rows)


def _kc(laws):
    return np.array([laws[lang].K for lang in LANGS]), np.array([laws[lang].c for lang in LANGS])


@pytest.mark.parametrize("repeats", [False, True])
def test_noiseless_joint_returns_the_truth_like_separate(repeats):
    frame = table(POOLED, repeats=repeats, rstar=3.0)
    joint = bl.fit(frame, lower_is_better=True, n_boot=0, transfer="pooled", stage1="joint")
    Kj, cj = _kc(joint)
    np.testing.assert_allclose(Kj, K, rtol=1e-6)
    np.testing.assert_allclose(cj, C, rtol=1e-6)
    np.testing.assert_allclose([joint[lang].ceiling for lang in LANGS], E, rtol=1e-6)
    np.testing.assert_allclose(joint.transfer.T, POOLED, atol=1e-6)
    if repeats:
        assert joint.transfer.rstar == pytest.approx(3.0, rel=1e-4)
    assert joint.transfer.fitted_on["selection"]["stage1"] == {"requested": "joint", "chosen": "joint",
                                                               "criterion": "requested"}
    assert joint.signature["transfer"]["stage1"] == "joint" == joint.transfer.stage1
    assert joint.transfer.fitted_on["rmse"] < 1e-7


def test_joint_refit_from_a_wrong_start_finds_the_truth():
    """fit_joint itself, started far off (K x1.5, c + 0.1, T halved, R* 8): on noiseless rows it
    must reach the truth, which needs a consistent Jacobian in every block (log K, c, theta, R*)."""
    from budgetlaw.pilots import read_pilots
    from budgetlaw.transfer.joint import OneLanguageRows, fit_joint
    from budgetlaw.transfer.stage2 import free_parameters
    from budgetlaw.transfer.table import split_table

    single, pts = split_table(read_pilots(table(POOLED, repeats=True, rstar=3.0), lower_is_better=True), LANGS)
    rows = OneLanguageRows.from_frame(single, LANGS)
    got = fit_joint((K * 1.5, C + 0.1, E, -1.0), rows, pts, "pooled", free_parameters("pooled", pts),
                    np.array([0.1, 0.05, 0.15]), 8.0, fit_rstar=True, c_bounds=(0.005, 2.0))
    assert got.ok
    np.testing.assert_allclose(got.K, K, rtol=1e-5)
    np.testing.assert_allclose(got.c, C, rtol=1e-5)
    np.testing.assert_allclose(got.theta, [0.2, 0.1, 0.3], atol=1e-6)
    assert got.rstar == pytest.approx(3.0, rel=1e-4)
    assert got.rss_points < 1e-12 and got.rss_single < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_many_clean_multilingual_points_sharpen_few_noisy_pilots(seed):
    # four one-seed pilots per language with noise sd 2 points; 24 clean multilingual models:
    # the multilingual points read each curve across 20-2000 effective pairs, so the joint refit
    # lands closer to the true K and c than the pilots alone (summed over the languages)
    frame = score_table(seed)
    errors = {}
    for stage1 in ("separate", "joint"):
        Kf, cf = _kc(bl.fit(frame, n_boot=0, transfer="pooled", stage1=stage1))
        errors[stage1] = (np.abs(np.log(Kf / SK)).sum(), np.abs(cf - SC).sum())
    assert errors["joint"][0] < errors["separate"][0]
    assert errors["joint"][1] < errors["separate"][1]


def test_auto_takes_joint_only_when_it_wins_by_more_than_one_standard_error(caplog):
    # a win: the score table above (joint's held-out error is far below separate's)
    laws = bl.fit(score_table(0), n_boot=0, transfer="pooled", stage1="auto")
    sel = laws.transfer.fitted_on["selection"]["stage1"]
    assert sel["criterion"] == "leave-one-mixture-out RMSE, one-standard-error rule"
    assert sel["chosen"] == "joint" and sel["parameters"] == {"separate": 3, "joint": 9}
    assert sel["scores"]["separate"] ** 2 - sel["scores"]["joint"] ** 2 > sel["mse_se"]["separate"]
    assert laws.signature["transfer"]["stage1"] == "joint"
    assert _kc(laws)[0].tolist() == _kc(bl.fit(score_table(0), n_boot=0, transfer="pooled", stage1="joint"))[0].tolist()
    # no win: noiseless, both predict every left-out mixture exactly; a tie keeps the fewer parameters
    tie = bl.fit(table(POOLED), lower_is_better=True, n_boot=0, transfer="pooled", stage1="auto")
    sel = tie.transfer.fitted_on["selection"]["stage1"]
    assert sel["chosen"] == "separate" and sel["scores"]["joint"] < 1e-9 and sel["scores"]["separate"] < 1e-9
    assert tie.signature["transfer"]["stage1"] == "separate"
    assert tie.to_dict()["laws"] == bl.fit(table(POOLED), lower_is_better=True, n_boot=0,
                                           transfer="pooled").to_dict()["laws"]
    # one mixture: nothing to leave out, separate kept
    one = table(POOLED)
    one = one[~one["run"].isin([f"multi-{m}" for m in range(1, 6)])]
    with caplog.at_level(logging.ERROR):
        sel = bl.fit(one, lower_is_better=True, n_boot=0, transfer="pooled", stage1="auto").transfer.fitted_on
    assert sel["selection"]["stage1"]["chosen"] == "separate"


def test_separate_is_the_default_and_records_nothing_new():
    frame = table(POOLED, noise=0.003, seed=3)
    default = bl.fit(frame, lower_is_better=True, n_boot=5, seed=1)
    separate = bl.fit(frame, lower_is_better=True, n_boot=5, seed=1, stage1="separate")
    assert separate.to_dict() == default.to_dict()
    assert "stage1" not in separate.transfer.fitted_on["selection"] and "stage1" not in separate.signature["transfer"]
    assert separate.transfer.stage1 == "separate"  # what a file without a stage-1 record was fitted with


def test_bad_stage1_is_refused_with_one_line():
    with pytest.raises(InputError, match=r"^fit: stage1='both' is unknown; choose one of separate, joint, auto$"):
        bl.fit(table(POOLED), lower_is_better=True, n_boot=0, stage1="both")


def test_cli_stage1_round_trip(tmp_path, capsys):
    from budgetlaw.cli import main

    path = tmp_path / "pilots.csv"
    table(POOLED).to_csv(path, index=False)
    assert main(["fit", str(path), "-o", str(tmp_path / "laws.json"), "--lower-is-better", "--n-boot", "0",
                 "--transfer", "pooled", "--stage1", "joint"]) == 0
    assert "transfer: form pooled, stage 1 joint" in capsys.readouterr().out
    laws = bl.load_laws(tmp_path / "laws.json")
    assert laws.signature["transfer"]["stage1"] == "joint"
    assert laws.transfer.fitted_on["selection"]["stage1"]["chosen"] == "joint"
    np.testing.assert_allclose(_kc(laws)[0], K, rtol=1e-6)
    assert main(["fit", str(path), "-o", str(tmp_path / "plain.json"), "--lower-is-better", "--n-boot", "0",
                 "--transfer", "pooled"]) == 0
    assert "transfer: form pooled, stage 1 separate" in capsys.readouterr().out
    assert main(["fit", str(path), "-o", str(tmp_path / "bad.json"), "--lower-is-better", "--stage1", "both"]) == 2
    assert not (tmp_path / "bad.json").exists()


def test_bootstrap_with_joint_keeps_shapes_and_each_draws_floor():
    frame = table(POOLED, noise=0.003, seed=3)
    kwargs = dict(lower_is_better=True, n_boot=25, transfer="pooled", seed=1)
    joint = bl.fit(frame, stage1="joint", **kwargs)
    separate = bl.fit(frame, **kwargs)
    assert joint.transfer.draws.shape == (25, 4) and np.isfinite(joint.transfer.draws).all()
    for lang in LANGS:
        draws = joint[lang].draws
        assert draws.shape == (25, 3) and np.isfinite(draws).all() and (draws[:, :2] > 0).all()
        # the floor of draw d is that draw's stage-1 floor (held in the refit), the same resample
        np.testing.assert_array_equal(draws[:, 2], separate[lang].draws[:, 2])
        assert not np.array_equal(draws[:, :2], separate[lang].draws[:, :2])
    pred = bl.predict(joint, {"ar": 100, "el": 100, "hi": 100})
    assert (pred["lower"] < pred["predicted"]).all() and (pred["predicted"] < pred["upper"]).all()


def test_cli_choices_are_the_fit_choices():
    from budgetlaw.cli import STAGE1_CHOICES as CLI
    from budgetlaw.transfer.fit import STAGE1_CHOICES

    assert CLI == STAGE1_CHOICES
