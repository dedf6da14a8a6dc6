"""The transformers internals the decoding loop relies on (tuning.generation.hf_internals) are
all there, and the loop reaches transformers' private parts through that module only: an
upgrade that moves one fails here, by name, not as wrong completions somewhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("transformers")

GENERATION = Path(__file__).resolve().parents[3] / "src" / "tuning" / "generation"
PRIVATE = ("_attn_implementation", "AttentionInterface", "AttentionMaskInterface", "cache_utils", "masking_utils")


def test_every_internal_the_loop_uses_is_there():
    import transformers

    from tuning.generation import hf_internals

    assert hf_internals.missing() == [], (
        f"transformers {transformers.__version__} changed what tuning.generation relies on: "
        f"{hf_internals.missing()}; adapt tuning/generation/hf_internals.py (and the loop) or pin transformers")


def test_the_check_would_notice_a_missing_internal(monkeypatch):
    from tuning.generation import hf_internals

    monkeypatch.delattr(hf_internals.CacheLayerMixin, "lazy_initialization")
    assert "transformers.cache_utils.CacheLayerMixin.lazy_initialization" in hf_internals.missing()


def test_the_internals_are_named_in_one_module_only():
    offenders = []
    for path in sorted(GENERATION.glob("*.py")):
        if path.name == "hf_internals.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # code, not prose: names, attributes, imports and strings (a docstring may explain)
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
                offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.Name) and node.id in PRIVATE:
                offenders.append(f"{path.name}:{node.lineno}: {node.id}")
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("transformers."):
                offenders.append(f"{path.name}:{node.lineno}: from {node.module}")
            elif isinstance(node, ast.Constant) and node.value in PRIVATE:
                offenders.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert offenders == []


def test_attention_routing_round_trips():
    from transformers import LlamaConfig

    from tuning.generation import hf_internals

    config = LlamaConfig(hidden_size=8, num_attention_heads=2, num_key_value_heads=1, intermediate_size=8,
                         num_hidden_layers=1, vocab_size=8, attn_implementation="sdpa")
    hf_internals.register_attention("tuning_test_sdpa", lambda *a, **k: None)
    hf_internals.set_attn_implementation(config, "tuning_test_sdpa")
    assert hf_internals.attn_implementation(config) == "tuning_test_sdpa"
    hf_internals.set_attn_implementation(config, "sdpa")
    assert hf_internals.attn_implementation(config) == "sdpa"
