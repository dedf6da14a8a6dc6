"""Training batches: packing, length grouping, a deterministic resumable step plan, collation.

Vocabulary used here and in the trainer:

- an *example* is one tokenised record: ``input_ids`` and ``labels`` of equal length, labels
  -100 on the prompt (tuning.data.tokenize.TokenizedExample, or any object with those fields);
- a *row* is a list of example indices laid side by side in one sequence of at most
  ``seq_len`` tokens: several with packing, exactly one without;
- a *micro-batch* is ``batch_size`` rows, the unit of one forward/backward on one rank;
- a *step* is ``world * grad_accum`` micro-batches, one optimiser update.

Packing is best-fit decreasing, done once: examples sorted by length (longest first, ties by
index) each go to the open row with the least room that still fits them. Row order is then
reshuffled every epoch with ``torch.Generator`` seeded by ``(seed, epoch)``, so the order of
the whole run is a pure function of (seed, epoch, step): resuming needs only the step number.
Without packing, rows (one example each) are grouped by length like transformers'
LengthGroupedSampler: shuffle, cut into mega-batches of 64 steps, sort each mega-batch by
length, cut into steps, shuffle the steps, cut each step into micro-batches. Grouping whole
steps keeps the rows of a step independent of the number of ranks and of grad_accum.

Collation shifts the labels so ``targets[t]`` is the token position t must predict (-100 at
the last token of every example and on padding), and gives ``position_ids`` that restart at 0
for every example. The model is called with ``attention_mask=None``: transformers >= 4.56
reads a restart of ``position_ids`` as a new sequence and builds a block-diagonal causal mask
(sdpa, eager, flex), so attention never crosses examples; the padding tail is its own block.
flash_attention_2 only detects packing when the batch has one row, so for it the micro-batch
is flattened to shape (1, tokens) with no padding at all (``flatten=True``). A micro-batch whose
rows each hold one example needs no block mask: padding sits on the right, where no real token
looks, so the trainer passes no ``position_ids`` and sdpa runs its causal kernel.

Packing or not is chosen per run when the config leaves it open (``choose_packing``): an
estimate of each layout's compute (positions x weights, attention squares, optimiser steps).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from tuning.data.tokenize import IGNORE_INDEX  # one definition: the labels are masked where they are made
_MEGABATCH = 64  # steps per length-grouping window
PAD_MULTIPLE = 8  # collate pads every micro-batch to a multiple of this many positions


def pack(lengths: Sequence[int], seq_len: int) -> list[list[int]]:
    """Best-fit-decreasing packing of example lengths into rows of at most ``seq_len`` tokens.

    Returns rows as lists of example indices. Every index appears in exactly one row.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    room_keys: list[int] = []  # sorted distinct free capacities of open rows
    by_room: dict[int, list[int]] = {}  # free capacity -> open rows with that much room
    for i in order:
        n = lengths[i]
        if n > seq_len or n <= 0:
            raise ValueError(f"example {i} has {n} tokens; packing needs 1..{seq_len}")
        k = bisect.bisect_left(room_keys, n)
        if k < len(room_keys):
            room = room_keys[k]
            row = by_room[room].pop()
            if not by_room[room]:
                del by_room[room]
                room_keys.pop(k)
        else:
            row, room = len(rows), seq_len
            rows.append([])
        rows[row].append(i)
        left = room - n
        if left > 0:
            if left not in by_room:
                by_room[left] = []
                bisect.insort(room_keys, left)
            by_room[left].append(row)
    return rows


@dataclass(frozen=True)
class StepPlan:
    """Which rows each rank reads at each step; a pure function of (rows, seed, epoch, step)."""

    row_lengths: tuple[int, ...]
    batch_size: int
    world: int
    grad_accum: int
    seed: int
    group_by_length: bool

    @property
    def micro_per_step(self) -> int:
        return self.world * self.grad_accum

    @property
    def micro_per_epoch(self) -> int:
        return math.ceil(len(self.row_lengths) / self.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.micro_per_epoch / self.micro_per_step)

    def epoch_micro_batches(self, epoch: int) -> list[list[int]]:
        """All micro-batches (lists of row indices) of one epoch, in reading order."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(self.row_lengths), generator=g).tolist()
        bs = self.batch_size
        if not self.group_by_length:
            return [perm[i : i + bs] for i in range(0, len(perm), bs)]
        # Group whole steps, not micro-batches, so that a step reads the same rows whatever the
        # split into ranks and micro-batches (with one micro-batch per step the two coincide).
        step_rows = bs * self.micro_per_step
        window = step_rows * _MEGABATCH
        steps = []
        for start in range(0, len(perm), window):
            chunk = sorted(perm[start : start + window], key=lambda r: (-self.row_lengths[r], r))
            steps.extend(chunk[i : i + step_rows] for i in range(0, len(chunk), step_rows))
        shuffle = torch.randperm(len(steps), generator=g).tolist()
        micro = []
        for j in shuffle:
            group = steps[j]
            parts = [group[i : i + bs] for i in range(0, len(group), bs)]
            micro.extend(parts + [[]] * (self.micro_per_step - len(parts)))  # a short last step: empty ones
        return micro

    def step_micro_batches(self, step: int, cache: dict | None = None) -> list[list[list[int]]]:
        """Micro-batches of global step ``step`` (0-based): a list over ranks of ``grad_accum``
        lists of row indices. The last step of an epoch may leave some of them empty."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if cache is not None and cache.get("epoch") == epoch:
            micro = cache["micro"]
        else:
            micro = self.epoch_micro_batches(epoch)
            if cache is not None:
                cache.update(epoch=epoch, micro=micro)
        chunk = micro[k * self.micro_per_step : (k + 1) * self.micro_per_step]
        chunk += [[]] * (self.micro_per_step - len(chunk))
        # micro-batch m of rank r is chunk[m * world + r]: ranks share the tail evenly.
        return [[chunk[m * self.world + r] for m in range(self.grad_accum)] for r in range(self.world)]


def row_targets(example: Any) -> list[int]:
    """Labels shifted left by one: position t predicts targets[t]; the last position predicts nothing."""
    labels = list(example.labels)
    return labels[1:] + [IGNORE_INDEX]


def collate(
    rows: Sequence[Sequence[int]],
    examples: Sequence[Any],
    pad_id: int,
    *,
    flatten: bool = False,
    multiple_of: int = PAD_MULTIPLE,
) -> dict[str, torch.Tensor | int]:
    """Build one micro-batch from rows of example indices.

    Returns ``input_ids``, ``position_ids``, ``targets`` (LongTensors of shape (rows, length), or
    (1, tokens) when ``flatten``), ``n_targets`` (tokens with a loss), ``n_tokens`` (non-pad
    input tokens), ``n_examples`` and ``one_per_row`` (every row one example: the caller may drop
    ``position_ids`` and let the model use a plain causal mask). An empty ``rows`` gives a one-token dummy batch with no
    targets, so every rank runs the same number of forward passes.
    """
    seqs = []
    for row in rows:
        ids: list[int] = []
        pos: list[int] = []
        tgt: list[int] = []
        for i in row:
            ex = examples[i]
            ids.extend(ex.input_ids)
            pos.extend(range(len(ex.input_ids)))
            tgt.extend(row_targets(ex))
        seqs.append((ids, pos, tgt))
    n_examples = sum(len(r) for r in rows)
    if not seqs:
        seqs = [([pad_id], [0], [IGNORE_INDEX])]
    n_tokens = sum(len(s[0]) for s in seqs) if n_examples else 0
    if flatten:
        seqs = [tuple(sum((list(s[j]) for s in seqs), []) for j in range(3))]
        width = len(seqs[0][0])
    else:
        width = max(len(s[0]) for s in seqs)
        width = -(-width // multiple_of) * multiple_of
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    targets = torch.full((len(seqs), width), IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros((len(seqs), width), dtype=torch.long)
    for b, (ids, pos, tgt) in enumerate(seqs):
        n = len(ids)
        input_ids[b, :n] = torch.tensor(ids)
        targets[b, :n] = torch.tensor(tgt)
        position_ids[b, :n] = torch.tensor(pos)
        # The padding tail restarts at 0, so the mask makes it a block of its own.
        position_ids[b, n:] = torch.arange(width - n)
    return {
        "input_ids": input_ids,
        "position_ids": position_ids,
        "targets": targets,
        "n_targets": int((targets != IGNORE_INDEX).sum()),
        "n_tokens": n_tokens,
        "n_examples": n_examples,
        # one example per row, padding on the right: a plain causal mask is exact for every real
        # token, so the model can take its fast path (no mask built, is_causal kernels)
        "one_per_row": not flatten and all(len(r) == 1 for r in rows),
    }


def layout_cost(lengths: Sequence[int], seq_len: int, packing: bool, *, batch_size: int, world: int, grad_accum: int,
                seed: int, n_params: int, attn_width: int, position_params: int | None = None) -> float:
    """Estimated compute of one epoch in one layout, in FLOP-equivalents (for comparing layouts).

    For every micro-batch of epoch 0 (its rows padded to the longest, rounded up to 8, as
    ``collate`` does): ``6 * position_params`` per position, padding included (forward and
    backward of every weight applied at every position: all but the embeddings and the output
    layer, which the trainer runs at target positions only, the same in every layout; default
    ``n_params``), plus ``12 * attn_width`` per query-key pair (attn_width = layers x heads x
    head_dim: QK^T and AV, forward and backward) over the full width x width square, since the
    sdpa kernels on CPU do not skip masked blocks; plus ``12 * n_params`` per optimiser step
    (AdamW reads and writes four fp32 tensors per parameter: memory-bound, a rough weight).
    """
    shapes, steps = epoch_shapes(lengths, seq_len, packing, batch_size=batch_size, world=world,
                                 grad_accum=grad_accum, seed=seed)
    per_position = 6.0 * (n_params if position_params is None else position_params)
    total = sum(n_rows * width * (per_position + 12.0 * attn_width * width) for n_rows, width in shapes)
    return total + steps * 12.0 * n_params


def epoch_shapes(lengths: Sequence[int], seq_len: int, packing: bool, *, batch_size: int, world: int,
                 grad_accum: int, seed: int) -> tuple[list[tuple[int, int]], int]:
    """(rows, width) of every non-empty micro-batch of epoch 0, rows padded as ``collate`` pads
    them (to the longest, rounded up to ``PAD_MULTIPLE``), and the epoch's number of steps."""
    rows = make_rows(lengths, seq_len, packing)
    row_lengths = tuple(sum(lengths[i] for i in row) for row in rows)
    plan = StepPlan(row_lengths, batch_size, world, grad_accum, seed, group_by_length=not packing)
    shapes = [(len(mb), -(-max(row_lengths[r] for r in mb) // PAD_MULTIPLE) * PAD_MULTIPLE)
              for mb in plan.epoch_micro_batches(0) if mb]
    return shapes, plan.steps_per_epoch


def choose_packing(lengths: Sequence[int], seq_len: int, **kwargs) -> tuple[bool, dict[str, float]]:
    """Packing or length-grouped rows, whichever ``layout_cost`` estimates cheaper (packing on a tie).

    Packing removes padding but computes full seq_len x seq_len attention for every row; one
    example per row, grouped by length, pads a little and computes attention only as wide as the
    examples. Short examples favour grouping, a long tail of long ones favours packing.
    Returns (packing, {"packed": cost, "grouped": cost}).
    """
    costs = {"packed": layout_cost(lengths, seq_len, True, **kwargs),
             "grouped": layout_cost(lengths, seq_len, False, **kwargs)}
    return costs["packed"] <= costs["grouped"], costs


def make_rows(lengths: Sequence[int], seq_len: int, packing: bool) -> list[list[int]]:
    """Rows of example indices from the examples' token counts: packed, or one example per row."""
    if packing:
        return pack(lengths, seq_len)
    return [[i] for i in range(len(lengths))]
