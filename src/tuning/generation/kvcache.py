"""A preallocated KV cache whose rows grow by different amounts: the cache of :mod:`tuning.generation.greedy`.

Layout, per layer: ``keys`` and ``values`` of shape ``[rows, kv_heads, capacity, head_dim]``,
allocated once; row ``b`` holds its tokens in columns ``0 .. length[b]-1`` (the prompt's left
padding included, hidden by the attention mask). A forward pass of ``q`` new tokens per row
writes them in place at columns ``length[b] .. length[b]+q-1`` and attends over the first
``read = max(length) + q`` columns (a view, no copy). Nothing is concatenated per step, which is
what transformers' ``DynamicCache`` does (``torch.cat`` of every layer, every step).

Why not transformers' ``StaticCache``: it writes every row at the same ``cache_position`` and
attends over the whole allocated length at every step. The speculative loop accepts a different
number of draft tokens per row, so rows need their own write offsets; and attending over the
capacity (prompt + cap + drafts) rather than the used length would cost more than the copy saved.

Grouped-query attention (SmolLM2: 9 query heads share 3 key/value heads): transformers' SDPA
path repeats every layer's cached keys and values to all query heads whenever a mask is given
(``repeat_kv``: a copy of the whole cache, 3x its size, per layer and pass), which made reading
the cache the largest cost of a decode pass at batch 50. :func:`grouped_attention` runs
``scaled_dot_product_attention(..., enable_gqa=True)`` instead: the same kernel reading the
shared heads in place (bit-identical output here).

A rejected draft needs no undo: the row's ``length`` advances only over accepted tokens, so the
next write overwrites the rejected columns, and the mask (:meth:`RowCache.mask`) never lets a
query see a column at or past its own.
"""

from __future__ import annotations

import contextlib

import torch
from tuning.generation.hf_internals import (Cache, CacheLayerMixin, attn_implementation, register_attention,
                                            set_attn_implementation)

__all__ = ["RowCache", "grouped_attention"]

_GQA = "tuning_sdpa_gqa"


class _RowLayer(CacheLayerMixin):
    """One decoder layer's keys and values; where to write is planned by the owning RowCache."""

    def __init__(self, owner: RowCache):
        super().__init__()
        self.owner = owner

    def lazy_initialization(self, key_states: torch.Tensor) -> None:
        _, heads, _, dim = key_states.shape
        shape = (self.owner.capacity_rows, heads, self.owner.capacity, dim)
        self.dtype, self.device = key_states.dtype, key_states.device
        self.keys = torch.zeros(shape, dtype=key_states.dtype, device=key_states.device)
        self.values = torch.zeros(shape, dtype=key_states.dtype, device=key_states.device)
        self.is_initialized = True

    def update(self, key_states, value_states, cache_kwargs=None):
        if not self.is_initialized:
            self.lazy_initialization(key_states)
        plan = self.owner
        n, q = key_states.shape[0], key_states.shape[2]
        if plan.aligned is not None:  # every row writes at the same column: a plain slice copy
            self.keys[:n, :, plan.aligned:plan.aligned + q] = key_states
            self.values[:n, :, plan.aligned:plan.aligned + q] = value_states
        else:  # row b at its own columns length[b] + (0..q-1)
            rows, cols = plan.write_index
            self.keys[rows, :, cols] = key_states.transpose(1, 2)
            self.values[rows, :, cols] = value_states.transpose(1, 2)
        return self.keys[:n, :, :plan.read], self.values[:n, :, :plan.read]

    def get_mask_sizes(self, cache_position):
        return self.owner.read, 0

    def get_seq_length(self) -> int:
        return self.owner.read

    def get_max_cache_shape(self) -> int:
        return self.owner.capacity

    def keep(self, index: torch.Tensor, used: int) -> None:
        if self.is_initialized:  # the gathered copy is made before it overwrites the first rows
            self.keys[:len(index), :, :used] = self.keys[index, :, :used]
            self.values[:len(index), :, :used] = self.values[index, :, :used]


class RowCache(Cache):
    """KV cache of ``rows`` sequences of at most ``capacity`` tokens each, written in place.

    Before each forward pass the caller says where each row writes (:meth:`plan`); after it,
    how far each row's valid tokens now reach (:meth:`advance`). ``valid[b, j]`` is False for
    left-padding columns only.
    """

    def __init__(self, num_layers: int, rows: int, capacity: int, device=None):
        self.capacity_rows, self.capacity = rows, capacity
        self.rows = rows
        self.length = torch.zeros(rows, dtype=torch.long, device=device)
        self.valid = torch.ones((rows, capacity), dtype=torch.bool, device=device)
        self.aligned: int | None = 0
        self.read = 0
        self.write_index = None
        super().__init__(layers=[_RowLayer(self) for _ in range(num_layers)])

    def plan(self, q: int) -> None:
        """The next forward pass feeds ``q`` tokens per row, written from each row's ``length``."""
        lo, hi = int(self.length.min()), int(self.length.max())
        if hi + q > self.capacity:
            raise ValueError(f"RowCache: {hi + q} tokens in a row exceed the capacity {self.capacity}")
        self.read = hi + q
        self.aligned = lo if lo == hi else None
        if self.aligned is None:
            offsets = torch.arange(q, device=self.length.device)
            self.write_index = (torch.arange(self.rows, device=self.length.device)[:, None],
                                self.length[:, None] + offsets[None, :])

    def mask(self, q: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The 4-D attention mask of the planned pass, ``[rows, 1, q, read]``: query ``i`` of row
        ``b`` (at column ``length[b] + i``) sees column ``j`` iff ``j <= length[b] + i`` and
        ``valid[b, j]``. Boolean (True = attend) for SDPA; with ``dtype``, additive (0 or the
        dtype's minimum) for eager attention."""
        dev = self.length.device
        cols = torch.arange(self.read, device=dev)
        last = self.length[:, None, None] + torch.arange(q, device=dev)[None, :, None]
        allowed = (cols[None, None, :] <= last) & self.valid[:self.rows, None, :self.read]
        allowed = allowed[:, None]
        if dtype is None:
            return allowed
        return torch.zeros(allowed.shape, dtype=dtype, device=dev).masked_fill_(~allowed, torch.finfo(dtype).min)

    def advance(self, steps: torch.Tensor) -> None:
        """Row ``b``'s valid tokens now end ``steps[b]`` columns further."""
        self.length += steps

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the rows ``index`` (in that order), moved to the front in place."""
        used = int(self.length.max())
        for layer in self.layers:
            layer.keep(index, used)
        self.valid[:len(index), :used] = self.valid[index, :used]
        self.length = self.length[index]
        self.rows = len(index)

    def load_prefix(self, past: Cache) -> None:
        """Copy a one-row cache of a shared prompt start into columns 0.. of every row."""
        width = past.get_seq_length()
        for mine, theirs in zip(self.layers, past.layers):
            if not mine.is_initialized:
                mine.lazy_initialization(theirs.keys)
            mine.keys[:self.rows, :, :width] = theirs.keys
            mine.values[:self.rows, :, :width] = theirs.values
        self.length.fill_(width)


def _sdpa_gqa(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """transformers' ``sdpa_attention_forward`` with the key/value heads shared, not repeated."""
    if is_causal is None:
        is_causal = query.shape[2] > 1 and attention_mask is None and getattr(module, "is_causal", True)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=is_causal,
        enable_gqa=key.shape[1] != query.shape[1])
    return out.transpose(1, 2).contiguous(), None


@contextlib.contextmanager
def grouped_attention(model):
    """Within the block, an SDPA model with fewer key/value heads than query heads attends
    without copying the key/value heads (:func:`_sdpa_gqa`); any other model is left as it is."""
    config = model.config
    heads, kv_heads = getattr(config, "num_attention_heads", 0), getattr(config, "num_key_value_heads", None)
    if attn_implementation(config) != "sdpa" or not kv_heads or kv_heads == heads:
        yield
        return
    register_attention(_GQA, _sdpa_gqa)
    set_attn_implementation(config, _GQA)
    try:
        yield
    finally:
        set_attn_implementation(config, "sdpa")
