"""Greedy decoding of one batch that does no work for finished rows or for a shared prompt start.

What ``model.generate`` does for a batch, greedy, and where this loop does less::

    prefill   every row, left-padded, whole prompt      ->  the rows' shared start (a chat
                                                            template's system text and the task's
                                                            instruction) once, as one row; then
                                                            each row's own rest
    decode    every row until the last one ends         ->  only the rows still running: a row
                                                            that emits EOS or reaches the cap
                                                            leaves the batch and its cache
    output    logits of the whole vocabulary, argmax    ->  the same (the output layer runs at
                                                            each row's last position only)

Layout of a row: ``[shared start][left padding][rest of the prompt]``. The attention mask hides
the padding and positions count real tokens only (``cumsum(mask) - 1``), so every row sees the
keys, values and positions it would see alone: its greedy tokens are the ones it gets alone, up
to float summation order (a near-tie between two tokens can flip; the benchmark counts them).
The next token is ``argmax`` of the logits, as ``generate`` picks it when no logits processor is
configured; :func:`plain_greedy` says when that holds.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

__all__ = ["greedy_batch", "plain_greedy", "shared_start"]

_MIN_SHARED = 8  # a shorter shared start saves less than its own forward pass and cache copy cost

# generation_config fields that make generate() change the logits or the stopping before argmax
_PROCESSORS = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "encoder_repetition_penalty": 1.0,
               "bad_words_ids": None, "min_length": 0, "min_new_tokens": None, "suppress_tokens": None,
               "begin_suppress_tokens": None, "forced_bos_token_id": None, "forced_eos_token_id": None,
               "sequence_bias": None, "exponential_decay_length_penalty": None, "stop_strings": None,
               "max_time": None, "num_beams": 1, "penalty_alpha": None, "guidance_scale": None}


def plain_greedy(model) -> bool:
    """Whether the model's generation_config leaves greedy decoding as a plain argmax (no
    repetition penalty, banned words, forced or suppressed tokens, beams): then
    :func:`greedy_batch` decodes what ``generate`` decodes."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return True
    return all(getattr(config, name, default) in (default, None) or
               (name == "num_beams" and getattr(config, name) == 1)
               for name, default in _PROCESSORS.items())


def shared_start(rows: Sequence[Sequence[int]]) -> int:
    """Tokens every row starts with, stopping before each row's last token (whose logits give
    the first new token); 0 when fewer than _MIN_SHARED or for a single row."""
    if len(rows) < 2:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n if n >= _MIN_SHARED else 0


def greedy_batch(model, rows: Sequence[Sequence[int]], *, pad_id: int, eos_id: int | None,
                 max_new_tokens: int, share_start: bool = True) -> list[list[int]]:
    """The greedy continuation of each row of token ids (EOS not included), at most
    ``max_new_tokens`` tokens each; a row ends at its first EOS."""
    import torch

    if not rows:
        return []
    if any(len(r) == 0 for r in rows):
        raise ValueError("greedy_batch: every row needs at least one prompt token")
    dev = next(model.parameters()).device
    skip = shared_start(rows) if share_start else 0
    width = max(len(r) for r in rows) - skip
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, skip + width), dtype=torch.long)
    mask[:, :skip] = 1
    for i, r in enumerate(rows):
        ids[i, width - (len(r) - skip):] = torch.tensor(list(r[skip:]), dtype=torch.long)
        mask[i, skip + width - (len(r) - skip):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, skip:]
    ids, mask, positions = ids.to(dev), mask.to(dev), positions.to(dev)

    # Left padding puts every row's last prompt token in the last column: the output layer need
    # run there only (logits_to_keep, where the model's forward takes it).
    keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    out: list[list[int]] = [[] for _ in rows]
    alive = list(range(n))  # the input row of each batch row
    with torch.inference_mode():
        cache = None
        if skip:
            cache = model(input_ids=torch.tensor([list(rows[0][:skip])], device=dev), use_cache=True,
                          **keep).past_key_values
            cache.batch_repeat_interleave(n)
        result = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                       use_cache=True, **keep)
        for step in range(max_new_tokens):
            cache = result.past_key_values
            token = result.logits[:, -1, :].argmax(dim=-1)
            chosen = token.tolist()
            running = []
            for b, t in enumerate(chosen):
                if t == eos_id:
                    continue
                out[alive[b]].append(t)
                running.append(b)
            if not running or step == max_new_tokens - 1:
                break
            if len(running) < len(alive):  # finished rows leave the batch and the cache
                index = torch.tensor(running, device=dev)
                cache.batch_select_indices(index)
                mask, positions, token = mask[index], positions[index], token[index]
                alive = [alive[b] for b in running]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            positions = positions[:, -1:] + 1
            result = model(input_ids=token[:, None], attention_mask=mask, position_ids=positions,
                           past_key_values=cache, use_cache=True)
    return out
