"""Old path of the report's Markdown summary, kept for code that imports it: see
budgetlaw.reporting.summary."""

from budgetlaw.reporting.summary import *  # noqa: F401,F403
from budgetlaw.reporting.summary import __all__  # noqa: F401
