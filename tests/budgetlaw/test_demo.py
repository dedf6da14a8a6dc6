"""`budgetlaw demo` on the bundled measured pilots: a mixed table (one-language pilots and
multilingual models), the transfer-aware law fitted on it, the plan made on that law and the
report. The fit is compared with `budgetlaw fit` of the bundled file; the plan's predictions,
budget, caps and optimality are worked out here from laws.json with numpy and scipy."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from budgetlaw.cli import main
from budgetlaw.demo_data import MEASURED

N_BOOT = 20


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default demo, run once: its folder and what it printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "-o", str(out), "--n-boot", str(N_BOOT)]) == 0
    return out, printed.getvalue()


def transfer_matrix(section: dict) -> np.ndarray:
    """T (rows receive, columns give) from the laws.json parameters, by the forms of
    docs/formats/laws.md: tau:i (pooled), s:j (source), T:i<j (full)."""
    langs = section["languages"]
    n = len(langs)
    T = np.zeros((n, n))
    for name, value in section["parameters"].items():
        kind, rest = name.split(":", 1)
        if kind == "tau":
            T[langs.index(rest), :] = value
        elif kind == "s":
            T[:, langs.index(rest)] = value
        else:
            i, j = rest.split("<")
            T[langs.index(i), langs.index(j)] = value
    np.fill_diagonal(T, 0.0)
    return T


def law_arrays(laws: dict, langs: list) -> tuple:
    """E, K, c per language from the (a, b, c) form: K = a * b**(-c), E in the ceiling field."""
    E = np.array([laws[lang]["law"]["ceiling"] for lang in langs])
    c = np.array([laws[lang]["law"]["c"] for lang in langs])
    K = np.array([laws[lang]["law"]["a"] * laws[lang]["law"]["b"] ** (-laws[lang]["law"]["c"]) for lang in langs])
    return E, K, c


def test_the_bundled_table_is_a_mixed_table_of_measured_rows():
    pilots = pd.read_csv(MEASURED.pilots_path, dtype=str, keep_default_na=False)
    assert {"run", "mixture", "unique", "source"} <= set(pilots.columns)
    assert set(pilots["metric"]) == {"nll"}
    # the rows say where they were copied from: the plan's frozen table, or the latest one
    assert MEASURED.bundled_from() in ("smollm2-gettext/pilots_transfer_plan.csv", "smollm2-gettext/pilots_transfer.csv")
    mixed = pilots[pilots["mixture"] != ""]
    assert mixed["run"].nunique() >= 6  # at least the six leave-one-language-out models
    # the leave-one-out models score every language at 0 pairs of its own somewhere: pure transfer
    assert set(mixed.loc[mixed["size"] == "0", "language"]) == set(pilots["language"])


def test_demo_laws_are_fit_of_the_bundled_file_byte_for_byte(demo, tmp_path):
    out, _ = demo
    mine = tmp_path / "laws.json"
    assert main(["fit", str(MEASURED.pilots_path), "--lower-is-better", "--transfer", "auto", "--n-boot", str(N_BOOT),
                 "--seed", "0", "-o", str(mine)]) == 0
    assert (out / "laws.json").read_bytes() == mine.read_bytes()
    assert (out / "pilots.csv").read_bytes() == MEASURED.pilots_path.read_bytes()


def test_demo_fits_a_transfer_law_and_says_which(demo):
    out, printed = demo
    data = json.loads((out / "laws.json").read_text())
    section = data["transfer"]
    assert data["lower_is_better"] is True
    assert section["form"] != "none"
    selection = section["fitted_on"]["selection"]
    assert selection["requested"] == "auto" and selection["chosen"] == section["form"]
    # the chosen form has the lowest recorded score (null = infinite: under T = 0 a language
    # with 0 pairs of its own has an infinite loss)
    finite = {form: v for form, v in selection["scores"].items() if v is not None}
    assert section["form"] == min(finite, key=finite.get)
    assert len(section["draws"]["values"]) == N_BOOT
    pilots = pd.read_csv(MEASURED.pilots_path, dtype=str, keep_default_na=False)
    assert f"MEASURED pilots ({len(pilots)} rows:" in printed and "transfer-aware laws" in printed
    assert f"transfer form chosen: {section['form']} (asked for: auto" in printed
    assert f"bundled from: {MEASURED.bundled_from()}" in printed
    assert "SmolLM2-135M-Instruct" in printed


def test_demo_plan_spends_the_budget_within_the_limits_at_the_optimum(demo):
    """Predictions = E + K d^-c at d = x + T x, computed here; the plan spends 900 pairs within
    each language's available pairs; an independent scipy (SLSQP) minimisation of the summed loss
    under the same law finds no better split."""
    out, _ = demo
    data = json.loads((out / "laws.json").read_text())
    plan = json.loads((out / "plan.json").read_text())
    langs = data["transfer"]["languages"]
    E, K, c = law_arrays(data["laws"], langs)
    T = transfer_matrix(data["transfer"])
    limits = pd.read_csv(out / "limits.csv", comment="#").set_index("language")["available"]
    x = np.array([plan["sizes"][lang] for lang in langs])
    assert plan["budget"] == 900 and plan["lower_is_better"] is True
    assert x.sum() == pytest.approx(900, rel=1e-6)
    assert np.all(x > 0) and np.all(x <= limits.reindex(langs).to_numpy() * (1 + 1e-9))
    assert plan["solver"]["method"] == "cvxpy (transfer law)"

    def loss(sizes):
        return E + K * (sizes + T @ sizes) ** (-c)

    predicted = np.array([plan["predicted"][lang]["score"] for lang in langs])
    np.testing.assert_allclose(predicted, loss(x), rtol=1e-9)
    assert plan["objective_value"] == pytest.approx(loss(x).sum(), rel=1e-9)

    caps = limits.reindex(langs).to_numpy(float)
    best = minimize(lambda s: loss(s).sum(), np.full(len(langs), 150.0), method="SLSQP",
                    bounds=[(1e-3, cap) for cap in caps], constraints=[{"type": "eq", "fun": lambda s: s.sum() - 900}],
                    options={"ftol": 1e-14, "maxiter": 1000})
    assert best.success
    assert loss(x).sum() <= best.fun + 1e-6
    np.testing.assert_allclose(x, best.x, atol=0.5)  # pairs
    # first-order condition: no cap binds, so moving a pair between any two languages gains nothing
    d = x + T @ x
    marginal = (np.eye(len(langs)) + T).T @ (c * K * d ** (-c - 1))  # -d(total loss)/dx_j
    assert marginal.max() == pytest.approx(marginal.min(), rel=1e-3)


def test_demo_report_says_whether_the_plan_is_worth_it_and_draws_the_matrix(demo):
    out, printed = demo
    text = (out / "report" / "report.md").read_text()
    first = text.splitlines()[0]
    assert "SmolLM2-135M-Instruct" in first and MEASURED.bundled_from() in first
    assert "## Is the plan worth it?" in text and "Synthetic data" not in text
    assert (out / "report" / "transfer.png").is_file() and "transfer.png" in text
    # the printed gains are the report's: baseline minus plan, summed loss, each plan at its
    # effective data (plans.csv), recomputed here
    plans = pd.read_csv(out / "report" / "plans.csv")
    totals = plans.groupby("plan")["score"].sum()
    assert "predicted reduction in the summed loss (90% interval) over: uniform " \
           f"{totals['uniform'] - totals['optimised']:+.3f} [" in printed
    assert "is the plan worth it? vs uniform:" in printed
    # uniform spends 150 pairs on each language (no cap binds): its loss under the law, by hand
    data = json.loads((out / "laws.json").read_text())
    langs = data["transfer"]["languages"]
    E, K, c = law_arrays(data["laws"], langs)
    x = np.full(len(langs), 150.0)
    d = x + transfer_matrix(data["transfer"]) @ x
    uniform = plans[plans["plan"] == "uniform"].set_index("language")["score"].reindex(langs).to_numpy()
    np.testing.assert_allclose(uniform, E + K * d ** (-c), rtol=1e-9)


def test_demo_transfer_none_is_the_one_language_law_of_the_same_pilots(tmp_path, capsys):
    """--transfer none: T = 0, so the plan equalises the one-language marginals c K x^(-c-1)
    (the exact path), and K, c, E are the fit of the one-language rows alone."""
    out = tmp_path / "none"
    assert main(["demo", "-o", str(out), "--n-boot", "0", "--transfer", "none"]) == 0
    printed = capsys.readouterr().out
    assert "one-language laws" in printed and "transfer form chosen: none" in printed
    data = json.loads((out / "laws.json").read_text())
    assert data["transfer"]["form"] == "none"
    plan = json.loads((out / "plan.json").read_text())
    assert plan["solver"]["method"] == "exact"
    # T = 0 by choice: no heat map of zeros (the transfer demo draws one)
    assert not (out / "report" / "transfer.png").exists()
    langs = list(plan["sizes"])
    E, K, c = law_arrays(data["laws"], langs)
    x = np.array([plan["sizes"][lang] for lang in langs])
    assert x.sum() == pytest.approx(900, rel=1e-9)
    slopes = c * K * x ** (-c - 1)
    assert slopes.max() == pytest.approx(slopes.min(), rel=1e-4)
    # the same laws as `fit` of the one-language rows only (no mixture, no repeats)
    pilots = pd.read_csv(MEASURED.pilots_path, keep_default_na=False)
    single = pilots[(pilots["mixture"] == "") & (pilots["unique"].astype(str) == "")]
    single[["language", "size", "score", "seed", "metric"]].to_csv(tmp_path / "single.csv", index=False)
    assert main(["fit", str(tmp_path / "single.csv"), "--lower-is-better", "--n-boot", "0",
                 "-o", str(tmp_path / "single.json")]) == 0
    alone = json.loads((tmp_path / "single.json").read_text())["laws"]
    for lang in langs:
        for key in ("a", "b", "c", "ceiling"):
            assert data["laws"][lang]["law"][key] == pytest.approx(alone[lang]["law"][key], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("argv, needle", [
    (["--synthetic", "--transfer", "pooled"], "the synthetic pilots are one-language pilots only"),
    (["--transfer", "matrix"], "invalid choice"),
])
def test_demo_refuses_a_transfer_it_cannot_fit(tmp_path, capsys, argv, needle):
    out = tmp_path / "out"
    assert main(["demo", "-o", str(out), "--n-boot", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


def test_report_of_a_mixed_table_draws_only_one_language_pilots_on_the_law_panels(demo):
    """A multilingual row sits at its effective data, not its own pairs, and a pure-transfer row
    has 0 of them (the log-size grid of the law panels failed on it): the panels show the
    one-language pilots; the seed noise still comes from every row."""
    import budgetlaw as bl
    from budgetlaw.reporting import build_report

    out, _ = demo
    laws, plan = bl.load_laws(out / "laws.json"), bl.load_plan(out / "plan.json")
    content = build_report(laws, plan, ["uniform"], [], out / "pilots.csv")
    table = pd.read_csv(out / "pilots.csv", keep_default_na=False)
    single = table[(table["mixture"] == "") & (table["unique"].astype(str) == "")]
    assert len(content.shown_pilots) == len(single) < len(table)
    assert sorted(content.shown_pilots["size"]) == sorted(single["size"].astype(float))
    for lang, curve in content.curves.groupby("language"):
        assert curve["size"].min() == pytest.approx(single.loc[single["language"] == lang, "size"].min() / 1.5)


def test_demo_report_opens_with_the_answer_in_the_clis_words(demo):
    """The first screen of report.md (issue 25): the plan for every language with its count and
    share, and the verdict against uniform in the same words as the command's last line, before
    any warning or table; no linear marginal value beyond the budget."""
    out, printed = demo
    text = (out / "report" / "report.md").read_text()
    assert text.index("## The answer") < text.index("## Warnings") < text.index("## Plan")
    answer = text.split("## The answer", 1)[1].split("\n## ", 1)[0]
    plan = json.loads((out / "plan.json").read_text())
    sizes = plan["sizes"] if isinstance(plan["sizes"], dict) else dict(zip(plan["languages"], plan["sizes"]))
    total = sum(sizes.values())
    assert abs(total - 900) < 1e-6
    line = next(row for row in answer.splitlines() if row.startswith("**Split 900 pairs over 6 languages as:**"))
    for lang, size in sizes.items():  # each language with its count and its share, worked out here
        assert f"{lang} {size:,.0f} ({100 * size / total:.1f}%)" in line
    verdict = next(row for row in printed.splitlines() if row.startswith("is the plan worth it? vs uniform: "))
    words = verdict.split("vs uniform: ", 1)[1].rsplit(" (report.md", 1)[0]
    assert f"**Verdict:** {words}" in answer
    regret = next(row for row in printed.splitlines() if row.startswith("Expected regret of this plan: "))
    assert regret.replace("Expected regret of this plan:", "**Expected regret of this plan:**", 1) in answer
    assert "per 100k more" not in text and "each 1,000 more pairs" not in answer  # 1,000 > a tenth of 900
    assert "another 10% of the budget (90 more)" in answer
    # a loss floor at 0 is the normal case: no ceiling_at_bound warning, no red panel title
    assert "ceiling_at_bound" not in text.split("## Fitted laws", 1)[0]
