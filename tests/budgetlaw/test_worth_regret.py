"""The plan's expected regret in bl.worth and in the report's answer (reporting.worth,
design.transfer_regret), against a case worked out by hand in this file.

Two languages, c = 0.5 in every draw, weights and costs 1, no caps. For the sum objective the
best plan of a draw has d_i proportional to K_i**(1/(1+c)) = K_i**(2/3), and its objective is

    f* = sum_i K_i d_i**(-1/2) = (sum_i K_i**(2/3))**(3/2) / sqrt(D),   D = sum_i d_i

(Lagrange: K_i d_i**(-3/2) / 2 the same for every i). One-language laws: d = x, D = budget = 1300.
Under a pooled transfer T_ij = 1/4 (i != j): d_1 + d_2 = (1 + 1/4) * budget, so budget 1040 gives
the same D = 1300 and the same numbers (every best d lies inside [budget/4, budget], x >= 0).
"""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from budgetlaw.fitting.laws import FittedLaw, LawSet
from budgetlaw.law import PowerLaw
from budgetlaw.plan import Plan
from budgetlaw.reporting import report, worth
from budgetlaw.reporting.worth import Worth
from budgetlaw.transfer import law as law_module

DRAW_K = {"ar": [8.0, 27.0, 8.0, 27.0], "hi": [27.0, 8.0, 8.0, 27.0]}  # the point law: the first draw
D_TOTAL = 1300.0
PLAN_D = {"ar": 400.0, "hi": 900.0}  # the point law's best d: 1300 * 4/13, 1300 * 9/13 (8**(2/3) = 4, 27**(2/3) = 9)


def f_best(k1, k2):
    return (k1 ** (2 / 3) + k2 ** (2 / 3)) ** 1.5 / math.sqrt(D_TOTAL)


def f_plan(k1, k2):
    return k1 / math.sqrt(PLAN_D["ar"]) + k2 / math.sqrt(PLAN_D["hi"])


# draw 0: the plan is the best plan (0); draw 1: 27/20 + 8/30 - 1.3 = 19/60; draws 2, 3: x* even
REGRETS = [f_plan(a, h) - f_best(a, h) for a, h in zip(DRAW_K["ar"], DRAW_K["hi"])]
assert abs(REGRETS[0]) < 1e-12 and abs(REGRETS[1] - 19 / 60) < 1e-12
EXPECTED = sum(REGRETS) / 4
# the plan's predicted gain over uniform (d = 650 each), point law K = (8, 27): 35/sqrt(650) - 1.3
PLAN_GAIN = 35 / math.sqrt(650.0) - 1.3


def make_laws(lower: bool, transfer: bool, *, with_draws: bool = True) -> LawSet:
    ceiling = 2.0 if lower else 100.0
    fitted = {}
    for lang in DRAW_K:
        law = PowerLaw(a=DRAW_K[lang][0], b=1.0, c=0.5, ceiling=ceiling, lower_is_better=lower)
        draws = np.array([[k, 0.5, ceiling] for k in DRAW_K[lang]] if with_draws else np.empty((0, 3)))
        fitted[lang] = FittedLaw(language=lang, law=law, x=np.array([100.0, 400.0]), y=np.array([1.0, 2.0]),
                                 draws=draws)
    laws = LawSet(fitted, metric="nll" if lower else "comet")
    if transfer:
        laws.transfer = law_module.Transfer("pooled", ("ar", "hi"), np.array([0.25, 0.25]),
                                            draws=np.array([[0.25, 0.25, 5.0]] * 4))
    return laws


def make_plan(laws, transfer: bool, *, objective: str = "sum") -> Plan:
    if transfer:  # x_ar + x_hi / 4 = 400, x_hi + x_ar / 4 = 900
        sizes, budget = pd.Series({"ar": 560 / 3, "hi": 2560 / 3}), 1040.0
    else:
        sizes, budget = pd.Series(PLAN_D), D_TOTAL
    predicted = pd.DataFrame({"score": [float(laws[k].predict(PLAN_D[k])) for k in sizes.index],
                              "lower": np.nan, "upper": np.nan}, index=pd.Index(sizes.index, name="language"))
    return Plan(name="optimised", sizes=sizes.astype(float), predicted=predicted, objective=objective,
                objective_value=float(predicted["score"].sum()), budget=budget, used_budget=budget, unused_budget=0.0,
                marginal_value=math.nan, constraints={"available": None, "max_epochs": 1},
                solver={"method": "by hand", "status": "optimal"}, signature={}, lower_is_better=laws.lower_is_better)


@pytest.mark.parametrize("transfer", [False, True], ids=["one-language", "pooled-transfer"])
@pytest.mark.parametrize("lower", [False, True], ids=["score", "loss"])
def test_expected_regret_matches_the_hand_computation(lower, transfer):
    laws = make_laws(lower, transfer)
    w = worth(laws, make_plan(laws, transfer), "uniform", seed_sd=0.1, level=0.5)
    assert w.regret == pytest.approx(EXPECTED, abs=1e-6)
    # level 0.5: the 0.25 and 0.75 quantiles of the four regrets (linear between order statistics)
    r = sorted(REGRETS)
    low, high = r[0] + 0.75 * (r[1] - r[0]), r[2] + 0.25 * (r[3] - r[2])
    assert (w.regret_lower, w.regret_upper) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    assert w.regret_share == pytest.approx(EXPECTED / PLAN_GAIN, rel=1e-5)
    assert w.gain == pytest.approx(PLAN_GAIN, rel=1e-9)  # the share's denominator is the uniform row's gain
    d = 3 if lower else 2
    assert w.regret_note.startswith(f"Expected regret of this plan: {EXPECTED:.{d}f} [{low:.{d}f}, {high:.{d}f}] "
                                    f"in the summed {laws.metric} ({100 * EXPECTED / PLAN_GAIN:.0f}% of its "
                                    "predicted gain over uniform)")
    assert "`budgetlaw next`" in w.regret_note


def test_the_regret_is_the_plans_not_the_baselines():
    laws = make_laws(False, False)
    plan = make_plan(laws, False)
    a = worth(laws, plan, "uniform", seed_sd=0.1)
    other = dataclasses.replace(plan, name="lopsided", sizes=pd.Series({"ar": 1000.0, "hi": 300.0}))
    b = worth(laws, plan, other, seed_sd=0.1)
    assert b.gain != a.gain
    assert (b.regret, b.regret_share, b.regret_note) == (a.regret, a.regret_share, a.regret_note)


def test_no_draws_or_maxmin_gives_no_regret(tmp_path):
    laws = make_laws(False, False, with_draws=False)
    w = worth(laws, make_plan(laws, False), "uniform", seed_sd=0.1)
    assert math.isnan(w.regret) and math.isnan(w.regret_lower) and math.isnan(w.regret_share)
    assert w.regret_note == ""
    assert w.to_dict()["regret"] is None
    text = report(laws, make_plan(laws, False), ["uniform"], out=tmp_path / "r", budgets=[])["summary"].read_text()
    assert "Expected regret" not in text
    laws = make_laws(False, False)
    w = worth(laws, make_plan(laws, False, objective="maxmin"), "uniform", seed_sd=0.1)
    assert math.isnan(w.regret) and w.regret_note == ""


def test_report_answer_says_the_regret_line(tmp_path):
    laws = make_laws(True, True)
    plan = make_plan(laws, True)
    text = report(laws, plan, ["uniform"], out=tmp_path / "r", budgets=[], seed_sd=0.1)["summary"].read_text()
    answer = text.split("## The answer", 1)[1].split("\n## ", 1)[0]
    line = [x for x in answer.splitlines() if x.startswith("**Expected regret of this plan:**")]
    assert len(line) == 1
    assert line[0] == "**Expected regret of this plan:**" + worth(laws, plan, "uniform", seed_sd=0.1).regret_note[
        len("Expected regret of this plan:"):]
    assert f" {EXPECTED:.3f} [" in line[0]


def test_worth_to_dict_round_trips_the_regret_and_reads_old_json():
    laws = make_laws(False, False)
    w = worth(laws, make_plan(laws, False), "uniform", seed_sd=0.1)
    data = w.to_dict()
    back = Worth.from_dict(data)
    for key in ("regret", "regret_lower", "regret_upper", "regret_share", "regret_note"):
        assert getattr(back, key) == getattr(w, key)
    old = {k: v for k, v in data.items() if not k.startswith("regret")}  # JSON written before the regret
    back = Worth.from_dict(old)
    assert math.isnan(back.regret) and math.isnan(back.regret_share) and back.regret_note == ""
    assert back.gain == w.gain and back.verdict == w.verdict


def test_best_plan_with_repeated_pairs_matches_the_allocator_draw_by_draw():
    # one-language laws whose caps (available x 4 epochs) allow repeats: the regret's best plan of
    # each draw is the allocator's plan (its cvxpy program) on that draw's law
    import budgetlaw as bl
    from budgetlaw.design.transfer_regret import best_transfer_sizes
    from budgetlaw.transfer.law import DEFAULT_RSTAR

    available, epochs, budget = {"ar": 200.0, "hi": 300.0}, 4, 1300.0
    K = np.array([DRAW_K["ar"], DRAW_K["hi"]]).T
    U = np.array([available["ar"], available["hi"]])
    ours = best_transfer_sizes(K, np.full_like(K, 0.5), np.zeros((4, 2, 2)), np.full(4, DEFAULT_RSTAR), w=np.ones(2),
                               cost=np.ones(2), lo=np.full(2, 1e-3), hi=U * epochs, budget=budget, U=U,
                               start=np.array([650.0, 650.0]))
    for d in range(4):
        laws = {lang: PowerLaw(a=float(K[d, i]), b=1.0, c=0.5, ceiling=100.0) for i, lang in enumerate(("ar", "hi"))}
        plan = bl.allocate(laws, budget, available=available, max_epochs=epochs)
        assert plan.sizes.reindex(["ar", "hi"]).to_numpy() == pytest.approx(ours[d], rel=1e-4)
        assert (ours[d] > U).any()  # repeats in play, so the check is not the plain case
