"""The transformers internals the decoding loop relies on, named in one place (transformers 4.57).

The fast greedy loop (:mod:`tuning.generation.greedy`) and its cache
(:mod:`tuning.generation.kvcache`) go below transformers' public ``generate``. Each thing they
use that transformers does not promise to keep is reached through this module, so a change in
transformers breaks here, and :func:`missing` (run by tests/tuning/evaluation/test_hf_internals.py)
says which one, instead of decoding going wrong somewhere else:

- ``config._attn_implementation``: which attention function the model's layers call; read to
  choose the mask the loop builds, written to route SDPA through the shared-heads attention;
- ``AttentionInterface.register(name, fn)`` and ``masking_utils.AttentionMaskInterface.register``
  (with ``sdpa_mask``): add an attention function (and its mask builder) under a new name;
- ``cache_utils.Cache(layers=[...])`` and ``CacheLayerMixin`` (``keys``, ``values``,
  ``is_initialized``, ``lazy_initialization``, ``update``, ``get_seq_length``,
  ``get_mask_sizes``, ``get_max_cache_shape``): the cache protocol the layers write through;
- the forward argument ``logits_to_keep``: run the output layer at the last positions only.

Importing this module imports transformers (torch too): import it where decoding starts.
"""

from __future__ import annotations

import inspect

from transformers import AttentionInterface
from transformers.cache_utils import Cache, CacheLayerMixin
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

__all__ = ["Cache", "CacheLayerMixin", "attn_implementation", "set_attn_implementation", "register_attention",
           "takes_logits_to_keep", "missing"]

#: What a cache layer of ours must be able to override or set on CacheLayerMixin.
LAYER_PROTOCOL = ("lazy_initialization", "update", "get_seq_length", "get_mask_sizes", "get_max_cache_shape")


def attn_implementation(config, default: str | None = None) -> str | None:
    """The attention implementation a model's layers call ("sdpa", "eager", ...)."""
    return getattr(config, "_attn_implementation", default)


def set_attn_implementation(config, name: str) -> None:
    """Route the model's attention through the function registered as ``name``."""
    config._attn_implementation = name


def register_attention(name: str, function) -> None:
    """Register ``function`` (the signature of transformers' ``sdpa_attention_forward``) as the
    attention ``name``, with SDPA's mask builder, so 2-D masks become what SDPA gets."""
    AttentionInterface.register(name, function)
    AttentionMaskInterface.register(name, sdpa_mask)


def takes_logits_to_keep(model) -> bool:
    """Whether the model's forward can run its output layer at the last positions only."""
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def missing() -> list[str]:
    """The internals above that this transformers no longer has (empty when all are there)."""
    out = []
    if not callable(getattr(AttentionInterface, "register", None)):
        out.append("transformers.AttentionInterface.register")
    if not callable(getattr(AttentionMaskInterface, "register", None)):
        out.append("transformers.masking_utils.AttentionMaskInterface.register")
    if "layers" not in inspect.signature(Cache.__init__).parameters:
        out.append("transformers.cache_utils.Cache(layers=...)")
    for name in LAYER_PROTOCOL:
        if not callable(getattr(CacheLayerMixin, name, None)):
            out.append(f"transformers.cache_utils.CacheLayerMixin.{name}")
    try:
        from transformers import LlamaConfig

        config = LlamaConfig(hidden_size=8, num_attention_heads=2, num_key_value_heads=1, intermediate_size=8,
                             num_hidden_layers=1, vocab_size=8, attn_implementation="sdpa")
        if attn_implementation(config) != "sdpa":
            out.append("PretrainedConfig._attn_implementation")
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        out.append(f"PretrainedConfig._attn_implementation ({type(exc).__name__}: {exc})")
    return out
