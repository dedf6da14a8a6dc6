"""Translation, QA and off-target metrics against independent numbers."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from _builders import system_catalogs

from tuning.errors import InputError
from tuning.metrics import Bleu, Chrf, OffTargetRate, QAContains, QAExactMatch, QAF1
from tuning.metrics import translation


# The one metric API: a class whose corpus_score is on 0..100. These helpers read the same
# numbers the tests have always asserted (QA per example, off-target as a share) from it.
def bleu(hyps, refs, lang, **settings):
    return Bleu(**settings).corpus_score(hyps, refs, language=lang)


def chrf(hyps, refs, lang, **settings):
    return Chrf(**settings).corpus_score(hyps, refs, language=lang)


def _one(metric, pred, gold, lang):
    return metric.corpus_score([pred], [gold], language=lang).score / 100


def qa_em(pred, gold, lang):
    return _one(QAExactMatch(), pred, gold, lang)


def qa_f1(pred, gold, lang):
    return _one(QAF1(), pred, gold, lang)


def qa_contains(pred, gold, lang):
    return _one(QAContains(), pred, gold, lang)


def off_target_rate(texts, lang):
    return OffTargetRate().corpus_score(texts, None, language=lang).score / 100

HYPS = ["The cat sits on the mat .", "He read the book yesterday", "打开文件", "It is raining today"]
REFS = ["The cat sat on the mat .", "He read a book yesterday", "打开这个文件", "Today it is raining"]


def test_bleu_and_chrf_equal_sacrebleu_called_directly(monkeypatch, tmp_path):
    monkeypatch.setattr(translation, "_sacrebleu_dir", lambda: str(tmp_path))  # no SPM model
    ours = bleu(HYPS, REFS, "en")
    direct = sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="13a")
    assert ours.score == pytest.approx(direct.score, abs=1e-9)
    assert "tok:13a" in ours.signature and "nrefs:1" in ours.signature
    ours_zh = bleu(HYPS, REFS, "zh_CN")
    assert ours_zh.score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="zh").score)
    assert "tok:zh" in ours_zh.signature
    c = chrf(HYPS, REFS, "en")
    assert c.score == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS], word_order=2).score)
    assert "nw:2" in c.signature and c.name == "chrF++"


def test_bleu_perfect_and_disjoint():
    assert bleu(["a b c d e"], ["a b c d e"], "en", tokenize="13a").score == pytest.approx(100.0)
    assert bleu(["x y z w v"], ["a b c d e"], "en", tokenize="13a").score == pytest.approx(0.0)


def test_flores_tokenizer_chosen_only_when_model_is_on_disk(monkeypatch, tmp_path):
    monkeypatch.setattr(translation, "_sacrebleu_dir", lambda: str(tmp_path))
    assert translation.bleu_tokenizer("zh") == "zh"
    assert translation.bleu_tokenizer("ar") == "13a"
    assert translation.bleu_tokenizer("th") == "char"
    assert translation.bleu_tokenizer("ja") == ("ja-mecab" if translation._mecab_installed() else "13a")
    with pytest.raises(InputError, match="SentencePiece"):  # would download: refuse instead
        bleu(HYPS, REFS, "en", tokenize="flores200")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "sacrebleu_tokenizer_spm.model").write_bytes(b"")
    assert translation.bleu_tokenizer("zh") == "flores101"
    (tmp_path / "models" / "flores200sacrebleuspm").write_bytes(b"")
    assert translation.bleu_tokenizer("el") == "flores200"


def test_translation_metrics_reject_bad_input():
    with pytest.raises(InputError, match="mismatched"):
        bleu(["a", "b"], ["a"], "en")
    with pytest.raises(InputError, match="no segments"):
        chrf([], [], "en")
    with pytest.raises(InputError, match="xx"):
        bleu(["a"], ["a"], "xx")


# --- QA: every number below is worked out by hand from the official normalisation rules ---

@pytest.mark.parametrize(
    "lang, pred, gold, em, f1",
    [
        ("en", "The Eiffel Tower!", ["Eiffel Tower"], 1.0, 1.0),
        ("en", "the tall Eiffel tower", ["Paris", "Eiffel Tower"], 0.0, 0.8),  # P 2/3, R 1
        ("zh", "北京市", ["北京"], 0.0, 0.8),  # characters: P 2/3, R 1
        ("zh", "iPhone 手机。", ["iPhone手机"], 1.0, 1.0),  # mixed segmentation
        ("ar", "القاهرة", ["قاهرة"], 1.0, 1.0),  # "ال" removed as the MLQA script does
        ("ar", "القاهرة، مصر", ["القاهرة"], 0.0, 2 / 3),  # Arabic comma is punctuation
        ("hi", "नई दिल्ली।", ["नई दिल्ली"], 1.0, 1.0),  # danda is punctuation
        ("hi", "भारत की राजधानी नई दिल्ली", ["नई दिल्ली"], 0.0, 2 * 0.4 / 1.4),
        ("vi", "những con mèo", ["con mèo"], 1.0, 1.0),  # "những" is an MLQA article
        ("vi", "thành phố Hà Nội", ["Hà Nội"], 0.0, 2 / 3),
        ("el", "Αθήνα.", ["ΑΘΉΝΑ"], 1.0, 1.0),  # SQuAD: lower-case, ASCII punctuation
        ("el", "η Αθήνα", ["Αθήνα"], 0.0, 2 / 3),  # Greek article kept by SQuAD rules
        ("el", "Αθήνα·", ["Αθήνα"], 0.0, 0.0),  # U+0387 is not ASCII punctuation
        ("tr", "Ankara, Türkiye", ["Ankara"], 0.0, 2 / 3),
        ("tr", "ANKARA", ["ankara", "İzmir"], 1.0, 1.0),
    ],
)
def test_qa_hand_worked(lang, pred, gold, em, f1):
    assert qa_em(pred, gold, lang) == em
    assert qa_f1(pred, gold, lang) == pytest.approx(f1)


def test_qa_contains():
    assert qa_contains("I think it is the Eiffel Tower, in Paris.", ["Eiffel Tower"], "en") == 1.0
    assert qa_contains("Eiffel Towers", ["Eiffel Tower"], "en") == 0.0  # whole tokens only
    assert qa_contains("答案是北京。", ["北京"], "zh") == 1.0
    assert qa_contains("Başkent Ankara'dır.", ["Ankara"], "tr") == 0.0  # suffix glued on
    assert qa_contains("Thủ đô là Hà Nội.", ["Hà Nội"], "vi") == 1.0
    assert qa_contains("anything", [""], "en") == 0.0  # empty gold never matches
    with pytest.raises(InputError, match="gold answer"):
        qa_em("x", [], "en")


# --- off-target rate ---

def test_off_target_hand_written():
    assert off_target_rate(["这是一个测试。", "This is a test."], "zh") == 0.5
    # 4 Han characters (weight 3 -> 12) against 6 Latin letters: still Chinese.
    assert off_target_rate(["打开 GitHub 页面"], "zh") == 0.0
    assert off_target_rate(["مرحبا بالعالم", "Γειά σου κόσμε", "नमस्ते दुनिया"], "ar") == pytest.approx(2 / 3)
    assert off_target_rate(["Γειά σου κόσμε"], "el") == 0.0
    assert off_target_rate(["नमस्ते दुनिया"], "hi") == 0.0
    assert off_target_rate(["Dosyayı aç", "Open the file", "Belgeyi kaydet"], "tr") == pytest.approx(1 / 3)
    assert off_target_rate(["Mở tệp", "Open the file and save it"], "vi") == 0.5
    assert off_target_rate(["", "12345", "..."], "en") == 1.0  # no letters: off target
    assert off_target_rate(["Open the file", "Dosyayı ve belgeyi aç"], "en") == 0.5
    with pytest.raises(InputError):
        off_target_rate([], "tr")


CATALOG_DIRS = {"ar": "ar", "el": "el", "hi": "hi", "tr": "tr", "vi": "vi", "zh": "zh_CN"}


def _catalog_pairs(folder: str, k: int = 200) -> tuple[list[str], list[str]]:
    import polib

    english, translated = [], []
    for path in system_catalogs(folder):
        if "iso_" in path.name:  # code lists, not sentences
            continue
        for entry in polib.mofile(str(path)):
            msgid = entry.msgid
            if entry.msgstr and len(msgid.split()) >= 6 and "%" not in msgid and "\n" not in msgid:
                english.append(msgid)
                translated.append(entry.msgstr)
    assert len(english) >= k, f"only {len(english)} catalog sentences for {folder}; the test needs {k}"
    idx = random.Random(0).sample(range(len(english)), k)
    return [english[i] for i in idx], [translated[i] for i in idx]


@pytest.mark.parametrize("lang", sorted(CATALOG_DIRS))
def test_off_target_on_real_catalog_sentences(lang):
    english, translated = _catalog_pairs(CATALOG_DIRS[lang])
    # Human translations are on target; a few software strings are mostly command syntax.
    assert off_target_rate(translated, lang) <= 0.08
    # The English originals are off target for every language.
    assert off_target_rate(english, lang) >= 0.9


def test_traditional_chinese_uses_character_tokens():
    assert qa_f1("臺北市", ["臺北"], "zh-Hant") == pytest.approx(0.8)  # P 2/3, R 1


def test_every_metric_class_scores_on_0_to_100_with_its_signature(monkeypatch, tmp_path):
    from tuning.metrics import (METRICS, Bleu, Chrf, Comet, Metric, OffTargetRate, QAContains, QAExactMatch,
                                QAF1, metrics_for)

    monkeypatch.setattr(translation, "_sacrebleu_dir", lambda: str(tmp_path))  # no SPM model: tok:13a
    assert [type(m) for m in metrics_for("translation")] == [Bleu, Chrf, OffTargetRate]  # COMET only with a model
    assert [type(m) for m in metrics_for("translation", comet_model="x/y")] == list(METRICS["translation"])
    assert [m.name for m in metrics_for("qa")] == ["qa_em", "qa_f1", "qa_contains", "off_target"]
    assert all(issubclass(cls, Metric) for kind in METRICS.values() for cls in kind)
    with pytest.raises(InputError, match="task kind"):
        metrics_for("summaries")

    b = Bleu().corpus_score(HYPS, REFS, language="en")
    assert b.score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="13a").score)
    assert b.signature == Bleu().signature("en")
    c = Chrf().corpus_score(HYPS, REFS, language="en")
    assert c.score == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS], word_order=2).score)
    assert c.signature == Chrf().signature("en")

    # QA: 2 questions; worked out by hand. "the Ankara" vs "Ankara": EM 1 (article removed);
    # "in Paris city" vs "Paris": EM 0, F1 = 2 * (1/3 * 1) / (1/3 + 1) = 0.5, contained.
    hyps, golds = ["the Ankara", "in Paris city"], [("Ankara",), ("Paris", "Paris, France")]
    em = QAExactMatch().corpus_score(hyps, golds, language="tr")
    assert (em.score, em.n, em.segments) == (50.0, 2, (100.0, 0.0))
    assert em.signature == "norm:squad-v1.1|lang:tr|scale:x100" == QAExactMatch().signature("tr")
    assert QAF1().corpus_score(hyps, golds, language="tr").score == pytest.approx(75.0)
    assert QAContains().corpus_score(hyps, golds, language="tr").score == 100.0
    assert QAF1().signature("zh_CN") == "norm:mlqa|lang:zh|scale:x100"
    with pytest.raises(InputError, match="mismatched"):
        QAF1().corpus_score(hyps, golds[:1], language="tr")

    # off-target: 1 of 4 texts is not Chinese -> 25 %
    texts = ["打开文件", "保存文档", "Open the file", "关闭窗口"]
    off = OffTargetRate().corpus_score(texts, None, language="zh")
    assert off.score == 25.0 and off.segments == (0.0, 0.0, 100.0, 0.0)
    assert off.signature == "lang:zh|han_weight:3|rules:script|version:1|scale:x100" == OffTargetRate().signature("zh")
    assert off_target_rate(texts, "zh") == 0.25
    with pytest.raises(InputError, match="source"):
        Comet("x/y").corpus_score(["a"], ["a"], language="en")
