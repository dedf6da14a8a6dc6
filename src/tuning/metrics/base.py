"""What every metric shares: the interface, the score object and the checks done at the door.

Modelled on sacrebleu's ``Metric``: every metric is a :class:`Metric` with a ``name`` (the
results.csv ``metric`` value) and one call shape, ``corpus_score(hypotheses, references,
language=..., sources=...) -> MetricScore``, on one scale, 0..100. A :class:`MetricScore`
formats itself and carries a *signature* (every setting that changes the number, in
sacrebleu's ``key:value|key:value`` style), so a figure can always be reproduced.
:mod:`tuning.metrics.registry` lists the metrics of each task kind, so scoring a task is a loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from tuning.errors import InputError
from tuning.languages import canonical


@dataclasses.dataclass(frozen=True)
class MetricScore:
    """A corpus-level score.

    From a :class:`Metric`, ``score`` is on 0..100 for every metric (BLEU, chrF++, COMET x100,
    QA means x100, off-target rate in percent), the scale of results.csv and of budgetlaw's
    laws (COMET is wmt22-comet-da's 0..1 output times 100). ``signature`` says how it was made; ``segments`` holds per-segment scores on the score's scale where the
    metric has them (COMET, QA, off-target flags), else ().
    """

    name: str
    score: float
    signature: str
    n: int
    language: str = ""
    segments: tuple[float, ...] = ()

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f} (n={self.n}) {self.signature}"

    def __float__(self) -> float:
        return float(self.score)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["segments"] = list(self.segments)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> MetricScore:
        data = dict(data)
        data["segments"] = tuple(float(x) for x in data.get("segments", ()))
        return cls(**data)


class Metric:
    """A corpus metric: ``corpus_score`` returns a :class:`MetricScore` on 0..100.

    Subclasses set ``name`` (the results.csv ``metric`` value) and implement
    :meth:`corpus_score` and :meth:`signature`. ``references`` holds one reference string per
    hypothesis for translation metrics and a sequence of gold answers per hypothesis for QA
    metrics; ``sources`` is read only by metrics with ``needs_sources`` (COMET).
    """

    name: ClassVar[str] = ""
    needs_sources: ClassVar[bool] = False

    def corpus_score(self, hypotheses: Sequence[str], references: Sequence, *, language: str,
                     sources: Sequence[str] | None = None) -> MetricScore:
        raise NotImplementedError

    def signature(self, language: str) -> str:
        """Every setting that changes the number, for target ``language``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def mean_x100(name: str, values: Sequence[float], signature: str, language: str) -> MetricScore:
    """Per-example values in 0..1 (QA scores, off-target flags) as a 0..100 corpus score."""
    values = tuple(values)
    return MetricScore(name, 100.0 * sum(values) / len(values), signature, len(values), language,
                       tuple(100.0 * v for v in values))


def norm_lang(lang: str) -> str:
    """Canonical ISO 639-1 code through tuning.languages (unknown codes raise InputError)."""
    if not isinstance(lang, str) or not lang.strip():
        raise InputError(f"language code {lang!r} is empty: pass a code such as 'zh' or 'tr'")

    return canonical(lang)


def check_parallel(what: str, **streams: Sequence) -> int:
    """Check that the named streams are non-empty lists of strings of one length; return it."""
    lengths = {}
    for name, stream in streams.items():
        if isinstance(stream, str):
            raise InputError(f"{what}: {name} must be a list of strings, not one string")
        stream = list(stream)
        for i, item in enumerate(stream):
            if not isinstance(item, str):
                raise InputError(
                    f"{what}: {name}[{i}] is {type(item).__name__}, not a string; "
                    "replace missing outputs with an empty string"
                )
        lengths[name] = len(stream)
    counts = set(lengths.values())
    if len(counts) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise InputError(
            f"{what}: mismatched numbers of segments ({detail}); every hypothesis needs exactly "
            "one source/reference line, in the same order"
        )
    n = counts.pop() if counts else 0
    if n == 0:
        raise InputError(f"{what}: no segments to score; check that the prediction file is not empty")
    return n
