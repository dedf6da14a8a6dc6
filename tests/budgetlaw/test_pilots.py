"""read_pilots: valid input and every bad-input case, with file, line/row and fix in the message."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from budgetlaw.errors import InputError
from budgetlaw.pilots import read_pilots

GOOD = """language,size,score,seed,metric
ar,1000,50.5,0,comet
ar,2000,55,0,comet
ar,4000,60.25,1,comet
el,1000,40,0,comet
el,3000,45,0,comet
el,9000,49,0,comet
"""


def write(tmp_path, text, name="pilots.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_valid_file(tmp_path):
    path = write(tmp_path, GOOD)
    df = read_pilots(path)
    assert list(df.columns) == ["language", "size", "score", "seed", "metric"]
    assert df["language"].tolist() == ["ar"] * 3 + ["el"] * 3
    assert df["size"].tolist() == [1000, 2000, 4000, 1000, 3000, 9000]
    assert df["score"].tolist() == [50.5, 55, 60.25, 40, 45, 49]
    assert df["seed"].tolist() == [0, 0, 1, 0, 0, 0]
    assert df.attrs["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert df.attrs["metric"] == "comet"


def test_dataframe_input_and_optional_columns():
    df = read_pilots(pd.DataFrame({"Language": ["tr"] * 3, "SIZE": [1, 2, 3], "score": [1.0, 2.0, 3.0]}))
    assert list(df.columns) == ["language", "size", "score"]
    assert df["size"].dtype == float


def test_blank_lines_keep_line_numbers(tmp_path):
    path = write(tmp_path, "language,size,score\nar,1,1\n\nar,2,2\nar,x,3\n")
    with pytest.raises(InputError, match=r"line 5: size='x' is not a number"):
        read_pilots(path)


def test_repeated_seeds_allowed(tmp_path):
    rows = "".join(f"ar,{s},{50 + i},{k}\n" for i, s in enumerate([10, 20, 40]) for k in range(3))
    df = read_pilots(write(tmp_path, "language,size,score,seed\n" + rows))
    assert len(df) == 9


@pytest.mark.parametrize("text, pattern", [
    ("", "empty"),
    ("language,size,score\n", "no pilot rows"),
    ("language,score\nar,1\n", r"missing column\(s\) size.*language,size,score"),
    ("language,size,score\nar,1,1\nar,abc,2\nar,3,3\n", r"line 3: size='abc' is not a number"),
    ("language,size,score\nar,1,1\nar,2,high\nar,3,3\n", r"line 3: score='high' is not a number"),
    ("language,size,score\nar,1,1\nar,2,\nar,3,3\n", r"line 3: score is empty"),
    ("language,size,score\nar,1,1\nar,2,NaN\nar,3,3\n", r"line 3: score is NaN \(not a number\)"),
    ("language,size,score\nar,0,1\nar,2,2\nar,3,3\n", r"line 2: size='0' must be > 0"),
    ("language,size,score\nar,1,1\nar,-5,2\nar,3,3\n", r"line 3: size='-5' must be > 0"),
    ("language,size,score\nar,1,1\nar,2,2\nar,3,101\n", r"line 4: score='101' is outside \[0, 100\]"),
    ("language,size,score\nar,1,-0.5\nar,2,2\nar,3,3\n", r"line 2: score='-0.5' is outside"),
    ("language,size,score\nar,1,inf\nar,2,2\nar,3,3\n", r"line 2: score='inf' is not finite"),
    ("language,size,score\n,1,1\n", r"line 2: language is empty"),
    ("language,size,score\nar,1,1\nar,2,2\nar,2,3\n", r"'ar' has 2 distinct pilot size.*add pilot runs"),
    ("language,size,score,seed\nar,1,1,0\nar,2,2,0.5\nar,3,3,0\n", r"line 3: seed='0.5' must be a whole number"),
])
def test_bad_files(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=pattern) as info:
        read_pilots(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_pilots(tmp_path / "nope.csv")


def test_two_spellings_of_one_language(tmp_path):
    text = "language,size,score\nzh,1,1\nzh,2,2\nzh,3,3\n ZH,4,4\n"
    with pytest.raises(InputError) as info:
        read_pilots(write(tmp_path, text))
    message = str(info.value)
    assert "'zh' at line 2, 3, 4" in message and "' ZH' at line 5" in message
    assert "same way" in message


def test_dataframe_rows_are_one_based():
    df = pd.DataFrame({"language": ["ar"] * 3, "size": [1, 2, 3], "score": [1, np.nan, 3]})
    with pytest.raises(InputError, match="pilots table, row 2: score is NaN"):
        read_pilots(df)


def test_several_metrics(tmp_path):
    rows = "".join(f"ar,{s},{50 + s},{m}\n" for m in ("comet", "bleu") for s in (1, 2, 3))
    path = write(tmp_path, "language,size,score,metric\n" + rows)
    with pytest.raises(InputError, match=r"several metrics \(comet, bleu\).*metric="):
        read_pilots(path)
    df = read_pilots(path, metric="bleu")
    assert df["metric"].unique().tolist() == ["bleu"] and len(df) == 3
    assert df.attrs["metric"] == "bleu"
    with pytest.raises(InputError, match="metric 'chrf' not found"):
        read_pilots(path, metric="chrf")


def test_min_sizes_and_max_score_settings(tmp_path):
    path = write(tmp_path, "language,size,score\nar,1,1\nar,2,2\nar,3,150\n")
    assert read_pilots(path, max_score=200)["score"].max() == 150
    with pytest.raises(InputError, match="at least 4"):
        read_pilots(path, max_score=200, min_sizes=4)
