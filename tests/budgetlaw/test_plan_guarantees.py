"""Issue 25, item 7: the guarantees the CLI gave live in the library. ``check_made_from`` refuses a
plan judged under laws that did not make it; ``extrapolation_warning`` names plans read far
outside the pilots (at the effective data, so repeats count as the law counts them)."""

import math

import numpy as np
import pandas as pd
import pytest

import budgetlaw as bl
from budgetlaw.extrapolation import EXTRAPOLATION_WARN, extrapolation_warning
from budgetlaw.plan import Plan, check_made_from

SIZES = (1000, 2000, 4000, 8000, 16000)


def score_pilots(shift=0.0):
    return pd.DataFrame([{"language": lang, "size": x, "score": 100 - K * x ** -0.3 + shift, "seed": 0}
                         for lang, K in (("ar", 300.0), ("el", 200.0)) for x in SIZES])


def loss_pilots():
    return pd.DataFrame([{"language": lang, "size": x, "score": 1.0 + K * x ** -0.3, "seed": 0}
                         for lang, K in (("ar", 30.0), ("el", 20.0)) for x in SIZES])


@pytest.fixture(scope="module")
def laws():
    return bl.fit(score_pilots(), n_boot=0)


def test_a_plan_checks_against_the_laws_that_made_it(laws):
    check_made_from(bl.allocate(laws, 10_000), laws)  # no error
    check_made_from(bl.baselines.uniform(laws, 10_000), laws)


def test_a_plan_of_other_laws_is_refused_in_one_line(laws):
    other = bl.fit(score_pilots(shift=0.5), n_boot=0)  # other pilots: another signature
    plan = bl.allocate(other, 10_000)
    with pytest.raises(bl.InputError, match=r"^plan.json: was made from other laws than laws.json \(pilots "
                                            r"sha256 [0-9a-f]{12} vs [0-9a-f]{12}\); pass the laws.json the plan "
                                            r"was made from"):
        check_made_from(plan, laws, plan_name="plan.json", laws_name="laws.json")


def test_a_loss_plan_under_score_laws_is_refused(laws):
    loss_laws = bl.fit(loss_pilots(), lower_is_better=True, n_boot=0)
    plan = bl.allocate(loss_laws, 10_000)
    with pytest.raises(bl.InputError, match=r"^plan: predicts losses \(lower is better\) but laws holds laws of "
                                            r"scores"):
        check_made_from(plan, laws)
    with pytest.raises(bl.InputError, match=r"predicts scores \(higher is better\) but laws holds laws of losses"):
        check_made_from(bl.allocate(laws, 10_000), loss_laws)


def test_other_languages_and_a_stripped_signature_are_refused(laws):
    plan = bl.allocate(laws, 10_000)
    only_ar = {"ar": laws["ar"]}
    with pytest.raises(bl.InputError, match=r"plans ar, el but laws has laws for ar;"):
        check_made_from(plan, only_ar)
    stripped = bl.LawSet(dict(laws), metric=laws.metric, signature={})
    with pytest.raises(bl.InputError, match=r"has no signature to compare"):
        check_made_from(plan, stripped)
    # a plan typed in by hand (no recorded laws) under plain PowerLaws: nothing to compare
    hand = bl.allocate({k: bl.PowerLaw.from_identifiable(v.K, v.c) for k, v in laws.items()}, 10_000)
    check_made_from(hand, {k: bl.PowerLaw.from_identifiable(v.K, v.c) for k, v in laws.items()})


def hand_plan(sizes, available=None, max_epochs=1):
    idx = pd.Index(list(sizes), name="language")
    nan = [math.nan] * len(sizes)
    return Plan(name="hand", sizes=pd.Series(sizes, index=idx, dtype=float),
                predicted=pd.DataFrame({"score": nan, "lower": nan, "upper": nan}, index=idx), objective="sum",
                objective_value=math.nan, budget=float(sum(sizes.values())), used_budget=float(sum(sizes.values())),
                unused_budget=0.0, marginal_value=math.nan,
                constraints={"available": available, "max_epochs": max_epochs})


def test_extrapolation_warning_names_the_far_languages(laws):
    assert EXTRAPOLATION_WARN == 100.0
    assert extrapolation_warning(laws, hand_plan({"ar": 16000 * 99, "el": 1000 / 99})) is None
    line = extrapolation_warning(laws, hand_plan({"ar": 16000 * 101, "el": 5000}))
    assert line.startswith("the plan extrapolates the laws far beyond the pilot data (ar 1.62e+06 pairs = 101x its "
                           "largest pilot size 16000)")
    assert "\n" not in line and "el" not in line
    line = extrapolation_warning(laws, hand_plan({"ar": 5000, "el": 5}))
    assert "el 5 pairs = 1/200 of its smallest pilot size 1000" in line


def test_extrapolation_is_judged_at_the_effective_data(laws):
    """3 million pairs of 1000 distinct ones are worth at most 1000 * (1 + R*) = 6000 fresh pairs:
    inside the pilots, no warning; the same 3M pairs as distinct pairs are far beyond them."""
    assert extrapolation_warning(laws, hand_plan({"ar": 3e6, "el": 5000}, {"ar": 1000.0}, 3000)) is None
    assert "ar 3e+06 pairs" in extrapolation_warning(laws, hand_plan({"ar": 3e6, "el": 5000}))
