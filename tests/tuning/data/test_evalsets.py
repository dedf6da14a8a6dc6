import json

import pytest

from tuning.data.evalsets import find_flores, flores_sentences, read_flores, read_squad, squad_texts
from tuning.data.readers import open_pairs
from tuning.errors import InputError


def flores(root, names, rows=3):
    for split in ("dev", "devtest"):
        (root / split).mkdir(parents=True)
        for name in names:
            lines = [f"{name} {split} {i}" for i in range(rows)]
            (root / split / f"{name}.{split}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_flores101(tmp_path):
    root = flores(tmp_path / "flores101_dataset", ["eng", "zho_simpl", "zho_trad", "arb"])
    pairs = read_flores(root, "zh")
    assert [(p.en, p.xx) for p in pairs] == (
        [(f"eng dev {i}", f"zho_simpl dev {i}") for i in range(3)]
        + [(f"eng devtest {i}", f"zho_simpl devtest {i}") for i in range(3)])
    assert [p.xx for p in read_flores(root, "zh_TW", split="dev")] == [f"zho_trad dev {i}" for i in range(3)]
    assert flores_sentences(root, "ar", "devtest") == [f"arb devtest {i}" for i in range(3)]
    # a split directory works too, and the mixture's format detection recognises FLORES
    assert len(read_flores(root / "devtest", "zh")) == 3
    assert open_pairs(root, "zh").format == "flores"


def test_flores200_names(tmp_path):
    root = flores(tmp_path / "flores200_dataset", ["eng_Latn", "zho_Hans", "hin_Deva"], rows=2)
    assert [p.xx for p in read_flores(root, "hi", split="devtest")] == ["hin_Deva devtest 0", "hin_Deva devtest 1"]
    with pytest.raises(InputError, match="no file for el"):
        find_flores(root, "el")
    with pytest.raises(InputError, match="no dev/ or devtest/"):
        find_flores(tmp_path, "zh")


def test_flores_misaligned(tmp_path):
    root = flores(tmp_path / "f", ["eng", "tur"])
    (root / "dev" / "tur.dev").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(InputError, match="has 3 lines.*has 2"):
        read_flores(root, "tr")


SQUAD = {"version": "1.1", "data": [{"title": "T", "paragraphs": [
    {"context": "Paris is the capital of France.", "qas": [
        {"id": "q1", "question": "What is the capital of France?",
         "answers": [{"text": "Paris", "answer_start": 0}, {"text": "Paris", "answer_start": 0}]},
        {"id": "q2", "question": "Which country?", "answers": [{"text": "France", "answer_start": 24}]}]},
    {"context": "No answer here.", "qas": [{"id": "q3", "question": "Why?", "answers": [], "is_impossible": True}]},
]}]}


def test_squad(tmp_path):
    path = tmp_path / "xquad.zh.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    recs = read_squad(path)
    assert [r["id"] for r in recs] == ["q1", "q2", "q3"]
    assert recs[0]["answers"] == ["Paris", "Paris"] and recs[1]["answer_starts"] == [24]
    assert recs[1]["context"][24:30] == "France" and recs[2]["answers"] == []
    assert list(squad_texts(path)) == ["Paris is the capital of France.", "What is the capital of France?",
                                       "Which country?", "No answer here.", "Why?"]


def test_squad_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n{"title": 1,,}]}', encoding="utf-8")
    with pytest.raises(InputError, match="line 2: malformed JSON"):
        read_squad(bad)
    bad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "a", "answers": []}]}]}]}))
    with pytest.raises(InputError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing 'question'"):
        read_squad(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match="missing 'data'"):
        read_squad(bad)
