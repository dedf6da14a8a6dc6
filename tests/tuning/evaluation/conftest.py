"""A tiny COMET checkpoint built offline, in comet 2.2.7's on-disk layout.

MODEL/hparams.yaml + MODEL/checkpoints/model.ckpt, where hparams.yaml's pretrained_model points
at a local "pretrained model" directory (a 2-layer XLM-R config + a Unigram tokenizer trained
here), so comet.load_from_checkpoint never needs a hub.
"""

from __future__ import annotations

import pytest
from _builders import build_tiny_comet


@pytest.fixture(scope="session")
def tiny_comet(tmp_path_factory):
    return build_tiny_comet(tmp_path_factory.mktemp("comet"))
