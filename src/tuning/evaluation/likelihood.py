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
                  batch_size: int = 16, add_special_tokens: bool = True, max_tokens: int | None = None,
                  progress: bool = True) -> list[tuple[float, int]]:
    """Per item ``(nll, n)``: summed negative log-likelihood (nats) of the reference + EOS, and n.

    ``model`` is a loaded causal LM (``tuning.generation.load_model``), ``add_special_tokens``
    False when the prompts come from a chat template (it writes its own). Items are batched by
    length (right-padded; the padding is masked and never scored). ``max_tokens`` keeps the last
    that many tokens of prompt + reference (the reference is never cut).
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    prompts, references = list(prompts), list(references)
    if len(prompts) != len(references):
        raise InputError(f"reference_nll: {len(prompts)} prompts but {len(references)} references")
    if batch_size < 1:
        raise InputError(f"reference_nll: batch_size={batch_size} must be at least 1")
    encoded = _encode(tokenizer, prompts, references, add_special_tokens)
    seqs = []
    for p, r in encoded:
        ids = p + r
        if max_tokens is not None and len(ids) > max_tokens:
            ids = ids[max(0, len(ids) - max_tokens):]
        seqs.append((ids, len(r)))
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i][0]), i))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    dev = next(model.parameters()).device
    results: list[tuple[float, int] | None] = [None] * len(seqs)
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(seqs), desc="nll", unit="item", disable=not progress)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(seqs[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            targets = torch.full((len(idx), width), -100, dtype=torch.long)
            for row, i in enumerate(idx):
                seq, n_ref = seqs[i]
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
                # position t predicts token t+1: the reference tokens are the last n_ref of seq
                targets[row, len(seq) - n_ref - 1:len(seq) - 1] = torch.tensor(seq[len(seq) - n_ref:])
            with torch.inference_mode():
                logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), use_cache=False).logits
                token_nll = F.cross_entropy(logits.float().transpose(1, 2), targets.to(dev),
                                            ignore_index=-100, reduction="none")
            sums = token_nll.sum(dim=1).tolist()
            for row, i in enumerate(idx):
                results[i] = (float(sums[row]), seqs[i][1])
            bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)
    return [r for r in results if r is not None]


def mean_nll(per_item: Sequence[tuple[float, int]]) -> float:
    """Token-weighted mean: sum of nll / sum of reference tokens (nats per token)."""
    total = sum(n for _, n in per_item)
    if total == 0:
        raise InputError("mean_nll: no reference tokens to average over")
    return sum(v for v, _ in per_item) / total


def nll_signature(prompt: str) -> str:
    """How an nll score was made, sacrebleu-style: ``nll|unit:nats/token|eos:yes|prompt:<prompt>``."""
    return f"nll|unit:nats/token|eos:yes|prompt:{prompt}"
