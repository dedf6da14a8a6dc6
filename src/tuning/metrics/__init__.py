"""Evaluation metrics: translation (BLEU, chrF++, COMET), extractive QA, off-target rate.

One interface, after sacrebleu's: every metric is a :class:`~tuning.metrics.base.Metric`
(``Bleu``, ``Chrf``, ``Comet``, ``QAExactMatch``, ``QAF1``, ``QAContains``, ``OffTargetRate``)
whose ``corpus_score(hypotheses, references, language=..., sources=...)`` returns a
:class:`~tuning.metrics.base.MetricScore` with ``.score`` on 0..100 and a ``.signature`` naming
every setting that changes the number. :func:`metrics_for` gives the metrics of a task kind.

The functions stay as they were: ``bleu``/``chrf``/``comet`` return a MetricScore (0..100,
COMET x100); the QA functions score one example (0..1); ``off_target_rate`` returns a share
in 0..1 and ``off_target`` the same share as a MetricScore with per-text flags.
"""

from __future__ import annotations

from tuning._lazy import lazy_attributes
from tuning.metrics.base import Metric, MetricScore

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
