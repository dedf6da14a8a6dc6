"""Lower-is-better laws (a loss, e.g. held-out nll): L(x) = E + K * x**(-c).

Every expected number is worked out here by hand or with scipy, not taken from the code.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

import budgetlaw as bl
from budgetlaw.allocation import baselines
from budgetlaw.cli import main
from budgetlaw.errors import InputError
from budgetlaw.fitting import LawSet, load_laws
from budgetlaw.law import PowerLaw
from budgetlaw.pilots import read_pilots

# The law the fit must recover: E = 1.2 nats/token, K = 8, c = 0.35 (roughly the nll curve of a
# small model, 3.5 at 25 pairs falling towards 1.2).
E, K, C = 1.2, 8.0, 0.35
SIZES = (25, 50, 100, 200, 400, 800)
SD = 0.02  # noise of one run's mean nll


def loss_pilots(laws=None, seeds=3, sd=SD, rng=None, metric="nll"):
    """language,size,score,seed,metric rows drawn from E + K x^-c plus normal noise."""
    laws = laws or {"ar": (E, K, C)}
    rng = rng or np.random.default_rng(0)
    rows = []
    for lang, (e, k, c) in laws.items():
        for size in SIZES:
            for seed in range(seeds):
                rows.append((lang, size, e + k * size ** -c + (rng.normal(0, sd) if sd else 0.0), seed, metric))
    return pd.DataFrame(rows, columns=["language", "size", "score", "seed", "metric"])


def loss_law(e, k, c):
    return PowerLaw.from_identifiable(k, c, ceiling=e, lower_is_better=True)


# -- the law ------------------------------------------------------------------------------------
def test_loss_law_by_hand():
    law = PowerLaw(a=2.0, b=0.04, c=0.35, ceiling=1.2, lower_is_better=True)
    assert law.floor == 1.2 and law.lower_is_better
    # at x = 1/b = 25 the loss is E + a
    assert law.predict(25.0) == pytest.approx(3.2, rel=1e-14)
    # 0.04 * 1000 = 40; 40**-0.35 = exp(-0.35 ln 40)
    assert law.predict(1000.0) == pytest.approx(1.2 + 2.0 * math.exp(-0.35 * math.log(40.0)), rel=1e-14)
    assert law.gap(1000.0) == pytest.approx(2.0 * math.exp(-0.35 * math.log(40.0)), rel=1e-14)
    for x in (30.0, 800.0, 5e4):
        h = x * 1e-6
        numeric = (law.predict(x + h) - law.predict(x - h)) / (2 * h)
        assert numeric < 0
        assert law.marginal(x) == pytest.approx(numeric, rel=1e-6)  # d loss / dx, negative
        assert law.improvement(x) == pytest.approx(-numeric, rel=1e-6)  # loss shed per unit, positive
    x = np.geomspace(10, 1e7, 20)
    np.testing.assert_allclose(law.inverse(law.predict(x)), x, rtol=1e-9)
    # loss 2.2 = 1.2 + 2 (0.04 x)^-0.35 -> x = 25 * 2**(1/0.35)
    assert law.inverse(2.2) == pytest.approx(25 * 2 ** (1 / 0.35), rel=1e-12)
    assert law.inverse(1.2) == math.inf and law.inverse(0.5) == math.inf


def test_loss_law_validation_and_round_trip():
    law = loss_law(1.2, 8.0, 0.35)
    data = law.to_dict()
    assert data["lower_is_better"] is True and data["ceiling"] == 1.2
    assert PowerLaw.from_dict(json.loads(json.dumps(data))) == law
    # files written before loss laws existed carry no key: higher is better
    old = {"a": 42.5, "b": 0.04, "c": 0.11, "ceiling": 100.0}
    assert PowerLaw.from_dict(old).lower_is_better is False
    assert PowerLaw(a=42.5, b=0.04, c=0.11).ceiling == 100.0
    with pytest.raises(InputError, match="floor"):
        PowerLaw(a=1, b=1, c=0.2, lower_is_better=True)  # a loss needs its floor E
    with pytest.raises(InputError, match=">= 0"):
        PowerLaw(a=1, b=1, c=0.2, ceiling=-0.1, lower_is_better=True)
    with pytest.raises(InputError, match="true or false"):
        PowerLaw.from_dict({**data, "lower_is_better": "yes"})


# -- fitting ------------------------------------------------------------------------------------
def test_fit_recovers_noiseless_loss_law_exactly():
    laws = bl.fit(loss_pilots(sd=0.0, seeds=1), lower_is_better=True, n_boot=0)
    f = laws["ar"]
    assert laws.lower_is_better and f.lower_is_better
    assert f.ceiling == pytest.approx(E, abs=1e-6)
    assert f.K == pytest.approx(K, rel=1e-6) and f.c == pytest.approx(C, rel=1e-6)
    assert f.rmse < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_noisy_loss_law(seed):
    # Tolerance: 4.5 linearised standard errors, se = SD * sqrt(diag((J'J)^-1)) with J the
    # Jacobian of E + K x^-c in (E, K, c) at the true values over the 18 runs (about 0.068,
    # 0.23, 0.016). The robust soft_l1 fit is ~20% less efficient than least squares at 18
    # points (simulated: spread 1.2-1.3 se), so 4.5 se is about 3.6 of its own standard errors.
    x = np.repeat(np.array(SIZES, dtype=float), 3)
    jac = np.column_stack([np.ones_like(x), x ** -C, -K * np.log(x) * x ** -C])
    se = SD * np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)))
    laws = bl.fit(loss_pilots(rng=np.random.default_rng(seed)), lower_is_better=True, n_boot=100, seed=seed)
    f = laws["ar"]
    assert abs(f.ceiling - E) < 4.5 * se[0]
    assert abs(f.K - K) < 4.5 * se[1]
    assert abs(f.c - C) < 4.5 * se[2]
    assert 0 <= f.ceiling <= f.points.groupby("size")["score"].median().min()
    assert f.r2 > 0.99 and f.rmse < 2 * SD
    # the band is built from the draws' curves E_d + K_d x^-c_d
    draws = f.draws
    for size in (25.0, 800.0, 5000.0):
        curves = draws[:, 2] + draws[:, 0] * size ** (-draws[:, 1])
        lo, hi = f.interval(size, level=0.8)
        assert lo == pytest.approx(np.quantile(curves, 0.1), rel=1e-12)
        assert hi == pytest.approx(np.quantile(curves, 0.9), rel=1e-12)
        assert lo < f.predict(size) < hi
    # holdout: refit without 800, error = predicted - observed mean loss at 800
    hold = f.holdout
    observed = f.points.loc[f.points["size"] == 800, "score"].mean()
    assert hold["observed"] == pytest.approx(observed, rel=1e-12)
    assert hold["error"] == pytest.approx(hold["predicted"] - observed, rel=1e-12)
    assert PowerLaw.from_dict(hold["law"]).lower_is_better


def test_floor_stays_at_zero_for_a_pure_power_law():
    # L = 5 x^-0.3 has no floor; the fit may not go below E = 0. E = 0 is a plain power law, the
    # normal case for a per-token loss, so it is not flagged (a flag on it would be a false alarm)
    laws = bl.fit(loss_pilots({"ar": (0.0, 5.0, 0.3)}, sd=0.0, seeds=1), lower_is_better=True, n_boot=0)
    f = laws["ar"]
    assert f.ceiling == pytest.approx(0.0, abs=1e-9)
    assert f.c == pytest.approx(0.3, rel=1e-6) and "ceiling_at_bound" not in f.flags


def test_loss_metric_refused_without_flag(tmp_path):
    frame = loss_pilots()
    with pytest.raises(InputError, match="--lower-is-better"):
        bl.fit(frame)
    with pytest.raises(InputError, match="lower_is_better=True"):
        read_pilots(frame.assign(metric="loss"))
    with pytest.raises(InputError, match="score"):
        bl.fit(frame.assign(metric="comet"), lower_is_better=True)
    with pytest.raises(InputError, match="do not apply"):
        bl.fit(frame, ceiling=100.0, lower_is_better=True)
    # a loss is any finite value >= 0, with no 0..100 rule
    big = frame.assign(score=frame["score"] + 150.0)
    assert read_pilots(big, lower_is_better=True)["score"].min() > 150
    neg = frame.copy()
    neg.loc[4, "score"] = -0.5
    with pytest.raises(InputError, match="row 5: score=-0.5 is a negative loss"):
        read_pilots(neg, lower_is_better=True)


def test_loss_lawset_round_trips(tmp_path):
    laws = bl.fit(loss_pilots({"ar": (E, K, C), "zh": (1.5, 5.0, 0.5)}), lower_is_better=True, n_boot=30)
    path = laws.save(tmp_path / "laws.json")
    data = json.loads(path.read_text())
    assert data["lower_is_better"] is True and data["signature"]["direction"] == "lower_is_better"
    assert all(entry["law"]["lower_is_better"] is True for entry in data["laws"].values())
    back = load_laws(path)
    assert back.lower_is_better
    for lang in laws:
        assert back[lang].law == laws[lang].law
        np.testing.assert_array_equal(back[lang].draws, laws[lang].draws)
        assert back[lang].interval(3000.0) == laws[lang].interval(3000.0)
        assert back[lang].holdout == laws[lang].holdout
    assert "floor" in back.to_frame().columns
    data["lower_is_better"] = False
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match="lower_is_better"):
        load_laws(bad)


def test_directions_do_not_mix():
    loss = bl.fit(loss_pilots(), lower_is_better=True, n_boot=0)["ar"]
    score = bl.fit(loss_pilots(sd=0.0).assign(score=lambda d: 100 - 10 * d["size"] ** -0.3, metric="comet"),
                   n_boot=0)["ar"]
    with pytest.raises(InputError, match="mixes loss laws"):
        LawSet({"ar": loss, "zh": score})
    with pytest.raises(InputError, match="mixes loss laws"):
        bl.allocate({"ar": loss_law(1.2, 8.0, 0.35), "zh": PowerLaw(a=40, b=0.04, c=0.1)}, 1000)


# -- allocation ---------------------------------------------------------------------------------
TWO = {"ar": loss_law(1.2, 8.0, 0.35), "zh": loss_law(1.5, 5.0, 0.5)}


def test_sum_matches_hand_derived_kkt():
    # minimise sum_i E_i + K_i x_i^-c_i s.t. x_ar + x_zh = B: equal marginals
    # c_i K_i x_i^(-c_i-1) = lam, so x_i(lam) = (c_i K_i / lam)^(1/(c_i+1)); brentq on log lam.
    budget = 2000.0
    params = {"ar": (8.0, 0.35), "zh": (5.0, 0.5)}

    def sizes(loglam):
        return {k: (c * kk / math.exp(loglam)) ** (1 / (c + 1)) for k, (kk, c) in params.items()}

    loglam = brentq(lambda t: sum(sizes(t).values()) - budget, -40, 10, xtol=1e-14)
    expect = sizes(loglam)
    for solver in ("exact", "cvxpy"):
        plan = bl.allocate(TWO, budget, solver=solver)
        tol = 1e-9 if solver == "exact" else 1e-5
        for lang in TWO:
            assert plan.sizes[lang] == pytest.approx(expect[lang], rel=tol)
        assert plan.marginal_value == pytest.approx(math.exp(loglam), rel=1e-6 if solver == "exact" else 1e-3)
        assert plan.lower_is_better
    plan = bl.allocate(TWO, budget)
    by_hand = {"ar": 1.2 + 8.0 * expect["ar"] ** -0.35, "zh": 1.5 + 5.0 * expect["zh"] ** -0.5}
    for lang in TWO:
        assert plan.predicted.loc[lang, "score"] == pytest.approx(by_hand[lang], rel=1e-9)
    assert plan.objective_value == pytest.approx(sum(by_hand.values()), rel=1e-9)
    # any other split of the budget has a larger total loss
    for shift in (-50.0, 50.0):
        other = 1.2 + 8.0 * (expect["ar"] + shift) ** -0.35 + 1.5 + 5.0 * (expect["zh"] - shift) ** -0.5
        assert other > plan.objective_value


def test_maxmin_minimises_the_worst_loss_by_hand():
    # the worst (largest) loss is smallest when both languages reach the same loss t:
    # x_i(t) = (K_i / (t - E_i))^(1/c_i) and x_ar(t) + x_zh(t) = B
    budget = 2000.0

    def spend(t):
        return (8.0 / (t - 1.2)) ** (1 / 0.35) + (5.0 / (t - 1.5)) ** (1 / 0.5)

    t = brentq(lambda v: spend(v) - budget, 1.5 + 1e-6, 10.0, xtol=1e-14)
    for solver in ("exact", "cvxpy"):
        plan = bl.allocate(TWO, budget, objective="maxmin", solver=solver)
        assert plan.objective_value == pytest.approx(t, rel=1e-6)
        assert plan.predicted["score"].max() == pytest.approx(t, rel=1e-6)
        assert plan.sizes["ar"] == pytest.approx((8.0 / (t - 1.2)) ** (1 / 0.35), rel=1e-4)


def _three_laws():
    return {"ar": loss_law(1.2, 8.0, 0.35), "zh": loss_law(1.5, 5.0, 0.5), "hi": loss_law(0.9, 12.0, 0.3)}


@pytest.mark.parametrize("objective", ["sum", "maxmin"])
@pytest.mark.parametrize("available", [None, {"hi": 500.0}])
def test_exact_and_cvxpy_agree_on_loss_laws(objective, available):
    laws = _three_laws()
    exact = bl.allocate(laws, 3000, objective=objective, solver="exact", available=available)
    convex = bl.allocate(laws, 3000, objective=objective, solver="cvxpy", available=available)
    assert exact.objective_value == pytest.approx(convex.objective_value, rel=1e-6)
    np.testing.assert_allclose(exact.sizes.to_numpy(), convex.sizes.to_numpy(), rtol=2e-3)
    if available:
        assert exact.sizes["hi"] <= 500.0 * (1 + 1e-9)


def test_robust_exact_and_cvxpy_agree_on_loss_laws():
    laws = bl.fit(loss_pilots({"ar": (E, K, C), "zh": (1.5, 5.0, 0.5)}), lower_is_better=True, n_boot=40)
    exact = bl.allocate(laws, 2000, objective="robust", solver="exact")
    convex = bl.allocate(laws, 2000, objective="robust", solver="cvxpy")
    assert exact.objective_value == pytest.approx(convex.objective_value, rel=1e-6)
    # the objective is the mean over draws of the summed loss, worked out from the draws here
    x = exact.sizes
    by_hand = np.mean([d[:, 2] + d[:, 0] * x[lang] ** (-d[:, 1]) for lang, d in
                       ((lang, laws[lang].draws) for lang in laws)], axis=1).sum()
    assert exact.objective_value == pytest.approx(by_hand, rel=1e-12)


def test_compare_gain_is_an_improvement_and_baselines_work():
    laws = _three_laws()
    plan = bl.allocate(laws, 3000)
    uni = baselines.uniform(laws, 3000)
    assert uni.lower_is_better and uni.sizes.to_numpy() == pytest.approx([1000.0] * 3)
    loss_uniform = {lang: law.predict(1000.0) for lang, law in laws.items()}
    assert uni.objective_value == pytest.approx(sum(loss_uniform.values()), rel=1e-12)
    table = plan.compare(uni)
    for lang in laws:
        mine = laws[lang].predict(plan.sizes[lang])
        assert table.loc[lang, "gain:uniform"] == pytest.approx(loss_uniform[lang] - mine, rel=1e-9)
    total_gain = sum(loss_uniform.values()) - plan.objective_value
    assert table.loc["total", "gain:uniform"] == pytest.approx(total_gain, rel=1e-9)
    assert total_gain > 0  # the optimised plan has the lower total loss
    assert "max" in table.index and "min" not in table.index
    assert table.loc["max", "score:uniform"] == pytest.approx(max(loss_uniform.values()), rel=1e-12)
    for make in (baselines.proportional, baselines.unimax):
        other = make(laws, 3000, available={"ar": 5000, "zh": 500, "hi": 2000})
        assert other.objective_value > plan.objective_value
    front = bl.sweep(laws, [1000, 3000, 9000])
    totals = front.groupby("budget")["objective_value"].first()
    assert totals.is_monotonic_decreasing  # more data, lower total loss


def test_plan_json_keeps_the_direction(tmp_path):
    plan = bl.allocate(TWO, 2000)
    back = bl.load_plan(plan.save(tmp_path / "plan.json"))
    assert back.lower_is_better and back.to_dict() == plan.to_dict()


# -- command line -------------------------------------------------------------------------------
@pytest.fixture()
def nll_csv(tmp_path):
    path = tmp_path / "pilots.csv"
    loss_pilots({"ar": (E, K, C), "zh": (1.5, 5.0, 0.5)}).to_csv(path, index=False)
    return path


def test_cli_fit_allocate_report_on_a_loss(tmp_path, nll_csv, capsys):
    laws, plan, out = tmp_path / "laws.json", tmp_path / "plan.json", tmp_path / "report"
    assert main(["fit", str(nll_csv), "-o", str(laws), "--lower-is-better", "--n-boot", "30"]) == 0
    assert "lower is better" in capsys.readouterr().out
    assert main(["allocate", str(laws), "--budget", "2000", "-o", str(plan)]) == 0
    data = json.loads(plan.read_text())
    assert data["lower_is_better"] is True
    assert all(1.0 < v["score"] < 4.0 for v in data["predicted"].values())
    assert main(["report", str(laws), str(plan), "-o", str(out), "--pilots", str(nll_csv),
                 "--baselines", "uniform"]) == 0
    text = (out / "report.md").read_text()
    assert "nll (lower is better)" in text and "floor E" in text
    assert (out / "laws.png").is_file() and (out / "gains.png").is_file()


def test_cli_refuses_a_loss_fitted_as_a_score(tmp_path, nll_csv, capsys):
    out = tmp_path / "laws.json"
    status = main(["fit", str(nll_csv), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "--lower-is-better" in err and "nll" in err
    assert not out.exists()
