"""parse_size, read_limits and the check that limits name only languages with laws."""

import math

import pandas as pd
import pytest

from budgetlaw.errors import InputError
from budgetlaw.limits import limits_to_constraints, parse_size, read_limits
from budgetlaw.synthetic import DEMO_LAWS, demo_limits_path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("600k", 600_000.0),
        ("600K", 600_000.0),
        ("1.2M", 1_200_000.0),
        ("1.2m", 1_200_000.0),
        ("2e6", 2_000_000.0),
        ("2E6", 2_000_000.0),
        ("1,200,000", 1_200_000.0),
        ("1.5B", 1_500_000_000.0),
        ("1.5G", 1_500_000_000.0),
        ("12", 12.0),
        (" 40k ", 40_000.0),
        (".5k", 500.0),
        ("0", 0.0),
        (1200, 1200.0),
        (2.5e5, 250_000.0),
    ],
)
def test_parse_size_valid(text, expected):
    assert parse_size(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text", ["abc", "-5", "-1.2M", "1,2", "1,0000", "", "1.2.3", "5 apples", "1kk", "nan", "inf", "1.2T"])
def test_parse_size_invalid_names_text_and_forms(text):
    with pytest.raises(InputError) as info:
        parse_size(text)
    message = str(info.value)
    assert repr(text) in message
    assert "1.2M" in message  # shows the valid forms


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), True])
def test_parse_size_rejects_bad_numbers(value):
    with pytest.raises(InputError):
        parse_size(value)


def write(tmp_path, text, name="LANGS.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_limits_all_columns_and_comments(tmp_path):
    path = write(
        tmp_path,
        "# a comment\n\nlanguage,available,floor,cost,weight\nar,600k,10k,1,1\nzh,\"1,500,000\",,2,0.5\n",
    )
    frame = read_limits(path)
    assert list(frame.index) == ["ar", "zh"]
    assert frame.index.name == "language"
    assert list(frame.columns) == ["available", "floor", "cost", "weight"]
    assert frame.loc["ar", "available"] == 600_000.0
    assert frame.loc["zh", "available"] == 1_500_000.0
    assert frame.loc["ar", "floor"] == 10_000.0
    assert math.isnan(frame.loc["zh", "floor"])
    assert frame.loc["zh", "cost"] == 2.0
    assert frame.loc["zh", "weight"] == 0.5


def test_read_limits_subset_of_columns(tmp_path):
    frame = read_limits(write(tmp_path, "language,weight\nhi,3\n"))
    assert list(frame.columns) == ["weight"]
    assert frame.loc["hi", "weight"] == 3.0


@pytest.mark.parametrize(
    "text, line, needles",
    [
        ("language,available,budget\nar,1\n", 1, ["budget", "allowed"]),
        ("lang,available\nar,1\n", 1, ["'language'"]),
        ("language,available\nar,600k\nzh,1M\nar,2M\n", 4, ["'ar'", "line 2", "one row per language"]),
        ("language,available\nar,-5\n", 2, ["available", "negative"]),
        ("language,available\nar,lots\n", 2, ["'lots'", "600k"]),
        ("# note\nlanguage,available\nar,1\nzh\n", 4, ["fields"]),
        ("language,available,floor\nar,10k,20k\n", 2, ["floor", "exceeds"]),
        ("language,cost\nar,0\n", 2, ["cost"]),
        ("language,available\n,5\n", 2, ["empty language"]),
        ("language,available,available\nar,1,2\n", 1, ["twice"]),
    ],
)
def test_read_limits_errors_name_file_and_line(tmp_path, text, line, needles):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_limits(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}" in message
    for needle in needles:
        assert needle in message


def test_read_limits_missing_and_empty(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_limits(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="empty"):
        read_limits(write(tmp_path, "# only a comment\n"))
    with pytest.raises(InputError, match="no rows"):
        read_limits(write(tmp_path, "language,available\n"))


def test_limits_to_constraints_maps_columns_and_skips_blanks(tmp_path):
    frame = read_limits(write(tmp_path, "language,available,floor,weight\nar,600k,,2\nzh,,5k,\n"))
    kwargs = limits_to_constraints(frame, ["ar", "zh", "hi"], source="LANGS.csv")
    assert kwargs == {"available": {"ar": 600_000.0}, "floor": {"zh": 5_000.0}, "weights": {"ar": 2.0}}
    assert limits_to_constraints(None, ["ar"]) == {}


def test_limits_for_languages_without_laws(tmp_path):
    frame = read_limits(write(tmp_path, "language,available\nar,1k\nsw,2k\nxh,3k\n"))
    with pytest.raises(InputError) as info:
        limits_to_constraints(frame, ["ar", "zh"], source="LANGS.csv")
    message = str(info.value)
    assert "LANGS.csv" in message and "'sw'" in message and "'xh'" in message


def test_bundled_demo_limits_cover_demo_languages():
    frame = read_limits(demo_limits_path())
    assert sorted(frame.index) == sorted(DEMO_LAWS)
    assert (frame["available"] > frame["floor"]).all()
    assert isinstance(frame, pd.DataFrame)
