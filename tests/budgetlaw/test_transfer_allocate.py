"""Planning on a transfer-aware law: the cvxpy optimum against an independent scipy search, the
T = 0 law planned exactly as today, repetition, every objective, baselines judged under T."""

import numpy as np
import pytest
from scipy.optimize import minimize

import budgetlaw as bl
from budgetlaw.allocation.problem import prepare
from budgetlaw.allocation.transfer import solve_transfer
from budgetlaw.errors import InputError
from budgetlaw.fitting import FittedLaw, LawSet
from budgetlaw.law import PowerLaw
from budgetlaw.transfer.law import Transfer

LANGS = ["ar", "el", "hi"]
K, C, E = np.array([3.0, 2.0, 4.0]), np.array([0.5, 0.4, 0.6]), np.array([1.5, 1.2, 1.0])
TAU = np.array([0.2, 0.1, 0.3])


def make_laws(transfer=None, draws=0):
    rng = np.random.default_rng(7)
    laws = {}
    for k, lang in enumerate(LANGS):
        d = (np.column_stack([K[k] * np.exp(0.1 * rng.normal(size=draws)), np.full(draws, C[k]), np.full(draws, E[k])])
             if draws else np.empty((0, 3)))
        law = PowerLaw.from_identifiable(K[k], C[k], ceiling=E[k], lower_is_better=True)
        laws[lang] = FittedLaw(lang, law, np.array([25.0, 50, 100]), law.predict(np.array([25.0, 50, 100])), d)
    return LawSet(laws, metric="nll", transfer=transfer)


def losses(x, tau=TAU, U=None, rstar=5.0, Kx=K):
    """Every language's loss, written out independently: pooled transfer, data-constrained repeats."""
    x = np.asarray(x, dtype=float)
    e = x.copy()
    if U is not None:
        for i in range(3):
            if x[i] > U[i]:
                e[i] = U[i] + U[i] * rstar * (1 - np.exp(-(x[i] / U[i] - 1) / rstar))
    d = e + tau * (e.sum() - e)
    return E + Kx * d ** (-C)


def search(objective, budget, lo, hi):
    """Best sizes under sum x = budget, lo <= x <= hi: SLSQP from many starts (scipy, no cvxpy)."""
    best = None
    rng = np.random.default_rng(0)
    for _ in range(30):
        start = rng.dirichlet(np.ones(3)) * budget
        res = minimize(objective, np.clip(start, lo, hi), method="SLSQP", bounds=list(zip(lo, hi)),
                       constraints=[{"type": "eq", "fun": lambda x: x.sum() - budget}],
                       options={"ftol": 1e-14, "maxiter": 500})
        if res.success and (best is None or res.fun < best.fun):
            best = res
    return best


def test_sum_optimum_matches_an_independent_search():
    laws = make_laws(Transfer("pooled", LANGS, TAU))
    plan = bl.allocate(laws, 900)
    assert plan.solver["method"] == "cvxpy (transfer law)"
    ref = search(lambda x: losses(x).sum(), 900, np.full(3, 1e-3), np.full(3, 900.0))
    assert plan.objective_value == pytest.approx(ref.fun, abs=1e-7)
    np.testing.assert_allclose(plan.sizes.to_numpy(), ref.x, atol=0.5)
    np.testing.assert_allclose(plan.predicted["score"].to_numpy(), losses(plan.sizes.to_numpy()), rtol=1e-12)
    assert plan.used_budget == pytest.approx(900, rel=1e-6)


def test_repeats_pay_where_caps_allow_them():
    laws = make_laws(Transfer("pooled", LANGS, TAU, rstar=5.0))
    U = np.array([100.0, 1000.0, 60.0])
    avail = dict(zip(LANGS, U))
    plan = bl.allocate(laws, 900, available=avail, max_epochs=4)
    ref = search(lambda x: losses(x, U=U).sum(), 900, np.full(3, 1e-3), U * 4)
    assert plan.objective_value == pytest.approx(ref.fun, abs=1e-7)
    np.testing.assert_allclose(plan.sizes.to_numpy(), ref.x, atol=0.5)
    assert plan.sizes["hi"] > 60  # hi repeats its 60 pairs: worth it under R* = 5
    one_epoch = bl.allocate(laws, 900, available=avail, max_epochs=1)
    assert one_epoch.sizes["hi"] == pytest.approx(60, rel=1e-6)


def test_maxmin_and_extra_constraints():
    laws = make_laws(Transfer("pooled", LANGS, TAU))
    plan = bl.allocate(laws, 900, objective="maxmin")
    ref = search(lambda x: losses(x).max(), 900, np.full(3, 1e-3), np.full(3, 900.0))
    assert plan.objective_value == pytest.approx(ref.fun, abs=1e-5)
    tied = bl.allocate(laws, 900, constraints=lambda x: x["el"] >= 2 * x["ar"])
    assert tied.sizes["el"] >= 2 * tied.sizes["ar"] * (1 - 1e-6)
    with pytest.raises(InputError, match="solver 'exact' solves laws without transfer"):
        bl.allocate(laws, 900, solver="exact")


def test_robust_is_the_mean_over_draws_of_laws_and_transfer():
    rng = np.random.default_rng(2)
    tdraws = np.column_stack([rng.uniform(0.05, 0.35, size=(30, 3)), np.full(30, 5.0)])
    laws = make_laws(Transfer("pooled", LANGS, TAU, draws=tdraws), draws=30)
    Kd = np.stack([laws[lang].draws[:, 0] for lang in LANGS], axis=1)
    plan = bl.allocate(laws, 900, objective="robust")

    def mean_loss(x):
        return np.mean([losses(x, tau=tdraws[d, :3], Kx=Kd[d]).sum() for d in range(30)])

    ref = search(mean_loss, 900, np.full(3, 1e-3), np.full(3, 900.0))
    assert plan.objective_value == pytest.approx(ref.fun, abs=1e-6)
    np.testing.assert_allclose(plan.sizes.to_numpy(), ref.x, atol=1.0)


def test_zero_transfer_plans_as_today():
    plain = make_laws(draws=20)
    zero = make_laws(Transfer("none", LANGS, []), draws=20)
    today, again = bl.allocate(plain, 900), bl.allocate(zero, 900)
    assert today.solver["method"] == again.solver["method"] == "exact"
    assert today.sizes.tolist() == again.sizes.tolist()
    assert today.predicted.equals(again.predicted)
    # the transfer program itself, with T = 0, finds the same optimum as the exact path
    problem = prepare(make_laws(Transfer("pooled", LANGS, [0.0, 0.0, 0.0])), 900)
    x, lam, _ = solve_transfer(problem, "sum", [])
    np.testing.assert_allclose(x, today.sizes.to_numpy(), rtol=1e-4)  # the objective is flat at the optimum
    assert (E + K * x ** -C).sum() == pytest.approx(today.objective_value, rel=1e-10)
    assert lam == pytest.approx(today.marginal_value, rel=1e-4)


def test_baselines_and_sweep_are_judged_under_the_transfer_law():
    laws = make_laws(Transfer("pooled", LANGS, TAU))
    uniform = bl.baselines.uniform(laws, 900)
    np.testing.assert_allclose(uniform.predicted["score"].to_numpy(), losses([300, 300, 300]), rtol=1e-12)
    assert uniform.objective_value == pytest.approx(losses([300, 300, 300]).sum(), rel=1e-12)
    plan = bl.allocate(laws, 900)
    assert plan.objective_value <= uniform.objective_value
    frontier = bl.sweep(laws, [450, 900])
    at900 = frontier[frontier["budget"] == 900]["score"].to_numpy()
    np.testing.assert_allclose(at900, plan.predicted["score"].to_numpy(), rtol=1e-6)


def test_a_law_never_scored_on_a_language_is_refused():
    with pytest.raises(InputError, match="never scored"):
        LawSet(make_laws(), transfer=Transfer("pooled", ["ar", "el", "tr"], TAU))


def test_objective_per_draw_takes_one_row_of_sizes_per_draw():
    from budgetlaw.allocation.problem import objective_at

    draws = [np.array([[2.0, 0.5, -1.0], [3.0, 0.5, -1.0]]), np.array([[1.0, 1.0, -2.0], [1.0, 1.0, -2.0]])]
    x = np.array([[4.0, 2.0], [16.0, 1.0]])  # draw 0 at (4, 2), draw 1 at (16, 1)
    got = objective_at("sum", x, K=None, c=None, ceiling=None, weights=np.ones(2), sign=-1.0, draws=draws,
                       per_draw=True)
    # draw 0: -(-1 - 2/2) - (-2 - 1/2) = 2 + 2.5; draw 1: -(-1 - 3/4) - (-2 - 1) = 1.75 + 3
    assert got.tolist() == pytest.approx([4.5, 4.75])


def test_cli_fit_allocate_report_on_a_transfer_law(tmp_path):
    import json

    from budgetlaw.cli import main

    rows = []
    for i, lang in enumerate(LANGS):
        for x in (25, 50, 100, 200):
            rows.append(f"{lang},{x},{E[i] + K[i] * x ** -C[i]:.12g},,")
    for m, mix in enumerate([(100, 100, 100), (40, 200, 60), (0, 150, 150), (150, 0, 150)]):
        y = losses(mix)
        for i, lang in enumerate(LANGS):
            rows.append(f"{lang},{mix[i]},{y[i]:.12g},m{m},{';'.join(f'{a}={b}' for a, b in zip(LANGS, mix))}")
    pilots = tmp_path / "pilots.csv"
    pilots.write_text("language,size,score,run,mixture\n" + "\n".join(rows) + "\n")
    laws_path, plan_path = tmp_path / "laws.json", tmp_path / "plan.json"
    assert main(["fit", str(pilots), "-o", str(laws_path), "--lower-is-better", "--n-boot", "20"]) == 0
    assert json.loads(laws_path.read_text())["transfer"]["form"] == "pooled"
    assert main(["allocate", str(laws_path), "--budget", "900", "-o", str(plan_path)]) == 0
    assert main(["allocate", str(laws_path), "--budget", "900", "-o", str(tmp_path / "x.json"), "--solver", "exact"]) == 2
    assert main(["report", str(laws_path), str(plan_path), "-o", str(tmp_path / "report"), "--baselines", "uniform",
                 "--budgets", "none"]) == 0
    plans = __import__("pandas").read_csv(tmp_path / "report" / "plans.csv")
    uniform = plans[plans["plan"] == "uniform"]["score"].to_numpy()
    np.testing.assert_allclose(uniform, losses([300, 300, 300]), rtol=1e-6)  # judged under the fitted T


def test_costs_weights_and_floors_against_an_independent_search():
    laws = make_laws(Transfer("pooled", LANGS, TAU))
    cost, weights = np.array([1.0, 2.0, 1.0]), np.array([1.0, 3.0, 1.0])
    plan = bl.allocate(laws, 900, cost=dict(zip(LANGS, cost)), weights=dict(zip(LANGS, weights)),
                       floor={"hi": 250})
    best = None
    for start in np.random.default_rng(1).dirichlet(np.ones(3), size=20):
        x0 = np.maximum(start * 900 / cost, [1, 1, 250])
        res = minimize(lambda x: weights @ losses(x), x0, method="SLSQP", bounds=[(1e-3, None), (1e-3, None), (250, None)],
                       constraints=[{"type": "eq", "fun": lambda x: cost @ x - 900}], options={"ftol": 1e-14})
        if res.success and (best is None or res.fun < best.fun):
            best = res
    assert plan.objective_value == pytest.approx(best.fun, abs=1e-7)
    np.testing.assert_allclose(plan.sizes.to_numpy(), best.x, atol=0.5)
    assert plan.sizes["hi"] >= 250 * (1 - 1e-9) and plan.used_budget == pytest.approx(900, rel=1e-6)


def test_robust_with_repeats_and_a_drawn_rstar():
    rng = np.random.default_rng(4)
    tdraws = np.column_stack([rng.uniform(0.05, 0.35, size=(15, 3)), rng.uniform(2, 8, size=15)])
    laws = make_laws(Transfer("pooled", LANGS, TAU, draws=tdraws), draws=15)
    Kd = np.stack([laws[lang].draws[:, 0] for lang in LANGS], axis=1)
    U = np.array([80.0, 1000.0, 1000.0])
    plan = bl.allocate(laws, 900, objective="robust", available=dict(zip(LANGS, U)), max_epochs=3)

    def mean_loss(x):
        return np.mean([losses(x, tau=tdraws[d, :3], U=U, rstar=tdraws[d, 3], Kx=Kd[d]).sum() for d in range(15)])

    ref = search(mean_loss, 900, np.full(3, 1e-3), U * 3)
    assert plan.objective_value == pytest.approx(ref.fun, abs=1e-6)
    np.testing.assert_allclose(plan.sizes.to_numpy(), ref.x, atol=1.0)
