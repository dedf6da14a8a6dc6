"""budgetlaw.allocation.convex.run: how solver statuses become a plan, a refusal or a warning,
on a stand-in problem whose solves return the statuses a test chooses."""

import logging

import cvxpy as cp
import numpy as np
import pytest

from budgetlaw.allocation.convex import run
from budgetlaw.errors import InputError


class _Constraint:
    def __init__(self, violation):
        self._v = violation

    def violation(self):
        return np.array([self._v])


class FakeProblem:
    """solve() takes the next status of ``statuses``; calls records (solver, tolerance kwargs)."""

    def __init__(self, statuses, violation=0.0):
        self.statuses, self.calls, self.status = list(statuses), [], None
        self.constraints = [_Constraint(violation)]

    def solve(self, solver, **kwargs):
        self.calls.append((solver, bool(kwargs)))
        self.status = self.statuses.pop(0)


def test_an_inaccurate_tight_solve_certified_at_default_tolerances_is_optimal(caplog):
    problem = FakeProblem(["optimal_inaccurate", "optimal"])
    with caplog.at_level(logging.INFO, logger="budgetlaw.allocation.convex"):
        assert run(cp, problem, 0) == ("optimal", "CLARABEL")
    assert problem.calls == [("CLARABEL", True), ("CLARABEL", False)]  # tight first, then the defaults
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_inaccurate_optimum_that_stays_inaccurate_is_kept_with_one_warning(caplog):
    problem = FakeProblem(["optimal_inaccurate", "optimal_inaccurate"])
    with caplog.at_level(logging.WARNING, logger="budgetlaw.allocation.convex"):
        assert run(cp, problem, 0) == ("optimal_inaccurate", "CLARABEL")
    assert [r.getMessage() for r in caplog.records] == ["cvxpy (CLARABEL) reports an inaccurate optimum; check the plan"]


def test_an_infeasible_problem_is_the_users_input():
    with pytest.raises(InputError, match="infeasible"):
        run(cp, FakeProblem(["infeasible"]), 2)
