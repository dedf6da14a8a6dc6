"""Evaluation metrics: translation (BLEU, chrF++, COMET), extractive QA, off-target rate.

Every corpus metric returns a :class:`~tuning.metrics.base.MetricScore` with ``.score`` and a
``.signature`` naming every setting that changes the number. QA metrics score one example
(0..1); average them over a test set. ``off_target_rate`` returns a plain share in 0..1.
"""

from __future__ import annotations

import importlib

from tuning.metrics.base import MetricScore

_LAZY = {
    "bleu": "tuning.metrics.translation",
    "chrf": "tuning.metrics.translation",
    "bleu_tokenizer": "tuning.metrics.translation",
    "comet": "tuning.metrics.comet",
    "qa_em": "tuning.metrics.qa",
    "qa_f1": "tuning.metrics.qa",
    "qa_contains": "tuning.metrics.qa",
    "off_target_rate": "tuning.metrics.offtarget",
    "off_target": "tuning.metrics.offtarget",
}

__all__ = ["MetricScore", *_LAZY]


def __getattr__(name: str):
    # Lazy so that `import tuning.metrics` does not pull in comet (and torch) for BLEU alone.
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tuning.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
