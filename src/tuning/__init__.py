"""tuning: carry a budgetlaw plan out: data mixtures, FSDP instruction tuning, evaluation.

    import tuning
    tuning.build_mixture(...)          # plan.json -> mixture.jsonl + manifest  (tuning.data)
    # torchrun --nproc_per_node 8 -m tuning train config.yaml              (tuning.train)
    tuning.generate("out/final", prompts)                                  (tuning.generation)
    tuning.metrics.chrf(hyps, refs, "zh")                                  (tuning.metrics)

Heavy dependencies (torch, transformers, comet) are imported by the submodules that need
them, so `import tuning` stays cheap; the names above load on first use.
"""

from __future__ import annotations

import importlib

from tuning.errors import InputError

__version__ = "0.1.0"

_LAZY = {
    "build_mixture": "tuning.data",
    "generate": "tuning.generation",
    "metrics": "tuning.metrics",
    "languages": "tuning.languages",
    "prompts": "tuning.prompts",
}

__all__ = ["InputError", *_LAZY]


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tuning' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
