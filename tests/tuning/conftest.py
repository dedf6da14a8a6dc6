"""Shared fixtures for the tuning tests: a tiny Llama and a tokenizer trained here, offline.

Everything is built in the test session (by tests/_builders.py): no hub is reachable from CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _builders import build_tiny_llama, build_tokenizer

@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A Hugging Face model directory (config, safetensors, tokenizer) of a 2-layer Llama."""
    out = tmp_path_factory.mktemp("tiny-llama")
    model = build_tiny_llama(tiny_tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tiny_tokenizer.save_pretrained(out)
    return out
