"""Plan a multilingual data budget from pilot runs, step by step.

A notebook-style script: each `# %%` cell can be run on its own in an editor that knows cells
(VS Code, Spyder, Jupyter via jupytext), or the whole file with

    python examples/plan_budget.py [OUT_DIR]        # default OUT_DIR: plan_budget_out/

It uses the bundled SYNTHETIC pilots (budgetlaw/data/demo_pilots.csv, drawn from known laws), so
it runs anywhere in a few seconds. For your own runs, replace PILOTS and LIMITS with your files
(formats: docs/formats/pilots.md and docs/formats/limits.md).
"""

# %% Setup
import sys
from pathlib import Path

import pandas as pd

import budgetlaw as bl
from budgetlaw.limits import limits_to_constraints
from budgetlaw.synthetic import DEMO_LAWS, demo_limits_path, demo_pilots_path

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "plan_budget_out")
OUT.mkdir(parents=True, exist_ok=True)
PILOTS = demo_pilots_path()  # your pilots.csv: language,size,score[,seed,metric]
LIMITS = demo_limits_path()  # your LANGS.csv: language,available[,floor,cost,weight]
BUDGET = bl.parse_size("1.2M")  # total pairs to spend

# %% 1. Look at the pilot runs: a few sizes per language, several seeds each
pilots = bl.read_pilots(PILOTS)
print(pilots.groupby(["language", "size"])["score"].agg(["mean", "std", "count"]).round(2).head(10))

# %% 2. Fit one saturating power law per language: score = 100 - K * x**(-c)
laws = bl.fit(PILOTS, n_boot=200, seed=0)
print(laws.to_frame()[["K", "c", "c_lower", "c_upper", "r2", "rmse", "holdout_error", "flags"]].round(4))
# The pilots are synthetic, so we can see how close the fit gets to the laws that made them.
for language, (a, b, c) in DEMO_LAWS.items():
    print(f"{language}: true c = {c:.3f}, fitted c = {laws[language].c:.3f}")
laws.save(OUT / "laws.json")

# %% 3. What does one more pair buy in each language at 100k pairs? (steepest = best use)
marginal = pd.Series({lang: law.marginal(100_000) * 100_000 for lang, law in laws.items()})
print("score points per 100k extra pairs, at 100k:\n", marginal.sort_values(ascending=False).round(3))

# %% 4. Allocate the budget under the per-language limits
limits = bl.read_limits(LIMITS)
constraints = limits_to_constraints(limits, list(laws), source=str(LIMITS))
plan = bl.allocate(laws, BUDGET, **constraints)
print(plan.to_frame().round(2))
print(f"marginal value: {plan.marginal_value * 100_000:.2f} points per 100k more pairs")
plan.save(OUT / "plan.json")

# %% 5. Compare with the usual ways of splitting data, under the same limits
others = [
    bl.baselines.uniform(laws, BUDGET, **constraints),
    bl.baselines.proportional(laws, BUDGET, **constraints),
    bl.baselines.temperature(laws, BUDGET, tau=5.0, **constraints),
    bl.baselines.unimax(laws, BUDGET, **constraints),
]
comparison = plan.compare(*others)
print(comparison.filter(like="gain:").round(2))  # optimised minus each baseline; rows total/mean/min at the end

# %% 6. The frontier: how the best total grows with the budget
frontier = bl.sweep(laws, [300e3, 600e3, 1.2e6, 2.4e6], **constraints)
print(frontier.pivot_table(index="budget", columns="language", values="size").round(-3))

# %% 7. Write the report (figures + report.md) and open OUT/report/report.md
paths = bl.report(laws, plan, others, out=OUT / "report", pilots=pd.read_csv(PILOTS))
print("report:", paths["summary"])
