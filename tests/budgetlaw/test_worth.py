"""Is the plan worth it? (budgetlaw.reporting.worth): the gain, its paired interval, the seed
spread and the seeds a gain needs, all against numbers worked out by hand in this file; the
transfer heat map and how the report shows both."""

import math
import struct
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from budgetlaw.cli import main
from budgetlaw.errors import InputError
from budgetlaw.fitting.laws import FittedLaw, LawSet
from budgetlaw.law import PowerLaw
from budgetlaw.plan import Plan
from budgetlaw.reporting import report, seed_spread, seeds_needed, worth
from budgetlaw.reporting.plots import plot_transfer
from budgetlaw.reporting.worth import Worth, parse_seed_sd, transfer_of

# z_0.975 and z_0.8 of the standard normal, from tables (not from scipy, which the code uses)
Z = 1.959963984540054 + 0.8416212335729143
# Two languages, c = 0.5 so every value below is exact at perfect-square sizes:
# score = 100 - K / sqrt(x), loss = 2 + K / sqrt(x). Draw d of both languages is taken together.
K = {"ar": 40.0, "hi": 90.0}
DRAW_K = {"ar": [40.0, 20.0, 80.0], "hi": [90.0, 180.0, 45.0]}
PLAN = {"ar": 400.0, "hi": 1600.0}  # sqrt: 20, 40
BASE = {"ar": 1600.0, "hi": 400.0}
# Worked out by hand (score laws; the loss laws with E = 2 give the same improvements):
#   plan:  ar 100 - 40/20 = 98,  hi 100 - 90/40 = 97.75   base: ar 99, hi 95.5
#   gain = 195.75 - 194.5 = 1.25; per language ar -1, hi +2.25
#   per draw: d0 (-1) + 2.25 = 1.25; d1 (99 - 99.5) + (95.5 - 91) = 4.0; d2 (96 - 98) + (98.875 - 97.75) = -0.875
GAIN, DRAW_GAINS = 1.25, [1.25, 4.0, -0.875]
# level 0.5: quantiles 0.25 and 0.75 of [-0.875, 1.25, 4.0] (linear): -0.875 + 0.5 * 2.125, 1.25 + 0.5 * 2.75
LOW, HIGH = 0.1875, 2.625
# per language: ar draws [-1, -0.5, -2] -> [-1.5, -0.75]; hi draws [2.25, 4.5, 1.125] -> [1.6875, 3.375]
PER = {"ar": (-1.0, -1.5, -0.75), "hi": (2.25, 1.6875, 3.375)}


def make_laws(lower: bool) -> LawSet:
    fitted = {}
    for lang in K:
        ceiling = 2.0 if lower else 100.0
        law = PowerLaw(a=K[lang], b=1.0, c=0.5, ceiling=ceiling, lower_is_better=lower)
        draws = np.array([[k, 0.5, ceiling] for k in DRAW_K[lang]])
        fitted[lang] = FittedLaw(language=lang, law=law, x=np.array([100.0, 400.0]), y=np.array([1.0, 2.0]),
                                 draws=draws)
    return LawSet(fitted, metric="nll" if lower else "comet")


def make_plan(name: str, sizes: dict, laws) -> Plan:
    sizes = pd.Series(sizes, dtype=float)
    predicted = pd.DataFrame({"score": [float(laws[k].predict(v)) for k, v in sizes.items()],
                              "lower": np.nan, "upper": np.nan}, index=sizes.index)
    predicted.index.name = "language"
    return Plan(name=name, sizes=sizes, predicted=predicted, objective="sum",
                objective_value=float(predicted["score"].sum()), budget=2000.0, used_budget=2000.0,
                unused_budget=0.0, marginal_value=math.nan, constraints={"available": None, "max_epochs": 1},
                solver={"method": "by hand", "status": "optimal"}, signature={}, lower_is_better=laws.lower_is_better)


@pytest.mark.parametrize("lower", [False, True])
def test_gain_and_paired_interval_match_the_hand_computation(lower):
    laws = make_laws(lower)
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("swapped", BASE, laws), level=0.5)
    assert w.gain == pytest.approx(GAIN)
    assert (w.lower, w.upper) == pytest.approx((LOW, HIGH))
    assert w.better_share == pytest.approx(2 / 3)
    for lang, (gain, low, high) in PER.items():
        row = w.per_language.loc[lang]
        assert (row["gain"], row["lower"], row["upper"]) == pytest.approx((gain, low, high))
    # not the difference of the two plans' own intervals: plan totals per draw are 195.75, 194.5,
    # 194.875 and the swapped plan's 194.5, 190.5, 195.75 (scores)
    plan_q = np.quantile([195.75, 194.5, 194.875], [0.25, 0.75])
    base_q = np.quantile([194.5, 190.5, 195.75], [0.25, 0.75])
    assert w.lower != pytest.approx(plan_q[0] - base_q[1])


def test_seeds_needed_formula_by_hand():
    # sd 0.5 per language, independent: objective sd = sqrt(0.25 + 0.25); sqrt(2) * that = 1
    assert seeds_needed(1.25, math.sqrt(0.5)) == pytest.approx((Z / 1.25) ** 2)  # 5.023
    assert seeds_needed(0.0, 1.0) == math.inf and seeds_needed(-1.0, 1.0) == math.inf
    laws = make_laws(False)
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("swapped", BASE, laws), seed_sd=0.5)
    assert w.seed_sd == pytest.approx(math.sqrt(0.5))
    assert w.seeds == 6  # ceil(5.023)
    assert w.per_language.loc["hi", "seeds"] == 2  # (Z * sqrt(2) * 0.5 / 2.25)^2 = 0.775, at least 2
    assert w.per_language.loc["ar", "seeds"] is None  # the plan loses there: no seeds show a gain
    # the sd of a language given alone
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("swapped", BASE, laws), seed_sd={"ar": 0.3, "hi": 0.4})
    assert w.seed_sd == pytest.approx(0.5)  # sqrt(0.09 + 0.16)
    assert w.seeds == math.ceil((Z * math.sqrt(2) * 0.5 / 1.25) ** 2)  # 2.51 -> 3


def test_verdict_in_three_honest_cases_and_the_rest():
    """The three cases of issue 25 on laws built for each (numbers by hand at the top of this file):
    at level 0.5 the paired interval is [0.1875, 2.625] (clear of zero), at 0.9 it is
    [-0.6625, 3.725] (spans zero); the objective's seed sd is sqrt(2) * seed_sd."""
    laws = make_laws(True)
    plan, base = make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws)
    # interval clear of zero, gain 1.25 >= sd 0.0707: worth it, 17.7 times the noise
    quiet = worth(laws, plan, base, seed_sd=0.05, level=0.5)
    assert quiet.case == "worth it" and quiet.verdict.startswith("Worth it:")
    assert "17.7 times" in quiet.verdict and "as good as" not in quiet.verdict
    # interval clear of zero, gain 1.25 < sd 2.828: better, hidden by noise, never "as good as"
    noisy = worth(laws, plan, base, seed_sd=2.0, level=0.5)
    assert noisy.case == "hidden by noise" and "as good as" not in noisy.verdict
    seeds = math.ceil((Z * math.sqrt(2) * 2 * math.sqrt(2) / 1.25) ** 2)  # 80.4 -> 81
    assert f"you would need about {seeds} seeds per plan to see it" in noisy.verdict
    assert "[+0.188, +2.625]" in noisy.verdict
    # interval spans zero: can't tell, whatever the noise; only here "as good as"
    for sd in (2.0, 0.05):
        unsure = worth(laws, plan, base, seed_sd=sd)
        assert unsure.case == "can't tell" and unsure.verdict.startswith("Can't tell:")
        assert "uniform is as good as this plan as far as the pilots show" in unsure.verdict
    unknown = worth(laws, plan, base, level=0.5,
                    pilots=pd.DataFrame({"language": ["ar"], "size": [1.0], "score": [1.0]}))
    assert unknown.seeds is None and unknown.case == "noise unknown" and "unknown" in unknown.verdict
    losing = worth(laws, base, plan, seed_sd=0.05, level=0.5)
    assert losing.gain == pytest.approx(-GAIN) and losing.case == "baseline better"
    assert losing.verdict.startswith("optimised is better:")
    same = worth(laws, plan, make_plan("uniform", PLAN, laws), seed_sd=0.05)
    assert same.case == "same plan" and same.gain == 0.0


def test_seed_sd_zero_is_allowed_and_means_no_noise(tmp_path):
    laws = make_laws(False)
    plan, base = make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws)
    w = worth(laws, plan, base, seed_sd=0.0, level=0.5)
    assert w.seed_sd == 0.0 and w.case == "worth it" and w.seeds == 2  # n = 0: the two-seed minimum
    assert "far above one model's seed noise (0.00)" in w.verdict
    paths = report(laws, plan, [base], out=tmp_path / "r", budgets=[], seed_sd=0.0, level=0.5)
    assert "Worth it:" in paths["summary"].read_text()


def test_seed_spread_pooled_within_size_by_hand():
    rows = [("ar", 100, 1.0), ("ar", 100, 1.2), ("ar", 100, 1.4), ("ar", 200, 2.0), ("ar", 200, 2.4),
            ("hi", 100, 5.0), ("hi", 100, 5.1), ("hi", 200, 6.0), ("zh", 100, 3.0)]
    pilots = pd.DataFrame(rows, columns=["language", "size", "score"])
    spread = seed_spread(pilots, ["ar", "hi", "zh"])
    # ar: squares 0.04 + 0 + 0.04 and 0.04 + 0.04 over 2 + 1 dof; hi: 0.005 over 1
    assert spread.per_language["ar"] == pytest.approx(math.sqrt(0.16 / 3))
    assert spread.per_language["hi"] == pytest.approx(math.sqrt(0.005))
    assert spread.dof == {"ar": 3, "hi": 1, "zh": 0}
    assert spread.filled == ("zh",)  # no repeats: the pooled value of all languages
    assert spread.per_language["zh"] == pytest.approx(math.sqrt(0.165 / 4))
    assert spread.mean_sd is None  # one-language pilots say nothing about a model's mean


def test_seed_spread_of_the_per_language_mean_from_multilingual_models():
    models = {"m1": ("ar=100;hi=100", 1.0, 2.0), "m2": ("ar=100;hi=100", 1.2, 2.4), "m3": ("ar=100;hi=100", 0.8, 2.1),
              "m4": ("ar=50;hi=150", 1.5, 1.9), "m5": ("ar=50;hi=150", 1.7, 1.9)}
    rows = []
    for run, (mixture, ar, hi) in models.items():
        sizes = dict(item.split("=") for item in mixture.split(";"))
        rows += [(lang, float(sizes[lang]), value, run, mixture) for lang, value in (("ar", ar), ("hi", hi))]
    pilots = pd.DataFrame(rows, columns=["language", "size", "score", "run", "mixture"])
    spread = seed_spread(pilots, ["ar", "hi"])
    # model means 1.5, 1.8, 1.45 (mixture 1) and 1.7, 1.8 (mixture 2)
    first = [1.5, 1.8, 1.45]
    m = sum(first) / 3
    squares = sum((v - m) ** 2 for v in first) + 2 * 0.05 ** 2
    assert spread.mean_sd == pytest.approx(math.sqrt(squares / 3)) and spread.mean_dof == 3
    # ar within (size, mixture): [1.0, 1.2, 0.8] and [1.5, 1.7]
    assert spread.per_language["ar"] == pytest.approx(math.sqrt((0.08 + 0.02) / 3))
    laws = make_laws(False)
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("swapped", BASE, laws), pilots=pilots)
    assert w.seed_sd == pytest.approx(2 * spread.mean_sd)  # sum of two languages, weights 1


def test_transfer_matrix_is_read_at_effective_data():
    laws = make_laws(False)
    # d_ar = 400 + 0.3125 * 1600 = 900, d_hi = 1600 + 2.25 * 400 = 2500 (plan); baseline: 1725, 4000
    laws.transfer = SimpleNamespace(matrix=np.array([[0.0, 0.3125], [2.25, 0.0]]), languages=("ar", "hi"))
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("swapped", BASE, laws))
    mine = (100 - 40 / 30) + (100 - 90 / 50)
    theirs = (100 - 40 / math.sqrt(1725)) + (100 - 90 / math.sqrt(4000))
    assert w.gain == pytest.approx(mine - theirs)


def test_worth_round_trips_and_refuses_a_bad_seed_sd():
    laws = make_laws(True)
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws), seed_sd=0.5, level=0.5)
    again = Worth.from_dict(w.to_dict())
    assert again.to_dict() == w.to_dict()
    with pytest.raises(InputError, match=r"seed_sd\[hi\]"):
        worth(laws, make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws), seed_sd={"ar": 0.1})
    with pytest.raises(InputError, match="seed_sd: xx is not a planned language"):
        worth(laws, make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws),
              seed_sd={"ar": 0.1, "hi": 0.1, "xx": 0.1})
    with pytest.raises(InputError, match=r"seed_sd\[ar\]"):
        worth(laws, make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws), seed_sd=-0.1)
    with pytest.raises(InputError, match="--seed-sd"):
        parse_seed_sd("ar=x")
    assert parse_seed_sd("ar=0.03,hi=0.02") == {"ar": 0.03, "hi": 0.02} and parse_seed_sd("0.5") == 0.5


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])  # IHDR width, height


@pytest.mark.parametrize("n", [3, 30, 100])
def test_transfer_heat_map_has_a_fixed_size(tmp_path, n):
    languages = [f"l{k}" for k in range(n)]
    matrix = np.arange(n * n, dtype=float).reshape(n, n) / (n * n)
    path = plot_transfer(matrix, languages, tmp_path / "t.png")
    assert png_size(path) == (770, 660)
    with pytest.raises(InputError, match="n x n"):
        plot_transfer(matrix[:, :-1], languages, tmp_path / "bad.png")


def test_report_shows_worth_and_links_the_heat_map(tmp_path):
    laws = make_laws(True)
    laws.transfer = SimpleNamespace(matrix=np.zeros((2, 2)), languages=("ar", "hi"))  # T = 0: gains as by hand
    plan, base = make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws)
    paths = report(laws, plan, [base], out=tmp_path / "a", budgets=[], seed_sd=2.0)
    text = paths["summary"].read_text()
    assert png_size(paths["transfer_plot"]) == (770, 660)
    assert "](transfer.png)" in text
    assert "## Is the plan worth it?" in text
    section = text[text.index("## Is the plan worth it?"):]
    # gain 1.25, objective sd 2 * sqrt(2) = 2.828, seeds (Z * sqrt(2) * 2.828 / 1.25)^2 = 80.4 -> 81
    seeds = math.ceil((Z * math.sqrt(2) * 2 * math.sqrt(2) / 1.25) ** 2)
    row = next(line for line in section.splitlines() if line.startswith("| uniform |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # 90% paired interval: quantiles 0.05, 0.95 of [-0.875, 1.25, 4.0] = -0.6625, 3.725
    assert cells[1].startswith("+1.250 [") and [float(v) for v in cells[1][8:-1].split(",")] == pytest.approx(
        [-0.6625, 3.725], abs=6e-4)
    assert cells[2:] == ["67% of draws", "2.828", "0.44", str(seeds)]
    assert "Can't tell: the predicted gain over uniform is +1.250 [-0.663, +3.725]" in section
    again = report(laws, plan, [base], out=tmp_path / "b", budgets=[], seed_sd=2.0)
    assert again["summary"].read_bytes() == paths["summary"].read_bytes()


def test_report_command_takes_seed_sd(tmp_path):
    laws = make_laws(False)
    laws.save(tmp_path / "laws.json")
    make_plan("optimised", PLAN, laws).save(tmp_path / "plan.json")
    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "laws.json"), str(tmp_path / "plan.json"), "-o", str(out),
                 "--baselines", "uniform", "--budgets", "none", "--seed-sd", "0.05"]) == 0
    assert "given seed_sd" in (out / "report.md").read_text()
    assert main(["report", str(tmp_path / "laws.json"), str(tmp_path / "plan.json"), "-o", str(tmp_path / "x"),
                 "--seed-sd", "lots"]) == 2


def test_transfer_law_object_with_draws_is_paired_draw_by_draw():
    law_module = pytest.importorskip("budgetlaw.transfer.law")
    laws = make_laws(False)
    # pooled form: T[i, j] = theta_i; draw d of T goes with draw d of the laws (the third draw: T = 0)
    draws = np.array([[0.3125, 2.25, 5.0], [0.3125, 2.25, 5.0], [0.0, 0.0, 5.0]])
    laws.transfer = law_module.Transfer("pooled", ("ar", "hi"), np.array([0.3125, 2.25]), draws=draws)
    assert transfer_of(laws)[0].tolist() == [[0.0, 0.3125], [2.25, 0.0]]
    w = worth(laws, make_plan("optimised", PLAN, laws), make_plan("swapped", BASE, laws), level=0.5)
    # plan d = (900, 2500), swapped d = (1725, 4000) in draws 0 and 1; draw 2 is the hand case without T
    def total(k_ar, k_hi, d):
        return (100 - k_ar / math.sqrt(d[0])) + (100 - k_hi / math.sqrt(d[1]))
    per_draw = [total(40, 90, (900, 2500)) - total(40, 90, (1725, 4000)),
                total(20, 180, (900, 2500)) - total(20, 180, (1725, 4000)), -0.875]
    assert w.gain == pytest.approx(per_draw[0])
    assert (w.lower, w.upper) == pytest.approx(tuple(np.quantile(per_draw, [0.25, 0.75])))


def test_report_judges_every_plan_at_its_effective_data_under_transfer(tmp_path):
    law_module = pytest.importorskip("budgetlaw.transfer.law")
    laws = make_laws(True)
    draws = np.array([[0.3125, 2.25, 5.0]] * 3)  # T the same in every draw
    laws.transfer = law_module.Transfer("pooled", ("ar", "hi"), np.array([0.3125, 2.25]), draws=draws)
    plan, base = make_plan("optimised", PLAN, laws), make_plan("uniform", BASE, laws)
    text = report(laws, plan, [base], out=tmp_path / "r", budgets=[])["summary"].read_text()
    # losses 2 + K / sqrt(d): plan d = (900, 2500), uniform d = (1725, 4000), K = (40, 90)
    gain = (2 + 40 / math.sqrt(1725) + 2 + 90 / math.sqrt(4000)) - (2 + 40 / 30 + 2 + 90 / 50)
    row = next(line for line in text.splitlines() if line.startswith("| uniform |"))  # the comparison table
    assert f"{gain:+.3f} [" in row
    worth_row = text[text.index("## Is the plan worth it?"):].split("| uniform | ")[1]
    assert worth_row.startswith(f"{gain:+.3f} [")
