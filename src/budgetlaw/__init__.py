"""budgetlaw: fit saturating power laws to pilot runs and allocate a data budget across languages.

    import budgetlaw as bl
    laws = bl.fit("pilots.csv")                 # LawSet: language -> FittedLaw
    plan = bl.allocate(laws, budget=1.2e6)      # Plan: sizes, predicted scores, marginal value
    plan.compare(bl.baselines.uniform(laws, budget=1.2e6))
    bl.worth(laws, plan, "uniform")             # gain, its paired interval, seeds per plan to see it
    bl.predict(laws, {"ar": 90, "el": 90})      # any mixture: every language's value and interval

A table with multilingual rows (docs/formats/pilots.md) also gives how languages share data:
``laws.transfer`` (budgetlaw.transfer), which allocate, the baselines and predict all use.

Names are imported lazily so that `import budgetlaw` stays fast (no cvxpy, no matplotlib).
"""

from __future__ import annotations

import importlib

from budgetlaw.errors import BudgetlawError, InputError, SolverError

__version__ = "0.1.0"

_LAZY = {
    "PowerLaw": "budgetlaw.law",
    "fit": "budgetlaw.fitting",
    "FittedLaw": "budgetlaw.fitting",
    "LawSet": "budgetlaw.fitting",
    "FitOptions": "budgetlaw.fitting",
    "load_laws": "budgetlaw.fitting",
    "read_pilots": "budgetlaw.pilots",
    "predict": "budgetlaw.transfer.prediction",
    "Transfer": "budgetlaw.transfer.law",
    "allocate": "budgetlaw.allocation",
    "sweep": "budgetlaw.allocation",
    "Plan": "budgetlaw.plan",
    "load_plan": "budgetlaw.plan",
    "read_limits": "budgetlaw.limits",
    "parse_size": "budgetlaw.limits",
    "report": "budgetlaw.reporting",
    "worth": "budgetlaw.reporting",
    "baselines": "budgetlaw.allocation.baselines",
    "next_pilots": "budgetlaw.design",
    "expected_regret": "budgetlaw.design",
    "plot_transfer": "budgetlaw.reporting.heatmap",
    "LOSS_METRICS": "budgetlaw.direction",
    "STAGE1_CHOICES": "budgetlaw.transfer.law",
}

__all__ = ["BudgetlawError", "InputError", "SolverError", *_LAZY]


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'budgetlaw' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
