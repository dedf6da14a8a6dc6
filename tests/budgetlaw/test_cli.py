"""The budgetlaw command line end to end: fit -> allocate -> report, the demo, and bad input
(exit status 2, a one-line message naming the problem, no traceback, no output left)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from budgetlaw.cli import main
from budgetlaw.synthetic import DEMO_LAWS

# Generating laws (a, b, c) of the test pilots; noise-free so the fit must recover them.
TRUE = {"ar": (42.5, 0.04, 0.11), "hi": (52.0, 0.03, 0.14), "zh": (40.0, 0.04, 0.085)}
SIZES = (10_000, 20_000, 50_000, 100_000, 200_000)


def true_score(lang, x):
    a, b, c = TRUE[lang]
    return 100.0 - a * (b * x) ** (-c)


@pytest.fixture()
def pilots_csv(tmp_path):
    rows = [(lang, size, round(true_score(lang, size), 6), 0) for lang in TRUE for size in SIZES]
    path = tmp_path / "pilots.csv"
    pd.DataFrame(rows, columns=["language", "size", "score", "seed"]).to_csv(path, index=False)
    return path


@pytest.fixture()
def laws_json(tmp_path, pilots_csv):
    out = tmp_path / "laws.json"
    assert main(["fit", str(pilots_csv), "-o", str(out), "--n-boot", "20"]) == 0
    return out


def run_err(argv, capsys):
    """Run main(argv) expecting failure -> (status, stderr)."""
    status = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def test_fit_recovers_generating_laws(laws_json):
    data = json.loads(laws_json.read_text())
    assert set(data["laws"]) == set(TRUE)
    for lang, (a, b, c) in TRUE.items():
        law = data["laws"][lang]["law"]
        assert law["c"] == pytest.approx(c, rel=1e-3)
        assert law["K"] == pytest.approx(a * b ** (-c), rel=1e-3)


def test_allocate_matches_closed_form_optimum(tmp_path, laws_json):
    out = tmp_path / "plan.json"
    assert main(["allocate", str(laws_json), "--budget", "600k", "-o", str(out)]) == 0
    plan = json.loads(out.read_text())
    assert plan["format"] == "budgetlaw-plan/1"
    # Equal marginals: c K x^(-c-1) = lam  =>  x(lam) = (c K / lam) ** (1/(c+1)); sum x = budget.
    laws = {lang: (a * b ** (-c), c) for lang, (a, b, c) in TRUE.items()}

    def spent(log_lam):
        return sum((c * K / np.exp(log_lam)) ** (1 / (c + 1)) for K, c in laws.values()) - 600_000

    lam = np.exp(brentq(spent, -60, 10))
    for lang, (K, c) in laws.items():
        assert plan["sizes"][lang] == pytest.approx((c * K / lam) ** (1 / (c + 1)), rel=2e-3)


def test_allocate_with_limits_file(tmp_path, laws_json):
    limits = tmp_path / "LANGS.csv"
    limits.write_text("# caps\nlanguage,available,floor\nhi,40k,\nzh,,100k\n")
    out = tmp_path / "plan.json"
    status = main(["allocate", str(laws_json), "--budget", "1,000,000", "--languages", str(limits),
                   "--max-epochs", "2", "-o", str(out)])
    assert status == 0
    plan = json.loads(out.read_text())
    assert plan["sizes"]["hi"] == pytest.approx(80_000, rel=1e-6)  # 40k available x 2 epochs, binding
    assert plan["sizes"]["zh"] >= 100_000 * (1 - 1e-9)
    assert sum(plan["sizes"].values()) == pytest.approx(1_000_000, rel=1e-6)
    assert plan["constraints"]["max_epochs"] == 2


def test_report_command(tmp_path, laws_json, pilots_csv):
    plan = tmp_path / "plan.json"
    assert main(["allocate", str(laws_json), "--budget", "600k", "-o", str(plan)]) == 0
    out = tmp_path / "rep"
    status = main(["report", str(laws_json), str(plan), "-o", str(out), "--baselines", "uniform",
                   "--budgets", "300k,600k,1.2M", "--pilots", str(pilots_csv)])
    assert status == 0
    for name in ("report.md", "laws.png", "allocation.png", "gains.png", "frontier.png", "frontier.csv"):
        assert (out / name).is_file(), name
    text = (out / "report.md").read_text()
    assert "vs uniform" in text and "Synthetic data" not in text
    assert sorted(pd.read_csv(out / "frontier.csv")["budget"].unique()) == [300_000, 600_000, 1_200_000]


def test_demo_synthetic_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--synthetic", "-o", str(out), "--n-boot", "50"]) == 0
    printed = capsys.readouterr().out
    for name in ("pilots.csv", "limits.csv", "laws.json", "plan.json", "report/report.md"):
        assert (out / name).is_file(), name
        assert name in printed
    for name in ("laws.png", "allocation.png", "gains.png", "frontier.png"):
        assert (out / "report" / name).is_file(), name
    text = (out / "report" / "report.md").read_text()
    assert "**Synthetic data.**" in text
    assert "could not be built" not in text.split("## Plan")[0]  # every baseline was built (no such warning)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["budget"] == 1_200_000
    assert sum(plan["sizes"].values()) == pytest.approx(1_200_000, rel=1e-6)
    assert plan["sizes"]["hi"] <= 120_000 * (1 + 1e-9)  # the bundled limits cap hi at 120k
    assert min(plan["sizes"].values()) >= 10_000 * (1 - 1e-9)  # and floor every language at 10k
    # the fit recovers the known generating exponents within the noise of the demo data
    laws = json.loads((out / "laws.json").read_text())["laws"]
    for lang, (a, b, c) in DEMO_LAWS.items():
        assert laws[lang]["law"]["c"] == pytest.approx(c, abs=0.04)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


@pytest.mark.parametrize("budget, needle", [("1.2X", "'1.2X'"), ("0", "> 0"), ("-5k", "negative"), ("lots", "1.2M")])
def test_bad_budget(tmp_path, laws_json, capsys, budget, needle):
    out = tmp_path / "plan.json"
    status, err = run_err(["allocate", str(laws_json), f"--budget={budget}", "-o", str(out)], capsys)
    assert status == 2
    assert "--budget" in err and needle in err
    assert not out.exists()


def test_missing_files(tmp_path, laws_json, capsys):
    status, err = run_err(["fit", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "l.json")], capsys)
    assert status == 2 and "nope.csv" in err and "not found" in err
    assert not (tmp_path / "l.json").exists()
    status, err = run_err(["allocate", str(tmp_path / "gone.json"), "--budget", "1M", "-o", str(tmp_path / "p.json")], capsys)
    assert status == 2 and "gone.json" in err
    status, err = run_err(["allocate", str(laws_json), "--budget", "1M", "--languages", str(tmp_path / "L.csv"),
                           "-o", str(tmp_path / "p.json")], capsys)
    assert status == 2 and "L.csv" in err
    assert not (tmp_path / "p.json").exists()


def test_unknown_objective(tmp_path, laws_json, capsys):
    status, err = run_err(["allocate", str(laws_json), "--budget", "1M", "--objective", "median",
                           "-o", str(tmp_path / "p.json")], capsys)
    assert status == 2
    assert "median" in err and "maxmin" in err
    assert not (tmp_path / "p.json").exists()


def test_limits_for_languages_without_laws(tmp_path, laws_json, capsys):
    limits = tmp_path / "LANGS.csv"
    limits.write_text("language,available\nar,100k\nsw,50k\n")
    status, err = run_err(["allocate", str(laws_json), "--budget", "1M", "--languages", str(limits),
                           "-o", str(tmp_path / "p.json")], capsys)
    assert status == 2
    assert "'sw'" in err and "LANGS.csv" in err
    assert not (tmp_path / "p.json").exists()


def test_bad_limits_line_reported(tmp_path, laws_json, capsys):
    limits = tmp_path / "LANGS.csv"
    limits.write_text("language,available\nar,100k\nhi,-3\n")
    status, err = run_err(["allocate", str(laws_json), "--budget", "1M", "--languages", str(limits),
                           "-o", str(tmp_path / "p.json")], capsys)
    assert status == 2 and "line 3" in err and "negative" in err


def test_bad_pilots_leave_no_laws(tmp_path, capsys):
    pilots = tmp_path / "pilots.csv"
    pilots.write_text("language,size,score\nar,10000,70\nar,20000,abc\nar,50000,75\n")
    out = tmp_path / "laws.json"
    status, err = run_err(["fit", str(pilots), "-o", str(out)], capsys)
    assert status == 2 and str(pilots) in err
    assert not out.exists()


def test_report_bad_baseline_and_target(tmp_path, laws_json, capsys):
    plan = tmp_path / "plan.json"
    assert main(["allocate", str(laws_json), "--budget", "600k", "-o", str(plan)]) == 0
    status, err = run_err(["report", str(laws_json), str(plan), "-o", str(tmp_path / "r"), "--baselines", "random"], capsys)
    assert status == 2 and "random" in err and "unimax" in err
    taken = tmp_path / "taken"
    taken.write_text("x")
    status, err = run_err(["report", str(laws_json), str(plan), "-o", str(taken), "--budgets", "none"], capsys)
    assert status == 2 and "not a folder" in err
    assert not (tmp_path / "r").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_console_entry_point_prints_one_line_error(tmp_path):
    """`python -m budgetlaw` in a fresh process: exit 2 and a single clean line on stderr."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    result = subprocess.run(
        [sys.executable, "-m", "budgetlaw", "allocate", str(tmp_path / "laws.json"), "--budget", "1.2Q",
         "-o", str(tmp_path / "plan.json")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("budgetlaw allocate: error: --budget")
    assert len(result.stderr.strip().splitlines()) == 1
    help_result = subprocess.run([sys.executable, "-m", "budgetlaw", "--help"], capture_output=True, text=True,
                                 timeout=120)
    assert help_result.returncode == 0 and "demo" in help_result.stdout


def test_solver_choices_and_a_solver_failure_is_one_line(tmp_path, laws_json, capsys, monkeypatch):
    out = tmp_path / "plan.json"
    status, err = run_err(["allocate", str(laws_json), "--budget", "1M", "--solver", "gurobi", "-o", str(out)], capsys)
    assert status == 2 and "--solver" in err and "cvxpy" in err  # argparse lists the choices
    import cvxpy as cp

    def broken(self, *args, **kwargs):
        raise cp.error.SolverError("simulated breakdown")

    monkeypatch.setattr(cp.Problem, "solve", broken)
    status, err = run_err(["allocate", str(laws_json), "--budget", "1M", "--solver", "cvxpy", "-o", str(out)], capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("budgetlaw allocate: error: cvxpy could not solve")
    assert not out.exists()


def test_bundled_demo_pilots_match_their_generator():
    """The shipped CSV is exactly what `python -m budgetlaw.synthetic` writes, every row is marked
    synthetic, and the scatter around the generating laws matches the stated noise model."""
    from budgetlaw.synthetic import demo_pilots_path, generate_pilots, noise_sd

    shipped = pd.read_csv(demo_pilots_path())
    regenerated = generate_pilots()
    pd.testing.assert_frame_equal(shipped, regenerated, check_dtype=False)
    assert set(shipped["source"]) == {"synthetic"}
    assert sorted(shipped["language"].unique()) == sorted(DEMO_LAWS)
    # residuals scaled by the stated sd should look standard normal over all 90 runs
    a, b, c = (shipped["language"].map(lambda k, i=i: DEMO_LAWS[k][i]) for i in range(3))
    z = (shipped["score"] - (100 - a * (b * shipped["size"]) ** (-c))) / noise_sd(shipped["size"])
    assert abs(z.mean()) < 3 / np.sqrt(len(z))
    assert 0.7 < z.std() < 1.3
