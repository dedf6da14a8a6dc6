"""Stream translation pairs from the formats users have, as ``Pair(en, xx, origin)``.

Every reader yields pairs with English first, whatever the file's column order, and streams:
only the current line is in memory. Formats, chosen by :func:`open_pairs` from the path:

============================  ==========================================================
path                          format
============================  ==========================================================
``EN_FILE,XX_FILE``           line-aligned plain text, English file first
``train.zh`` / ``train.en``   line-aligned plain text: the sibling with the other
                              language's suffix (any spelling: ``.en``, ``.eng``, ...)
``train`` (a prefix)          ``train.<en>`` + ``train.<xx>``
``*.tsv`` / ``*.tsv.gz``      TSV, 2 columns (``en<TAB>xx``, NewsCommentary) or 3
                              (``score<TAB>...``, WikiMatrix); see :func:`read_tsv`
``*.po`` / ``*.mo``           one gettext catalog (:mod:`tuning.data.gettext`)
directory with ``*/LC_MESSAGES``  a locale tree such as /usr/share/locale
directory with ``dev/`` or ``devtest/``  FLORES-101/200 (:mod:`tuning.data.evalsets`)
============================  ==========================================================
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tuning.data.evalsets import find_flores, flores_pairs
from tuning.data.reading import iter_lines, sha256_files
from tuning.data.gettext import locale_catalogs, read_catalogs
from tuning.data.pairs import Pair, PairPacker, read_plaintext  # re-exported: readers' public names
from tuning.errors import InputError
from tuning.languages import canonical

__all__ = ["Pair", "PairPacker", "PairSource", "open_pairs", "read_pairs", "read_plaintext", "read_tsv",
           "tsv_english_first"]

log = logging.getLogger(__name__)


def _lang_of_suffix(path: Path) -> str | None:
    suffix = path.suffix[1:]
    if not suffix:
        return None
    try:
        return canonical(suffix)
    except InputError:
        return None


_PAIR_IN_NAME = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,3}(?:_[A-Za-z]{4})?)-([A-Za-z]{2,3}(?:_[A-Za-z]{4})?)(?![A-Za-z])")


def tsv_english_first(path, language: str) -> bool:
    """Whether English is the first text column of a TSV, read from the file name.

    ``WikiMatrix.ar-en.tsv`` -> False, ``news-commentary-v16.en-zh.tsv`` -> True. Names without a
    recognisable ``xx-yy`` pair default to English first.
    """
    language = canonical(language)
    for left, right in _PAIR_IN_NAME.findall(Path(path).name):
        try:
            a, b = canonical(left), canonical(right)
        except InputError:
            continue
        if {a, b} == {"en", language}:
            return a == "en"
    return True


def read_tsv(path, language: str, *, min_score: float | None = None,
             english_first: bool | None = None) -> Iterator[Pair]:
    """Pairs from a TSV with 2 columns (``en, xx``) or 3 (``score, en, xx``).

    The column order of the text columns comes from the file name (:func:`tsv_english_first`)
    unless ``english_first`` is given. With 3 columns, rows scoring below ``min_score`` are
    skipped. Rows with another number of columns, a score that is not a number or an empty text
    raise InputError naming the file and line. Text is taken verbatim (no CSV quoting).
    """
    path = Path(path)
    if english_first is None:
        english_first = tsv_english_first(path, language)
    origin = str(path)
    width = None
    for number, line in iter_lines(path):
        if not line:
            continue  # a trailing blank line
        cols = line.split("\t")
        if width is None:
            width = len(cols)
            if width not in (2, 3):
                raise InputError(
                    f"{path}, line {number}: {width} tab-separated columns; expected 2 "
                    "(English, translation) or 3 (score, English, translation)"
                )
            if width == 2 and min_score is not None:
                raise InputError(f"{path}: min_score={min_score} given but the file has no score "
                                 "column (2 columns); drop the minimum score")
        elif len(cols) != width:
            raise InputError(
                f"{path}, line {number}: {len(cols)} columns where line 1 has {width}; "
                "a tab inside a sentence breaks the format: remove or replace it"
            )
        if width == 3:
            try:
                score = float(cols[0])
            except ValueError:
                raise InputError(f"{path}, line {number}: score {cols[0][:30]!r} is not a number; "
                                 "the first of 3 columns must be the alignment score") from None
            if min_score is not None and score < min_score:
                continue
            cols = cols[1:]
        en, xx = (cols[0], cols[1]) if english_first else (cols[1], cols[0])
        if not en.strip() or not xx.strip():
            raise InputError(f"{path}, line {number}: empty {'English' if not en.strip() else language} "
                             "text; remove the line")
        yield Pair(en, xx, origin)


def _plaintext_files(spec: str, language: str) -> tuple[Path, Path] | None:
    if "," in spec:
        first, second = (Path(p) for p in spec.split(",", 1))
        if _lang_of_suffix(second) == "en" and _lang_of_suffix(first) != "en":
            first, second = second, first
        return first, second
    path = Path(spec)
    if path.is_file():
        own = _lang_of_suffix(path)
        want = "en" if own == language else language if own == "en" else None
        if want is None:
            return None
        stem = path.with_suffix("")
        candidates = sorted(p for p in path.parent.glob(stem.name + ".*")
                            if p != path and _lang_of_suffix(p) == want)
        if not candidates:
            raise InputError(f"{path}: no line-aligned partner file {stem}.<{want}> beside it; "
                             f"give both files as EN_FILE,XX_FILE")
        other = candidates[0]
        return (other, path) if want == "en" else (path, other)
    if path.parent.is_dir():
        by_lang: dict[str, Path] = {}
        for p in sorted(path.parent.glob(path.name + ".*")):
            if p.is_file() and p.with_suffix("").name == path.name:
                by_lang.setdefault(_lang_of_suffix(p) or "", p)
        if "en" in by_lang and language in by_lang:
            return by_lang["en"], by_lang[language]
    return None


@dataclass(frozen=True)
class PairSource:
    """Where one language's pairs come from: :meth:`pairs` streams them (again on each call)."""

    spec: str
    language: str
    format: str
    files: tuple[Path, ...]
    min_score: float | None = None

    def pairs(self) -> Iterator[Pair]:
        if self.format == "plaintext":
            return read_plaintext(*self.files)
        if self.format == "tsv":
            return read_tsv(self.files[0], self.language, min_score=self.min_score)
        if self.format in ("gettext", "locale-tree"):
            return read_catalogs(self.files, dedupe=False)
        if self.format == "flores":
            return flores_pairs(self.files)
        raise AssertionError(self.format)

    def describe(self) -> dict:
        """The manifest's record of this input (path as given, format, files, sha256)."""
        return {
            "path": self.spec,
            "language": self.language,
            "format": self.format,
            "files": [str(f) for f in self.files],
            "sha256": sha256_files(self.files),
            **({"min_score": self.min_score} if self.min_score is not None else {}),
        }


def open_pairs(spec, language: str, *, min_score: float | None = None) -> PairSource:
    """Recognise the format of ``spec`` (see the module docstring) for ``language``.

    ``min_score`` applies to TSV files (3 columns); other formats carry no score.
    """
    language = canonical(language)
    if language == "en":
        raise InputError(f"{spec}: parallel data is given for the target language (e.g. zh=PATH), "
                         "not for 'en'; English is always the other side")
    spec = str(spec)
    path = Path(spec)
    name = path.name.lower()
    if "," not in spec and path.is_dir():
        if any(path.glob("*/LC_MESSAGES")):
            return PairSource(spec, language, "locale-tree", tuple(locale_catalogs(path, language)))
        files = find_flores(path, language)
        return PairSource(spec, language, "flores", tuple(files))
    if name.endswith((".tsv", ".tsv.gz")):
        if not path.is_file():
            raise InputError(f"{spec}: no such file; check the path given for {language}")
        return PairSource(spec, language, "tsv", (path,), min_score)
    if name.endswith((".po", ".mo")):
        if not path.is_file():
            raise InputError(f"{spec}: no such file; check the path given for {language}")
        return PairSource(spec, language, "gettext", (path,))
    files = _plaintext_files(spec, language)
    if files is None and not path.exists():
        raise InputError(f"{spec}: no such file or folder (the {language} parallel data); check the path")
    if files is None:
        raise InputError(
            f"{spec}: cannot tell the format of the {language} data; give a .tsv, .po/.mo, a locale "
            f"or FLORES directory, EN_FILE,XX_FILE, or line-aligned files named PREFIX.en and "
            f"PREFIX.{language}"
        )
    for f in files:
        if not f.is_file():
            raise InputError(f"{f}: no such file (from {spec!r} for {language}); check the path")
    return PairSource(spec, language, "plaintext", files)


def read_pairs(spec, language: str, *, min_score: float | None = None) -> Iterator[Pair]:
    """Stream ``Pair(en, xx, origin)`` from any supported format (see :func:`open_pairs`)."""
    return open_pairs(spec, language, min_score=min_score).pairs()
