import gzip

import pytest

from tuning.data.readers import Pair, open_pairs, read_pairs, read_plaintext, read_tsv, tsv_english_first
from tuning.errors import InputError


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_plaintext_pairs_and_partner_detection(tmp_path):
    en = write(tmp_path / "train.en", "Open the file\nClose the window\n")
    zh = write(tmp_path / "train.zh", "打开文件\n关闭窗口\n")
    expected = [Pair("Open the file", "打开文件", str(zh)), Pair("Close the window", "关闭窗口", str(zh))]
    assert list(read_plaintext(en, zh)) == expected
    # the same files found four ways
    for spec in (f"{en},{zh}", f"{zh},{en}", str(zh), str(en), str(tmp_path / "train")):
        src = open_pairs(spec, "zh_CN")
        assert src.format == "plaintext" and [tuple(p[:2]) for p in src.pairs()] == [tuple(p[:2]) for p in expected]


def test_plaintext_partner_with_other_spelling(tmp_path):
    write(tmp_path / "x.eng", "a\n")
    zh = write(tmp_path / "x.zho_simpl", "甲\n")
    assert [p.en for p in read_pairs(zh, "zh")] == ["a"]


def test_plaintext_length_mismatch_names_both_files_and_counts(tmp_path):
    en = write(tmp_path / "a.en", "1\n2\n3\n")
    ar = write(tmp_path / "a.ar", "١\n٢\n")
    with pytest.raises(InputError) as err:
        list(read_plaintext(en, ar))
    msg = str(err.value)
    assert str(en) in msg and str(ar) in msg and "has 3 lines" in msg and "has 2" in msg


def test_plaintext_empty_line(tmp_path):
    en = write(tmp_path / "a.en", "1\n2\n3\n")
    ar = write(tmp_path / "a.ar", "١\n \n٣\n")
    with pytest.raises(InputError, match=r"a\.ar, line 2: empty"):
        list(read_plaintext(en, ar))


def test_undecodable_bytes_name_line(tmp_path):
    en = write(tmp_path / "a.en", b"ok\nbad \xff byte\n", "wb")
    tr = write(tmp_path / "a.tr", "tamam\nk\xf6t\xfc\n")
    with pytest.raises(InputError, match=r"a\.en, line 2: bytes that are not UTF-8"):
        list(read_plaintext(en, tr))


def test_tsv_two_and_three_columns(tmp_path):
    two = write(tmp_path / "news-commentary-v16.en-zh.tsv", "\ufeffHello\t你好\nBye\t再见\n\n")
    assert [(p.en, p.xx) for p in read_tsv(two, "zh")] == [("Hello", "你好"), ("Bye", "再见")]
    three = write(tmp_path / "WikiMatrix.ar-en.tsv", "1.08\tمرحبا\tHello\n1.02\tوداعا\tBye\n1.07\tنعم\tYes\n")
    assert not tsv_english_first(three, "ar")
    assert [(p.en, p.xx) for p in read_tsv(three, "ar", min_score=1.05)] == [("Hello", "مرحبا"), ("Yes", "نعم")]
    assert len(list(read_tsv(three, "ar"))) == 3
    gz = tmp_path / "w.en-ar.tsv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("1.1\tHi\tمرحبا\n")
    assert [(p.en, p.xx) for p in read_pairs(gz, "ar", min_score=1.0)] == [("Hi", "مرحبا")]


def test_tsv_errors(tmp_path):
    bad = write(tmp_path / "b.tsv", "a\tb\nc\td\te\n")
    with pytest.raises(InputError, match=r"b\.tsv, line 2: 3 columns"):
        list(read_tsv(bad, "zh"))
    one = write(tmp_path / "c.tsv", "just one\n")
    with pytest.raises(InputError, match="line 1: 1 tab-separated"):
        list(read_tsv(one, "zh"))
    score = write(tmp_path / "d.tsv", "x\ta\tb\n")
    with pytest.raises(InputError, match="line 1: score 'x' is not a number"):
        list(read_tsv(score, "zh"))
    with pytest.raises(InputError, match="no score"):
        list(read_tsv(write(tmp_path / "e.tsv", "a\tb\n"), "zh", min_score=1.0))
    with pytest.raises(InputError, match="line 2: empty"):
        list(read_tsv(write(tmp_path / "f.tsv", "a\tb\n\tb\n"), "zh"))


def test_unknown_format_and_language(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):  # missing: not a format question
        open_pairs(tmp_path / "nothing", "zh")
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        open_pairs(tmp_path / "notes.txt", "zh")
    with pytest.raises(InputError, match="unknown language"):
        open_pairs(tmp_path / "x.tsv", "xx")
    with pytest.raises(InputError, match="not for 'en'"):
        open_pairs(tmp_path / "x.tsv", "eng")


def test_damaged_gzip(tmp_path):
    import gzip as gz

    path = tmp_path / "w.en-zh.tsv.gz"
    lines = "".join(f"sentence {i * 7919 % 10007}\t句子 {i * 104729 % 10009}\n" for i in range(5000))
    path.write_bytes(gz.compress(lines.encode())[:2000])  # cut off mid-stream
    with pytest.raises(InputError, match=r"w\.en-zh\.tsv\.gz, after line \d+: cannot read"):
        list(read_tsv(path, "zh"))


def test_iter_jsonl_names_file_and_line_for_every_kind_of_bad_line(tmp_path):
    from tuning.data.reading import iter_jsonl

    good = tmp_path / "good.jsonl"
    good.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert list(iter_jsonl(good)) == [(1, {"a": 1}), (3, {"a": 2})]  # blank line 2 skipped
    cases = {
        "broken.jsonl": ('{"a": 1}\n{"a": \n', r"broken\.jsonl, line 2: malformed JSON"),
        "list.jsonl": ('{"a": 1}\n[1, 2]\n', r"list\.jsonl, line 2: expected a JSON object"),
        "latin1.jsonl": (None, r"latin1\.jsonl, line 1: bytes that are not UTF-8"),
    }
    for name, (text, pattern) in cases.items():
        path = tmp_path / name
        if text is None:
            path.write_bytes('{"a": "caf\u00e9"}\n'.encode("latin-1"))
        else:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=pattern):
            list(iter_jsonl(path))


def test_the_readers_have_no_import_cycle():
    # readers imports evalsets and gettext; they (and pairs, below all three) never import readers,
    # not even inside a function.
    import ast
    from pathlib import Path

    import tuning.data

    folder = Path(tuning.data.__file__).parent
    for name in ("pairs", "evalsets", "gettext"):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "tuning.data.readers" not in imported, name
