"""report(): files written, Markdown tables checked against numbers worked out here from the
law formula, warnings in plain sight, nothing half-written left behind."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from budgetlaw.allocation import allocate
from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw
from budgetlaw.plan import Plan
from budgetlaw.reporting import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# (a, b, c): three languages of clearly different steepness
PARAMS = {"ar": (42.5, 0.04, 0.11), "hi": (52.0, 0.03, 0.14), "zh": (40.0, 0.04, 0.085)}
BUDGET = 300_000.0


def score(language, x):
    """The law written out by hand: 100 - a * (b x) ** (-c)."""
    a, b, c = PARAMS[language]
    return 100.0 - a * (b * float(x)) ** (-c)


def hand_plan(name, sizes):
    """A plan built without the allocator: sizes given, scores from the formula above."""
    sizes = pd.Series(sizes, dtype=float)
    predicted = pd.DataFrame(
        {"score": [score(k, v) for k, v in sizes.items()], "lower": np.nan, "upper": np.nan}, index=sizes.index
    )
    predicted.index.name = "language"
    total = float(predicted["score"].sum())
    return Plan(
        name=name, sizes=sizes, predicted=predicted, objective="sum", objective_value=total, budget=BUDGET,
        used_budget=float(sizes.sum()), unused_budget=BUDGET - float(sizes.sum()), marginal_value=math.nan,
        constraints={"available": None, "max_epochs": 1}, solver={"method": "by hand", "status": "optimal"},
        signature={},
    )


def table_after(text, heading_regex):
    """The first pipe table after a line matching ``heading_regex`` -> DataFrame of strings."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.search(heading_regex, line))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    header, body = rows[0], rows[2:]
    return pd.DataFrame(body, columns=header)


def number(cell):
    return float(cell.replace(",", "").replace("%", "").replace("x", "").replace("+", ""))


@pytest.fixture()
def laws():
    return {lang: PowerLaw(*p) for lang, p in PARAMS.items()}


@pytest.fixture()
def plan(laws):
    return allocate(laws, BUDGET, available={"hi": 50_000.0})


def test_report_files_and_plan_table(tmp_path, laws, plan):
    uniform = hand_plan("uniform", {lang: BUDGET / 3 for lang in PARAMS})
    out = tmp_path / "rep"
    paths = report(laws, plan, [uniform], out=out, budgets=[])
    for key in ("laws_plot", "allocation_plot", "gains_plot", "summary", "plans_csv"):
        assert paths[key].is_file(), key
    for key in ("laws_plot", "allocation_plot", "gains_plot"):
        assert paths[key].read_bytes()[:8] == PNG_MAGIC
    assert "frontier_plot" not in paths  # budgets=[] skips the frontier
    text = paths["summary"].read_text()

    table = table_after(text, r"^Predicted .* bootstrap interval")
    assert list(table["language"]) == list(PARAMS)
    total = float(plan.sizes.sum())
    assert total == pytest.approx(BUDGET, rel=1e-6)
    for row in table.itertuples():
        size = float(plan.sizes[row.language])
        assert number(row.pairs) == pytest.approx(round(size), abs=0.5)
        assert number(row.share) == pytest.approx(100 * size / total, abs=0.051)
        assert number(row.predicted) == pytest.approx(score(row.language, size), abs=0.0051)
        assert row.lower == "-" and row.upper == "-"  # plain laws carry no draws
    assert table.set_index("language").loc["hi", "cap"] == "50,000"
    assert number(table.set_index("language").loc["hi", "pairs"]) <= 50_000.5


def test_gain_and_comparison_tables(tmp_path, laws, plan):
    # "uniform" here ignores the plan's cap on hi, so the optimum need not beat it; "skewed" obeys it
    uniform = hand_plan("uniform", {lang: BUDGET / 3 for lang in PARAMS})
    skewed = hand_plan("skewed", {"ar": 200_000.0, "hi": 50_000.0, "zh": 50_000.0})
    text = report(laws, plan, [uniform, skewed], out=tmp_path / "r", budgets=[])["summary"].read_text()

    gains = table_after(text, r"gain of the optimised plan over each baseline").set_index("language")
    for lang in PARAMS:
        mine = score(lang, plan.sizes[lang])
        assert number(gains.loc[lang, "vs uniform"]) == pytest.approx(mine - score(lang, BUDGET / 3), abs=0.0051)
        assert number(gains.loc[lang, "vs skewed"]) == pytest.approx(mine - score(lang, skewed.sizes[lang]), abs=0.0051)
    mean_gain = np.mean([score(k, plan.sizes[k]) - score(k, BUDGET / 3) for k in PARAMS])
    assert number(gains.loc["**mean**", "vs uniform"]) == pytest.approx(mean_gain, abs=0.0051)

    comparison = table_after(text, r"^## Comparison with baselines").set_index("plan")
    assert list(comparison.index) == ["optimised", "uniform", "skewed"]
    uniform_scores = [score(k, BUDGET / 3) for k in PARAMS]
    assert number(comparison.loc["uniform", "sum of scores"]) == pytest.approx(sum(uniform_scores), abs=0.0051)
    assert number(comparison.loc["uniform", "mean score"]) == pytest.approx(np.mean(uniform_scores), abs=0.0051)
    worst = min(PARAMS, key=lambda k: score(k, BUDGET / 3))
    assert comparison.loc["uniform", "worst language"].endswith(f"({worst})")
    # the optimum of a sum of concave terms beats any other plan with the same budget and caps
    assert number(comparison.loc["optimised", "sum of scores"]) >= number(comparison.loc["skewed", "sum of scores"])


def test_law_table_parameters(tmp_path, laws, plan):
    text = report(laws, plan, [], out=tmp_path / "r", budgets=[])["summary"].read_text()
    table = table_after(text, r"^## Fitted laws").set_index("language")
    for lang, (a, b, c) in PARAMS.items():
        assert number(table.loc[lang, "a"]) == pytest.approx(a, rel=1e-3)
        assert number(table.loc[lang, "c"]) == pytest.approx(c, rel=1e-3)
        assert number(table.loc[lang, "K"]) == pytest.approx(a * b ** (-c), rel=1e-3)
        assert table.loc[lang, "flags"] == "none"
    assert "Comparison with baselines" not in text  # no baselines, no comparison section


def test_fitted_laws_flags_and_holdout_in_warnings(tmp_path):
    from budgetlaw.fitting import fit

    rows = []
    rng = np.random.default_rng(3)
    for size in (10_000, 20_000, 50_000, 100_000):
        for seed in range(3):
            rows.append(("ar", size, score("ar", size) + rng.normal(0, 0.2), seed))
            rows.append(("zh", size, 80.0 + rng.normal(0, 0.5), seed))  # no trend at all: a degenerate fit
    pilots = pd.DataFrame(rows, columns=["language", "size", "score", "seed"])
    laws = fit(pilots, n_boot=30, seed=0)
    assert laws["zh"].flags  # the fitter itself must see the problem
    plan = allocate(laws, 400_000.0)
    text = report(laws, plan, [], out=tmp_path / "r", budgets=[])["summary"].read_text()
    warnings = text.split("## Warnings", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in warnings.splitlines() if line.startswith("- ")]
    for flag in laws["zh"].flags:  # one line per kind, its languages listed together
        assert sum(line.startswith(f"- **{flag}** (zh)") for line in lines) == 1
    # 400k over two languages puts at least one beyond the largest pilot (100k): extrapolation
    beyond = [k for k in plan.sizes.index if plan.sizes[k] > 100_000]
    assert beyond and "Extrapolation" in warnings
    for lang in beyond:
        assert f"{lang} " in warnings.split("Extrapolation", 1)[1]
    # the flagged language is marked in the law table too
    table = table_after(text, r"^## Fitted laws").set_index("language")
    assert "**" in table.loc["zh", "flags"] and table.loc["ar", "flags"] == "none"
    # fitted laws carry draws, so the plan table shows an interval around the prediction
    plan_table = table_after(text, r"^Predicted .* bootstrap interval").set_index("language")
    low, mid, high = (number(plan_table.loc["ar", k]) for k in ("lower", "predicted", "upper"))
    assert low <= mid <= high and low < high


def test_synthetic_notice_only_for_synthetic_pilots(tmp_path, laws, plan):
    points = pd.DataFrame({"language": ["ar", "ar"], "size": [1e4, 2e4], "score": [78.0, 79.6]})
    plain = report(laws, plan, [], out=tmp_path / "a", budgets=[], pilots=points)["summary"].read_text()
    assert "Synthetic data" not in plain
    marked = report(laws, plan, [], out=tmp_path / "b", budgets=[], pilots=points.assign(source="synthetic"))
    assert "**Synthetic data.**" in marked["summary"].read_text()


def test_frontier_written_and_non_decreasing(tmp_path, laws, plan):
    budgets = [60_000.0, 150_000.0, 300_000.0, 900_000.0]
    paths = report(laws, plan, [], out=tmp_path / "r", budgets=budgets)
    assert paths["frontier_plot"].read_bytes()[:8] == PNG_MAGIC
    frontier = pd.read_csv(paths["frontier_csv"])
    assert sorted(frontier["budget"].unique()) == budgets
    values = frontier.groupby("budget")["objective_value"].first().to_numpy()
    assert np.all(np.diff(values) > 0)  # more budget never predicts less
    # hi is capped at 50k at every budget, as in the plan
    assert frontier.loc[frontier["language"] == "hi", "size"].max() <= 50_000 * (1 + 1e-6)
    # at 60k nothing is capped, so every budget unit is spent
    at_60k = frontier[frontier["budget"] == 60_000.0]
    assert at_60k["size"].sum() == pytest.approx(60_000.0, rel=1e-6)


def test_default_baselines_under_the_plan_constraints(tmp_path, laws, plan):
    paths = report(laws, plan, None, out=tmp_path / "r", budgets=[])
    text = paths["summary"].read_text()
    comparison = table_after(text, r"^## Comparison with baselines").set_index("plan")
    assert "uniform" in comparison.index
    # uniform under the cap hi <= 50k: hi gets 50k, the other two split the rest equally
    gains = table_after(text, r"gain of the optimised plan over each baseline").set_index("language")
    for lang, size in {"hi": 50_000.0, "ar": 125_000.0, "zh": 125_000.0}.items():
        expected = score(lang, plan.sizes[lang]) - score(lang, size)
        assert number(gains.loc[lang, "vs uniform"]) == pytest.approx(expected, abs=0.0051)


def test_report_replaces_files_in_existing_folder(tmp_path, laws, plan):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "report.md").write_text("old")
    report(laws, plan, [], out=out, budgets=[])
    assert (out / "keep.txt").read_text() == "mine"
    assert (out / "report.md").read_text().startswith("# Data budget report")


def test_errors_leave_nothing_behind(tmp_path, laws, plan):
    target = tmp_path / "taken"
    target.write_text("a file, not a folder")
    with pytest.raises(InputError, match="not a folder"):
        report(laws, plan, [], out=target, budgets=[])
    assert target.read_text() == "a file, not a folder"
    fewer = {k: v for k, v in laws.items() if k != "zh"}
    with pytest.raises(InputError, match="zh"):
        report(fewer, plan, [], out=tmp_path / "r2", budgets=[])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_gain_interval_over_bootstrap_draws(tmp_path):
    from budgetlaw.fitting import fit

    rng = np.random.default_rng(5)
    rows = [(lang, size, score(lang, size) + rng.normal(0, 0.3), seed)
            for lang in ("ar", "hi") for size in (10_000, 20_000, 50_000, 100_000) for seed in range(2)]
    laws = fit(pd.DataFrame(rows, columns=["language", "size", "score", "seed"]), n_boot=40, seed=1)
    plan = allocate(laws, 200_000.0)
    even = {"ar": 100_000.0, "hi": 100_000.0}
    base = Plan(
        name="even", sizes=pd.Series(even),
        predicted=pd.DataFrame({"score": [laws[k].predict(v) for k, v in even.items()], "lower": np.nan,
                                "upper": np.nan}, index=list(even)),
        objective="sum", objective_value=np.nan, budget=200_000.0, used_budget=200_000.0, unused_budget=0.0,
        marginal_value=np.nan, constraints={}, solver={}, signature={},
    )
    text = report(laws, plan, [base], out=tmp_path / "r", budgets=[])["summary"].read_text()
    row = table_after(text, r"^## Comparison with baselines").set_index("plan").loc["even"]
    # the sum of scores under draw j, written out with the ceilings: sum_i C_ij - K_ij * x_i ** -c_ij
    n = min(len(laws[k].draws) for k in even)
    gains = []
    for j in range(n):
        total = 0.0
        for lang in even:
            K, c, C = laws[lang].draws[j]
            total += (C - K * plan.sizes[lang] ** -c) - (C - K * even[lang] ** -c)
        gains.append(total)
    lower, upper = np.quantile(gains, [0.05, 0.95])
    cell = row["optimised gain (90% interval)"]
    low_text, high_text = re.search(r"\[([^,]+), ([^\]]+)\]", cell).groups()
    assert number(low_text) == pytest.approx(lower, abs=0.0051)
    assert number(high_text) == pytest.approx(upper, abs=0.0051)
    assert number(row["optimised better in"].split("%")[0]) == pytest.approx(100 * np.mean(np.array(gains) > 0), abs=0.51)


def test_maxmin_plans_are_compared_on_the_worst_language(tmp_path, laws):
    plan = allocate(laws, BUDGET, objective="maxmin")
    skewed = hand_plan("skewed", {"ar": 200_000.0, "hi": 50_000.0, "zh": 50_000.0})
    text = report(laws, plan, [skewed], out=tmp_path / "r", budgets=[])["summary"].read_text()
    table = table_after(text, r"^## Comparison with baselines").set_index("plan")
    worst_skewed = min(score(k, v) for k, v in skewed.sizes.items())
    worst_mine = min(score(k, plan.sizes[k]) for k in PARAMS)
    assert number(table.loc["skewed", "objective value"]) == pytest.approx(worst_skewed, abs=0.0051)
    assert number(table.loc["optimised", "objective value"]) == pytest.approx(worst_mine, abs=0.0051)
    # max-min equalises the languages' scores at the optimum (no caps bind here)
    scores = [score(k, plan.sizes[k]) for k in PARAMS]
    assert max(scores) - min(scores) == pytest.approx(0.0, abs=1e-3)
