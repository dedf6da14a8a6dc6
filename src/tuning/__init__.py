"""tuning: carry a budgetlaw plan out: data mixtures, FSDP instruction tuning, evaluation.

Heavy dependencies (torch, transformers, comet) are imported by the submodules that need
them, so `import tuning` stays cheap.
"""

from tuning.errors import InputError

__all__ = ["InputError"]
__version__ = "0.1.0"
