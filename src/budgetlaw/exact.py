"""Old path of the exact allocation solver, kept for code that imports it: see
budgetlaw.allocation.exact."""

from budgetlaw.allocation.exact import *  # noqa: F401,F403
from budgetlaw.allocation.exact import ExactSolution, pad_draws, solve_maxmin, solve_robust, solve_sum  # noqa: F401
