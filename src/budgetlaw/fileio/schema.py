"""Declared configuration: a settings mapping is a Schema of Fields, read by one ``check``.

    Field(name, type, default, *, required, nullable, minimum, maximum, above, below, choices,
          hint, parse, doc)
    Schema(fields, *, section, label, noun, listing, fix).check(data, where) -> checked dict
    Schema.of(SomeDataclass)     the fields of a dataclass whose defaults are ``declared(...)``

``type`` is bool, int, float, str, list, dict or object (anything). ints pass where floats are
asked for and become floats, and a float may come as text ("1e-4": YAML 1.1 reads a float
without a dot as a string); a str field takes a path too. Floats must be finite. ``minimum`` /
``maximum`` are inclusive bounds, ``above`` / ``below`` exclusive. ``parse(label, value)`` checks
what a type and bounds cannot say (a list of seeds) and raises its own message. A given key is
checked; an absent one takes its default, or stays absent when it has none.

The messages, one line each, name the key and what to give (WHERE is the caller's: a file, a
file and a section, "overrides"; LABEL is ``section.key``, or the schema's own ``label``):

    WHERE: unknown key 'lrr'; did you mean 'lr'?         (else ``; valid keys: a, b``)
    WHERE: missing required key(s) model, data; FIX
    WHERE: expected a mapping of key: value, got list
    WHERE: LABEL cannot be null; give a positive integer
    WHERE: LABEL must be a bool or null, got 'yes'        (a float, a str, a list, a dict)
    WHERE: LABEL: 'fp16' is not one of auto, bf16, fp32
    WHERE: LABEL: 0 is not a positive integer             (a number in [0, 1), an integer >= 8, ...;
                                                           an int field says so of 1.5 or 'x' too)
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from budgetlaw.errors import InputError
from budgetlaw.fileio.reading import did_you_mean

__all__ = ["Field", "Schema", "declared", "NO_DEFAULT"]

class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()  # an absent key without a default stays absent
_META = "budgetlaw.schema"
_IS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, (str, PurePath)),
    list: lambda v: isinstance(v, list),
    dict: lambda v: isinstance(v, dict),
    object: lambda v: True,
}


@dataclasses.dataclass(frozen=True)
class Field:
    """One key: its type, default, bounds or choices, and the words its errors add."""

    name: str
    type: type = object
    default: Any = NO_DEFAULT
    required: bool = False
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple | None = None
    hint: str = ""  # said after a bound or choice refusal, in parentheses
    parse: Callable[[str, Any], Any] | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in _IS:
            raise TypeError(f"Field {self.name!r}: type {self.type!r} is not one of {', '.join(t.__name__ for t in _IS)}")

    def expected(self, *, null: bool = True) -> str:
        """What a value must be, in words: 'a positive integer', 'a number in [0, 1) or null'."""
        if self.choices is not None:
            return f"one of {', '.join(map(str, self.choices))}"
        if self.type not in (int, float):
            words = self.type.__name__
        else:
            words = self._bounds("integer" if self.type is int else "number")
        return f"{_article(words)} {words}" + (" or null" if self.nullable and null else "")

    def _bounds(self, noun: str) -> str:
        low, opening = (self.minimum, "[") if self.above is None else (self.above, "(")
        high, closing = (self.maximum, "]") if self.below is None else (self.below, ")")
        if low is not None and high is not None:
            return f"{noun} in {opening}{_num(low)}, {_num(high)}{closing}"
        if high is not None:
            return f"{noun} {'<=' if closing == ']' else '<'} {_num(high)}"
        if (opening, low) == ("(", 0) or (noun == "integer" and (opening, low) == ("[", 1)):
            return f"positive {noun}"
        if noun == "integer" and (opening, low) == ("[", 0):
            return "non-negative integer"
        if low is not None:
            return f"{noun} {'>=' if opening == '[' else '>'} {_num(low)}"
        return noun

    def within(self, value) -> bool:
        return ((self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
                and (self.above is None or value > self.above) and (self.below is None or value < self.below))


def declared(default: Any, **rules: Any) -> Any:
    """A dataclass field's default together with its Field rules (bounds, choices, hint, doc):
    ``lr: float = declared(2e-5, above=0)``; ``Schema.of`` reads them back."""
    return dataclasses.field(default=default, metadata={_META: rules})


@dataclasses.dataclass(frozen=True)
class Schema:
    """The keys of one mapping and how its messages name them (see the module docstring)."""

    fields: tuple[Field, ...]
    section: str | None = None  # "evaluate": unknown keys at "WHERE: evaluate", labels "evaluate.KEY"
    label: str | None = None  # a format for a key's label, e.g. "key {!r}"; default section.key
    noun: str = "key"  # "unknown NOUN 'x'"
    listing: str = "valid keys"  # "; LISTING: a, b" when no name is close
    fix: str = "give them"  # after "missing required key(s) ..."

    @classmethod
    def of(cls, datacls: type, **style: Any) -> "Schema":
        """The schema of a dataclass: its annotations give each type (``X | None``: nullable),
        its defaults the defaults (none: required), ``declared(...)`` the rest."""
        hints = typing.get_type_hints(datacls)
        out = []
        for f in dataclasses.fields(datacls):
            kind, nullable = hints[f.name], False
            if typing.get_origin(kind) in (typing.Union, types.UnionType):
                args = [a for a in typing.get_args(kind) if a is not type(None)]
                kind, nullable = args[0], len(args) < len(typing.get_args(kind))
            given = f.default is not dataclasses.MISSING
            out.append(Field(f.name, kind, f.default if given else NO_DEFAULT, required=not given, nullable=nullable,
                             **f.metadata.get(_META, {})))
        return cls(tuple(out), **style)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields if f.default is not NO_DEFAULT}

    def check(self, data: Any, where: str = "", *, error: type[InputError] = InputError) -> dict[str, Any]:
        """The checked values of ``data`` (a mapping), defaults filled in, or ``error`` naming the key."""
        head = ": ".join(p for p in (where, self.section) if p)
        if not isinstance(data, Mapping):
            raise error(f"{head}: expected a mapping of key: value, got {type(data).__name__}")
        by_name = {f.name: f for f in self.fields}
        for key in data:
            if key not in by_name:
                raise error(f"{head}: unknown {self.noun} {key!r}{did_you_mean(key, by_name, listing=self.listing)}")
        missing = [f.name for f in self.fields if f.required and (f.name not in data or _blank(data[f.name]))]
        if missing:
            raise error(f"{head}: missing required key(s) {', '.join(missing)}; {self.fix}")
        prefix = f"{where}: " if where else ""
        values = {}
        for f in self.fields:
            if f.name in data:
                values[f.name] = self._value(f, data[f.name], prefix + self._label(f.name), error)
            elif f.default is not NO_DEFAULT:
                values[f.name] = f.default
        return values

    def _label(self, name: str) -> str:
        if self.label is not None:
            return self.label.format(name)
        return f"{self.section}.{name}" if self.section else name

    @staticmethod
    def _value(f: Field, value: Any, label: str, error: type[InputError]) -> Any:
        hint = f" ({f.hint})" if f.hint else ""
        if f.parse is not None:
            return f.parse(label, value)
        if value is None:
            if f.nullable or f.type is object:
                return None
            raise error(f"{label} cannot be null; give {f.expected(null=False)}")
        if f.choices is not None:
            if not (_IS[f.type](value) and value in f.choices):
                raise error(f"{label}: {value!r} is not {f.expected()}{hint}")
            return value
        given = value
        if f.type is float and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if not _IS[f.type](value):
            if f.type is int:  # "integer" names the type: a fraction or a word reads as a bound does
                raise error(f"{label}: {value!r} is not {f.expected()}")
            raise error(f"{label} must be {_a(f.type)}{' or null' if f.nullable else ''}, got {value!r}")
        if f.type is float:
            value = float(value)
            if not math.isfinite(value):
                raise error(f"{label}: {given!r} is not a finite number; give {f.expected()}{hint}")
        if f.type in (int, float) and not f.within(value):
            raise error(f"{label}: {given!r} is not {f.expected()}{hint}")
        return str(value) if f.type is str else value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _article(words: str) -> str:
    return "an" if words[0] in "aeiou" else "a"


def _a(kind: type) -> str:
    return f"{_article(kind.__name__)} {kind.__name__}"
