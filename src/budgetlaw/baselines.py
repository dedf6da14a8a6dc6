"""The baseline plans (``bl.baselines.uniform`` and co.); they live in budgetlaw.allocation.baselines,
this module keeps the public path ``budgetlaw.baselines``."""

from budgetlaw.allocation.baselines import *  # noqa: F401,F403
from budgetlaw.allocation.baselines import __all__  # noqa: F401
