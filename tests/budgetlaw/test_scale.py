"""Thousands of languages: the public calls give the answers worked out independently here, and
a report on 150 languages stays readable (figures of bounded size). No timings: those are in
benchmarks/allocation.py."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest

from budgetlaw.allocation import allocate, sweep
from budgetlaw.bands import intervals, quantiles
from budgetlaw.allocation.baselines import sizes_at, uniform, unimax
from budgetlaw.direction import mirror_fitted
from budgetlaw.fitting import FittedLaw, LawSet
from budgetlaw.law import PowerLaw
from budgetlaw.reporting import MAX_LAW_PANELS, focus_languages, report

N = 2000


def _laws(n, seed=0):
    rng = np.random.default_rng(seed)
    langs = [f"x{i:04d}" for i in range(n)]
    K, c = rng.uniform(50, 500, n), rng.uniform(0.1, 0.7, n)
    laws = {lang: PowerLaw.from_identifiable(k, e, 100.0) for lang, k, e in zip(langs, K, c)}
    caps = rng.uniform(1e3, 1e5, n)
    capped = rng.random(n) < 0.5
    available = {lang: float(a) for lang, a, keep in zip(langs, caps, capped) if keep}
    return laws, available, K, c, np.where(capped, caps, np.inf)


def _kkt_sizes(K, c, floor, cap, budget):
    """Exact optimum of sum_i (100 - K_i x_i**-c_i), sum x_i = budget, by bisection on the
    multiplier: x_i(lam) = clip((c_i K_i / lam)**(1/(c_i+1)), floor_i, cap_i)."""
    lo, hi = -60.0, 60.0  # log lam
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        x = np.clip((c * K / np.exp(mid)) ** (1 / (c + 1)), floor, cap)
        lo, hi = (mid, hi) if x.sum() > budget else (lo, mid)
    return np.clip((c * K / np.exp(hi)) ** (1 / (c + 1)), floor, cap)


def _fill_sizes(r, floor, cap, budget):
    """Water-filling by bisection on the level t: x_i = clip(t r_i, floor_i, cap_i), sum = budget."""
    lo, hi = 0.0, budget / r.min()
    for _ in range(200):
        t = 0.5 * (lo + hi)
        lo, hi = (lo, t) if np.clip(t * r, floor, cap).sum() > budget else (t, hi)
    return np.clip(hi * r, floor, cap)


def test_allocate_on_many_languages_matches_the_kkt_solution():
    laws, available, K, c, cap = _laws(N)
    budget = 2e4 * N
    plan = allocate(laws, budget, available=available)
    floor = np.minimum(1e-6 * budget / N, cap)
    expected = _kkt_sizes(K, c, floor, cap, budget)
    np.testing.assert_allclose(plan.sizes.to_numpy(), expected, rtol=1e-9)
    assert plan.sizes.index.tolist() == list(laws)
    assert plan.used_budget == pytest.approx(budget, rel=1e-12)


def test_sweep_on_many_languages_matches_the_kkt_solution_at_each_budget():
    laws, available, K, c, cap = _laws(N, seed=1)
    budgets = [5e3 * N, 2e4 * N, 4e4 * N]
    table = sweep(laws, budgets, available=available)
    assert len(table) == len(budgets) * N
    for budget in budgets:
        got = table.loc[table["budget"] == budget, "size"].to_numpy()
        expected = _kkt_sizes(K, c, np.minimum(1e-6 * budget / N, cap), cap, budget)
        np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_baselines_on_many_languages_match_water_filling():
    laws, available, _, _, cap = _laws(N, seed=2)
    budget = 3e4 * N
    floor = np.minimum(1e-6 * budget / N, cap)
    plan = uniform(laws, budget, available=available)
    np.testing.assert_allclose(plan.sizes.to_numpy(), _fill_sizes(np.ones(N), floor, cap, budget), rtol=1e-9)
    every = {lang: float(a) for lang, a in zip(laws, np.where(np.isfinite(cap), cap, 5e4))}
    cap_all = np.array(list(every.values()))
    plan = unimax(laws, budget, available=every)
    expected = _fill_sizes(np.ones(N), np.minimum(1e-6 * budget / N, cap_all), cap_all, budget)
    np.testing.assert_allclose(plan.sizes.to_numpy(), expected, rtol=1e-9)
    rows = sizes_at("unimax", laws, [budget, 2 * budget], available=every)
    np.testing.assert_array_equal(rows[0], plan.sizes.to_numpy())  # the same water-filling, row by row
    np.testing.assert_array_equal(rows[1], unimax(laws, 2 * budget, available=every).sizes.to_numpy())


def _fitted(n, seed=0, loss=False):
    rng = np.random.default_rng(seed)
    laws = {}
    x = np.repeat([1e3, 1e4, 1e5], 3).astype(float)
    for i in range(n):
        K, c = rng.uniform(50, 500), rng.uniform(0.1, 0.7)
        top = -2.0 if loss else 100.0
        law = PowerLaw.from_identifiable(K, c, top, b=1e-3)
        d = int(rng.integers(20, 60))  # draw counts differ between languages
        draws = np.column_stack([K * np.exp(rng.normal(0, 0.05, d)), c + rng.normal(0, 0.01, d),
                                 top + rng.normal(0, 0.1, d)])
        fitted = FittedLaw(f"x{i:04d}", law, x, law.predict(x) + rng.normal(0, 0.3, x.size), draws)
        laws[fitted.language] = mirror_fitted(fitted, -fitted.y) if loss else fitted
    return LawSet(laws, metric="nll" if loss else "comet")


@pytest.mark.parametrize("loss", [False, True])
def test_bands_of_all_languages_equal_each_laws_own_interval(loss):
    laws = _fitted(80, loss=loss)
    items = list(laws.values()) + [PowerLaw(a=40.0, b=0.01, c=0.2, ceiling=1.0 if loss else 100.0,
                                            lower_is_better=loss)]  # no draws: NaN
    x = np.geomspace(1e2, 1e7, len(items))
    lower, upper = intervals(items, x, 0.8)
    for i, item in enumerate(items[:-1]):
        lo, hi = item.interval(np.array([x[i]]), level=0.8)
        assert (lower[i], upper[i]) == (lo[0], hi[0])  # the same arithmetic: equal, not close
    assert np.isnan(lower[-1]) and np.isnan(upper[-1])


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_report_on_150_languages_draws_bounded_figures(tmp_path):
    laws = _fitted(150, seed=3)
    rng = np.random.default_rng(4)
    available = {lang: float(a) for lang, a in zip(laws, rng.uniform(1e3, 1e5, len(laws)))}
    plan = allocate(laws, 1e4 * len(laws), available=available)
    paths = report(laws, plan, out=tmp_path / "report")
    for key in ("laws_plot", "allocation_plot", "gains_plot", "frontier_plot"):
        width, height = _png_size(paths[key])
        assert width <= 2000 and height <= 2000, (key, width, height)
    text = paths["summary"].read_text()
    drawn = focus_languages(plan, None)
    assert len(drawn) == MAX_LAW_PANELS and drawn[0] in plan.sizes.nlargest(MAX_LAW_PANELS).index
    # every language is still in the tables
    assert all(f"| {lang} |" in text for lang in list(laws)[::17])


def test_bands_from_a_lawsets_stacked_draws_are_the_same_numbers():
    ragged = _fitted(40)  # draw counts differ between languages: nothing to stack
    assert ragged.stacked_draws is None
    laws = LawSet({lang: dataclasses.replace(f, draws=f.draws[:20]) for lang, f in ragged.items()})
    stacked = laws.stacked_draws
    assert stacked.shape == (3, 40, 20) and stacked.flags.c_contiguous
    first = next(iter(laws.values()))
    assert np.array_equal(stacked[:, 0].T, first.draws)  # (K, c, ceiling) of language 0's draws
    x = np.geomspace(1e2, 1e6, 40)
    items = list(laws.values())
    plain = intervals(items, x, 0.9)
    fast = intervals(items, x, 0.9, stacked=laws.stacked_draws)
    assert np.array_equal(plain[0], fast[0]) and np.array_equal(plain[1], fast[1])
    assert not np.isnan(plain[0]).any()


@pytest.mark.parametrize("shape,axis", [((1000, 200), 1), ((200, 7), 0), ((1, 5), 0), ((4, 1), 1), ((3, 2, 9), 2)])
@pytest.mark.parametrize("level", [0.9, 0.5, 0.999, 1e-9])
def test_quantiles_from_a_sort_are_numpys_quantiles_to_the_bit(shape, axis, level):
    rng = np.random.default_rng(7)
    values = rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    values.flat[::11] = values.flat[1]  # ties
    q = [(1 - level) / 2, (1 + level) / 2, 0.0, 1.0, 0.25]
    got = quantiles(values, q, axis=axis)
    want = np.quantile(values, q, axis=axis)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_quantiles_of_a_slice_with_nan_or_inf_are_numpys():
    values = np.array([[1.0, np.nan, 3.0, 0.5], [np.inf, 2.0, -1.0, 4.0], [-np.inf, np.inf, 0.0, 1.0]])
    with np.errstate(invalid="ignore"):  # inf - inf, as in numpy
        got = quantiles(values, [0.05, 0.95], axis=1)
        want = np.quantile(values, [0.05, 0.95], axis=1)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.isnan(got[:, 0]).all() and got[0, 1] == pytest.approx(-1 + 3 * 0.15)  # a NaN in the slice: NaN; else interpolated
