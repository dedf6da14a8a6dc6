"""tuning: carry a budgetlaw plan out: data mixtures, FSDP instruction tuning, evaluation.

    import tuning
    tuning.build_mixture(...)          # plan.json -> mixture.jsonl + manifest  (tuning.data)
    # torchrun --nproc_per_node 8 -m tuning train config.yaml              (tuning.train)
    tuning.generate("out/final", prompts)                                  (tuning.generation)
    tuning.metrics.Chrf().corpus_score(hyps, refs, language="zh")         (tuning.metrics)

Heavy dependencies (torch, transformers, comet) are imported by the submodules that need
them, so `import tuning` stays cheap; the names above load on first use.
"""

from __future__ import annotations

from tuning._lazy import lazy_attributes
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

__getattr__, __dir__ = lazy_attributes("tuning", _LAZY, globals(), modules=("metrics", "languages", "prompts"))
