"""allocation.problem: a budget and max_epochs are checked by one rule, with one message."""

from __future__ import annotations

import numpy as np
import pytest

import budgetlaw as bl
from budgetlaw.allocation.problem import prepare

LAWS = {"a": bl.PowerLaw(a=10, b=1, c=0.3, ceiling=100), "b": bl.PowerLaw(a=10, b=1, c=0.4, ceiling=100)}


@pytest.mark.parametrize("budget, message", [
    (-1, "budget is -1; it must be a finite number > 0 (in the laws' units, e.g. examples)"),
    ([100, float("inf")], "budget is inf; it must be a finite number > 0 (in the laws' units, e.g. examples)"),
    (np.array([100.0, 0.0]), "budget is 0.0; it must be a finite number > 0 (in the laws' units, e.g. examples)"),
    (None, "budget is None; give a number"),
    ("lots", "budget: size 'lots' is not understood; write it like 600k, 1.2M, 2e6, 1,200,000, 1.5B or a plain number"),
    ([[1]], "budget: expected a number or a 1-D list of numbers, got [[1]]"),
])
def test_a_budget_that_is_not_a_finite_number_above_0(budget, message):
    with pytest.raises(bl.InputError) as info:
        prepare(LAWS, budget)
    assert str(info.value) == message


@pytest.mark.parametrize("epochs, message", [
    (0, "max_epochs is 0; it must be a finite number > 0 (e.g. 1, or 4 to allow repeats)"),
    (float("nan"), "max_epochs is nan; it must be a finite number > 0 (e.g. 1, or 4 to allow repeats)"),
    ("two", "max_epochs is 'two'; give a number"),
])
def test_max_epochs_takes_the_same_rule(epochs, message):
    with pytest.raises(bl.InputError) as info:
        prepare(LAWS, 100, max_epochs=epochs)
    assert str(info.value) == message


def test_sizes_and_numbers_are_read_alike():
    problem = prepare(LAWS, ["1.2M", 300, 2e3], max_epochs="2")
    assert problem.budget.tolist() == [1.2e6, 300.0, 2000.0] and problem.max_epochs == 2.0
