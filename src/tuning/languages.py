"""One canonical code per language, and the spellings the data formats use for it.

The canonical code is the ISO 639-1 code ("zh", "ar", "hi", ...). Traditional Chinese is kept
apart from Simplified as "zh-Hant", because mixing the two scripts would corrupt a mixture.

Spellings accepted by :func:`canonical` (case-insensitive, ``-`` and ``_`` interchangeable):

- ISO 639-1 / 639-2 / 639-3 codes: ``zh``, ``zho``, ``chi``, ``ar``, ``ara``, ``arb``, ...
- FLORES-101 file names: ``zho_simpl``, ``zho_trad``, ``eng``, ``ell``, ...
- FLORES-200 / NLLB names: ``zho_Hans``, ``arb_Arab``, ``hin_Deva``, ...
- gettext locale names: ``zh_CN``, ``zh_TW``, ``pt_BR``, ``de_DE.UTF-8``, ...
- BCP 47 tags with a region, or with the language's own script: ``en-US``, ``zh-Hans-CN``;
- English display names: ``Chinese``, ``Arabic``, ...

Anything else raises :class:`tuning.errors.InputError` listing the known languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tuning.errors import InputError

__all__ = ["LanguageInfo", "LANGUAGES", "canonical", "display_name", "script", "known_codes"]


@dataclass(frozen=True)
class LanguageInfo:
    """What the project knows about one language.

    ``flores101``/``flores200`` are the FLORES file stems; ``aliases`` are further spellings.
    """

    code: str
    name: str
    script: str
    iso639_3: str
    flores101: str
    flores200: str
    aliases: tuple[str, ...] = ()


def _info(code, name, script_, iso3, f101, f200, *aliases):
    return LanguageInfo(code, name, script_, iso3, f101, f200, tuple(aliases))


# The six languages with gettext catalogs on every machine come first; the rest are the common
# languages of FLORES/WMT so a user's plan for them does not trip over an "unknown" error.
_TABLE = (
    _info("en", "English", "Latn", "eng", "eng", "eng_Latn"),
    _info("zh", "Chinese", "Hans", "zho", "zho_simpl", "zho_Hans",
          "chi", "cmn", "cmn_Hans", "zh_cn", "zh_sg", "zh_hans", "zh_hans_cn", "chinese_simplified"),
    _info("zh-Hant", "Chinese (Traditional)", "Hant", "zho", "zho_trad", "zho_Hant",
          "cmn_Hant", "zh_tw", "zh_hk", "zh_mo", "zh_hant", "zh_hant_tw", "chinese_traditional"),
    _info("ar", "Arabic", "Arab", "ara", "ara", "arb_Arab", "arb"),
    _info("el", "Greek", "Grek", "ell", "ell", "ell_Grek", "gre"),
    _info("hi", "Hindi", "Deva", "hin", "hin", "hin_Deva"),
    _info("tr", "Turkish", "Latn", "tur", "tur", "tur_Latn"),
    _info("vi", "Vietnamese", "Latn", "vie", "vie", "vie_Latn"),
    _info("de", "German", "Latn", "deu", "deu", "deu_Latn", "ger"),
    _info("fr", "French", "Latn", "fra", "fra", "fra_Latn", "fre"),
    _info("es", "Spanish", "Latn", "spa", "spa", "spa_Latn"),
    _info("it", "Italian", "Latn", "ita", "ita", "ita_Latn"),
    _info("pt", "Portuguese", "Latn", "por", "por", "por_Latn"),
    _info("nl", "Dutch", "Latn", "nld", "nld", "nld_Latn", "dut"),
    _info("ru", "Russian", "Cyrl", "rus", "rus", "rus_Cyrl"),
    _info("uk", "Ukrainian", "Cyrl", "ukr", "ukr", "ukr_Cyrl"),
    _info("pl", "Polish", "Latn", "pol", "pol", "pol_Latn"),
    _info("cs", "Czech", "Latn", "ces", "ces", "ces_Latn", "cze"),
    _info("ro", "Romanian", "Latn", "ron", "ron", "ron_Latn", "rum"),
    _info("sv", "Swedish", "Latn", "swe", "swe", "swe_Latn"),
    _info("fi", "Finnish", "Latn", "fin", "fin", "fin_Latn"),
    _info("hu", "Hungarian", "Latn", "hun", "hun", "hun_Latn"),
    _info("ja", "Japanese", "Jpan", "jpn", "jpn", "jpn_Jpan"),
    _info("ko", "Korean", "Kore", "kor", "kor", "kor_Hang", "ko_kr"),
    _info("he", "Hebrew", "Hebr", "heb", "heb", "heb_Hebr", "iw"),
    _info("fa", "Persian", "Arab", "fas", "fas", "pes_Arab", "per", "pes"),
    _info("ur", "Urdu", "Arab", "urd", "urd", "urd_Arab"),
    _info("bn", "Bengali", "Beng", "ben", "ben", "ben_Beng"),
    _info("ta", "Tamil", "Taml", "tam", "tam", "tam_Taml"),
    _info("th", "Thai", "Thai", "tha", "tha", "tha_Thai"),
    _info("id", "Indonesian", "Latn", "ind", "ind", "ind_Latn", "in"),
    _info("ms", "Malay", "Latn", "msa", "msa", "zsm_Latn", "may", "zsm"),
    _info("sw", "Swahili", "Latn", "swa", "swh", "swh_Latn", "swh"),
    _info("ne", "Nepali", "Deva", "nep", "npi", "npi_Deva", "npi"),
)

LANGUAGES: dict[str, LanguageInfo] = {info.code: info for info in _TABLE}


def _key(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def _build_aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for info in _TABLE:
        spellings = {info.code, info.name, info.flores101, info.flores200, *info.aliases}
        if info.code != "zh-Hant":  # "zho" alone means Chinese in general, read as Simplified
            spellings.add(info.iso639_3)
        for spelling in spellings:
            key = _key(spelling)
            if table.get(key, info.code) != info.code:
                raise AssertionError(f"alias {spelling!r} is ambiguous")  # a bug in _TABLE
            table[key] = info.code
    return table


_ALIASES = _build_aliases()
_REGION = re.compile(r"^(?:[a-z]{2}|\d{3})$")
_SCRIPT = re.compile(r"^[a-z]{4}$")


def known_codes() -> list[str]:
    """The canonical codes, in table order."""
    return list(LANGUAGES)


def canonical(code: str) -> str:
    """The canonical code of any spelling of a known language; InputError otherwise."""
    if not isinstance(code, str) or not code.strip():
        raise InputError(f"empty language code {code!r}: give a code such as 'zh' or 'zho_Hans'")
    key = _key(code)
    key = key.split(".", 1)[0]  # locale encodings: de_DE.UTF-8
    found = _ALIASES.get(key)
    if found is not None:
        return found
    # Base language plus region and/or the language's own script subtags: en_US, zh_Hans_CN.
    parts = key.split("_")
    base = _ALIASES.get(parts[0])
    if base is not None and len(parts) > 1:
        own_script = LANGUAGES[base].script.lower()
        if all(_REGION.match(p) or (_SCRIPT.match(p) and p == own_script) for p in parts[1:]):
            return base
    raise InputError(
        f"unknown language code {code!r}. Known languages: "
        + ", ".join(f"{c} ({LANGUAGES[c].name})" for c in LANGUAGES)
        + ". Use one of these codes (or its ISO 639-3 / FLORES spelling, e.g. 'zho_simpl')."
    )


def display_name(code: str) -> str:
    """English display name: display_name("zho_simpl") == "Chinese"."""
    return LANGUAGES[canonical(code)].name


def script(code: str) -> str:
    """ISO 15924 script code: script("ar") == "Arab"."""
    return LANGUAGES[canonical(code)].script


def info(code: str) -> LanguageInfo:
    """The :class:`LanguageInfo` of any spelling."""
    return LANGUAGES[canonical(code)]
