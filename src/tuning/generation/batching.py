"""How prompts become batches: grouped by length, left-padded with positions from the first real token."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["length_batches", "left_pad"]


def length_batches(lengths: Sequence[int], batch_size: int, sort_by_length: bool = True) -> list[list[int]]:
    """Indices grouped into batches: by decreasing length when sorting, else in input order."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)) if sort_by_length else list(range(len(lengths)))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask, position_ids) tensors for left-padded ``sequences``."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, width - len(seq) :] = torch.tensor(list(seq), dtype=torch.long)
            mask[row, width - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions
