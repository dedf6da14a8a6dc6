"""The references' negative log-likelihood under the model: a smooth measure that needs no decoding.

For one item with prompt p and reference r (the same prompt the model is evaluated with)::

    tokens  = encode(p) + encode(r, no special tokens) + [EOS]
    nll     = - sum over the reference tokens and EOS of log P(token | everything before it)
    n       = len(encode(r, no special tokens)) + 1

and for a set of items the score is the token-weighted mean, ``sum(nll) / sum(n)`` in nats per
reference token (lower is better). EOS is counted because training teaches it too (a model that
does not know where a translation ends is worse). The prompt and the reference are encoded
separately, exactly as :mod:`tuning.data.tokenize` builds training examples, so the measure sees
the same token boundary as training.

Unlike chrF++ or BLEU of greedy outputs, this moves smoothly with training data: data-mixing-law
work fits validation loss for that reason. It is the measure budgetlaw fits as a lower-is-better
law (``budgetlaw fit --lower-is-better``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tuning.errors import InputError

__all__ = ["reference_nll", "mean_nll", "nll_signature"]

log = logging.getLogger(__name__)


def _encode(tokenizer, prompts, references, add_special_tokens: bool) -> list[tuple[list[int], list[int]]]:
    if tokenizer.eos_token_id is None:
        raise InputError(f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no EOS token; "
                         "the likelihood counts the EOS that ends each reference")
    out = []
    for prompt, ref in zip(prompts, references):
        if not isinstance(ref, str) or not ref:
            raise InputError(f"reference {ref!r}: the likelihood needs one non-empty string per item")
        p = tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]
        if p and p[-1] == tokenizer.eos_token_id and add_special_tokens:
            p = p[:-1]  # some tokenizers append EOS to every encoding; the prompt must not end there
        r = tokenizer(ref, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        out.append((p, r))
    return out


def reference_nll(model, tokenizer, prompts: Sequence[str], references: Sequence[str], *,
                  batch_size: int | None = None, batch_tokens: int = 4096, add_special_tokens: bool = True,
                  max_tokens: int | None = None, share_prefix: bool = True,
                  progress: bool = True) -> list[tuple[float, int]]:
    """Per item ``(nll, n)``: summed negative log-likelihood (nats) of the reference + EOS, and n.

    ``model`` is a loaded causal LM (``tuning.generation.load_model``), ``add_special_tokens``
    False when the prompts come from a chat template (it writes its own). ``max_tokens`` keeps
    the last that many tokens of prompt + reference (the reference is never cut).

    How the work is cut (none of it changes a number beyond float summation order):

    - items sorted by length, longest first, and cut into batches of at most ``batch_tokens``
      padded tokens (rows x the batch's longest sequence; ``batch_size`` caps the rows too);
      rows are right-padded, so no real token attends to padding and no mask is needed;
    - with ``share_prefix``, the tokens every row of a batch starts with (a chat template's
      system text and a task's instruction) run once, as one row, and the batch continues from
      that key/value cache: each row's attention sees the same keys and values as if it had
      run them itself;
    - the output layer and the softmax run only at the positions that predict a reference
      token or EOS (:class:`tuning.generation.heads.TargetLogits`), not at the prompt or the padding.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from tuning.generation.heads import TargetLogits

    prompts, references = list(prompts), list(references)
    if len(prompts) != len(references):
        raise InputError(f"reference_nll: {len(prompts)} prompts but {len(references)} references")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"reference_nll: batch_size={batch_size} must be at least 1")
    if batch_tokens < 1:
        raise InputError(f"reference_nll: batch_tokens={batch_tokens} must be at least 1")
    encoded = _encode(tokenizer, prompts, references, add_special_tokens)
    seqs = []
    for k, (p, r) in enumerate(encoded):
        ids = p + r
        if max_tokens is not None and len(ids) > max_tokens:
            ids = ids[max(0, len(ids) - max_tokens):]
        if len(ids) <= len(r):  # the first reference token needs a token before it to be predicted from
            raise InputError(f"reference_nll: item {k} keeps no prompt token before its reference ({len(r)} tokens "
                             f"with EOS; max_tokens={max_tokens}); raise max_tokens or give a non-empty prompt")
        seqs.append((ids, len(r)))
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i][0]), i))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    dev = next(model.parameters()).device
    results: list[tuple[float, int] | None] = [None] * len(seqs)
    was_training = model.training
    model.eval()
    head = TargetLogits(model)
    bar = tqdm(total=len(seqs), desc="nll", unit="item", disable=not progress)
    try:
        for idx in _token_batches(order, [len(s) for s, _ in seqs], batch_tokens, batch_size):
            rows = [seqs[i] for i in idx]
            # The shared prefix stops before the first position that predicts a reference token,
            # so every scored position is computed in the batch itself.
            skip = _shared_prefix(rows) if share_prefix else 0
            # The last token (EOS) predicts nothing that is scored: it is never fed.
            width = max(len(seq) for seq, _ in rows) - 1 - skip
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            where, wanted = [], []
            for row, (seq, n_ref) in enumerate(rows):
                ids[row, :len(seq) - 1 - skip] = torch.tensor(seq[skip:-1])
                # position t predicts token t+1: the reference tokens are the last n_ref of seq
                first = len(seq) - n_ref - 1 - skip
                where.extend(range(row * width + first, row * width + first + n_ref))
                wanted.extend(seq[len(seq) - n_ref:])
            index = torch.tensor(where, device=dev)
            with torch.inference_mode():
                inputs = {"input_ids": ids.to(dev), "use_cache": False}
                if skip:
                    cache = model(input_ids=torch.tensor([rows[0][0][:skip]], device=dev), use_cache=True).past_key_values
                    cache.batch_repeat_interleave(len(idx))
                    inputs.update(past_key_values=cache, use_cache=True)
                logits = head.logits(model, index, **inputs)
                token_nll = F.cross_entropy(logits.float(), torch.tensor(wanted, device=dev), reduction="none")
                sums = torch.zeros(len(idx), dtype=token_nll.dtype, device=dev).index_add_(
                    0, index // width, token_nll).tolist()
            for row, i in enumerate(idx):
                results[i] = (float(sums[row]), seqs[i][1])
            bar.update(len(idx))
    finally:
        bar.close()
        head.remove()
        model.train(was_training)
    return [r for r in results if r is not None]


_MIN_SHARED = 8  # a shorter shared prefix saves less than its own forward pass and cache copy costs


def _shared_prefix(rows: Sequence[tuple[list[int], int]]) -> int:
    """Tokens every row starts with, up to (not including) each row's last prompt token; 0 when
    fewer than _MIN_SHARED or when the batch is a single row (nothing to share)."""
    if len(rows) < 2:
        return 0
    limit = min(len(seq) - n_ref - 1 for seq, n_ref in rows)
    first = rows[0][0]
    n = 0
    while n < limit and all(seq[n] == first[n] for seq, _ in rows):
        n += 1
    return n if n >= _MIN_SHARED else 0


def _token_batches(order: Sequence[int], lengths: Sequence[int], batch_tokens: int,
                   batch_size: int | None) -> list[list[int]]:
    """``order`` (longest first) cut into runs whose rows x first length <= batch_tokens (at
    least one row each) and, when ``batch_size`` is set, at most that many rows."""
    batches: list[list[int]] = []
    for i in order:
        if batches:
            last = batches[-1]
            rows_ok = batch_size is None or len(last) < batch_size
            if rows_ok and (len(last) + 1) * lengths[last[0]] <= batch_tokens:
                last.append(i)
                continue
        batches.append([i])
    return batches


def mean_nll(per_item: Sequence[tuple[float, int]]) -> float:
    """Token-weighted mean: sum of nll / sum of reference tokens (nats per token)."""
    total = sum(n for _, n in per_item)
    if total == 0:
        raise InputError("mean_nll: no reference tokens to average over")
    return sum(v for v, _ in per_item) / total


def nll_signature(prompt: str) -> str:
    """How an nll score was made, sacrebleu-style: ``nll|unit:nats/token|eos:yes|prompt:<prompt>``."""
    return f"nll|unit:nats/token|eos:yes|prompt:{prompt}"
