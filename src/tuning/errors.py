"""The one error type of tuning."""


class InputError(ValueError):
    """Bad input from a user: the message names the file, line, key or language and the fix.

    The command line prints the message alone (no traceback) and exits with status 2.
    """
