"""BLEU and chrF++ through sacrebleu, with the tokeniser chosen per target language.

BLEU's tokenisation, in order of preference:

1. ``flores200`` then ``flores101``: sacrebleu's SentencePiece tokenisers used for FLORES
   (spBLEU), when the model file is already in sacrebleu's cache
   (``$SACREBLEU/models/flores200sacrebleuspm`` or ``.../sacrebleu_tokenizer_spm.model``).
   Availability is checked on disk only: sacrebleu would otherwise try to download it, which
   hangs or fails on a machine without internet.
2. The per-language fallback in :data:`FALLBACK_TOKENIZERS` (``zh`` for Chinese, ``ja-mecab``
   / ``ko-mecab`` when MeCab is installed, ``char`` for scripts written without spaces), else
   ``13a``.

Either way the tokeniser is in the returned signature (``tok:flores200``, ``tok:zh``, ...).
chrF++ is character 6-grams plus word 2-grams (``word_order=2``) and needs no tokeniser.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence

from tuning.errors import InputError
from tuning.metrics.base import Metric, MetricScore, check_parallel, norm_lang

log = logging.getLogger(__name__)

# sacrebleu's SentencePiece models by tokenizer name -> file name in its cache.
SPM_FILES = {
    "flores200": "flores200sacrebleuspm",
    "flores101": "sacrebleu_tokenizer_spm.model",
}

# Target language -> BLEU tokenizer when no FLORES SentencePiece model is available.
# Scripts without spaces between words need a segmenter, or BLEU counts whole sentences.
FALLBACK_TOKENIZERS = {
    "zh": "zh",
    "ja": "ja-mecab",  # only if MeCab is installed, else 13a
    "ko": "ko-mecab",  # only if MeCab is installed, else 13a
    "th": "char",
    "lo": "char",
    "km": "char",
    "my": "char",
}


def _sacrebleu_dir() -> str:
    from sacrebleu.utils import SACREBLEU_DIR

    return SACREBLEU_DIR


def spm_available(name: str) -> bool:
    """True when sacrebleu's SentencePiece model ``name`` is on disk (never touches the network)."""
    filename = SPM_FILES.get(name)
    if filename is None:
        return False
    return os.path.isfile(os.path.join(_sacrebleu_dir(), "models", filename))


def _mecab_installed() -> bool:
    return importlib.util.find_spec("MeCab") is not None


def bleu_tokenizer(lang: str) -> str:
    """The BLEU tokenizer used for target language ``lang`` on this machine (see module doc)."""
    for name in ("flores200", "flores101"):
        if spm_available(name):
            return name
    tok = FALLBACK_TOKENIZERS.get(lang, "13a")
    if tok.endswith("-mecab") and not _mecab_installed():
        log.warning("MeCab is not installed: BLEU for %s falls back to 13a tokenisation", lang)
        tok = "13a"
    return tok


def _references(refs, n_hyps: int, what: str) -> list[list[str]]:
    """Accept one reference per hypothesis (list of str) or several streams (list of lists)."""
    refs = list(refs)
    if refs and all(isinstance(r, (list, tuple)) for r in refs):
        streams = [list(r) for r in refs]
    else:
        streams = [refs]
    for k, stream in enumerate(streams):
        check_parallel(what, hypotheses=[""] * n_hyps, **{f"references[{k}]": stream})
    return streams


def _on_scale(score) -> float:
    """A corpus score clipped to 0..100: floating-point rounding in sacrebleu gives a perfect
    translation BLEU 100.00000000000004, which the 0..100 checks downstream would refuse."""
    return min(100.0, max(0.0, float(score)))


def _corpus_bleu(
    hyps: Sequence[str],
    refs: Sequence[str] | Sequence[Sequence[str]],
    lang: str,
    *,
    tokenize: str | None = None,
    lowercase: bool = False,
) -> MetricScore:
    """Corpus BLEU of ``hyps`` against ``refs`` in target language ``lang``.

    ``tokenize`` overrides the automatic choice (any sacrebleu tokenizer name). ``refs`` is one
    reference per hypothesis, or a list of reference streams.
    """
    from sacrebleu.metrics import BLEU

    lang = norm_lang(lang)
    n = check_parallel("bleu", hypotheses=hyps)
    streams = _references(refs, n, "bleu")
    tok = tokenize or bleu_tokenizer(lang)
    if tok in SPM_FILES and not spm_available(tok):
        raise InputError(
            f"bleu: tokenizer {tok!r} needs sacrebleu's SentencePiece model in "
            f"{os.path.join(_sacrebleu_dir(), 'models')}; copy it there or omit tokenize"
        )
    metric = BLEU(tokenize=tok, lowercase=lowercase)
    result = metric.corpus_score(list(hyps), streams)
    return MetricScore("BLEU", _on_scale(result.score), str(metric.get_signature()), n, lang)


def _corpus_chrf(
    hyps: Sequence[str],
    refs: Sequence[str] | Sequence[Sequence[str]],
    lang: str,
    *,
    word_order: int = 2,
) -> MetricScore:
    """Corpus chrF++ (character 6-grams, word 2-grams, beta 2) of ``hyps`` against ``refs``."""
    from sacrebleu.metrics import CHRF

    lang = norm_lang(lang)
    n = check_parallel("chrf", hypotheses=hyps)
    streams = _references(refs, n, "chrf")
    metric = CHRF(word_order=word_order)
    result = metric.corpus_score(list(hyps), streams)
    name = "chrF++" if word_order == 2 else f"chrF{'+' * word_order}"
    return MetricScore(name, _on_scale(result.score), str(metric.get_signature()), n, lang)


class Bleu(Metric):
    """Corpus BLEU (0..100), tokeniser chosen per target language (see the module doc) unless
    ``tokenize`` names one (any sacrebleu tokenizer). ``references``: one reference per
    hypothesis, or a list of reference streams."""

    name = "bleu"

    def __init__(self, *, tokenize: str | None = None, lowercase: bool = False):
        self.tokenize, self.lowercase = tokenize, lowercase

    def corpus_score(self, hypotheses, references, *, language, sources=None) -> MetricScore:
        return _corpus_bleu(hypotheses, references, language, tokenize=self.tokenize, lowercase=self.lowercase)

    def signature(self, language: str) -> str:
        from sacrebleu.metrics import BLEU

        return _signature(BLEU(tokenize=self.tokenize or bleu_tokenizer(norm_lang(language)), lowercase=self.lowercase))

    def __repr__(self) -> str:
        return f"Bleu(tokenize={self.tokenize!r}, lowercase={self.lowercase})"


class Chrf(Metric):
    """Corpus chrF++ (0..100): character 6-grams, word 2-grams (``word_order``), beta 2."""

    name = "chrf"

    def __init__(self, *, word_order: int = 2):
        self.word_order = word_order

    def corpus_score(self, hypotheses, references, *, language, sources=None) -> MetricScore:
        return _corpus_chrf(hypotheses, references, language, word_order=self.word_order)

    def signature(self, language: str) -> str:
        from sacrebleu.metrics import CHRF

        return _signature(CHRF(word_order=self.word_order))

    def __repr__(self) -> str:
        return f"Chrf(word_order={self.word_order})"


def _signature(metric) -> str:
    """sacrebleu's signature of ``metric`` with one reference stream: it records the number of
    references only once it has scored something, so score one dummy segment first."""
    metric.corpus_score(["a"], [["a"]])
    return str(metric.get_signature())

