"""Extractive-QA metrics: exact match, token F1 and answer containment, per example.

Normalisation follows the official scripts:

* MLQA (``mlqa_evaluation_v1.py``) for the languages it covers, :data:`MLQA_LANGS`:
  lower-case; remove every Unicode punctuation character (category P*) and ASCII punctuation;
  remove the language's articles (en: a/an/the; es: un/una/unos/unas/el/la/los/las;
  de: ein/eine/.../des; vi: của/là/cái/chiếc/những; ar: every "ال" — the script's pattern
  ``\\sال^|ال`` strips the letter pair wherever it occurs, and we keep that quirk so our numbers
  match published ones; hi, zh: none); split on whitespace, except Chinese, which uses mixed
  segmentation (every CJK character U+4E00..U+9FA5 is its own token, other runs split on
  whitespace).
* SQuAD v1.1 (``evaluate-v1.1.py``) for every other language (el, tr, ...; XQuAD is scored
  this way): lower-case, remove ASCII punctuation, remove English articles, split on whitespace.

F1 = 2PR/(P+R) over the multiset of shared tokens; each metric takes the maximum over the gold
answers. ``qa_contains`` is 1 when some normalised gold answer occurs as a whole-token run in
the normalised prediction: it suits free-form LLM answers that wrap the span in a sentence.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from tuning.errors import InputError
from tuning.metrics.base import Metric, MetricScore, check_parallel, mean_x100, norm_lang

MLQA_LANGS = frozenset({"en", "es", "de", "ar", "hi", "vi", "zh"})

_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "ar": re.compile(r"\sال^|ال"),
}
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)
_CJK = re.compile(r"[\u4e00-\u9fa5]")


@lru_cache(maxsize=1)
def _unicode_punct() -> frozenset[str]:
    return frozenset(
        chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)).startswith("P")
    ) | _ASCII_PUNCT


def _mixed_segmentation(text: str) -> list[str]:
    punct = _unicode_punct()
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _CJK.match(ch) or ch in punct:
            tokens.extend(run.split())
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def normalize_answer(text: str, lang: str) -> list[str]:
    """Tokens of ``text`` after the official normalisation for ``lang`` (canonical code)."""
    if lang == "zh-Hant":  # MLQA has only Simplified Chinese; Traditional needs the same segmentation
        lang = "zh"
    text = text.lower()
    if lang in MLQA_LANGS:
        punct = _unicode_punct()
        text = "".join(ch for ch in text if ch not in punct)
        pattern = _MLQA_ARTICLES.get(lang)
        if pattern is not None:
            text = pattern.sub(" ", text)
        tokens = _mixed_segmentation(text) if lang == "zh" else text.split()
        return [t for t in tokens if t.strip()]
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
    return _SQUAD_ARTICLES.sub(" ", text).split()


def _answers(answers: str | Sequence[str]) -> list[str]:
    if isinstance(answers, str):
        answers = [answers]
    answers = [a for a in answers if isinstance(a, str)]
    if not answers:
        raise InputError("QA metric: no gold answer given; every question needs at least one answer")
    return answers


def _f1(pred: list[str], gold: list[str]) -> float:
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _exact_match(prediction: str, answers: str | Sequence[str], lang: str) -> float:
    """1.0 when the normalised prediction equals some normalised gold answer, else 0.0."""
    lang = norm_lang(lang)
    pred = normalize_answer(prediction, lang)
    return float(any(pred == normalize_answer(a, lang) for a in _answers(answers)))


def _token_f1(prediction: str, answers: str | Sequence[str], lang: str) -> float:
    """Token F1 between prediction and the best-matching gold answer, in 0..1."""
    lang = norm_lang(lang)
    pred = normalize_answer(prediction, lang)
    return max(_f1(pred, normalize_answer(a, lang)) for a in _answers(answers))


def _contains(prediction: str, answers: str | Sequence[str], lang: str) -> float:
    """1.0 when some non-empty normalised gold answer occurs, token-aligned, in the prediction."""
    lang = norm_lang(lang)
    pred = " " + " ".join(normalize_answer(prediction, lang)) + " "
    for answer in _answers(answers):
        gold = normalize_answer(answer, lang)
        if gold and (" " + " ".join(gold) + " ") in pred:
            return 1.0
    return 0.0


class _QAMetric(Metric):
    """Mean of a per-example QA function over a corpus, x100; ``references`` holds each
    question's gold answers."""

    function = staticmethod(_exact_match)

    def corpus_score(self, hypotheses, references, *, language, sources=None) -> MetricScore:
        lang = norm_lang(language)
        check_parallel(self.name, hypotheses=hypotheses)
        references = list(references)
        if len(references) != len(hypotheses):
            raise InputError(f"{self.name}: mismatched numbers of segments (hypotheses={len(hypotheses)}, "
                             f"references={len(references)}); every answer needs its question's gold answers")
        values = [self.function(h, r, lang) for h, r in zip(hypotheses, references)]
        return mean_x100(self.name, values, self.signature(lang), lang)

    def signature(self, language: str) -> str:
        lang = norm_lang(language)
        return f"norm:{'mlqa' if lang in MLQA_LANGS else 'squad-v1.1'}|lang:{lang}|scale:x100"


class QAExactMatch(_QAMetric):
    """Share of answers equal to a gold answer after normalisation, x100."""

    name = "qa_em"
    function = staticmethod(_exact_match)


class QAF1(_QAMetric):
    """Mean token F1 against the best gold answer, x100."""

    name = "qa_f1"
    function = staticmethod(_token_f1)


class QAContains(_QAMetric):
    """Share of answers containing a gold answer as a whole-token run, x100."""

    name = "qa_contains"
    function = staticmethod(_contains)

