"""Old path of the robust fitting engine, kept for code that imports it: see budgetlaw.fitting.engine.

``Problem`` is the engine's FitProblem under its old name.
"""

from budgetlaw.fitting.engine import *  # noqa: F401,F403
from budgetlaw.fitting.engine import FitProblem as Problem  # noqa: F401
from budgetlaw.fitting.engine import __all__ as _engine_all

__all__ = [*_engine_all, "Problem"]
