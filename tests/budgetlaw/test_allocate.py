"""allocate / sweep: exact path vs cvxpy, hand-solved cases, constraints, errors."""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.optimize import brentq

from budgetlaw.allocation import allocate, sweep
from budgetlaw.allocation.baselines import proportional, temperature, uniform, unimax
from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw


@dataclass(frozen=True)
class DrawLaw:
    """A test stand-in for FittedLaw: a point law plus bootstrap draws (K, c, ceiling)."""

    K: float
    c: float
    ceiling: float
    draws: np.ndarray

    def interval(self, x, level=0.9):
        curves = self.draws[:, 2][:, None] - self.draws[:, 0][:, None] * np.asarray(x)[None] ** (-self.draws[:, 1][:, None])
        return tuple(np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0))


def law(K, c, ceiling=100.0):
    return PowerLaw.from_identifiable(K, c, ceiling=ceiling)


# The hand-solved pair from test_exact: optimum (8, 16) at budget 24, multiplier 1/64.
HAND = {"a": law(1.0, 1.0), "b": law(2.0, 0.5)}


def value(laws, sizes, weights=None):
    return sum((weights or {}).get(k, 1.0) * laws[k].predict(sizes[k]) for k in laws)


def random_problem(rng, n):
    langs = [f"l{i}" for i in range(n)]
    laws = {k: law(rng.uniform(10, 1000), rng.uniform(0.1, 1.0), rng.uniform(80, 100)) for k in langs}
    budget = float(rng.uniform(1e3, 1e6))
    cost = {k: float(rng.uniform(0.5, 3)) for k in langs}
    weights = {k: float(rng.uniform(0.2, 3)) for k in langs}
    available = {k: float(rng.uniform(0.02, 0.4) * budget) for k in langs if rng.random() < 0.4}
    floor = {k: float(rng.uniform(0.001, 0.05) * budget / n / cost[k]) for k in langs if rng.random() < 0.4}
    floor = {k: min(f, available.get(k, np.inf) / 2) for k, f in floor.items()}
    return laws, budget, dict(available=available or None, max_epochs=2, floor=floor or None, cost=cost, weights=weights)


def test_hand_solved_pair_both_solvers():
    for solver in ("exact", "cvxpy"):
        plan = allocate(HAND, 24.0, solver=solver)
        np.testing.assert_allclose(plan.sizes[["a", "b"]], [8.0, 16.0], rtol=1e-5)
        assert plan.marginal_value == pytest.approx(1 / 64, rel=1e-4)
        assert plan.objective_value == pytest.approx(value(HAND, {"a": 8.0, "b": 16.0}), rel=1e-9)
        assert plan.unused_budget == 0.0
    assert allocate(HAND, 24.0).solver["method"] == "exact"


def test_exact_agrees_with_cvxpy_on_random_problems():
    rng = np.random.default_rng(11)
    for _ in range(25):
        laws, budget, kw = random_problem(rng, int(rng.integers(2, 9)))
        fast = allocate(laws, budget, **kw)
        slow = allocate(laws, budget, solver="cvxpy", **kw)
        assert slow.solver["method"] == "cvxpy"
        gap = (fast.objective_value - slow.objective_value) / abs(fast.objective_value)
        assert -1e-6 <= gap <= 1e-6
        for plan in (fast, slow):
            frame = plan.to_frame()
            assert (frame["size"] >= frame["floor"] * (1 - 1e-12)).all()
            assert (frame["size"] <= frame["cap"].fillna(np.inf) * (1 + 1e-12)).all()
            assert plan.used_budget <= budget * (1 + 1e-7)
        if fast.marginal_value > 0:
            assert slow.marginal_value == pytest.approx(fast.marginal_value, rel=1e-3)


def test_robust_exact_agrees_with_cvxpy():
    rng = np.random.default_rng(5)
    for _ in range(4):
        n, D = 4, 12
        laws = {}
        for i in range(n):
            K, c = rng.uniform(20, 500), rng.uniform(0.2, 0.8)
            draws = np.column_stack([K * np.exp(rng.normal(0, 0.3, D)), c + rng.normal(0, 0.05, D), np.full(D, 100.0)])
            laws[f"l{i}"] = DrawLaw(K, c, 100.0, draws)
        fast = allocate(laws, 5e4, objective="robust", available={"l0": 2e3})
        slow = allocate(laws, 5e4, objective="robust", available={"l0": 2e3}, solver="cvxpy")
        assert fast.objective_value == pytest.approx(slow.objective_value, rel=1e-6)
        # The robust objective is the mean over draws of the plan's total score, computed here directly.
        direct = np.mean([sum(d[j, 2] - d[j, 0] * fast.sizes[k] ** -d[j, 1] for k, d in ((k, l.draws) for k, l in laws.items()))
                          for j in range(D)])
        assert fast.objective_value == pytest.approx(direct, rel=1e-12)


def test_maxmin_equalises_uncapped_scores():
    laws = {"a": law(300, 0.3), "b": law(100, 0.5), "c": law(50, 0.7), "d": law(400, 0.4)}
    B = 2e4
    plan = allocate(laws, B, objective="maxmin", available={"d": 1e5})  # the cap does not bind
    scores = plan.predicted["score"]
    # Independent: equal scores t need x_i = (K_i/(100-t))**(1/c_i); solve sum_i x_i = B for t.
    def spend(t):
        return sum((laws[k].K / (100 - t)) ** (1 / laws[k].c) for k in laws) - B

    t = brentq(spend, 0, 99.999, xtol=1e-12)
    np.testing.assert_allclose(scores, t, atol=1e-5)
    assert plan.objective_value == pytest.approx(scores.min(), rel=1e-12)
    assert plan.used_budget == pytest.approx(B, rel=1e-7)


def test_maxmin_exact_agrees_with_cvxpy():
    rng = np.random.default_rng(8)
    for _ in range(10):
        laws, budget, kw = random_problem(rng, int(rng.integers(2, 7)))
        kw.pop("weights")
        fast = allocate(laws, budget, objective="maxmin", **kw)
        slow = allocate(laws, budget, objective="maxmin", solver="cvxpy", **kw)
        assert fast.solver["method"] == "exact" and slow.solver["method"] == "cvxpy"
        assert fast.objective_value == pytest.approx(slow.objective_value, rel=1e-6)
        # (The totals may differ: cvxpy's tie-break relaxes the worst score by 1e-7, which a very
        # flat language can turn into a visible gain; the exact path keeps the worst score exact.)
        if fast.marginal_value > 0:
            assert slow.marginal_value == pytest.approx(fast.marginal_value, rel=1e-3)


def test_maxmin_with_the_worst_language_capped_spends_the_rest_on_the_sum():
    laws = {"a": law(300, 0.3), "b": law(100, 0.5), "c": law(50, 0.7), "d": law(400, 0.4)}
    B = 2e4
    plan = allocate(laws, B, objective="maxmin", available={"d": 100.0})
    assert plan.sizes["d"] == pytest.approx(100.0, rel=1e-6)  # d is hopeless: it takes its cap
    assert plan.objective_value == pytest.approx(laws["d"].predict(100.0), rel=1e-7)
    # The others split B - 100 as the plain sum would (KKT: c*K*x**(-c-1) = lam), all above d.
    rest = ["a", "b", "c"]

    def spend(loglam):
        return sum((laws[k].c * laws[k].K / np.exp(loglam)) ** (1 / (laws[k].c + 1)) for k in rest) - (B - 100)

    lam = np.exp(brentq(spend, -60, 20, xtol=1e-13))
    expect = [(laws[k].c * laws[k].K / lam) ** (1 / (laws[k].c + 1)) for k in rest]
    np.testing.assert_allclose(plan.sizes[rest], expect, rtol=1e-4)
    assert (plan.predicted["score"][rest] > plan.objective_value).all()


def test_budget_beyond_caps_uses_every_cap_and_reports_unused():
    caps = {"a": 5.0, "b": 7.0}
    for solver in ("exact", "cvxpy"):
        plan = allocate(HAND, 100.0, available=caps, max_epochs=2, solver=solver)
        np.testing.assert_allclose(plan.sizes[["a", "b"]], [10.0, 14.0], rtol=1e-6)
        assert plan.unused_budget == pytest.approx(76.0, rel=1e-6)
        assert plan.marginal_value == pytest.approx(0.0, abs=1e-7)
        assert plan.to_frame()["at_cap"].all()


def test_extra_constraint_by_hand():
    # x_a >= x_b cuts off the optimum (8, 16); on the line x_a = x_b with budget 24 -> (12, 12).
    seen = {}

    def equal_or_more(x):
        seen.update(x)
        return x["a"] >= x["b"]

    plan = allocate(HAND, 24.0, constraints=[equal_or_more])
    assert set(seen) == {"a", "b"}
    assert plan.solver["method"] == "cvxpy"
    np.testing.assert_allclose(plan.sizes[["a", "b"]], [12.0, 12.0], rtol=1e-6)
    assert plan.constraints["extra"] == 1
    assert plan.objective_value < allocate(HAND, 24.0).objective_value


def test_costs_and_floors_respected():
    laws = {"a": law(100, 0.5), "b": law(100, 0.5), "c": law(100, 0.5)}
    plan = allocate(laws, 1000.0, cost={"a": 4.0}, floor={"c": 600.0})
    assert plan.sizes["c"] == pytest.approx(600.0, rel=1e-12)
    # a and b share 400 of budget; KKT with equal laws: x_a = x_b*(1/4)**(2/3), 4*x_a + x_b = 400.
    xb = 400 / (1 + 4 * 0.25 ** (2 / 3))
    np.testing.assert_allclose(plan.sizes[["a", "b"]], [xb * 0.25 ** (2 / 3), xb], rtol=1e-10)
    assert plan.used_budget == pytest.approx(1000.0, rel=1e-12)


def test_marginal_value_is_the_slope_of_the_frontier():
    laws = {"a": law(300, 0.3), "b": law(100, 0.5), "c": law(50, 0.7)}
    B, h = 1e4, 1.0
    up, down = allocate(laws, B + h).objective_value, allocate(laws, B - h).objective_value
    assert allocate(laws, B).marginal_value == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_optimised_beats_every_baseline_on_its_objective():
    rng = np.random.default_rng(2)
    langs = list("abcdef")
    laws = {k: law(rng.uniform(50, 500), rng.uniform(0.2, 0.8)) for k in langs}
    available = {k: float(rng.uniform(2e3, 5e5)) for k in langs}
    kw = dict(available=available, max_epochs=2)
    best = allocate(laws, 3e5, **kw)
    for base in (uniform(laws, 3e5, **kw), proportional(laws, 3e5, **kw), temperature(laws, 3e5, **kw), unimax(laws, 3e5, **kw)):
        assert best.objective_value >= base.objective_value - 1e-9
        assert base.objective_value == pytest.approx(value(laws, base.sizes.to_dict()), rel=1e-12)


def test_intervals_from_draws_and_nan_without():
    draws = np.array([[90.0, 0.5, 100], [100.0, 0.5, 100], [110.0, 0.5, 100], [120.0, 0.55, 99]])
    laws = {"a": DrawLaw(100.0, 0.5, 100.0, draws), "b": DrawLaw(50.0, 0.4, 100.0, draws * [0.5, 0.8, 1])}
    plan = allocate(laws, 1e4, level=0.5)
    for k in laws:
        lo, hi = laws[k].interval(np.array([plan.sizes[k]]), level=0.5)
        assert plan.predicted.loc[k, "lower"] == pytest.approx(lo[0])
        assert plan.predicted.loc[k, "upper"] == pytest.approx(hi[0])
    assert allocate(HAND, 24.0).predicted[["lower", "upper"]].isna().all().all()


def test_sweep_matches_allocate_and_is_long_form():
    laws = {"a": law(300, 0.3), "b": law(100, 0.5), "c": law(50, 0.7)}
    budgets = np.geomspace(1e2, 1e6, 9)
    table = sweep(laws, budgets, available={"c": 500.0})
    assert list(table.columns) == ["budget", "language", "size", "score", "objective_value", "marginal_value"]
    assert len(table) == 27
    for B, part in table.groupby("budget"):
        plan = allocate(laws, B, available={"c": 500.0})
        np.testing.assert_allclose(part.set_index("language")["size"], plan.sizes[part["language"]], rtol=1e-12)
        assert part["objective_value"].iloc[0] == pytest.approx(plan.objective_value, rel=1e-12)
        assert part["marginal_value"].iloc[0] == pytest.approx(plan.marginal_value, rel=1e-12)
    # The frontier is increasing and concave in the budget.
    values = table.groupby("budget")["objective_value"].first().to_numpy()
    assert np.all(np.diff(values) > 0)
    slopes = table.groupby("budget")["marginal_value"].first().to_numpy()
    assert np.all(np.diff(slopes) <= 0)


def test_budget_as_text_and_robust_sweep_in_chunks(monkeypatch):
    import budgetlaw.allocation.optimise as module

    assert allocate(HAND, "24").sizes.sum() == pytest.approx(24.0, rel=1e-12)
    rng = np.random.default_rng(9)
    D = 40  # 2 languages x 40 draws with chunks of 2000 elements: 25 budgets per chunk, 3 chunks
    monkeypatch.setattr(module, "ROBUST_CHUNK", 2000)
    laws = {k: DrawLaw(100.0, 0.5, 100.0, np.column_stack([rng.uniform(50, 150, D), np.full(D, 0.5), np.full(D, 100.0)]))
            for k in ("a", "b")}
    budgets = np.geomspace(10, 1e5, 60)
    table = sweep(laws, budgets, objective="robust")
    # Shared exponent: robust = plain with K = mean of the draws, closed form x_a/x_b = (Ka/Kb)**(2/3).
    ratio = (laws["a"].draws[:, 0].mean() / laws["b"].draws[:, 0].mean()) ** (2 / 3)
    sizes = table.pivot(index="budget", columns="language", values="size")
    np.testing.assert_allclose(sizes["a"] / sizes["b"], ratio, rtol=1e-10)
    np.testing.assert_allclose(sizes.sum(axis=1), budgets, rtol=1e-12)


@pytest.mark.parametrize("objective", ["sum", "maxmin"])
@pytest.mark.parametrize("route", [dict(solver="cvxpy"), dict(constraints=[lambda x: x["a"] >= 1.0])],
                         ids=["solver=cvxpy", "extra constraint"])
def test_sweep_cvxpy_path_solves_every_budget_with_cvxpy_and_matches_the_exact_path(monkeypatch, objective, route):
    import budgetlaw.allocation.optimise as module

    solved = []
    real = module.solve_cvxpy

    def counting(problem, objective, extras):
        solved.append(float(problem.budget[0]))
        return real(problem, objective, extras)

    monkeypatch.setattr(module, "solve_cvxpy", counting)
    budgets = [24.0, 48.0]
    table = sweep(HAND, budgets, objective=objective, **route)
    assert solved == budgets  # one cvxpy solve per budget: the loop, not the exact pass
    exact = sweep(HAND, budgets, objective=objective, solver="exact")
    assert solved == budgets  # the exact path never calls cvxpy
    assert table[["budget", "language"]].equals(exact[["budget", "language"]])
    # the constraint x_a >= 1 does not bind (x_a >= 2.3 here), so both paths solve one program
    np.testing.assert_allclose(table["objective_value"], exact["objective_value"], rtol=1e-6)
    np.testing.assert_allclose(table.groupby("budget")["size"].sum(), budgets, rtol=1e-6)
    # cvxpy's maxmin tie-break relaxes the worst score by 1e-7 relative, which moves the sizes of
    # this steep pair by ~1e-3; "sum" has no tie-break
    np.testing.assert_allclose(table["size"], exact["size"], rtol=1e-4 if objective == "sum" else 5e-3)
    if objective == "sum":
        np.testing.assert_allclose(table["score"], exact["score"], rtol=1e-7)  # hand-solved: (8, 16) at budget 24 with multiplier 1/64
        at24 = table[table["budget"] == 24.0].set_index("language")
        np.testing.assert_allclose(at24.loc[["a", "b"], "size"], [8.0, 16.0], rtol=1e-5)
        np.testing.assert_allclose(table["marginal_value"], exact["marginal_value"], rtol=1e-4)
        assert at24["marginal_value"].iloc[0] == pytest.approx(1 / 64, rel=1e-4)


def test_sweep_takes_the_keywords_of_allocate_only():
    with pytest.raises(TypeError, match="budget_share"):
        sweep(HAND, [24.0], budget_share=0.5)
    with pytest.raises(InputError, match="level"):
        sweep(HAND, [24.0], level=1.5)


def test_a_cvxpy_failure_is_a_solver_error_not_an_input_error(monkeypatch):
    import cvxpy as cp

    from budgetlaw.errors import BudgetlawError, SolverError

    def broken(self, *args, **kwargs):
        raise cp.error.SolverError("simulated breakdown")

    monkeypatch.setattr(cp.Problem, "solve", broken)
    with pytest.raises(SolverError, match="could not solve the allocation") as err:
        allocate(HAND, 24.0, solver="cvxpy")
    assert isinstance(err.value, BudgetlawError) and not isinstance(err.value, InputError)
    assert allocate(HAND, 24.0).solver["method"] == "exact"  # the exact path needs no cvxpy


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(available={"xx": 10}), "xx"),
        (dict(floor={"zz": 1}), "zz"),
        (dict(cost={"yy": 1}), "yy"),
        (dict(weights={"ww": 1}), "ww"),
        (dict(available={"a": 1.0}, floor={"a": 2.0}), "floor[a]"),
        (dict(floor={"a": 20.0, "b": 10.0}), "30"),
        (dict(budget=0.0), "budget"),
        (dict(budget=-5.0), "budget"),
        (dict(budget="lots"), "budget"),
        (dict(objective="median"), "median"),
        (dict(solver="gurobi"), "gurobi"),
        (dict(objective="robust"), "draws"),
        (dict(solver="exact", constraints=[lambda x: x["a"] >= 1]), "exact"),
        (dict(constraints=[lambda x: [x["a"] >= 30]]), "infeasible"),
        (dict(constraints=["a>=1"]), "constraints[0]"),
        (dict(constraints=[lambda x: 3]), "constraints[0]"),
        (dict(cost={"a": 0}), "cost[a]"),
        (dict(weights={"a": 0, "b": 0}), "weight"),
        (dict(objective="maxmin", weights={"a": 2.0}), "maxmin"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(level=1.5), "level"),
    ],
)
def test_errors(kwargs, needle):
    kwargs = dict(kwargs)
    budget = kwargs.pop("budget", 24.0)
    with pytest.raises(InputError) as err:
        allocate(HAND, budget, **kwargs)
    assert needle in str(err.value)


def test_floor_error_names_both_numbers():
    with pytest.raises(InputError, match=r"floors alone cost 30 but the budget is 24"):
        allocate(HAND, 24.0, floor={"a": 20.0, "b": 10.0})


def test_bad_laws():
    with pytest.raises(InputError, match="laws"):
        allocate({}, 10.0)
    with pytest.raises(InputError, match=r"laws\[a\]"):
        allocate({"a": object()}, 10.0)


def test_accepts_a_fitted_lawset():
    from budgetlaw.fitting import fit
    from budgetlaw.synthetic import demo_pilots_path

    laws = fit(demo_pilots_path(), n_boot=30, seed=1)
    plan = allocate(laws, 1e6)
    assert set(plan.sizes.index) == set(laws)
    assert plan.predicted[["lower", "upper"]].notna().all().all()
    assert (plan.predicted["lower"] <= plan.predicted["upper"]).all()
    robust = allocate(laws, 1e6, objective="robust")
    assert robust.used_budget == pytest.approx(1e6, rel=1e-9)


def test_unknown_language_in_a_limit_is_named_briefly():
    """A limit for languages without a law names the first few, not the whole list of laws."""
    laws = {f"l{i}": PowerLaw(a=10, b=0.01, c=0.2) for i in range(20)}
    with pytest.raises(InputError) as err:
        allocate(laws, 1000, available={"l1": 100, **{f"x{i}": 5 for i in range(7)}})
    msg = str(err.value)
    assert "x0, x1, x2, x3, x4 and 2 more" in msg and "(20 in all)" in msg and "l19" not in msg


def test_level_is_checked_in_one_place_with_one_message():
    from budgetlaw.bands import check_level

    for bad in (0, 1, 1.5, -0.1, "x", None, float("nan")):
        with pytest.raises(InputError, match=r"^who: level is .*; give the interval coverage as a number in \(0, 1\)"):
            check_level(bad, "who")
    assert check_level("0.8", "who") == 0.8
    for call, who in [(lambda: allocate(HAND, 24.0, level=1.0), "allocate"),
                      (lambda: uniform(HAND, 24.0, level=1.0), "uniform"),
                      (lambda: sweep(HAND, [24.0], level=1.0), "sweep")]:
        with pytest.raises(InputError, match=f"^{who}: level is 1.0"):
            call()
