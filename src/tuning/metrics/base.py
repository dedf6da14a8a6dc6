"""What every metric shares: the score object and the checks done at the door.

A :class:`MetricScore` formats itself and carries a *signature* (every setting that changes the
number, in sacrebleu's ``key:value|key:value`` style), so a figure can always be reproduced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tuning.errors import InputError


@dataclasses.dataclass(frozen=True)
class MetricScore:
    """A corpus-level score.

    ``score`` is on the metric's usual scale (BLEU and chrF 0..100, COMET 0..1 as the model
    outputs it, QA metrics and off-target rate 0..1). ``signature`` says how it was made.
    ``segments`` holds per-segment scores where the metric has them (COMET, QA), else ().
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


def norm_lang(lang: str) -> str:
    """Canonical ISO 639-1 code through tuning.languages (unknown codes raise InputError)."""
    if not isinstance(lang, str) or not lang.strip():
        raise InputError(f"language code {lang!r} is empty: pass a code such as 'zh' or 'tr'")
    from tuning.languages import canonical

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
