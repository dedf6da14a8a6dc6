"""The error types of budgetlaw: one base, one for bad input, one for a solver that failed.

    BudgetlawError            base: catch this to handle anything budgetlaw raises on purpose
    +-- InputError            (also a ValueError) bad input; the message names the file, row,
    |                         key or language and the fix
    +-- SolverError           (also a RuntimeError) the input was accepted but a numerical
                              solver (cvxpy's CLARABEL/SCS) gave no usable answer; the message
                              says what the solver reported and what to try

The command line reports both the same way (budgetlaw.fileio.run_command): one line
``budgetlaw COMMAND: error: MESSAGE`` on stderr, no traceback, exit status 2, and no output
left behind.
"""

__all__ = ["BudgetlawError", "InputError", "SolverError"]


class BudgetlawError(Exception):
    """Base of the errors budgetlaw raises on purpose; its message is meant for the user."""


class InputError(BudgetlawError, ValueError):
    """Bad input from a user: the message names the file, row, key or language and the fix.

    The command line prints the message alone (no traceback) and exits with status 2.
    """


class SolverError(BudgetlawError, RuntimeError):
    """A solver could not solve an accepted problem (cvxpy status not optimal, or an inaccurate
    point that breaks a constraint). Not the user's input at fault as far as budgetlaw can tell:
    the message gives the solver's status and what to try (simpler extra constraints, laws of
    ordinary size).

    The command line prints it like an InputError: one line ``budgetlaw COMMAND: error: ...``
    on stderr, no traceback, exit status 2 (see budgetlaw.fileio.run_command).
    """
