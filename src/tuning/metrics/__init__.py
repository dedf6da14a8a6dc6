"""Evaluation metrics: translation (BLEU, chrF++, COMET), extractive QA, off-target rate.

One interface, after sacrebleu's: every metric is a :class:`~tuning.metrics.base.Metric`
(``Bleu``, ``Chrf``, ``Comet``, ``QAExactMatch``, ``QAF1``, ``QAContains``, ``OffTargetRate``)
whose ``corpus_score(hypotheses, references, language=..., sources=...)`` returns a
:class:`~tuning.metrics.base.MetricScore` with ``.score`` on 0..100 and a ``.signature`` naming
every setting that changes the number. :func:`metrics_for` gives the metrics of a task kind.

Settings that change the number are the metric's constructor arguments (``Bleu(tokenize=...)``,
``Chrf(word_order=...)``, ``Comet(model, batch_size=...)``) and appear in its signature.
Per-example values (a QA answer's F1, a text's off-target flag) are the score's ``segments``,
on the same 0..100 scale.
"""

from __future__ import annotations

from tuning._lazy import lazy_attributes
from tuning.metrics.base import Metric, MetricScore

_LAZY = {
    "bleu_tokenizer": "tuning.metrics.translation",
    "Bleu": "tuning.metrics.translation",
    "Chrf": "tuning.metrics.translation",
    "Comet": "tuning.metrics.comet_metric",
    "QAExactMatch": "tuning.metrics.qa",
    "QAF1": "tuning.metrics.qa",
    "QAContains": "tuning.metrics.qa",
    "OffTargetRate": "tuning.metrics.offtarget",
    "METRICS": "tuning.metrics.registry",
    "metrics_for": "tuning.metrics.registry",
}

__all__ = ["Metric", "MetricScore", *_LAZY]

__getattr__, __dir__ = lazy_attributes("tuning.metrics", _LAZY, globals())
