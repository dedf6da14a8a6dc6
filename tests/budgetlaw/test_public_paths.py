"""The import paths that README.md, docs/, examples/, benchmarks/ and tuning use keep working
after budgetlaw was regrouped into fitting/, allocation/ and reporting/, and name the very same
objects as the new homes (re-exports, not copies)."""

import importlib

import pytest

import budgetlaw as bl

# old path -> (names, new home)
KEPT = {
    "budgetlaw.bootstrap": (("resample", "fit_batch", "C_BOUNDS", "LOSSES"), "budgetlaw.fitting.engine"),
    "budgetlaw.exact": (("solve_sum", "solve_maxmin", "solve_robust", "pad_draws"), "budgetlaw.allocation.exact"),
    "budgetlaw.baselines": (("uniform", "proportional", "temperature", "unimax", "water_fill", "sizes_at"),
                            "budgetlaw.allocation.baselines"),
    "budgetlaw.report_summary": (("comparison_rows", "gain_rows", "law_rows", "plan_rows", "plan_warnings",
                                  "objective_value", "fmt_size", "fmt_score"), "budgetlaw.reporting.summary"),
    "budgetlaw.fitting": (("fit", "FittedLaw", "LawSet", "load_laws", "LAWS_FORMAT"),
                          "budgetlaw.fitting.laws budgetlaw.transfer.fit"),
    "budgetlaw.allocation": (("allocate", "sweep", "prepare", "make_plan", "OBJECTIVES"),
                             "budgetlaw.allocation.optimise budgetlaw.allocation.problem"),
    "budgetlaw.reporting": (("report", "MAX_LAW_PANELS", "focus_languages"), "budgetlaw.reporting.build"),
    "budgetlaw.fileio": (("write_text_atomic", "read_json", "file_mode", "dir_mode"), "budgetlaw._io"),
}


@pytest.mark.parametrize("old", sorted(KEPT))
def test_old_paths_reexport_the_new_homes(old):
    names, new = KEPT[old]
    module = importlib.import_module(old)
    homes = [importlib.import_module(name) for name in new.split()]
    for name in names:
        value = getattr(module, name)
        defined = [home.__name__ for home in homes if name in vars(home)]
        assert defined and all(vars(importlib.import_module(h))[name] is value for h in defined), f"{old}.{name}"


def test_old_problem_names_are_the_renamed_classes():
    from budgetlaw.allocation import AllocationProblem, Problem
    from budgetlaw.bootstrap import Problem as OldFitProblem
    from budgetlaw.fitting.engine import FitProblem

    assert Problem is AllocationProblem and OldFitProblem is FitProblem and FitProblem is not AllocationProblem


def test_lazy_top_level_names_and_errors():
    from budgetlaw.errors import BudgetlawError, InputError, SolverError

    assert bl.baselines.uniform is importlib.import_module("budgetlaw.allocation.baselines").uniform
    assert bl.report is importlib.import_module("budgetlaw.reporting.build").report
    assert bl.SolverError is SolverError and bl.BudgetlawError is BudgetlawError and bl.InputError is InputError
    assert issubclass(InputError, ValueError) and issubclass(InputError, BudgetlawError)
    assert issubclass(SolverError, BudgetlawError) and not issubclass(SolverError, ValueError)
