"""fit: recovery of known laws, robustness, free ceiling, bootstrap, holdout, flags, laws.json.

Data come from known generating processes (score = C - K * x**-c plus noise), so every expected
number is the truth that generated the data, not a value captured from the code.
"""

import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import least_squares

import budgetlaw
from budgetlaw.fitting.engine import C_BOUNDS, FitProblem, fit_batch
from budgetlaw.errors import InputError
from budgetlaw.fitting import LAWS_FORMAT, FittedLaw, LawSet, fit, load_laws
from budgetlaw.law import PowerLaw

SIZES = np.array([1e3, 3e3, 1e4, 3e4, 1e5])


def pilots(laws: dict, sizes=SIZES, seeds=1, sd=0.0, rng=None) -> pd.DataFrame:
    """Pilot table from {language: (K, c, ceiling)} with N(0, sd) noise."""
    rows = []
    for lang, (K, c, C) in laws.items():
        for size in sizes:
            for seed in range(seeds):
                noise = rng.normal(0, sd) if sd else 0.0
                rows.append((lang, float(size), C - K * size ** (-c) + noise, seed))
    return pd.DataFrame(rows, columns=["language", "size", "score", "seed"])


def random_law(rng, free=False):
    c = rng.uniform(0.1, 0.6)
    gap = rng.uniform(15, 45)  # gap to the ceiling at the smallest size
    C = rng.uniform(80, 97) if free else 100.0
    return gap * SIZES[0] ** c, c, C


def test_noiseless_recovery_fixed_ceiling():
    rng = np.random.default_rng(1)
    truth = {f"l{i}": random_law(rng) for i in range(8)}
    laws = fit(pilots(truth), n_boot=0)
    for lang, (K, c, C) in truth.items():
        assert laws[lang].K == pytest.approx(K, rel=1e-6)
        assert laws[lang].c == pytest.approx(c, rel=1e-7)
        assert laws[lang].ceiling == C
        assert laws[lang].rmse < 1e-6 and laws[lang].r2 == pytest.approx(1.0, abs=1e-12)
        assert laws[lang].flags == ()


def test_noiseless_recovery_free_ceiling():
    rng = np.random.default_rng(2)
    sizes = np.geomspace(1e3, 1e6, 7)
    truth = {f"l{i}": random_law(rng, free=True) for i in range(5)}
    laws = fit(pilots(truth, sizes=sizes), free_ceiling=True, n_boot=0)
    for lang, (K, c, C) in truth.items():
        assert laws[lang].ceiling == pytest.approx(C, abs=1e-5)
        assert laws[lang].c == pytest.approx(c, rel=1e-5)
        assert laws[lang].K == pytest.approx(K, rel=1e-4)


def test_reporting_convention_b_is_one_over_smallest_size():
    law = fit(pilots({"ar": (300.0, 0.3, 100.0)}), n_boot=0)["ar"]
    assert law.b == pytest.approx(1 / 1e3)
    # a is the gap to the ceiling at the smallest pilot size: 300 * 1000**-0.3
    assert law.a == pytest.approx(300.0 * 1e3 ** -0.3, rel=1e-6)


def test_noisy_recovery_across_random_laws():
    rng = np.random.default_rng(3)
    truth = {f"l{i}": random_law(rng) for i in range(25)}
    laws = fit(pilots(truth, seeds=3, sd=0.3, rng=rng), n_boot=0)
    c_err = np.array([abs(laws[k].c - c) / c for k, (_, c, _) in truth.items()])
    xs = np.geomspace(1e3, 1e6, 30)
    curve_err = np.array([np.abs(laws[k].predict(xs) - (C - K * xs**-c)).max() for k, (K, c, C) in truth.items()])
    # noise 0.3 on 15 points over a rise of ~10-40 points: c is known to a few percent,
    # the curve (extrapolated 10x beyond the pilots) to well under two points
    assert np.median(c_err) < 0.04 and c_err.max() < 0.15
    assert np.median(curve_err) < 0.5 and curve_err.max() < 2.0


def test_outlier_does_not_pull_the_robust_fit():
    rng = np.random.default_rng(4)
    xs = np.geomspace(1e3, 1e6, 30)
    robust_err, plain_err = [], []
    for sim in range(8):
        K, c, C = random_law(rng)
        df = pilots({"xx": (K, c, C)}, sizes=np.geomspace(1e3, 1e5, 7), seeds=3, sd=0.3, rng=rng)
        df.loc[len(df) - 1 - sim % 3, "score"] -= 12.0  # one broken run at the largest size
        truth = C - K * xs**-c
        robust = fit(df, n_boot=0)["xx"]
        plain = fit(df, n_boot=0, loss="linear")["xx"]
        robust_err.append(np.abs(robust.predict(xs) - truth).max())
        plain_err.append(np.abs(plain.predict(xs) - truth).max())
    robust_err, plain_err = np.array(robust_err), np.array(plain_err)
    assert robust_err.max() < 0.4  # noise 0.3 per run: the robust curve stays on the truth
    # least squares IS pulled by the broken run, in every simulation
    assert plain_err.min() > 0.5 and np.all(plain_err > 3 * robust_err)


def test_free_ceiling_recovered_from_noisy_data():
    rng = np.random.default_rng(5)
    sizes = np.geomspace(1e3, 1e6, 7)
    errors = []
    for _ in range(6):
        K, c, C = random_law(rng, free=True)
        c = max(c, 0.3)  # a curve that bends enough within the pilot range to show its ceiling
        K = 30 * 1e3**c
        law = fit(pilots({"xx": (K, c, C)}, sizes=sizes, seeds=3, sd=0.2, rng=rng), free_ceiling=True, n_boot=0)["xx"]
        errors.append(abs(law.ceiling - C))
    assert max(errors) < 1.5 and np.median(errors) < 0.7


def test_engine_matches_multistart_scipy():
    """The vectorised grid + Gauss-Newton solves the same problem scipy solves from many starts."""
    rng = np.random.default_rng(6)
    x = np.repeat(SIZES, 3)
    t = np.log(x / x.min())
    K, c, C = 300.0, 0.3, 100.0
    ys = C - K * x**-c + rng.normal(0, 0.5, (12, x.size))
    ys[3, 4] -= 8.0
    prob = FitProblem(t=t, free=False, ceiling_lo=np.array([[C]]), ceiling_hi=np.array([[C]]), a_min=1e-7,
                   loss="soft_l1", f_scale=0.6)
    theta, cost = fit_batch(prob, ys)
    for row, y in enumerate(ys):
        best = None
        for a0 in (5.0, 30.0, 80.0):
            for c0 in (0.05, 0.3, 1.0):
                res = least_squares(lambda q: y - (C - q[0] * np.exp(-q[1] * t)), [a0, c0], loss="soft_l1",
                                    f_scale=0.6, bounds=([1e-7, C_BOUNDS[0]], [np.inf, C_BOUNDS[1]]),
                                    xtol=1e-14, ftol=1e-14, gtol=1e-14)
                if best is None or res.cost < best.cost:
                    best = res
        assert cost[row] <= best.cost * (1 + 1e-7) + 1e-12
        assert np.exp(theta[row, 0]) == pytest.approx(best.x[0], rel=1e-4)
        assert theta[row, 1] == pytest.approx(best.x[1], rel=1e-4)


def test_engine_matches_multistart_scipy_free_ceiling():
    rng = np.random.default_rng(16)
    x = np.repeat(np.geomspace(1e3, 1e6, 6), 2)
    t = np.log(x / x.min())
    K, c, C = 30 * 1e3**0.35, 0.35, 91.0
    ys = C - K * x**-c + rng.normal(0, 0.3, (8, x.size))
    lower = ys.max(axis=1, keepdims=True)
    prob = FitProblem(t=t, free=True, ceiling_lo=lower, ceiling_hi=np.array([[100.0]]), a_min=1e-7,
                   loss="soft_l1", f_scale=0.4)
    theta, cost = fit_batch(prob, ys)
    for row, y in enumerate(ys):
        best = None
        for a0 in (10.0, 40.0):
            for c0 in (0.05, 0.3, 1.0):
                for c_start in (lower[row, 0] + 0.01, 95.0, 99.99):
                    res = least_squares(lambda q: y - (q[2] - q[0] * np.exp(-q[1] * t)), [a0, c0, c_start],
                                        loss="soft_l1", f_scale=0.4, xtol=1e-14, ftol=1e-14, gtol=1e-14,
                                        bounds=([1e-7, C_BOUNDS[0], lower[row, 0]], [np.inf, C_BOUNDS[1], 100.0]))
                    if best is None or res.cost < best.cost:
                        best = res
        assert cost[row] <= best.cost * (1 + 1e-6) + 1e-12
        assert theta[row, 2] == pytest.approx(best.x[2], abs=1e-3)
        assert theta[row, 1] == pytest.approx(best.x[1], rel=1e-3)


def test_minimum_sizes_fit_exactly():
    # 3 sizes determine (K, c) with a fixed ceiling; 4 sizes determine (K, c, ceiling)
    law = fit(pilots({"ar": (200.0, 0.25, 100.0)}, sizes=[1e3, 1e4, 1e5]), n_boot=10)["ar"]
    assert law.c == pytest.approx(0.25, rel=1e-6) and law.K == pytest.approx(200.0, rel=1e-5)
    law = fit(pilots({"ar": (30 * 1e3**0.4, 0.4, 90.0)}, sizes=[1e3, 1e4, 1e5, 1e6]), free_ceiling=True, n_boot=10)["ar"]
    assert law.ceiling == pytest.approx(90.0, abs=1e-4) and law.c == pytest.approx(0.4, rel=1e-4)


def test_metric_is_chosen_and_recorded():
    df = pd.concat([pilots({"ar": (200.0, 0.25, 100.0)}).assign(metric="comet"),
                    pilots({"ar": (300.0, 0.35, 100.0)}).assign(metric="chrf")])
    with pytest.raises(InputError, match="several metrics"):
        fit(df)
    laws = fit(df, metric="chrf", n_boot=0)
    assert laws.metric == "chrf" and laws.signature["metric"] == "chrf"
    assert laws["ar"].c == pytest.approx(0.35, rel=1e-6)


def test_bootstrap_draws_shape_reproducible_and_centred():
    rng = np.random.default_rng(7)
    df = pilots({"ar": (300.0, 0.3, 100.0)}, seeds=3, sd=0.5, rng=rng)
    one = fit(df, n_boot=300, seed=11)["ar"]
    two = fit(df, n_boot=300, seed=11)["ar"]
    other = fit(df, n_boot=300, seed=12)["ar"]
    assert one.draws.shape == (300, 3)
    np.testing.assert_array_equal(one.draws, two.draws)
    assert not np.array_equal(one.draws, other.draws)
    assert np.all(one.draws[:, 2] == 100.0)
    assert np.all(np.isfinite(one.draws))
    assert np.median(one.draws[:, 1]) == pytest.approx(one.c, rel=0.05)
    lower, upper = one.interval([1e3, 1e5, 1e6])
    point = one.predict([1e3, 1e5, 1e6])
    assert np.all(lower < point) and np.all(point < upper)
    nodraw = fit(df, n_boot=0)["ar"]
    assert nodraw.draws.shape == (0, 3)
    assert np.all(np.isnan(nodraw.interval([1e4, 1e5])[0]))


@pytest.mark.parametrize("free", [False, True])
def test_bootstrap_interval_covers_truth_at_about_nominal_rate(free):
    rng = np.random.default_rng(8 + free)
    sizes = np.geomspace(1e3, 1e5, 5) if not free else np.geomspace(1e3, 1e6, 6)
    xs = np.array([3e3, 3e4, 3e5])
    hits = []
    for sim in range(50):
        K, c, C = random_law(rng, free=free)
        df = pilots({"xx": (K, c, C)}, sizes=sizes, seeds=2, sd=0.5, rng=rng)
        law = fit(df, n_boot=200, seed=sim, free_ceiling=free)["xx"]
        lower, upper = law.interval(xs, level=0.9)
        truth = C - K * xs**-c
        hits.append((lower <= truth) & (truth <= upper))
    coverage = np.mean(hits)
    # 150 intervals at nominal 0.9: a coarse check that it is neither far too narrow nor vacuous
    assert 0.75 <= coverage <= 0.99


def test_holdout_equals_a_fit_on_the_reduced_data():
    rng = np.random.default_rng(9)
    df = pilots({"ar": (300.0, 0.3, 100.0)}, seeds=3, sd=0.5, rng=rng)
    law = fit(df, n_boot=0)["ar"]
    reduced = fit(df[df["size"] < 1e5], n_boot=0)["ar"]
    hold = law.holdout
    observed = df.loc[df["size"] == 1e5, "score"].mean()
    assert hold["size"] == 1e5
    assert hold["observed"] == pytest.approx(observed, rel=1e-12)
    assert hold["predicted"] == pytest.approx(reduced.predict(1e5), rel=1e-9)
    assert hold["error"] == pytest.approx(reduced.predict(1e5) - observed, abs=1e-8)


def test_flags_flat_data_and_bounds(caplog):
    flat = pd.DataFrame({"language": "xx", "size": SIZES, "score": [60.0, 60.1, 59.9, 60.0, 60.05]})
    with caplog.at_level(logging.WARNING, logger="budgetlaw.fitting"):
        law = fit(flat, n_boot=0)["xx"]
    assert "flat_data" in law.flags
    assert any("flat_data" in rec.message and "xx" in rec.message for rec in caplog.records)
    falling = pd.DataFrame({"language": "xx", "size": SIZES, "score": [70.0, 68.0, 66.0, 64.0, 62.0]})
    assert "flat_data" in fit(falling, n_boot=0)["xx"].flags
    steep = pilots({"xx": (30 * 1e3**3.0, 3.0, 100.0)})  # c = 3 lies beyond the upper bound 2
    assert "c_at_bound" in fit(steep, n_boot=0)["xx"].flags
    # still rising linearly in log(size) at the largest size: the ceiling runs to max_score
    linear = pd.DataFrame({"language": "xx", "size": np.geomspace(1e3, 1e6, 6),
                           "score": 40 + 4 * np.log10(np.geomspace(1e3, 1e6, 6))})
    assert "ceiling_at_bound" in fit(linear, free_ceiling=True, n_boot=0)["xx"].flags
    # the best runs already score max_score: the free ceiling has nowhere to go but max_score
    top = pd.DataFrame({"language": "xx", "size": [1e3, 1e4, 1e5, 1e6], "score": [80.0, 95.0, 99.5, 100.0]})
    pinned = fit(top, free_ceiling=True, n_boot=20)["xx"]
    assert pinned.ceiling == 100.0 and "ceiling_at_bound" in pinned.flags
    assert np.all(pinned.draws[:, 2] <= 100.0)


def test_too_few_sizes_and_bad_settings():
    df = pilots({"ar": (300.0, 0.3, 100.0)}, sizes=SIZES[:3], seeds=2)
    assert len(fit(df, n_boot=0)) == 1
    with pytest.raises(InputError, match=r"'ar' has 3 distinct pilot size.*at least 4"):
        fit(df, free_ceiling=True)
    with pytest.raises(InputError, match="'ar' has 2 distinct"):
        fit(pilots({"ar": (300.0, 0.3, 100.0)}, sizes=SIZES[:2]))
    with pytest.raises(InputError, match="loss"):
        fit(df, loss="l2")
    with pytest.raises(InputError, match="n_boot"):
        fit(df, n_boot=-1)
    with pytest.raises(InputError, match="seed"):
        fit(df, seed="x")
    with pytest.raises(InputError, match="f_scale"):
        fit(df, f_scale="wide")
    with pytest.raises(InputError, match="ceiling"):
        fit(df, ceiling=0)
    with pytest.raises(InputError, match="c_bounds"):
        fit(df, c_bounds=(0.5, 0.1))
    high = df.copy()
    high.loc[0, "score"] = 99.0
    with pytest.raises(InputError, match=r"outside \[0, 95\]"):
        fit(high, ceiling=95.0)


def test_laws_json_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(10)
    csv = tmp_path / "pilots.csv"
    pilots({"ar": (300.0, 0.3, 100.0), "zh": (500.0, 0.4, 100.0)}, seeds=2, sd=0.4, rng=rng).to_csv(csv, index=False)
    laws = fit(csv, n_boot=50, seed=3)
    path = laws.save(tmp_path / "out" / "laws.json")
    data = json.loads(path.read_text())
    assert data["format"] == LAWS_FORMAT
    sig = data["signature"]
    assert sig["loss"] == "soft_l1" and sig["n_boot"] == 50 and sig["seed"] == 3
    assert sig["ceiling"] == "fixed=100" and sig["version"] == budgetlaw.__version__
    assert sig["source"]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    back = load_laws(path)
    assert isinstance(back, LawSet) and list(back) == ["ar", "zh"]
    for lang in laws:
        a, b = laws[lang], back[lang]
        assert a.law == b.law
        np.testing.assert_array_equal(a.draws, b.draws)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        assert a.holdout == b.holdout and a.flags == b.flags and a.f_scale == b.f_scale
        assert a.interval(2e5) == b.interval(2e5)
    assert back.signature == laws.signature
    assert [p.name for p in path.parent.iterdir()] == ["laws.json"]  # no temporary file left
    pd.testing.assert_frame_equal(back.to_frame(), laws.to_frame())


def test_load_laws_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_laws(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_laws(bad)
    bad.write_text(json.dumps({"format": "budgetlaw-plan/1"}))
    with pytest.raises(InputError, match="not a laws file"):
        load_laws(bad)


def test_lawset_mapping_frame_and_package_entry_point():
    laws = budgetlaw.fit(pilots({"ar": (300.0, 0.3, 100.0), "el": (200.0, 0.2, 100.0)}), n_boot=20)
    assert len(laws) == 2 and set(laws) == {"ar", "el"} and "ar" in laws
    assert isinstance(laws["ar"], FittedLaw)
    assert isinstance(laws.power_laws()["el"], PowerLaw)
    frame = laws.to_frame()
    assert list(frame.index) == ["ar", "el"]
    assert frame.loc["ar", "c"] == pytest.approx(0.3, rel=1e-6)
    assert {"a", "b", "K", "ceiling", "r2", "rmse", "n_points", "holdout_error", "flags"} <= set(frame.columns)
    assert "loss:soft_l1" in laws.signature_string()
    with pytest.raises(KeyError, match="no law for language 'hi'"):
        laws["hi"]


def test_fit_options_check_every_setting_once_at_the_door():
    import dataclasses

    from budgetlaw.fitting import FitOptions

    # defaults resolve as documented: ceiling 100, max_score = ceiling, two parameters
    s = FitOptions()
    assert (s.ceiling, s.max_score, s.free, s.n_params, s.fit_ceiling, s.fit_max_score) == (100.0, 100.0, False, 2, 100.0, 100.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.loss = "linear"
    # a loss law: the negated losses' ceiling -E is free in [-smallest median, 0]
    loss = FitOptions(lower_is_better=True)
    assert (loss.ceiling, loss.free, loss.n_params, loss.fit_ceiling, loss.fit_max_score) == (None, True, 3, 0.0, 0.0)
    assert FitOptions(ceiling=95, free_ceiling=True).signature()["ceiling"] == "free<=95"
    # each bad setting names its key and the fix, whether given to fit or to FitOptions
    for kwargs, needle in [(dict(loss="l2"), "loss='l2' is unknown; choose one of soft_l1"),
                           (dict(n_boot=1.5), "n_boot=1.5 must be a whole number"),
                           (dict(n_boot=True), "n_boot=True"),
                           (dict(seed=-1), "seed=-1 must be a whole number >= 0"),
                           (dict(f_scale="x"), "f_scale='x' must be a number > 0"),
                           (dict(c_bounds=(2.0, 1.0)), "c_bounds=(2.0, 1.0) must be (low, high)"),
                           (dict(c_bounds=3), "c_bounds=3"),
                           (dict(ceiling="high"), "ceiling='high'"),
                           (dict(lower_is_better="yes"), "lower_is_better='yes' must be True or False"),
                           (dict(lower_is_better=True, ceiling=1.0), "do not apply to a loss")]:
        with pytest.raises(InputError) as err:
            FitOptions(**kwargs)
        assert needle in str(err.value)
        with pytest.raises(InputError) as again:
            fit(pd.DataFrame({"language": ["xx"] * 3, "size": [1, 2, 3], "score": [1.0, 2, 3]}), **kwargs)
        assert str(again.value) == str(err.value)  # fit checks through FitOptions, not a copy of it
