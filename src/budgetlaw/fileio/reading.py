"""Checked reading: JSON, strict YAML, and the "did you mean" of an unknown key.

Every reader raises InputError (or the ``error`` type a caller passes: tuning passes its own)
whose message names the file and the fix, never a parser's traceback.

Strict YAML (:func:`strict_yaml_loader`) is yaml.SafeLoader with two YAML 1.1 traps closed:
booleans are spelled true/false only (``no``, ``on``, ``y`` stay strings: a language code
``no`` is Norwegian, not False), and a key given twice in one mapping is refused instead of
the second silently winning. PyYAML is an optional dependency (the ``tuning`` extra), so it is
imported by the functions that need it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from budgetlaw.errors import InputError

__all__ = ["read_json", "strict_yaml_loader", "read_yaml", "yaml_value", "yaml_reason", "did_you_mean"]


def read_json(path, *, what: str = "JSON file", fix: str = "check the path",
              message: Callable[[BaseException], str | None] | None = None,
              error: type[InputError] = InputError) -> Any:
    """The parsed content of the UTF-8 JSON file ``path``, or ``error`` naming the file and ``fix``.

    Messages: ``PATH: no such file (the WHAT was not found); FIX`` and
    ``PATH: not valid JSON (REASON); FIX`` (REASON: the parser's message and line, bytes that
    are not UTF-8, or nesting too deep). A reader whose file needs its own words passes
    ``message(exc)`` instead (exc: the OSError, UnicodeDecodeError, JSONDecodeError or
    RecursionError); when it returns None the original exception propagates.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        text = message(exc) if message is not None else _json_message(path, exc, what, fix)
        if text is None:
            raise
        raise error(text) from None


def _json_message(path: Path, exc: BaseException, what: str, fix: str) -> str | None:
    if isinstance(exc, FileNotFoundError) or (isinstance(exc, OSError) and not path.is_file()):
        return f"{path}: no such file (the {what} was not found); {fix}"
    if isinstance(exc, OSError):
        return None  # permissions, a disk error: the command line's OSError line says it
    if isinstance(exc, UnicodeDecodeError):
        return f"{path}: not valid JSON (bytes that are not UTF-8); {fix}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); {fix}"
    return f"{path}: not valid JSON (nested too deeply); {fix}"


def strict_yaml_loader():
    """yaml.SafeLoader with booleans spelled true/false only and duplicate keys refused."""
    import re

    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                       list("tTfF"))

    def mapping(loader, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {seen[key] + 1}); give each key once",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def yaml_reason(exc) -> str:
    """One line from a (multi-line) PyYAML error: the problem and where."""
    problem = getattr(exc, "problem", None) or (str(exc).strip().splitlines() or ["syntax error"])[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def read_yaml(path, *, what: str = "YAML file", error: type[InputError] = InputError) -> Any:
    """The document of the strict-YAML file ``path`` (None for an empty file).

    Messages: ``PATH: WHAT not found``, ``PATH: not valid YAML (REASON at line L, column C);
    fix the syntax`` and ``PATH: not UTF-8 text; a WHAT is a YAML file of key: value lines``.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=strict_yaml_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({yaml_reason(exc)}); fix the syntax") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; a {what} is a YAML file of key: value lines") from None


def yaml_value(text: str, *, where: str, error: type[InputError] = InputError) -> Any:
    """One value in strict-YAML syntax (a ``key=value`` override's value; "" for blank text)."""
    import yaml

    if not text.strip():
        return ""
    try:
        return yaml.load(text, Loader=strict_yaml_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise error(f"{where}: the value is not valid YAML ({yaml_reason(exc)})") from None


def did_you_mean(key: object, known: Iterable[str], *, listing: str = "known keys") -> str:
    """The hint after an unknown key: ``; did you mean 'x'?`` for a close name, else
    ``; LISTING: a, b, c``."""
    known = list(known)
    close = difflib.get_close_matches(str(key), known, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; {listing}: {', '.join(known)}"
