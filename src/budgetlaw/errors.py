"""The one error type of budgetlaw."""


class InputError(ValueError):
    """Bad input from a user: the message names the file, row, key or language and the fix.

    The command line prints the message alone (no traceback) and exits with status 2.
    """
