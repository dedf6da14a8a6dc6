"""Off-target rate: the share of responses that are not in the expected language.

Two kinds of evidence, by target language:

* **Script** (ar, el, hi, zh, and the other non-Latin languages in :data:`SCRIPT_RANGES`):
  count letters in the target script against all other letters. A Han character weighs
  :data:`HAN_WEIGHT` = 3 letters, because one Chinese character carries roughly what three
  Latin letters do (a Chinese word is ~1.5 characters, an English word ~4.7 letters), so a
  Chinese sentence with an English product name in it stays Chinese. A text is on target when
  its weighted target-script letters are at least half of all weighted letters.
* **Language evidence** for Latin-script targets (tr, vi, en): the text must be mostly Latin
  letters, and then evidence for the target is weighed against evidence for English.
  Turkish evidence: the letters ğ ı İ ş (2 points each) and ç ö ü (1 point), and Turkish
  function words (3 points each). Vietnamese evidence: letters with Vietnamese-only
  diacritics (ă â đ ê ô ơ ư and the tone-marked vowels U+1EA0..U+1EF9, 1 point each) and
  Vietnamese function words (3 points each). English evidence: English function words
  (3 points each) plus letters the target alphabet lacks (q w x for Turkish; f j w z for
  Vietnamese; 1 point each). On target when target evidence >= English evidence; a text with
  no evidence either way counts as on target (a short phrase like "Belgeyi kaydet" has none).
  For English as the target, Turkish or Vietnamese evidence larger than English evidence makes
  it off target.

A response with no letters at all (empty, digits, punctuation) counts as off target.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable

from tuning.metrics.base import Metric, MetricScore, norm_lang
from tuning.errors import InputError

HAN_WEIGHT = 3.0

# Target language -> code point ranges of its script's letters.
SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "ar": ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "fa": ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "ur": ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "el": ((0x0370, 0x03FF), (0x1F00, 0x1FFF)),
    "hi": ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
    "mr": ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
    "ne": ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
    "zh": ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF)),
    "ru": ((0x0400, 0x04FF),),
    "uk": ((0x0400, 0x04FF),),
    "he": ((0x0590, 0x05FF),),
    "th": ((0x0E00, 0x0E7F),),
    "ko": ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F)),
    "ja": ((0x3040, 0x30FF), (0x4E00, 0x9FFF), (0x3400, 0x4DBF)),
}
SCRIPT_RANGES["zh-Hant"] = SCRIPT_RANGES["zh"]
_HAN = SCRIPT_RANGES["zh"]

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

TR_LETTERS = {"ğ": 2, "ı": 2, "ş": 2, "İ": 2, "Ğ": 2, "Ş": 2, "ç": 1, "ö": 1, "ü": 1, "Ç": 1, "Ö": 1, "Ü": 1}
TR_WORDS = frozenset(
    "ve bir bu için ile de da değil olarak çok daha ne mi mı var yok ya veya gibi kadar ama "
    "şu o ise sonra önce her hiç bu bunu şey olan olur oldu ancak eğer yeni dosya".split()
)
VI_LETTERS = frozenset("ăâđêôơưĂÂĐÊÔƠƯ") | frozenset(chr(c) for c in range(0x1EA0, 0x1EFA))
VI_WORDS = frozenset(
    "và của là có không được các những cho một này trong với để người đã đang sẽ thì khi "
    "từ tại bị nếu cũng hoặc nhưng vào ra lại tệp".split()
)
EN_WORDS = frozenset(
    "the and of to is in that for it with be this not are you on as by at or from an was "
    "have has can will which there their your if all no but do does should could would "
    "file files please when what use used using been into than then them these those".split()
)
EN_ONLY_LETTERS = {"tr": frozenset("qwxQWX"), "vi": frozenset("fjwzFJWZ")}


def _in(cp: int, ranges) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _letters(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch).startswith("L")]


def script_share(text: str, lang: str) -> float:
    """Weighted share of ``text``'s letters in ``lang``'s script (0..1; NaN with no letters)."""
    ranges = SCRIPT_RANGES[lang]
    target = other = 0.0
    for ch in _letters(text):
        cp = ord(ch)
        weight = HAN_WEIGHT if _in(cp, _HAN) else 1.0
        if _in(cp, ranges):
            target += weight
        else:
            other += weight
    total = target + other
    return target / total if total else float("nan")


def _latin_share(text: str) -> float:
    letters = _letters(text)
    if not letters:
        return float("nan")
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


def latin_evidence(text: str, lang: str) -> tuple[float, float]:
    """(evidence for ``lang`` in {tr, vi}, evidence for English) as described in the module doc."""
    words = [w.lower() for w in _WORD.findall(text)]
    if lang == "tr":
        target = sum(TR_LETTERS.get(ch, 0) for ch in text) + 3 * sum(w in TR_WORDS for w in words)
    elif lang == "vi":
        target = sum(ch in VI_LETTERS for ch in text) + 3 * sum(w in VI_WORDS for w in words)
    else:
        raise ValueError(f"no Latin-script evidence rules for {lang!r}")
    english = 3 * sum(w in EN_WORDS for w in words)
    english += sum(ch in EN_ONLY_LETTERS[lang] for ch in text)
    return float(target), float(english)


def is_on_target(text: str, lang: str) -> bool:
    """True when ``text`` reads as language ``lang`` (a canonical code) by the rules above."""
    if lang in SCRIPT_RANGES:
        share = script_share(text, lang)
        return bool(share == share and share >= 0.5)
    latin = _latin_share(text)
    if not (latin == latin and latin >= 0.5):
        return False
    if lang in ("tr", "vi"):
        target, english = latin_evidence(text, lang)
        return target >= english
    if lang == "en":
        words = [w.lower() for w in _WORD.findall(text)]
        english = 3.0 * sum(w in EN_WORDS for w in words)
        return all(latin_evidence(text, other)[0] <= english for other in ("tr", "vi"))
    # Other Latin-script languages: script evidence only.
    return True


def _off_target_share(texts: Iterable[str], lang: str) -> MetricScore:
    """The share (0..1) of ``texts`` not in language ``lang``, with per-text flags (1 = off target)."""

    lang = norm_lang(lang)
    texts = list(texts)
    if not texts:
        raise InputError(f"off_target: no texts given for {lang}; check the prediction file")
    flags = tuple(0.0 if is_on_target(str(t), lang) else 1.0 for t in texts)
    return MetricScore("off-target", sum(flags) / len(flags), _rules_signature(lang), len(flags), lang, flags)


def _rules_signature(lang: str) -> str:
    rules = "script" if lang in SCRIPT_RANGES else "latin-evidence"
    return f"lang:{lang}|han_weight:{HAN_WEIGHT:g}|rules:{rules}|version:1"


class OffTargetRate(Metric):
    """Percentage (0..100) of hypotheses not in the target language; references are not read."""

    name = "off_target"

    def corpus_score(self, hypotheses, references=None, *, language, sources=None) -> MetricScore:
        share = _off_target_share(hypotheses, language)
        # 100 * share, exactly as results.csv has always held it (not a re-summed mean)
        return dataclasses.replace(share, name=self.name, score=100.0 * share.score,
                                   signature=share.signature + "|scale:x100",
                                   segments=tuple(100.0 * f for f in share.segments))

    def signature(self, language: str) -> str:
        return _rules_signature(norm_lang(language)) + "|scale:x100"
