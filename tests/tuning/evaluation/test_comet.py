"""COMET through tuning.metrics.Comet (module comet_metric) against the same model scored in memory by comet itself."""

from __future__ import annotations

import pytest

from tuning.errors import InputError
from tuning.metrics import Comet


def comet(srcs, hyps, refs, model, **settings):
    return Comet(model, **settings).corpus_score(hyps, refs, language="", sources=srcs)

SRCS = ["Open the file.", "Save the document.", "Close the window.", "The cat sat on the mat."]
HYPS = ["打开文件", "保存", "Kedi oturdu.", "猫坐在垫子上。"]
REFS = ["打开文件", "保存文档", "关闭窗口", "猫坐在垫子上。"]


def test_comet_from_local_checkpoint_matches_in_memory_model(tiny_comet):
    memory_model, model_dir = tiny_comet
    direct = memory_model.predict(
        [{"src": s, "mt": h, "ref": r} for s, h, r in zip(SRCS, HYPS, REFS)],
        batch_size=4, gpus=0, progress_bar=False, num_workers=0, length_batching=False)
    for model in (model_dir, model_dir / "checkpoints" / "model.ckpt"):
        # batch_size 2 with length sorting: order must come back right.
        ours = comet(SRCS, HYPS, REFS, model=model, batch_size=2)
        assert ours.segments == pytest.approx([100 * s for s in direct.scores], abs=1e-4)
        assert ours.score == pytest.approx(100 * sum(direct.scores) / 4, abs=1e-4)
        assert ours.n == 4
        assert ours.signature == "model:tiny-comet|refs:yes|scale:x100|version:2.2.7"  # the pinned comet


def test_comet_signature_reads_the_installed_version(tiny_comet, monkeypatch):
    import comet as comet_pkg

    from tuning.metrics.comet_metric import comet_signature

    _, model_dir = tiny_comet
    monkeypatch.setattr(comet_pkg, "__version__", "9.9.9")
    assert comet_signature(model_dir) == "model:tiny-comet|refs:yes|scale:x100|version:9.9.9"
    assert comet_signature(model_dir, with_refs=False).startswith("model:tiny-comet|refs:no|")


def test_comet_bad_input(tiny_comet, tmp_path):
    _, model_dir = tiny_comet
    with pytest.raises(InputError, match="mismatched"):
        comet(SRCS, HYPS[:3], REFS, model=model_dir)
    with pytest.raises(InputError, match="checkpoints/model.ckpt"):
        comet(SRCS, HYPS, REFS, model=tmp_path)
    with pytest.raises(InputError, match="neither a local path"):
        comet(SRCS, HYPS, REFS, model="no-such-model")
