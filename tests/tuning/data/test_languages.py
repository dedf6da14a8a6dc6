import pytest

from tuning.errors import InputError
from tuning.languages import LANGUAGES, canonical, display_name, script

# Spellings from the contract and the formats, with the answer looked up by hand.
SPELLINGS = {
    "zh": ["zh", "zh_CN", "zh-CN", "zh-Hans", "ZH_hans", "zho_simpl", "zho_Hans", "chi", "Chinese",
           "zh_Hans_CN", "zh_CN.UTF-8"],
    "zh-Hant": ["zh_TW", "zh-Hant", "zho_trad", "zho_Hant", "zh_HK"],
    "ar": ["ar", "arb", "arb_Arab", "ara", "AR"],
    "hi": ["hi", "hin", "hin_Deva"],
    "el": ["el", "ell", "ell_Grek"],
    "tr": ["tr", "tur", "tur_Latn"],
    "vi": ["vi", "vie", "vie_Latn"],
    "en": ["en", "eng", "eng_Latn", "en_US", "en-GB", "English"],
    "pt": ["pt_BR", "por_Latn"],
}


@pytest.mark.parametrize("code,spelling", [(c, s) for c, ss in SPELLINGS.items() for s in ss])
def test_canonical_spellings(code, spelling):
    assert canonical(spelling) == code


def test_names_and_scripts():
    assert display_name("zho_simpl") == "Chinese"
    assert display_name("arb_Arab") == "Arabic"
    assert [script(c) for c in ("ar", "el", "hi", "zh", "tr", "vi", "en")] == [
        "Arab", "Grek", "Deva", "Hans", "Latn", "Latn", "Latn"]


@pytest.mark.parametrize("bad", ["xx", "", "  ", "zh_Latn", "en@quot", "klingon", "arb_Latn"])
def test_unknown_is_input_error(bad):
    with pytest.raises(InputError) as err:
        canonical(bad)
    assert "zh (Chinese)" in str(err.value) or "empty" in str(err.value)


def test_every_canonical_code_maps_to_itself():
    for code, info in LANGUAGES.items():
        assert canonical(code) == code
        assert canonical(info.flores200) == code
        assert canonical(info.flores101) == code
