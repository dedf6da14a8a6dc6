"""Layer alignment: scores on hand-made vectors, padding excluded from the means, the CLI."""

from __future__ import annotations

import glob
import json

import numpy as np
import pandas as pd
import pytest
import torch

from tuning.cli import main
from tuning.errors import InputError
from tuning.evaluation.align import alignment_scores, sentence_representations
from tuning.generation import load_model


def test_alignment_scores_by_hand():
    en = np.eye(3)
    perfect = alignment_scores(en.copy(), en)
    assert perfect["retrieval"] == 1.0 and perfect["cos_translation"] == pytest.approx(1.0)
    assert perfect["cos_other"] == pytest.approx(0.0) and perfect["gap"] == pytest.approx(1.0)
    # Translation 2 points at English 0: xx->en finds 2 of 3; en->xx: column 0 has a tie
    # (argmax takes the first row, 0: right), column 2 has only zeros (argmax 0: wrong).
    xx = np.array([[1.0, 0, 0], [0, 1, 0], [1, 0, 0]])
    s = alignment_scores(xx, en)
    assert s["retrieval_xx_en"] == pytest.approx(2 / 3)
    assert s["retrieval_en_xx"] == pytest.approx(2 / 3)
    assert s["cos_translation"] == pytest.approx(2 / 3)  # diag 1, 1, 0
    assert s["cos_other"] == pytest.approx(1 / 6)  # one off-diagonal 1 among six
    with pytest.raises(InputError):
        alignment_scores(np.ones((1, 3)), np.ones((1, 3)))


def test_representations_exclude_padding(tiny_model_dir):
    model, tok = load_model(tiny_model_dir, device="cpu", dtype="float32")
    tok.padding_side = "right"
    sentences = ["Open the file", "Translate the following sentence from English to Chinese.", "打开"]
    reps = sentence_representations(model, tok, sentences, batch_size=3)
    assert reps.shape == (model.config.num_hidden_layers + 1, 3, model.config.hidden_size)
    for i, sentence in enumerate(sentences):  # each alone: no padding at all
        with torch.no_grad():
            states = model(torch.tensor([tok(sentence)["input_ids"]]), output_hidden_states=True).hidden_states
        alone = np.stack([h[0].mean(0).numpy() for h in states])
        np.testing.assert_allclose(reps[:, i, :], alone, atol=1e-5)


def _catalog_pairs(folder, lang, k=12):
    polib = pytest.importorskip("polib")
    rows = []
    for path in sorted(glob.glob(f"/usr/share/locale/{folder}/LC_MESSAGES/*.mo")):
        if "iso_" in path:
            continue
        for e in polib.mofile(path):
            if e.msgstr and 3 <= len(e.msgid.split()) <= 12 and "%" not in e.msgid:
                rows.append({"language": lang, "en": e.msgid, "text": e.msgstr})
                if len(rows) == k:
                    return rows
    pytest.skip(f"no catalogs for {folder}")


def test_cli_align_writes_csv_and_png(tiny_model_dir, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = _catalog_pairs("zh_CN", "zh") + _catalog_pairs("tr", "tr")
    pairs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "align.csv"
    assert main(["align", "--model", str(tiny_model_dir), "--pairs", str(pairs), "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert sorted(set(frame["language"])) == ["tr", "zh"]
    assert sorted(set(frame["layer"])) == [0, 1, 2] and set(frame["n"]) == {12}
    assert frame["retrieval"].between(0, 1).all()
    png = out.with_suffix(".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["align", "--model", str(tiny_model_dir), "-o", str(out)]) == 2


def test_cli_align_from_flores(tiny_model_dir, tmp_path):
    root = tmp_path / "flores" / "dev"
    root.mkdir(parents=True)
    (root / "eng_Latn.dev").write_text("Open the file\nSave the document\nClose the window\n", encoding="utf-8")
    (root / "ell_Grek.dev").write_text("Άνοιγμα αρχείου\nΑποθήκευση εγγράφου\nΚλείσιμο παραθύρου\n", encoding="utf-8")
    out = tmp_path / "a.csv"
    argv = ["align", "--model", str(tiny_model_dir), "--flores", str(root.parent), "--languages", "ell",
            "--split", "dev", "-o", str(out), "--plot", str(tmp_path / "p.png")]
    assert main(argv) == 0
    frame = pd.read_csv(out)
    assert set(frame["language"]) == {"el"} and set(frame["n"]) == {3}
    assert (tmp_path / "p.png").is_file()
    argv[argv.index("ell")] = "ar"
    assert main(argv) == 2  # no Arabic file in that FLORES folder
