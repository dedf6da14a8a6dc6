import gettext as stdlib_gettext
import re

import polib
import pytest
from _builders import system_catalogs

from tuning.data.gettext import locale_catalogs, read_catalog, read_gettext, strip_accelerators
from tuning.errors import InputError


def make_po(entries, header=True):
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "zh_CN"}
    for e in entries:
        po.append(e)
    return po


def sample_entries():
    E = polib.POEntry
    return [
        E(msgid="_File", msgstr="文件(_F)"),
        E(msgid="&Open", msgstr="打开(&O)"),
        E(msgid="Close", msgstr="关闭"),
        E(msgid="Close", msgstr="关上", msgctxt="door"),
        E(msgid="Untranslated", msgstr=""),
        E(msgid="Maybe", msgstr="也许", flags=["fuzzy"]),
        E(msgid="%d file", msgid_plural="%d files", msgstr_plural={0: "%d 个文件"}),
        E(msgid="Gone", msgstr="走了", obsolete=True),
        E(msgid="%s: %s", msgstr="%s：%s"),
        E(msgid="%(count)d / {total}", msgstr="%(count)d / {total}"),
        E(msgid="%s files", msgstr="%s 个文件"),
        E(msgid="Save __as", msgstr="另存为"),
    ]


# Worked out by hand from the rules: header, untranslated, fuzzy, plural, obsolete and the
# letter-less format string are skipped; accelerators stripped; msgctxt dropped from the text.
EXPECTED_PO = [("File", "文件"), ("Open", "打开"), ("Close", "关闭"), ("Close", "关上"), ("%s files", "%s 个文件"),
               ("Save _as", "另存为")]
# a .mo drops fuzzy and obsolete entries at compile time; the rest is the same
EXPECTED_MO = EXPECTED_PO


@pytest.mark.parametrize("text,expected", [
    ("_File", "File"), ("&Open", "Open"), ("文件(_F)", "文件"), ("打开（&O）", "打开"),
    ("Pr_eferences", "Preferences"), ("a_b_c", "a_b_c"), ("Tom & Jerry", "Tom & Jerry"),
    ("Tom &amp; Jerry", "Tom &amp; Jerry"), ("Save __as", "Save _as"), ("R&&D", "R&D"),
])
def test_strip_accelerators(text, expected):
    assert strip_accelerators(text) == expected


def test_po_and_mo(tmp_path):
    po = make_po(sample_entries())
    po.save(str(tmp_path / "app.po"))
    po.save_as_mofile(str(tmp_path / "app.mo"))
    assert [(p.en, p.xx) for p in read_catalog(tmp_path / "app.po")] == EXPECTED_PO
    assert sorted((p.en, p.xx) for p in read_catalog(tmp_path / "app.mo")) == sorted(EXPECTED_MO)
    # the .mo really keys the context entry as "ctx\x04msgid" (checked with the stdlib reader)
    with open(tmp_path / "app.mo", "rb") as fh:
        catalog = stdlib_gettext.GNUTranslations(fh)._catalog
    assert catalog["door\x04Close"] == "关上"


def test_locale_tree_and_dedupe(tmp_path):
    E = polib.POEntry
    layout = {
        "zh_CN/LC_MESSAGES/a.mo": [E(msgid="Close", msgstr="关闭"), E(msgid="Open", msgstr="打开")],
        "zh_CN/LC_MESSAGES/b.po": [E(msgid="Close", msgstr="关闭"), E(msgid="Quit", msgstr="退出")],
        "zh_TW/LC_MESSAGES/a.mo": [E(msgid="Close", msgstr="關閉")],
        "en@quot/LC_MESSAGES/a.mo": [E(msgid="'x'", msgstr="‘x’")],
    }
    for rel, entries in layout.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        po = make_po(entries)
        po.save_as_mofile(str(path)) if path.suffix == ".mo" else po.save(str(path))
    files = locale_catalogs(tmp_path, "zh")
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["zh_CN/LC_MESSAGES/a.mo", "zh_CN/LC_MESSAGES/b.po"]
    assert sorted((p.en, p.xx) for p in read_gettext(tmp_path, "zh")) == [("Close", "关闭"), ("Open", "打开"), ("Quit", "退出")]
    assert [(p.en, p.xx) for p in read_gettext(tmp_path, "zh_TW")] == [("Close", "關閉")]
    assert len(list(read_gettext(tmp_path, "zh", dedupe=False))) == 4
    with pytest.raises(InputError, match="no catalogs for ar"):
        locale_catalogs(tmp_path, "ar")


def test_corrupt_mo(tmp_path):
    bad = tmp_path / "x.mo"
    bad.write_bytes(b"not a catalog at all")
    with pytest.raises(InputError, match=r"x\.mo: not a readable gettext catalog"):
        list(read_catalog(bad))


def test_real_zh_cn_catalogs_match_stdlib_reader():
    """polib-based reading agrees with the standard library's .mo parser, catalog by catalog."""
    letter = re.compile(r"[^\W\d_]")
    # placeholders written independently of the module: printf (%s, %2$d, %lu) and {name}
    placeholder = re.compile(r"%[0-9$.\-+ #']*[hlqjzt]*[A-Za-z%]|%\(\w+\)[a-z]|\{\w*\}")
    for mo in system_catalogs("zh_CN")[:25]:
        with open(mo, "rb") as fh:
            catalog = stdlib_gettext.GNUTranslations(fh)._catalog
        expected = set()
        for key, value in catalog.items():
            if isinstance(key, tuple) or not key or not value:
                continue  # plural forms, header, untranslated
            msgid = key.split("\x04", 1)[-1]
            en, xx = strip_accelerators(msgid).strip(), strip_accelerators(value).strip()
            if letter.search(placeholder.sub("", en)) and xx:
                expected.add((en, xx))
        got = {(p.en, p.xx) for p in read_catalog(mo)}
        assert got == expected, mo
    pairs = list(read_gettext("/usr/share/locale", "zh"))
    assert len(pairs) > 1000
    cjk = sum(bool(re.search(r"[\u4e00-\u9fff]", p.xx)) for p in pairs)
    assert cjk / len(pairs) > 0.8
