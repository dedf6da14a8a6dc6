"""The one error type of tuning, a kind of budgetlaw's.

``tuning.InputError`` subclasses ``budgetlaw.InputError``, so the two packages share one
hierarchy: an error budgetlaw raises while tuning reads a plan or checks an output path passes
through unchanged (it is not re-wrapped), and ``except budgetlaw.InputError`` catches both.
"""

from budgetlaw import InputError as BudgetlawInputError


class InputError(BudgetlawInputError):
    """Bad input from a user: the message names the file, line, key or language and the fix.

    The command line prints the message alone (no traceback) and exits with status 2.
    """
