"""Baselines checked against allocations worked out by hand."""

import math

import numpy as np
import pytest

from budgetlaw.allocation.baselines import proportional, temperature, uniform, unimax, water_fill
from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw

LAWS = {k: PowerLaw.from_identifiable(K=100.0, c=0.5) for k in ("a", "b", "c")}
AVAIL = {"a": 100.0, "b": 1000.0, "c": 10000.0}


def sizes(plan):
    return [plan.sizes[k] for k in ("a", "b", "c")]


def unimax_by_hand(budget, caps, cost):
    """Chung et al. 2023, Algorithm 1, written as the paper states it: visit languages from the
    smallest to the largest; each gets min(remaining budget / remaining languages, its cap)."""
    order = sorted(caps, key=lambda k: caps[k] * cost[k])
    left, out = budget, {}
    for i, k in enumerate(order):
        spend = min(left / (len(order) - i), caps[k] * cost[k])
        out[k] = spend / cost[k]
        left -= spend
    return out


def test_uniform_by_hand():
    # 3000 over three languages is 1000 each; with 2 epochs a is capped at 200, and its surplus
    # 800 splits evenly: b = c = 1400 (b's cap 2000 is not reached).
    plan = uniform(LAWS, 3000.0, available=AVAIL, max_epochs=2)
    np.testing.assert_allclose(sizes(plan), [200.0, 1400.0, 1400.0], rtol=1e-12)
    assert plan.name == "uniform" and plan.unused_budget == 0.0 and math.isnan(plan.marginal_value)
    # no caps: equal thirds
    np.testing.assert_allclose(sizes(uniform(LAWS, 3000.0)), [1000.0] * 3, rtol=1e-12)
    # equal sizes with costs (1, 2, 3): 6x = 3000 -> x = 500 each
    np.testing.assert_allclose(sizes(uniform(LAWS, 3000.0, cost={"b": 2, "c": 3})), [500.0] * 3, rtol=1e-12)


def test_unimax_by_hand_and_against_the_papers_loop():
    # Loop by hand: a gets min(3000/3, 200) = 200; b min(2800/2, 2000) = 1400; c the last 1400.
    plan = unimax(LAWS, 3000.0, available=AVAIL, max_epochs=2)
    np.testing.assert_allclose(sizes(plan), [200.0, 1400.0, 1400.0], rtol=1e-12)
    # Equal spend with costs (1, 2, 1): a spends its cap 200; b and c spend 1400 each, so b gets
    # 1400/2 = 700 pairs and c 1400.
    plan = unimax(LAWS, 3000.0, available=AVAIL, max_epochs=2, cost={"b": 2.0})
    np.testing.assert_allclose(sizes(plan), [200.0, 700.0, 1400.0], rtol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 9))
        langs = [f"l{i}" for i in range(n)]
        laws = {k: PowerLaw.from_identifiable(K=50.0, c=0.4) for k in langs}
        avail = {k: float(rng.uniform(1, 1000)) for k in langs}
        cost = {k: float(rng.uniform(0.5, 2)) for k in langs}
        epochs = int(rng.integers(1, 5))
        budget = float(rng.uniform(0.1, 0.9) * sum(avail[k] * epochs * cost[k] for k in langs))
        got = unimax(laws, budget, available=avail, max_epochs=epochs, cost=cost)
        expect = unimax_by_hand(budget, {k: avail[k] * epochs for k in langs}, cost)
        np.testing.assert_allclose(got.sizes[langs], [expect[k] for k in langs], rtol=1e-9)


def test_proportional_by_hand():
    # x_i = 3000 * n_i / 11100
    plan = proportional(LAWS, 3000.0, available=AVAIL)
    np.testing.assert_allclose(sizes(plan), [3000 * n / 11100 for n in (100, 1000, 10000)], rtol=1e-12)
    # floor a >= 100: the rest 2900 splits 1:10 between b and c
    plan = proportional(LAWS, 3000.0, available=AVAIL, floor={"a": 100.0})
    np.testing.assert_allclose(sizes(plan), [100.0, 2900 / 11, 29000 / 11], rtol=1e-12)


def test_temperature_by_hand():
    # tau = 2: r = sqrt(n / 10000) = (0.1, sqrt(0.1), 1). Uncapped, a would get 0.1*3000/1.416 = 212
    # > its cap 100 (1 epoch), so a = 100 and b, c share 2900 in ratio sqrt(0.1) : 1.
    plan = temperature(LAWS, 3000.0, tau=2.0, available=AVAIL)
    t = 2900 / (1 + math.sqrt(0.1))
    np.testing.assert_allclose(sizes(plan), [100.0, t * math.sqrt(0.1), t], rtol=1e-12)
    assert plan.signature["tau"] == 2.0
    # tau = 1 is proportional; a huge tau is (nearly) uniform
    np.testing.assert_allclose(sizes(temperature(LAWS, 3000.0, tau=1.0, available=AVAIL)),
                               sizes(proportional(LAWS, 3000.0, available=AVAIL)), rtol=1e-12)
    big = {k: 1e6 for k in AVAIL}
    np.testing.assert_allclose(sizes(temperature(LAWS, 3000.0, tau=1e9, available={**big, "a": 1e5})), [1000.0] * 3, rtol=1e-6)


def test_every_cap_fits_gives_caps_and_unused_budget():
    for make in (uniform, proportional, temperature, unimax):
        plan = make(LAWS, 1e6, available=AVAIL, max_epochs=2)
        np.testing.assert_allclose(sizes(plan), [200.0, 2000.0, 20000.0])
        assert plan.unused_budget == pytest.approx(1e6 - 22200.0)
        assert plan.to_frame()["at_cap"].all()


def test_baseline_scores_and_objective():
    plan = uniform(LAWS, 3000.0)
    assert plan.objective == "sum"
    np.testing.assert_allclose(plan.predicted["score"], 100 - 100 * 1000.0**-0.5, rtol=1e-12)
    assert plan.objective_value == pytest.approx(3 * (100 - 100 * 1000.0**-0.5), rel=1e-12)


def test_water_fill_spends_the_budget_exactly():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 10))
        r, cost = rng.uniform(0.1, 5, n), rng.uniform(0.5, 3, n)
        lo = rng.uniform(0.01, 1, n)
        hi = np.where(rng.random(n) < 0.5, lo + rng.uniform(0, 50, n), np.inf)
        budget = (cost * lo).sum() + rng.uniform(0, 200)
        x, t = water_fill(r, lo, hi, cost, budget)
        assert np.all(x >= lo) and np.all(x <= hi)
        if math.isinf(t):
            np.testing.assert_array_equal(x, hi)
            continue
        assert (cost * x).sum() == pytest.approx(budget, rel=1e-12)
        free = (x > lo) & (x < hi)
        np.testing.assert_allclose(x[free] / r[free], t, rtol=1e-12)


@pytest.mark.parametrize("make", [proportional, temperature, unimax])
def test_needs_available(make):
    with pytest.raises(InputError, match=r"\['b', 'c'\]"):
        make(LAWS, 3000.0, available={"a": 10.0})


def test_errors():
    with pytest.raises(InputError, match="tau"):
        temperature(LAWS, 3000.0, tau=0, available=AVAIL)
    with pytest.raises(InputError, match="zz"):
        uniform(LAWS, 3000.0, available={"zz": 1.0})
    with pytest.raises(InputError, match="floor\\[a\\]"):
        uniform(LAWS, 3000.0, available=AVAIL, floor={"a": 500.0})
    with pytest.raises(InputError, match="budget"):
        unimax(LAWS, -1.0, available=AVAIL)


def test_intervals_when_laws_carry_draws():
    class Drawn:
        """A law with bootstrap draws (K, c, ceiling) and a percentile interval, like FittedLaw."""

        def __init__(self, K):
            self.K, self.c, self.ceiling = K, 0.5, 100.0
            self.draws = np.array([[0.8 * K, 0.5, 100.0], [K, 0.5, 100.0], [1.2 * K, 0.5, 100.0]])

        def interval(self, x, level=0.9):
            curves = 100.0 - self.draws[:, :1] * np.asarray(x)[None] ** -0.5
            return tuple(np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0))

    laws = {"a": Drawn(100.0), "b": Drawn(200.0)}
    plan = uniform(laws, 200.0, level=0.5)
    # level 0.5 -> quantiles 0.25 and 0.75 of {0.8K, K, 1.2K} at x = 100: K at 0.9K and 1.1K
    for k, K in (("a", 100.0), ("b", 200.0)):
        assert plan.predicted.loc[k, "lower"] == pytest.approx(100 - 1.1 * K / 10)
        assert plan.predicted.loc[k, "upper"] == pytest.approx(100 - 0.9 * K / 10)
    assert plan.signature["level"] == 0.5
