"""Translation pairs from gettext catalogs: a ``.po``/``.mo`` file or a locale tree.

A catalog entry gives the pair ``(msgid, msgstr)``: the English source message and its human
translation. Kept are only entries that are a plain, finished translation; skipped are

- the header (empty msgid), untranslated entries (empty msgstr),
- fuzzy entries (flag ``fuzzy``: a translator's unchecked guess) and obsolete ones (``#~``),
- plural entries (``msgid_plural``: the forms do not pair one to one),
- messages with no letter at all (format strings such as ``"%s: %s"``).

A ``msgctxt`` only tells identical English messages apart; the pair is the msgid/msgstr text
without it (in a ``.mo`` the key is ``ctx\\x04msgid``; polib splits it off).
Keyboard accelerators are stripped from both sides (:func:`strip_accelerators`). A ``.mo`` holds
no fuzzy or obsolete entries (msgfmt leaves them out), so only the ``.po`` checks can trigger.

A locale tree is ``ROOT/<locale>/LC_MESSAGES/*.mo`` (and ``*.po``), as in /usr/share/locale;
every locale directory whose name is a spelling of the language is read (``zh`` reads
``zh_CN``, ``zh_SG`` and ``zh_Hans`` but not ``zh_TW``, which is ``zh-Hant``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tuning.data.pairs import Pair
from tuning.errors import InputError
from tuning.languages import canonical

__all__ = ["strip_accelerators", "read_catalog", "read_catalogs", "locale_catalogs", "read_gettext"]

log = logging.getLogger(__name__)

# "文件(_F)", "打开(&O)", "Datei (_D)": a mnemonic in brackets after the label (CJK style).
_BRACKETED = re.compile(r"\s*[(（]\s*[_&][^\W_]\s*[)）]")
# "_File", "Pr_eferences", "&Open": one marker before a letter or digit. "&amp;" is an entity.
_UNDERSCORE = re.compile(r"_(?=[^\W_])")
_AMPERSAND = re.compile(r"&(?![#\w]+;)(?=[^\W_])")
_LETTER = re.compile(r"[^\W\d_]")
# printf conversions (%s, %3$d, %-10.2lf) and Python/brace placeholders ({name}, %(name)s)
_FORMAT = re.compile(r"%(?:\(\w+\))?(?:\d+\$)?[-+ #0']*\d*(?:\.\d+)?(?:hh|ll|[hlLqjzt])?[a-zA-Z%]|\{\w*(?:[:!.][^{}\s]*)?\}")


def has_words(text: str) -> bool:
    """Whether a message has a letter outside its format placeholders ("%s: %s" has none)."""
    return bool(_LETTER.search(_FORMAT.sub("", text)))


def strip_accelerators(text: str) -> str:
    """Remove keyboard accelerator markers: ``_File`` -> ``File``, ``&Open`` -> ``Open``,
    ``文件(_F)`` -> ``文件``.

    A marker is stripped only when it is the only one of its kind in the message (a mnemonic
    appears once), so ``a_b_c`` or ``x & y`` are left alone; doubled markers (``__``, ``&&``)
    are literal characters and become single ones.
    """
    text = _BRACKETED.sub("", text)
    for pattern, double, single in ((_UNDERSCORE, "__", "_"), (_AMPERSAND, "&&", "&")):
        if double in text:
            text = text.replace(double, "\x00")
        if len(pattern.findall(text)) == 1:
            text = pattern.sub("", text)
        text = text.replace("\x00", single)
    return text


def _load(path: Path):
    import polib

    try:
        if path.suffix == ".mo":
            return polib.mofile(str(path))
        return polib.pofile(str(path))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable gettext catalog ({exc}); "
                         "check the file (msgfmt --check) or leave it out") from None


def read_catalog(path) -> Iterator[Pair]:
    """Yield the usable pairs of one ``.po`` or ``.mo`` file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such catalog; check the path")
    origin = str(path)
    skipped = kept = 0
    for entry in _load(path):
        if (not entry.msgid or not entry.msgstr or entry.msgid_plural or entry.obsolete
                or "fuzzy" in entry.flags):
            skipped += 1
            continue
        en = strip_accelerators(entry.msgid).strip()
        xx = strip_accelerators(entry.msgstr).strip()
        if not has_words(en) or not xx:
            skipped += 1
            continue
        kept += 1
        yield Pair(en, xx, origin)
    log.debug("%s: %d pairs kept, %d entries skipped", path, kept, skipped)


def read_catalogs(paths: Iterable, *, dedupe: bool = True) -> Iterator[Pair]:
    """Pairs from several catalogs; with ``dedupe`` an identical (en, xx) pair is yielded once."""
    seen: set[tuple[str, str]] = set()
    for path in paths:
        for pair in read_catalog(path):
            if dedupe:
                key = (pair.en, pair.xx)
                if key in seen:
                    continue
                seen.add(key)
            yield pair


def locale_catalogs(root, language: str) -> list[Path]:
    """The catalogs of ``language`` in a locale tree, sorted by locale then file name."""
    root = Path(root)
    language = canonical(language)
    found: list[Path] = []
    locales = []
    for locale_dir in sorted(p for p in root.iterdir() if (p / "LC_MESSAGES").is_dir()):
        locales.append(locale_dir.name)
        try:
            if canonical(locale_dir.name) != language:
                continue
        except InputError:
            continue  # en@quot, sr@latin, languages this project does not know
        messages = locale_dir / "LC_MESSAGES"
        found.extend(sorted(p for p in messages.iterdir() if p.suffix in (".mo", ".po") and p.is_file()))
    if not found:
        raise InputError(
            f"{root}: no catalogs for {language} (looked for <locale>/LC_MESSAGES/*.mo|*.po with "
            f"a locale naming {language}; found locales: {', '.join(locales[:30]) or 'none'})"
        )
    return found


def read_gettext(path, language: str | None = None, *, dedupe: bool = True) -> Iterator[Pair]:
    """Pairs from a ``.po``/``.mo`` file, or from a locale tree (then ``language`` is needed)."""
    path = Path(path)
    if path.is_dir():
        if language is None:
            raise InputError(f"{path}: a locale tree needs the language to read (e.g. 'zh')")
        return read_catalogs(locale_catalogs(path, language), dedupe=dedupe)
    return read_catalogs([path], dedupe=dedupe)
