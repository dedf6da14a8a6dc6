"""bl.expected_regret and bl.next_pilots against cases worked out by hand (docs/pilot-design.md)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import budgetlaw as bl
from budgetlaw.design import best_sizes
from budgetlaw.fitting.laws import FittedLaw, LawSet
from budgetlaw.law import PowerLaw


# -- the exact re-planner and the regret ------------------------------------------------------
def test_best_sizes_equal_exponents_split_by_root_of_K():
    # c = 1: w c K x^-2 = lam  =>  x_i proportional to sqrt(K_i); K = (1, 4), budget 30 -> (10, 20)
    x = best_sizes(np.array([1.0, 4.0]), np.array([1.0, 1.0]), np.ones(2), np.ones(2), np.full(2, 1e-6),
                   np.full(2, np.inf), 30.0)
    assert x == pytest.approx([10.0, 20.0], rel=1e-12)
    # a cap of 5 on the second language: it takes 5, the first the other 25
    x = best_sizes(np.array([[1.0, 4.0]]), np.array([[1.0, 1.0]]), np.ones(2), np.ones(2), np.full(2, 1e-6),
                   np.array([np.inf, 5.0]), 30.0)
    assert x[0] == pytest.approx([25.0, 5.0], rel=1e-12)


def _law(language, K, c, draws):
    law = PowerLaw.from_identifiable(K, c, ceiling=100.0)
    return FittedLaw(language=language, law=law, x=np.array([1.0, 2.0, 4.0]), y=law.predict(np.array([1.0, 2.0, 4.0])),
                     draws=np.array([[k, c, 100.0] for k in draws]))


def test_expected_regret_two_draws_by_hand():
    # point laws K = (1, 4), c = 1: plan (10, 20). Draw 1 = the point (regret 0); draw 2 K = (4, 1):
    # best (20, 10), regret = 4*(1/10 - 1/20) + 1*(1/20 - 1/10) = 0.15. Mean 0.075, quantiles 0 and 0.15.
    # uniform (15, 15) loses 1/30 to each draw's best: optimum_gain 1/30, share 0.075 * 30 = 2.25;
    # the plan gains 1*(1/15 - 1/10) + 4*(1/15 - 1/20) = 1/30 over uniform under the point laws.
    laws = LawSet({"a": _law("a", 1.0, 1.0, [1.0, 4.0]), "b": _law("b", 4.0, 1.0, [4.0, 1.0])})
    plan = bl.allocate(laws, 30.0)
    assert plan.sizes.to_numpy() == pytest.approx([10.0, 20.0], rel=1e-9)
    r = bl.expected_regret(laws, plan, level=0.5)
    assert r.expected == pytest.approx(0.075, rel=1e-6)
    assert r.optimum_gain == pytest.approx(1 / 30, rel=1e-6)
    assert r.share == pytest.approx(2.25, rel=1e-6)
    assert r.plan_gain == pytest.approx(1 / 30, rel=1e-6)
    assert (r.lower, r.upper) == pytest.approx((0.0375, 0.1125), abs=1e-6)  # numpy's linear quantiles of (0, 0.15)
    assert r.draws == 2
    assert type(r).from_dict(r.to_dict()) == r


def test_expected_regret_refuses_maxmin_and_lawless_plans():
    laws = LawSet({"a": _law("a", 1.0, 1.0, [1.0, 4.0]), "b": _law("b", 4.0, 1.0, [4.0, 1.0])})
    with pytest.raises(bl.InputError, match="objective 'maxmin' is not separable|not separable"):
        bl.expected_regret(laws, bl.allocate(laws, 30.0, objective="maxmin"))


# -- next_pilots ------------------------------------------------------------------------------
SIZES = (1000, 2000, 4000, 8000)


def _pilots(spec, seeds=1, seed=0):
    """spec: language -> (a, c, noise sd); score = 100 - a * (x / 1000) ** -c + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for lang, (a, c, sd) in spec.items():
        for size in SIZES:
            for s in range(seeds):
                rows.append((lang, size, 100 - a * (size / 1000) ** -c + rng.normal(0, sd), s))
    return pd.DataFrame(rows, columns=["language", "size", "score", "seed"])


def test_a_language_at_its_cap_in_every_draw_gets_no_pilots():
    # "a" is steep and capped at 2000 pairs: at 60k pairs for three languages its marginal value at the
    # cap is far above the others' in every draw, so the plan puts it at its cap whatever its law says,
    # and no pilot of "a" can change the plan: its cut is 0 up to roundoff. "b" and "c" are uncapped and
    # noisy, so their pilots move the split between them.
    pilots = _pilots({"a": (60.0, 0.5, 1.0), "b": (30.0, 0.15, 0.8), "c": (25.0, 0.3, 0.8)}, seeds=2)
    available = {"a": 2000}
    laws = bl.fit(pilots, n_boot=100)
    Kd = np.stack([laws[k].draws[:, 0] for k in "abc"], 1)
    cd = np.stack([laws[k].draws[:, 1] for k in "abc"], 1)
    best = best_sizes(Kd, cd, np.ones(3), np.ones(3), np.full(3, 1e-3), np.array([2000, np.inf, np.inf]), 60000.0)
    assert np.allclose(best[:, 0], 2000)  # the premise: "a" sits at its cap in every draw
    table = bl.next_pilots(pilots, budget=60000, available=available, n=None, stop_at=0.0)
    a_rows = table[table["language"] == "a"]
    others = table[table["language"] != "a"]
    assert len(a_rows) and len(others)
    assert others["cut"].max() > 0
    assert a_rows["cut"].abs().max() <= 1e-9 * others["cut"].max()
    assert not a_rows["worth_it"].any()
    assert table.iloc[0]["language"] != "a"


def test_the_uncertain_language_gets_the_pilots_and_the_pinned_one_does_not():
    # "b" has a seed sd of 2 COMET points at four sizes (its exponent is barely known), "c" 0.02 points
    # with three seeds at each size (its law is pinned): each pilot of "b" cuts the regret more than
    # any pilot of "c", and by more per unit of cost.
    pilots = pd.concat([_pilots({"b": (30.0, 0.15, 2.0)}, seeds=3, seed=1), _pilots({"c": (25.0, 0.3, 0.02)}, seeds=3, seed=2)],
                       ignore_index=True)
    table = bl.next_pilots(pilots, budget=60000, n=None, stop_at=0.0)
    b, c = table[table["language"] == "b"], table[table["language"] == "c"]
    assert table.iloc[0]["language"] == "b"
    assert b["cut"].max() > 10 * max(c["cut"].max(), 0.0)
    assert b["value_per_cost"].max() > 10 * max(c["value_per_cost"].max(), 0.0)


def test_all_candidates_too_costly_stop_and_cheap_ones_run():
    pilots = pd.concat([_pilots({"b": (30.0, 0.15, 2.0)}, seeds=2, seed=1), _pilots({"c": (25.0, 0.3, 0.5)}, seeds=2, seed=2)],
                       ignore_index=True)
    # price 1e-6 regret per unit of cost; a run costs 1e9: every pilot would have to cut the regret by
    # more than 1000 points, more than the whole gap to the ceiling -> stop
    costly = bl.next_pilots(pilots, budget=60000, cost={"pair": 1, "run": 1e9}, price=1e-6, stop_at=0.0)
    assert costly.attrs["stop"] is True
    assert costly.attrs["verdict"].startswith("stop: no pilot is worth its cost; the plan's expected regret is")
    assert not costly["worth_it"].any()
    cheap = bl.next_pilots(pilots, budget=60000, cost={"pair": 1, "run": 1}, price=0.0, stop_at=0.0)
    assert cheap.attrs["stop"] is False
    assert cheap.attrs["verdict"].startswith("run these next: b at")
    # the regret below the stop threshold: stop, whatever the pilots cost
    calm = bl.next_pilots(pilots, budget=60000, stop_at=1e6)
    assert calm.attrs["stop"] is True and "at most the stop threshold" in calm.attrs["verdict"]


def test_the_table_has_the_documented_columns_best_first():
    pilots = _pilots({"b": (30.0, 0.15, 1.0), "c": (25.0, 0.3, 1.0)}, seeds=2)
    table = bl.next_pilots(pilots, budget=60000, n=3, cost={"pair": 1, "run": 500})
    assert list(table.columns) == ["language", "size", "kind", "cost", "regret_now", "regret_after", "cut",
                                   "value_per_cost", "worth_it"]
    assert len(table) == 3
    assert list(table["value_per_cost"]) == sorted(table["value_per_cost"], reverse=True)
    assert np.allclose(table["cost"], table["size"] + 500)
    assert np.allclose(table["regret_after"], np.maximum(table["regret_now"] - table["cut"], 0))


def test_refusals_are_one_line_input_errors():
    pilots = _pilots({"b": (30.0, 0.15, 1.0), "c": (25.0, 0.3, 1.0)}, seeds=2)
    cases = [
        (dict(candidates=[("xx", 200)]), "language 'xx' has no pilots"),
        (dict(candidates=[("b", 0)]), "size 0 for b must be a finite number of pairs > 0"),
        (dict(candidates=[("b", -5)]), "must be a finite number of pairs > 0"),
        (dict(candidates=[("b", 2000)], pilot_budget=100), "below one pilot's cost"),
        (dict(cost={"pairs": 1}), "key 'pairs' is unknown"),
    ]
    for kwargs, message in cases:
        with pytest.raises(bl.InputError, match=message) as info:
            bl.next_pilots(pilots, budget=60000, **kwargs)
        assert "\n" not in str(info.value)


def test_cli_next_prints_the_verdict_and_refuses_in_one_line(tmp_path):
    path = tmp_path / "pilots.csv"
    _pilots({"b": (30.0, 0.15, 1.0), "c": (25.0, 0.3, 1.0)}, seeds=2).to_csv(path, index=False)
    ok = subprocess.run([sys.executable, "-m", "budgetlaw", "next", str(path), "--budget", "60k", "-n", "2"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "value/cost" in ok.stdout and ("stop:" in ok.stdout or "run these next:" in ok.stdout)
    bad = subprocess.run([sys.executable, "-m", "budgetlaw", "next", str(path), "--budget", "60k",
                          "--candidates", "b:0"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "b must be a finite number of pairs > 0" in bad.stderr
