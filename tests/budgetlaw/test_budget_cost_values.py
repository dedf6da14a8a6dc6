"""Issue 25, item 7: budgets and costs at the edges of floating point. A budget of 1e40 with no
caps is spent to the last digit the solvers hold (it used to leave 7.9e35 "unused" under a
transfer law); a cost of 1e-300 beside 1 is refused in one line naming the row and the fix (it
used to give "the 0 extra constraint(s) cannot hold")."""

import numpy as np
import pytest

import budgetlaw as bl
from budgetlaw.cli import main
from budgetlaw.fitting import FittedLaw, LawSet
from budgetlaw.law import PowerLaw
from budgetlaw.limits import MAX_COST_RATIO, read_limits
from budgetlaw.transfer.law import Transfer

LANGS = ["ar", "el", "hi"]
K, C, E = np.array([3.0, 2.0, 4.0]), np.array([0.5, 0.4, 0.6]), np.array([1.5, 1.2, 1.0])


def loss_laws(transfer=None):
    laws = {}
    for k, lang in enumerate(LANGS):
        law = PowerLaw.from_identifiable(K[k], C[k], ceiling=E[k], lower_is_better=True)
        x = np.array([25.0, 50, 100, 200])
        laws[lang] = FittedLaw(lang, law, x, law.predict(x), np.empty((0, 3)))
    return LawSet(laws, metric="nll", transfer=transfer)


@pytest.mark.parametrize("transfer", [None, Transfer("pooled", LANGS, np.array([0.2, 0.1, 0.3]))])
@pytest.mark.parametrize("solver", ["auto", "cvxpy"])
def test_a_budget_of_1e40_is_spent(transfer, solver):
    laws = loss_laws(transfer)
    plan = bl.allocate(laws, 1e40, solver=solver)
    assert plan.unused_budget == 0.0
    assert plan.used_budget == pytest.approx(1e40, rel=1e-9)
    if transfer is None and solver == "auto":  # exact: KKT by hand, c K x^(-c-1) equal across languages
        np.testing.assert_allclose(C * K * plan.sizes[LANGS].to_numpy() ** (-C - 1), plan.marginal_value, rtol=1e-9)
    elif transfer is None:  # cvxpy: the objective's gap part (what the sizes move) as the exact one's
        exact = bl.allocate(laws, 1e40)
        assert plan.objective_value - E.sum() == pytest.approx(exact.objective_value - E.sum(), rel=1e-6)


def test_the_transfer_program_is_unchanged_at_ordinary_budgets():
    """The rescaled objective gives the same optimum as an independent SLSQP search at 900 pairs
    (tests/budgetlaw/test_transfer_allocate.py checks more of it)."""
    from scipy.optimize import minimize

    tau = np.array([0.2, 0.1, 0.3])
    plan = bl.allocate(loss_laws(Transfer("pooled", LANGS, tau)), 900)

    def total(x):
        d = x + tau * (x.sum() - x)
        return float(np.sum(E + K * d ** (-C)))

    best = min((minimize(total, s, method="SLSQP", bounds=[(1e-3, 900)] * 3,
                         constraints=[{"type": "eq", "fun": lambda x: x.sum() - 900}], options={"ftol": 1e-14})
                for s in (np.full(3, 300.0), np.array([100.0, 300, 500]), np.array([600.0, 200, 100]))),
               key=lambda r: r.fun)
    assert plan.objective_value == pytest.approx(best.fun, abs=1e-7)
    np.testing.assert_allclose(plan.sizes[LANGS], best.x, rtol=1e-3)


def test_a_tiny_cost_in_the_limits_file_is_refused_with_its_line(tmp_path, capsys):
    path = tmp_path / "langs.csv"
    path.write_text("language,available,cost\nar,,1e-300\nel,,1\n")
    with pytest.raises(bl.InputError, match=r"langs.csv, line 2: cost=1e-300 for 'ar' is 1e\+300 times below the cost 1 "
                                            r"of 'el' \(line 3\);.*give every cost in one unit"):
        read_limits(path)
    laws_path = tmp_path / "laws.json"
    loss_laws().save(laws_path)
    out = tmp_path / "plan.json"
    status = main(["allocate", str(laws_path), "--budget", "900", "--languages", str(path), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and "line 2: cost=1e-300" in err and not out.exists()


def test_a_tiny_cost_against_the_default_of_1_is_refused(tmp_path, capsys):
    """Only ar's row gives a cost: the others cost 1, which the check counts (file and API)."""
    path = tmp_path / "langs.csv"
    path.write_text("language,cost\nar,1e-300\n")
    assert read_limits(path)["cost"]["ar"] == 1e-300  # alone in the file it is not yet compared
    laws_path = tmp_path / "laws.json"
    loss_laws(Transfer("pooled", LANGS, np.array([0.2, 0.1, 0.3]))).save(laws_path)
    out = tmp_path / "plan.json"
    status = main(["allocate", str(laws_path), "--budget", "900", "--languages", str(path), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and "cost=1e-300 for 'ar' is 1e+300 times below" in err
    assert str(path) in err and not out.exists()
    with pytest.raises(bl.InputError, match=r"^allocate: cost=1e-300 for 'ar'"):
        bl.allocate(loss_laws(), 900, cost={"ar": 1e-300})
    with pytest.raises(bl.InputError, match=r"cost=1e\+07 for 'hi' is 1e\+07 times above"):
        bl.baselines.uniform(loss_laws(), 900, cost={"hi": 1e7})


def test_costs_a_million_apart_are_allowed_and_exact():
    """The bound itself is allowed; the plan is the KKT optimum by hand: c K x^(-c-1) = lam cost."""
    assert MAX_COST_RATIO == 1e6
    cost = {"ar": 1e-3, "el": 1.0, "hi": 1e3}
    plan = bl.allocate(loss_laws(), 1e6, cost=cost)
    x = plan.sizes[LANGS].to_numpy()
    c_arr = np.array([cost[k] for k in LANGS])
    np.testing.assert_allclose(C * K * x ** (-C - 1) / c_arr, plan.marginal_value, rtol=1e-9)
    assert float(c_arr @ x) == pytest.approx(1e6, rel=1e-12)
