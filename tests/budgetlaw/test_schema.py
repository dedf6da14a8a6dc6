"""budgetlaw.fileio.schema: one check of declared fields, with the one-line messages written out."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from budgetlaw.errors import InputError
from budgetlaw.fileio import NO_DEFAULT, Field, Schema, declared

EVALUATE = Schema((
    Field("batch", int, 50, minimum=1),
    Field("ratio", float, 0.1, minimum=0, below=1),
    Field("device", str, "auto", choices=("cpu", "cuda", "auto")),
    Field("note", str),
    Field("size", int, required=True),
), section="evaluate")


def refused(data, where="s.yaml", schema=EVALUATE) -> str:
    with pytest.raises(InputError) as info:
        schema.check(data, where)
    return str(info.value)


def test_defaults_fill_in_and_given_values_are_checked_and_converted():
    assert EVALUATE.check({"size": 3, "ratio": 0}, "s.yaml") == {"batch": 50, "ratio": 0.0, "device": "auto", "size": 3}
    assert EVALUATE.check({"size": 3, "ratio": "1e-3", "note": "x"})["ratio"] == 0.001  # YAML 1.1 reads 1e-3 as text
    assert EVALUATE.defaults() == {"batch": 50, "ratio": 0.1, "device": "auto"}  # note: no default, so absent


def test_a_type_error():
    assert refused({"size": 3, "note": 5}) == "s.yaml: evaluate.note must be a str, got 5"
    assert refused({"size": 3, "ratio": "half"}) == "s.yaml: evaluate.ratio must be a float, got 'half'"
    # "integer" names the type: a word, a fraction or a boolean reads as a bound does
    assert refused({"size": 3, "batch": "many"}) == "s.yaml: evaluate.batch: 'many' is not a positive integer"
    assert refused({"size": 3, "batch": True}) == "s.yaml: evaluate.batch: True is not a positive integer"
    assert refused({"size": 3, "batch": None}) == "s.yaml: evaluate.batch cannot be null; give a positive integer"
    assert refused({"size": 3, "note": None}) == "s.yaml: evaluate.note cannot be null; give a str"
    assert refused([1, 2]) == "s.yaml: evaluate: expected a mapping of key: value, got list"


def test_a_bound():
    assert refused({"size": 3, "batch": 0}) == "s.yaml: evaluate.batch: 0 is not a positive integer"
    assert refused({"size": 3, "ratio": 1}) == "s.yaml: evaluate.ratio: 1 is not a number in [0, 1)"
    assert refused({"size": 3, "ratio": float("nan")}) == ("s.yaml: evaluate.ratio: nan is not a finite number; "
                                                           "give a number in [0, 1)")


def test_a_choice():
    assert refused({"size": 3, "device": "tpu"}) == "s.yaml: evaluate.device: 'tpu' is not one of cpu, cuda, auto"
    assert refused({"size": 3, "device": 1}) == "s.yaml: evaluate.device: 1 is not one of cpu, cuda, auto"


def test_an_unknown_key_says_the_nearest_name_or_the_valid_ones():
    assert refused({"size": 3, "devise": "cpu"}) == "s.yaml: evaluate: unknown key 'devise'; did you mean 'device'?"
    assert refused({"size": 3, "zzz": 1}) == ("s.yaml: evaluate: unknown key 'zzz'; valid keys: batch, ratio, device, "
                                              "note, size")


def test_a_missing_required_key():
    assert refused({"size": ""}) == "s.yaml: evaluate: missing required key(s) size; give them"


def test_the_phrases_of_bounds():
    def words(**rules):
        return Field("k", rules.pop("type", int), **rules).expected()

    assert words(minimum=0) == "a non-negative integer"
    assert words(minimum=8) == "an integer >= 8"
    assert words(minimum=1, maximum=4294967295) == "an integer in [1, 4294967295]"
    assert words(type=float, above=0) == "a positive number"
    assert words(type=float, minimum=0) == "a number >= 0"
    assert words(type=float, above=0, below=1e3) == "a number in (0, 1000)"
    assert words(type=float, maximum=1, nullable=True) == "a number <= 1 or null"
    with pytest.raises(TypeError):
        Field("k", tuple)


def test_a_dataclass_is_its_own_declaration():
    @dataclasses.dataclass(frozen=True)
    class Job:
        model: str
        steps: Optional[int] = declared(None, minimum=1)
        lr: float = declared(2e-5, above=0, hint="try 1e-4")

    schema = Schema.of(Job, label="key {!r}", noun="config key", listing="known keys", fix="set them")
    by = {f.name: f for f in schema.fields}
    assert by["model"].required and by["model"].default is NO_DEFAULT and by["steps"].nullable
    assert schema.check({"model": "m"}) == {"model": "m", "steps": None, "lr": 2e-5}
    assert refused({"model": "m", "lr": -1}, "c.yaml", schema) == "c.yaml: key 'lr': -1 is not a positive number (try 1e-4)"
    assert refused({"model": "m", "steps": 0}, "c.yaml", schema) == "c.yaml: key 'steps': 0 is not a positive integer or null"
    assert refused({"modle": "m"}, "c.yaml", schema) == "c.yaml: unknown config key 'modle'; did you mean 'model'?"
    assert refused({}, "c.yaml", schema) == "c.yaml: missing required key(s) model; set them"
    assert refused({"model": "m", "lr": -1}, "", schema) == "key 'lr': -1 is not a positive number (try 1e-4)"


def test_a_parse_hook_checks_what_a_type_cannot_and_gets_the_label():
    def seeds(label, value):
        if not isinstance(value, list):
            raise InputError(f"{label}: expected a list of seeds, got {value!r}")
        return tuple(value)

    schema = Schema((Field("seeds", list, [1], parse=seeds),), section="pilots")
    assert schema.check({"seeds": [1, 2]}) == {"seeds": (1, 2)}
    assert schema.check({}) == {"seeds": [1]}  # a default is declared, not parsed
    assert refused({"seeds": 5}, "s.yaml", schema) == "s.yaml: pilots.seeds: expected a list of seeds, got 5"
