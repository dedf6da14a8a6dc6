"""Packed rows give every example exactly the loss it has alone (attention never crosses examples)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tuning.data.tokenize import tokenize_records
from tuning.train.data import IGNORE_INDEX, collate, pack


def _alone_losses(model, examples):
    """Per-example summed response loss, each example run alone through transformers' own loss."""
    out = []
    for ex in examples:
        ids = torch.tensor([ex.input_ids])
        labels = torch.tensor([ex.labels])
        n = sum(t != IGNORE_INDEX for t in ex.labels[1:])
        out.append(model(input_ids=ids, labels=labels).loss.item() * n)
    return torch.tensor(out, dtype=torch.float64)


def _packed_losses(model, examples, rows, pad_id, *, flatten=False, restart_positions=True, causal=False):
    b = collate(rows, examples, pad_id, flatten=flatten)
    pos = b["position_ids"] if restart_positions else torch.arange(b["input_ids"].shape[1]).expand_as(b["input_ids"])
    if causal:  # what the trainer does for rows of one example: no position_ids, the plain causal path
        assert b["one_per_row"]
        pos = None
    # use_cache=False matters: with a KV cache transformers ignores the packing in position_ids.
    logits = model(input_ids=b["input_ids"], position_ids=pos, use_cache=False).logits
    tok = F.cross_entropy(logits.flatten(0, 1), b["targets"].flatten(), ignore_index=IGNORE_INDEX, reduction="none")
    tok = tok.view(b["input_ids"].shape).double()
    out = torch.zeros(len(examples), dtype=torch.float64)
    flat_offset = 0
    for r, row in enumerate(rows):
        offset = flat_offset if flatten else 0
        for i in row:
            n = len(examples[i].input_ids)
            out[i] = tok[0 if flatten else r, offset : offset + n].sum()
            offset += n
        flat_offset = offset if flatten else 0
    return out


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tiny_tokenizer, records_factory):
    examples, _ = tokenize_records(records_factory(10, seed=3), tiny_tokenizer, 512, progress=False)
    rows = pack([len(e.input_ids) for e in examples], 512)
    assert max(len(r) for r in rows) >= 3  # several examples really share a row
    return examples, rows, tiny_tokenizer.pad_token_id


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_equals_alone(tiny_model_dir, setup, attn):
    from transformers import AutoModelForCausalLM

    examples, rows, pad = setup
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn).eval()
    with torch.no_grad():
        alone = _alone_losses(model, examples)
        packed = _packed_losses(model, examples, rows, pad)
        unpacked = _packed_losses(model, examples, [[i] for i in range(len(examples))], pad)  # right-padded rows
        causal = _packed_losses(model, examples, [[i] for i in range(len(examples))], pad, causal=True)
        flat = _packed_losses(model, examples, rows, pad, flatten=True)
        leaky = _packed_losses(model, examples, rows, pad, restart_positions=False)
    torch.testing.assert_close(packed, alone, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(unpacked, alone, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(causal, alone, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(flat, alone, rtol=1e-4, atol=1e-3)
    # Control: one causal mask over the whole row lets later examples see earlier ones.
    later = [i for row in rows for i in row[1:]]
    assert (leaky[later] - alone[later]).abs().max() > 1e-2


def test_prompt_tokens_carry_no_loss(setup, tiny_tokenizer, records_factory):
    examples, rows, pad = setup
    records = records_factory(10, seed=3)
    b = collate([[i] for i in range(len(examples))], examples, pad)
    for i, rec in enumerate(records):
        response = tiny_tokenizer(rec["output"], add_special_tokens=False)["input_ids"] + [tiny_tokenizer.eos_token_id]
        targets = [t for t in b["targets"][i].tolist() if t != IGNORE_INDEX]
        assert targets == response  # exactly the response and EOS, nothing of the prompt


def test_one_per_row_flag(setup):
    examples, rows, pad = setup
    assert collate([[0], [1], [2]], examples, pad)["one_per_row"] is True
    assert collate([[0], [1, 2]], examples, pad)["one_per_row"] is False
    assert collate([[0], [1]], examples, pad, flatten=True)["one_per_row"] is False  # flash: one flat row
