"""Evaluation metrics: translation (BLEU, chrF++, COMET), extractive QA, off-target rate.

Every corpus metric returns a :class:`~tuning.metrics.base.MetricScore` with ``.score`` and a
``.signature`` naming every setting that changes the number. QA metrics score one example
(0..1); average them over a test set. ``off_target_rate`` returns a plain share in 0..1.
"""

from __future__ import annotations

from tuning._lazy import lazy_attributes
from tuning.metrics.base import MetricScore

_LAZY = {
    "bleu": "tuning.metrics.translation",
    "chrf": "tuning.metrics.translation",
    "bleu_tokenizer": "tuning.metrics.translation",
    "comet": "tuning.metrics.comet_metric",
    "qa_em": "tuning.metrics.qa",
    "qa_f1": "tuning.metrics.qa",
    "qa_contains": "tuning.metrics.qa",
    "off_target_rate": "tuning.metrics.offtarget",
    "off_target": "tuning.metrics.offtarget",
}

__all__ = ["MetricScore", *_LAZY]

__getattr__, __dir__ = lazy_attributes("tuning.metrics", _LAZY, globals())
