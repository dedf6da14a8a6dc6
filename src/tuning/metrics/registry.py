"""The metrics of each task kind, in the order their rows appear in results.csv.

    for metric in metrics_for("translation", comet_model="wmt22-comet-da"):
        score = metric.corpus_score(hyps, refs, language="zh", sources=srcs)

Translation: BLEU, chrF++, COMET (only when a COMET model is given), off-target rate.
Extractive QA: exact match, token F1, answer containment, off-target rate. Every score is on
0..100 (see :class:`tuning.metrics.base.Metric`).
"""

from __future__ import annotations

from pathlib import Path

from tuning.errors import InputError
from tuning.metrics.base import Metric
from tuning.metrics.comet_metric import Comet
from tuning.metrics.offtarget import OffTargetRate
from tuning.metrics.qa import QAContains, QAExactMatch, QAF1
from tuning.metrics.translation import Bleu, Chrf

# Task kind -> metric classes. COMET is configured (model, batch size), so metrics_for adds it.
METRICS: dict[str, tuple[type[Metric], ...]] = {
    "translation": (Bleu, Chrf, Comet, OffTargetRate),
    "qa": (QAExactMatch, QAF1, QAContains, OffTargetRate),
}


def metrics_for(kind: str, *, comet_model: str | Path | None = None, comet_batch_size: int = 16) -> list[Metric]:
    """The metrics that score a task of ``kind`` ("translation" or "qa"), ready to call."""
    if kind not in METRICS:
        raise InputError(f"no metrics for task kind {kind!r}; known kinds: {', '.join(METRICS)}")
    out: list[Metric] = []
    for cls in METRICS[kind]:
        if cls is Comet:
            if comet_model:
                out.append(Comet(comet_model, batch_size=comet_batch_size))
        else:
            out.append(cls())
    return out
