"""The measured gain of a plan over a baseline, paired by seed (tuning.study.plan_gain), against
numbers worked out by hand here, and the predicted gain beside it from a hand-made law."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from budgetlaw.fitting.laws import FittedLaw, LawSet
from budgetlaw.law import PowerLaw
from budgetlaw.plan import Plan
from tuning.study.plan_gain import gain_lines, measured_interval, paired_gain

# t_{0.975, 2} from a printed table (the code asks scipy)
T975_2 = 4.302652729749464


def rec(kind, seed, nll):
    return {"kind": kind, "run": f"multi-{kind}-s{seed}", "seed": seed, "sizes": {},
            "scores": {lang: {"nll": v} for lang, v in nll.items()}}


# per-seed gains (uniform - plan), per language: seed 1 ar +0.02 hi 0.00 (mean 0.01),
# seed 2 ar 0.00 hi +0.04 (0.02), seed 3 ar +0.10 hi +0.02 (0.06); seed 4 has no uniform twin
RECORDS = [
    rec("transfer-plan", 1, {"ar": 2.18, "hi": 1.90}), rec("uniform", 1, {"ar": 2.20, "hi": 1.90}),
    rec("transfer-plan", 2, {"ar": 2.20, "hi": 1.88}), rec("uniform", 2, {"ar": 2.20, "hi": 1.92}),
    rec("transfer-plan", 3, {"ar": 2.10, "hi": 1.90}), rec("uniform", 3, {"ar": 2.20, "hi": 1.92}),
    rec("transfer-plan", 4, {"ar": 2.00, "hi": 1.70}),
    rec("optimized", 1, {"ar": 9.0, "hi": 9.0}),
]


def test_pairs_are_made_by_seed_and_only_where_both_plans_are_trained():
    pairs = paired_gain(RECORDS, "transfer-plan", "uniform")
    assert sorted(pairs["seed"].unique()) == [1, 2, 3]
    row = pairs[(pairs["seed"] == 3) & (pairs["language"] == "ar")].iloc[0]
    assert (row["plan_run"], row["baseline_run"]) == ("multi-transfer-plan-s3", "multi-uniform-s3")
    assert row["gain"] == pytest.approx(0.10)  # 2.20 - 2.10: positive, the plan's NLL is lower
    assert paired_gain(RECORDS, "transfer-plan", "proportional").empty


def test_measured_interval_is_the_t_interval_over_the_seeds_mean_gains():
    mean, low, high, n = measured_interval(paired_gain(RECORDS, "transfer-plan", "uniform"))
    # seed means 0.01, 0.02, 0.06: mean 0.03, deviations -0.02 -0.01 +0.03, sd sqrt(14e-4 / 2)
    half = T975_2 * math.sqrt(7e-4) / math.sqrt(3)
    assert n == 3 and mean == pytest.approx(0.03)
    assert (low, high) == pytest.approx((0.03 - half, 0.03 + half))
    one = paired_gain(RECORDS[:2], "transfer-plan", "uniform")
    m1, l1, h1, n1 = measured_interval(one)
    assert (m1, n1) == (pytest.approx(0.01), 1) and math.isnan(l1) and math.isnan(h1)


def _law_set():
    # loss = 2 + K / sqrt(x); three bootstrap draws of K, draw d of both languages taken together
    draws = {"ar": [40.0, 20.0, 80.0], "hi": [90.0, 180.0, 45.0]}
    fitted = {lang: FittedLaw(language=lang, law=PowerLaw(a=k, b=1.0, c=0.5, ceiling=2.0, lower_is_better=True),
                              x=np.array([100.0, 400.0]), y=np.array([3.0, 2.5]),
                              draws=np.array([[d, 0.5, 2.0] for d in draws[lang]]))
              for lang, k in (("ar", 40.0), ("hi", 90.0))}
    return LawSet(fitted, metric="nll")


def _plan(name, sizes, laws):
    sizes = pd.Series(sizes, dtype=float)
    predicted = pd.DataFrame({"score": [float(laws[k].predict(v)) for k, v in sizes.items()],
                              "lower": np.nan, "upper": np.nan}, index=pd.Index(sizes.index, name="language"))
    return Plan(name=name, sizes=sizes, predicted=predicted, objective="sum",
                objective_value=float(predicted["score"].sum()), budget=2000.0, used_budget=2000.0,
                unused_budget=0.0, marginal_value=math.nan, constraints={"available": None, "max_epochs": 1},
                solver={"method": "by hand", "status": "optimal"}, signature={}, lower_is_better=True)


def test_the_section_puts_the_predicted_gain_beside_the_measured_one(tmp_path):
    laws = _law_set()
    laws.save(tmp_path / "laws_transfer_plan.json")
    # plan: ar 2 + 40/20 = 4, hi 2 + 90/40 = 4.25; uniform: ar 2 + 40/40 = 3, hi 2 + 90/20 = 6.5
    # predicted gain per language: (9.5 - 8.25) / 2 = 0.625
    _plan("transfer", {"ar": 400, "hi": 1600}, laws).save(tmp_path / "plan_transfer.json")
    _plan("uniform", {"ar": 1600, "hi": 400}, laws).save(tmp_path / "plan_transfer_uniform.json")
    text = "\n".join(gain_lines(tmp_path, paired_gain(RECORDS, "transfer-plan", "uniform")))
    assert "**+0.6250**" in text and "ar 400, hi 1600" in text
    # per draw (summed loss, uniform - plan): d0 1.25; d1 (2.5 + 11) - (3 + 6.5) = 4; d2 (4 + 4.25) - (6 + 3.125)
    # = -0.875; quantiles 0.025 and 0.975 (linear): -0.875 + 0.05 * 2.125, 1.25 + 0.95 * 2.75; halved
    predicted = re.search(r"95% interval ([-+][0-9.]+) to ([-+][0-9.]+)\)\.", text)
    assert (float(predicted[1]), float(predicted[2])) == pytest.approx((-0.76875 / 2, 3.8625 / 2), abs=1e-4)
    assert "Measured over 3 seeds: **+0.0300**" in text
    half = T975_2 * math.sqrt(7e-4) / math.sqrt(3)
    assert f"95% interval {0.03 - half:+.4f} to {0.03 + half:+.4f}" in text
    assert "| 3 | +0.100 | +0.020 | +0.0600 |" in text
    assert gain_lines(tmp_path, paired_gain([r for r in RECORDS if r["kind"] != "uniform"], "transfer-plan",
                                         "uniform")) == []


def test_the_pilots_table_keeps_one_run_of_a_configuration_trained_twice():
    """A repetition design's "400 distinct x1" is the extrapolation model at 400 pairs and the
    same seed: the mixed table keeps the first recorded, so the fit is not refused as a
    duplicate pilot; a different seed or epochs is a different run."""
    from tuning.study.steps import pilots_table

    def one(run, kind, nll, seed=1, epochs=1, unique=None):
        r = {"run": run, "kind": kind, "seed": seed, "sizes": {"hi": 400}, "epochs": epochs,
             "scores": {"hi": {"nll": nll}}}
        if unique:
            r["unique"] = {"hi": unique}
        return r

    recs = [one("extrap-hi-00400-s1", "extrapolation", 1.76201), one("rep-hi-00400x1-s1", "repetition", 1.76209),
            one("pilot-hi-00400-s2", "pilot", 1.80, seed=2), one("rep-hi-00100x4-s1", "repetition", 2.17, epochs=4,
                                                                  unique=100)]
    table = pilots_table(recs, ["hi"])
    assert list(table["run"]) == ["extrap-hi-00400-s1", "pilot-hi-00400-s2", "rep-hi-00100x4-s1"]
    assert list(table["score"]) == [1.76201, 1.80, 2.17]
