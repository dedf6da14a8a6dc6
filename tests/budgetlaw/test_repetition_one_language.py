"""Issue 25, item 6: one-language laws price repeated pairs at the data-constrained value.

A plan that may repeat pairs (max_epochs > 1, a language's available pairs U finite) reads each
law at e = eff(x): x up to U, then U + U R* (1 - exp(-(x - U) / (U R*))), R* = 5 by default. The
plan's predictions, its objective, bl.predict and the baselines all use it; the exact solver and
the cvxpy program agree with scipy's SLSQP on the same program."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import budgetlaw as bl
from budgetlaw.transfer.law import DEFAULT_RSTAR

LAWS = {"ar": bl.PowerLaw.from_identifiable(300.0, 0.30), "hi": bl.PowerLaw.from_identifiable(500.0, 0.35),
        "el": bl.PowerLaw.from_identifiable(200.0, 0.25)}
AVAIL = {"hi": 1000.0, "ar": 20000.0}


def eff_by_hand(x, U, R=5.0):
    """The documented rule, written out here (not the library's function)."""
    return x if x <= U else U + U * R * (1.0 - math.exp(-(x - U) / (U * R)))


def total_by_hand(sizes, epochs_cap=True):
    return sum(100.0 - LAWS[k].K * eff_by_hand(sizes[k], AVAIL.get(k, math.inf)) ** (-LAWS[k].c) for k in LAWS)


def test_default_rstar_is_5():
    assert DEFAULT_RSTAR == 5.0


def test_a_uniform_plan_beyond_the_distinct_pairs_predicts_the_hand_number():
    """Uniform at 6000 pairs: 2000 each, hi's 2000 are 1000 distinct pairs seen twice. By hand:
    e = 1000 + 5000 (1 - exp(-0.2)) = 1906.346..., score = 100 - 500 e^-0.35 = 85.59..., less
    than the 85.83... of 2000 fresh pairs."""
    plan = bl.baselines.uniform(LAWS, 6000, available=AVAIL, max_epochs=2)
    assert plan.sizes.to_dict() == pytest.approx({"ar": 2000.0, "hi": 2000.0, "el": 2000.0})
    e = 1000 + 5000 * (1 - math.exp(-0.2))
    assert e == pytest.approx(1906.3462346, rel=1e-10)
    hand = 100 - 500 * e ** -0.35
    fresh = 100 - 500 * 2000 ** -0.35
    assert plan.predicted["score"]["hi"] == pytest.approx(hand, rel=1e-13)
    assert hand < fresh - 0.2
    assert plan.predicted["score"]["ar"] == pytest.approx(100 - 300 * 2000 ** -0.3, rel=1e-13)  # within its U
    assert plan.objective_value == pytest.approx(total_by_hand(plan.sizes), rel=1e-13)
    table = bl.predict(LAWS, plan.sizes.to_dict(), unique=AVAIL)
    assert table.set_index("language").loc["hi", "predicted"] == pytest.approx(hand, rel=1e-13)
    assert table.set_index("language").loc["hi", "effective"] == pytest.approx(e, rel=1e-13)
    # one epoch: nothing repeats, the plan is the fresh-pair law as before
    one = bl.baselines.uniform(LAWS, 6000, available=AVAIL, max_epochs=1)
    assert one.sizes["hi"] == pytest.approx(1000.0)
    assert one.predicted["score"]["hi"] == pytest.approx(100 - 500 * 1000 ** -0.35, rel=1e-13)


def test_every_baseline_is_judged_at_the_repetition_value():
    for name in bl.baselines.NAMES:
        plan = getattr(bl.baselines, name)(LAWS, 30000, available={**AVAIL, "el": 30000.0}, max_epochs=3)
        hand = {k: 100 - LAWS[k].K * eff_by_hand(x, {**AVAIL, "el": 30000.0}[k]) ** -LAWS[k].c
                for k, x in plan.sizes.items()}
        np.testing.assert_allclose(plan.predicted["score"], pd.Series(hand)[plan.languages], rtol=1e-12)


def slsqp(budget, cap, objective="sum"):
    """The same program solved by scipy (independent of the library's solvers): maximise the sum
    of 100 - K e(x)^-c under sum x <= budget, 1 <= x <= cap."""
    langs = list(LAWS)
    K = np.array([LAWS[k].K for k in langs])
    c = np.array([LAWS[k].c for k in langs])
    U = np.array([AVAIL.get(k, np.inf) for k in langs])

    def eff(x):
        return np.array([eff_by_hand(xi, ui) for xi, ui in zip(x, U)])

    def minus(y):
        return -np.sum(100 - K * eff(y * budget / 3) ** -c)

    best = None
    for start in (np.full(3, 1.0), np.array([1.2, 0.5, 1.3]), np.array([0.8, 1.6, 0.6])):
        res = minimize(minus, start, method="SLSQP", bounds=[(1e-4, min(cp / budget * 3, 3)) for cp in cap],
                       constraints=[{"type": "ineq", "fun": lambda y: 3 - y.sum()}],
                       options={"ftol": 1e-15, "maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    return dict(zip(langs, best.x * budget / 3)), -best.fun


@pytest.mark.parametrize("solver", ["exact", "cvxpy"])
def test_allocate_with_repeats_agrees_with_slsqp(solver):
    """hi (1000 distinct pairs, cap 20,000) sits strictly between its distinct pairs and its cap:
    the optimum of the repetition-priced program, not a bound."""
    plan = bl.allocate(LAWS, 30000, available=AVAIL, max_epochs=20, solver=solver)
    ref, ref_value = slsqp(30000, [AVAIL.get(k, math.inf) * 20 for k in LAWS])
    assert plan.solver["method"] == solver
    assert 1000 * 1.5 < plan.sizes["hi"] < 20000 * 0.9
    assert plan.objective_value == pytest.approx(total_by_hand(plan.sizes), rel=1e-13)
    assert plan.objective_value >= ref_value - 1e-9 * ref_value  # at least as good as SLSQP's
    assert plan.objective_value == pytest.approx(ref_value, rel=1e-9)
    for k in LAWS:
        assert plan.sizes[k] == pytest.approx(ref[k], rel=2e-3)
    assert plan.used_budget == pytest.approx(30000, rel=1e-7)


def test_exact_kkt_with_repeats():
    """At the exact optimum every language off its bounds has the same marginal value per pair,
    lambda: c K e^(-c-1) eff'(x) with eff'(x) = exp(-(x - U)/(U R*)) beyond U (by hand)."""
    plan = bl.allocate(LAWS, 30000, available=AVAIL, max_epochs=20, solver="exact")
    lam = plan.marginal_value
    for k, x in plan.sizes.items():
        U = AVAIL.get(k, math.inf)
        slope = math.exp(-(x - U) / (U * 5.0)) if x > U else 1.0
        marginal = LAWS[k].c * LAWS[k].K * eff_by_hand(x, U) ** (-LAWS[k].c - 1) * slope
        assert marginal == pytest.approx(lam, rel=1e-9)


def test_repeats_are_worth_less_so_the_plan_leans_on_them_less():
    """The issue's case: hi with 120k distinct pairs and two epochs. Valued as fresh, hi took
    223,175 pairs (1.86 passes); priced, it takes fewer, and predicts less than fresh pairs would."""
    laws = {"hi": bl.PowerLaw.from_identifiable(1000.0, 0.4), "ar": bl.PowerLaw.from_identifiable(300.0, 0.3)}
    avail = {"hi": 120_000.0}
    priced = bl.allocate(laws, 400_000, available=avail, max_epochs=2)
    # fresh-pair optimum by hand: c K x^(-c-1) equal, x_hi + x_ar = B, solved by bisection here
    lo, hi_ = 1e-12, 1.0
    for _ in range(200):
        lam = math.sqrt(lo * hi_)
        spent = sum(min((law.c * law.K / lam) ** (1 / (law.c + 1)), avail.get(k, math.inf) * 2)
                    for k, law in laws.items())
        lo, hi_ = (lam, hi_) if spent > 400_000 else (lo, lam)
    fresh_hi = (0.4 * 1000.0 / lam) ** (1 / 1.4)
    assert 120_000 < fresh_hi < 240_000
    assert 120_000 < priced.sizes["hi"] < fresh_hi * 0.98
    x = priced.sizes["hi"]
    assert priced.predicted["score"]["hi"] == pytest.approx(100 - 1000 * eff_by_hand(x, 120_000) ** -0.4, rel=1e-12)
    assert priced.predicted["score"]["hi"] < 100 - 1000 * x ** -0.4


def test_maxmin_with_repeats_agrees_with_cvxpy():
    exact = bl.allocate(LAWS, 30000, available=AVAIL, max_epochs=20, objective="maxmin", solver="exact")
    slow = bl.allocate(LAWS, 30000, available=AVAIL, max_epochs=20, objective="maxmin", solver="cvxpy")
    assert exact.objective_value == pytest.approx(slow.objective_value, rel=1e-6)
    # hi cannot reach the others even at its cap: it takes the cap, its score there is the objective
    assert exact.sizes["hi"] == pytest.approx(20000.0)
    assert exact.objective_value == pytest.approx(100 - 500 * eff_by_hand(20000.0, 1000.0) ** -0.35, rel=1e-12)
    # below the caps the worst score is equalised: hi at 3 epochs decides nothing then
    mid = bl.allocate(LAWS, 6000, available=AVAIL, max_epochs=3, objective="maxmin")
    scores = mid.predicted["score"]
    assert mid.sizes["hi"] > 1000 and scores.max() - scores.min() < 1e-8


def test_robust_with_repeats_exact_agrees_with_cvxpy():
    rng = np.random.default_rng(3)
    rows = [{"language": k, "size": x, "score": 100 - law.K * x ** -law.c + rng.normal(0, 0.05), "seed": s}
            for k, law in LAWS.items() for x in (500, 1000, 2000, 4000) for s in range(2)]
    laws = bl.fit(pd.DataFrame(rows), n_boot=15, seed=1)
    fast = bl.allocate(laws, 30000, available=AVAIL, max_epochs=20, objective="robust")
    slow = bl.allocate(laws, 30000, available=AVAIL, max_epochs=20, objective="robust", solver="cvxpy")
    assert fast.solver["method"] == "exact" and fast.sizes["hi"] > 1500
    assert fast.objective_value == pytest.approx(slow.objective_value, rel=1e-7)
    # the robust objective by hand: the mean over draws of the sum at the repetition value
    direct = np.mean([sum(laws[k].draws[j, 2] - laws[k].draws[j, 0] * eff_by_hand(fast.sizes[k], AVAIL.get(
        k, math.inf)) ** -laws[k].draws[j, 1] for k in LAWS) for j in range(15)])
    assert fast.objective_value == pytest.approx(direct, rel=1e-12)


def test_sweep_scores_are_the_plans_at_each_budget():
    table = bl.sweep(LAWS, [6000, 30000], available=AVAIL, max_epochs=20)
    for budget, rows in table.groupby("budget"):
        plan = bl.allocate(LAWS, budget, available=AVAIL, max_epochs=20)
        got = rows.set_index("language")
        np.testing.assert_allclose(got["size"][plan.languages], plan.sizes, rtol=1e-12)
        np.testing.assert_allclose(got["score"][plan.languages], plan.predicted["score"], rtol=1e-12)


def test_a_plan_json_round_trip_keeps_the_rule(tmp_path):
    plan = bl.allocate(LAWS, 30000, available=AVAIL, max_epochs=20)
    assert plan.solver["repeats"] == ["ar", "hi"] and plan.solver["rstar"] == 5.0  # the languages that may repeat
    back = bl.load_plan(plan.save(tmp_path / "plan.json"))
    assert back.solver["repeats"] == ["ar", "hi"] and back.solver["rstar"] == 5.0


def test_law_transfer_gives_the_rule_to_other_readers():
    from budgetlaw.transfer.prediction import law_transfer

    d = law_transfer(LAWS).effective(np.array([5000.0, 2000.0, 300.0]), np.array([20000.0, 1000.0, np.inf]))
    np.testing.assert_allclose(d, [5000.0, eff_by_hand(2000.0, 1000.0), 300.0], rtol=1e-14)


def test_worth_and_the_report_price_repeats_in_one_language_laws():
    """bl.worth judges both plans at the repetition value, as the allocator does: its gain over
    uniform is the hand total of the plan minus the hand total of uniform, not the fresh-pair one."""
    plan = bl.allocate(LAWS, 6000, available=AVAIL, max_epochs=20)
    uniform = bl.baselines.uniform(LAWS, 6000, available=AVAIL, max_epochs=20)
    assert uniform.sizes["hi"] > AVAIL["hi"]  # both repeat hi's pairs, by different amounts
    assert plan.sizes["hi"] > uniform.sizes["hi"] + 100
    w = bl.worth(LAWS, plan, "uniform", seed_sd=0.1)
    hand = total_by_hand(plan.sizes) - total_by_hand(uniform.sizes)
    fresh = sum(LAWS[k].K * (uniform.sizes[k] ** -LAWS[k].c - plan.sizes[k] ** -LAWS[k].c) for k in LAWS)
    assert w.gain == pytest.approx(hand, rel=1e-12)
    assert abs(hand - fresh) > 1e-3  # the two pricings differ here, so the test can tell them apart
    from budgetlaw.reporting.worth import plan_objective

    value = plan_objective(LAWS, plan)
    assert value(uniform.sizes) == pytest.approx(total_by_hand(uniform.sizes), rel=1e-13)
    assert value(plan.sizes) == pytest.approx(plan.objective_value, rel=1e-13)
