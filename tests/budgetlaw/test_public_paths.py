"""The public paths README.md, docs/, examples/, benchmarks/ and tuning use name the objects of
their real homes, and the old re-export modules (shims kept for paths nobody installed) are gone."""

import importlib
import importlib.util

import pytest

import budgetlaw as bl

# package -> (names, the modules that define them)
PUBLIC = {
    "budgetlaw.fitting": (("fit", "FittedLaw", "LawSet", "load_laws", "LAWS_FORMAT"),
                          "budgetlaw.fitting.laws budgetlaw.transfer.fit"),
    "budgetlaw.allocation": (("allocate", "sweep", "prepare", "make_plan", "OBJECTIVES", "AllocationProblem"),
                             "budgetlaw.allocation.optimise budgetlaw.allocation.problem"),
    "budgetlaw.reporting": (("report", "MAX_LAW_PANELS", "focus_languages"), "budgetlaw.reporting.build"),
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_packages_export_the_objects_of_their_modules(package):
    names, homes = PUBLIC[package]
    module = importlib.import_module(package)
    homes = [importlib.import_module(name) for name in homes.split()]
    for name in names:
        value = getattr(module, name)
        defined = [home for home in homes if name in vars(home)]
        assert defined and all(vars(home)[name] is value for home in defined), f"{package}.{name}"


@pytest.mark.parametrize("old", ["budgetlaw.bootstrap", "budgetlaw.exact", "budgetlaw.baselines",
                                 "budgetlaw.report_summary", "budgetlaw._io"])
def test_no_shim_modules(old):
    assert importlib.util.find_spec(old) is None, f"{old} is back: import from the real module instead"


def test_one_problem_class_per_stage():
    # the allocation's problem and the fitting engine's batch problem are two classes with two
    # names; neither is also called `Problem`
    from budgetlaw.allocation import AllocationProblem
    from budgetlaw.fitting.engine import FitProblem

    assert FitProblem is not AllocationProblem
    assert not hasattr(importlib.import_module("budgetlaw.allocation"), "Problem")
    assert not hasattr(importlib.import_module("budgetlaw.fitting.engine"), "Problem")


def test_lazy_top_level_names_and_errors():
    from budgetlaw.errors import BudgetlawError, InputError, SolverError

    assert bl.baselines is importlib.import_module("budgetlaw.allocation.baselines")
    assert bl.baselines.uniform is importlib.import_module("budgetlaw.allocation.baselines").uniform
    assert bl.report is importlib.import_module("budgetlaw.reporting.build").report
    assert bl.SolverError is SolverError and bl.BudgetlawError is BudgetlawError and bl.InputError is InputError
    assert issubclass(InputError, ValueError) and issubclass(InputError, BudgetlawError)
    assert issubclass(SolverError, BudgetlawError) and not issubclass(SolverError, ValueError)


def test_names_tuning_uses_are_public_on_purpose():
    # tuning reaches budgetlaw only through these and budgetlaw.fileio (tests/test_layering.py)
    assert bl.plot_transfer is importlib.import_module("budgetlaw.reporting.heatmap").plot_transfer
    assert bl.LOSS_METRICS is importlib.import_module("budgetlaw.direction").LOSS_METRICS
    assert bl.STAGE1_CHOICES is importlib.import_module("budgetlaw.transfer.law").STAGE1_CHOICES
