"""The greedy loop with a preallocated cache and prompt-lookup drafts (tuning.generation.greedy, tuning.generation.lookup,
tuning.generation.kvcache) against a plain greedy loop written here: one row at a time, no cache, the whole
text through the model at every step, argmax, stop at EOS or the cap."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tuning.generation.greedy import greedy_batch
from tuning.generation.kvcache import RowCache
from tuning.generation.lookup import Lookup, accepted, emit, pass_width

ROOT = Path(__file__).resolve().parents[3]
# prompts of different lengths, with repeats so the n-gram lookup finds drafts
PROMPTS = [[3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 3, 4],
           [3, 4, 5, 6, 7, 8, 9, 10, 11],
           [3, 4, 5, 6, 7, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 12],
           [3, 4, 5, 6, 7, 20],
           [30, 31, 30, 31, 30]]


@pytest.fixture(scope="module")
def model():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=48, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         initializer_range=0.3, tie_word_embeddings=False, pad_token_id=0)
    torch.manual_seed(3)
    return LlamaForCausalLM(config).eval()  # float32, random weights; a large init keeps logits apart


def plain_greedy(model, prompt, *, eos_id, cap):
    ids, out = list(prompt), []
    with torch.no_grad():
        for _ in range(cap):
            t = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            if t == eos_id:
                break
            out.append(t)
            ids.append(t)
    return out


def passes(model, fn):
    seen = []
    handle = model.model.register_forward_pre_hook(lambda m, a, kw: seen.append(tuple(kw["input_ids"].shape)),
                                                   with_kwargs=True)
    try:
        return fn(), seen
    finally:
        handle.remove()


@pytest.fixture(scope="module")
def eos_and_expected(model):
    """An EOS id that ends some rows mid-way while others reach the cap of 40 tokens."""
    free = [plain_greedy(model, p, eos_id=None, cap=40) for p in PROMPTS]
    eos = next(t for t in range(1, 48) if any(t in r[5:30] for r in free) and any(t not in r for r in free))
    expected = [plain_greedy(model, p, eos_id=eos, cap=40) for p in PROMPTS]
    lengths = [len(r) for r in expected]
    assert min(lengths) < 40 and max(lengths) == 40 and len(set(lengths)) > 1
    return eos, expected


@pytest.mark.parametrize("draft_tokens, ngram", [(0, 3), (1, 1), (3, 2), (4, 3), (8, 3)])
def test_drafting_gives_the_plain_greedy_tokens(model, eos_and_expected, draft_tokens, ngram):
    eos, expected = eos_and_expected
    got, seen = passes(model, lambda: greedy_batch(model, PROMPTS, pad_id=0, eos_id=eos, max_new_tokens=40,
                                                   draft_tokens=draft_tokens, ngram=ngram))
    assert got == expected
    longest = max(len(r) for r in expected)
    if draft_tokens:  # drafts were accepted: fewer passes than one per token of the longest row
        assert len(seen) < longest and max(q for _, q in seen[1:]) > 1
    else:
        assert len(seen) == longest and all(q == 1 for _, q in seen[1:])


def test_cap_and_shared_start(model):
    rows = [[9, 8, 7, 6, 5, 4, 3, 2, 1] + p for p in PROMPTS]  # a shared start of 9+ tokens runs once
    for cap in (1, 2, 7):
        expected = [plain_greedy(model, p, eos_id=None, cap=cap) for p in rows]
        got, seen = passes(model, lambda: greedy_batch(model, rows, pad_id=0, eos_id=None, max_new_tokens=cap,
                                                       draft_tokens=5))
        assert got == expected and all(len(r) == cap for r in got)
        assert seen[0][0] == 1  # the shared start, one row


def test_no_drafts_equals_the_loop_before(model, eos_and_expected):
    spec = importlib.util.spec_from_file_location("eval_speed", ROOT / "benchmarks" / "eval_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    eos, expected = eos_and_expected
    before = bench.baseline_greedy_batch(model, PROMPTS, pad_id=0, eos_id=eos, max_new_tokens=40)
    assert before == expected
    assert greedy_batch(model, PROMPTS, pad_id=0, eos_id=eos, max_new_tokens=40, draft_tokens=0) == before


def test_acceptance_worked_by_hand():
    # predicted[i]: the argmax after input i of [last, d1, d2, d3]
    assert accepted([5, 6, 7], [5, 6, 9, 1]) == [5, 6, 9]  # d3 != 9: two drafts and the model's token
    assert accepted([5, 6, 7], [5, 6, 7, 1]) == [5, 6, 7, 1]  # all drafts, plus the bonus token
    assert accepted([4, 6], [5, 6, 8]) == [5]  # the first draft wrong: later matches do not count
    assert accepted([], [2]) == [2]
    out = [1, 1]
    assert emit([4, 2, 5], out, eos_id=2, cap=10) == (2, True) and out == [1, 1, 4]  # EOS ends the row
    out = [1, 1]
    assert emit([4, 5, 6], out, eos_id=2, cap=3) == (1, True) and out == [1, 1, 4]  # the cap
    out = []
    assert emit([4, 5], out, eos_id=None, cap=3) == (2, False) and out == [4, 5]


def test_pass_width_worked_by_hand():
    # rate(q) = sum_b (1 + min(q - 1, e_b)) / (fixed + rows * q)
    assert pass_width([3], 5, 16) == 4  # 1/17, 2/18, 3/19, 4/20 = 0.2, then 4/21, 4/22
    assert pass_width([5] * 50, 5, 16) == 6  # 300/316 beats 50/66
    assert pass_width([0, 0, 0], 5, 16) == 1  # nobody expected to accept: one token per row
    assert pass_width([5] * 10 + [0] * 40, 5, 16) == 1  # 50/66 = 0.76 beats 60/116, 70/166, ...
    assert pass_width([5] * 30 + [0] * 20, 5, 16) == 1  # 50/66 = 0.76 beats 200/316 = 0.63 at q = 6
    assert pass_width([5] * 45 + [0] * 5, 5, 16) == 6  # 275/316 = 0.87 beats 50/66
    assert pass_width([2, 2], 5, 0) == 1  # no fixed cost: a pass of one token each is never worse
    assert pass_width([2, 2], 0, 16) == 1  # no drafts to feed


def test_lookup_drafts_worked_by_hand():
    assert Lookup([1, 2, 3, 9, 1, 2], ngram=2).draft(3) == [3, 9, 1]  # (1, 2) was followed by 3, 9, 1
    assert Lookup([7, 1, 2, 1, 2], ngram=2).draft(5) == [1, 2, 1, 2, 1]  # copies its own draft (period 2)
    assert Lookup([5, 6, 7, 6], ngram=2).draft(2) == [7, 6]  # (7, 6) is new; the 1-gram (6) matches
    assert Lookup([5, 6, 7, 6], ngram=2, min_ngram=2).draft(2) == []
    assert Lookup([1, 5, 1, 6, 1], ngram=1).draft(2) == [6, 1]  # the latest earlier occurrence wins
    assert Lookup([1, 2, 3], ngram=3).draft(4) == []
    grown = Lookup([1, 2, 3], ngram=2)
    grown.extend([1, 2])
    assert grown.draft(2) == [3, 1] and grown.draft(0) == []
    with pytest.raises(ValueError):
        Lookup([1], ngram=1, min_ngram=2)


def test_row_cache_mask_worked_by_hand():
    cache = RowCache(num_layers=1, rows=2, capacity=8)
    cache.valid[0, :2] = False  # row 0: two padding columns
    cache.advance(torch.tensor([3, 4]))
    cache.plan(2)  # two new tokens per row: row 0 at columns 3, 4; row 1 at 4, 5
    assert cache.read == 6 and cache.aligned is None
    m = cache.mask(2)[:, 0].int().tolist()
    assert m[0] == [[0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0]]
    assert m[1] == [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]
    add = cache.mask(2, torch.float32)
    assert add[0, 0, 0, 0] == torch.finfo(torch.float32).min and add[1, 0, 1, 5] == 0
    with pytest.raises(ValueError):
        cache.plan(5)  # 4 + 5 columns do not fit in 8


def test_grouped_attention_gives_the_same_logits_and_restores_the_model(model):
    from tuning.generation.kvcache import grouped_attention

    ids = torch.tensor([[3, 4, 5, 6, 7, 8], [0, 0, 9, 10, 11, 12]])
    mask = torch.tensor([[1] * 6, [0, 0, 1, 1, 1, 1]])
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
        with grouped_attention(model):
            assert model.config._attn_implementation != "sdpa"  # 4 query heads share 2 key/value heads
            shared = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    assert model.config._attn_implementation == "sdpa"
    torch.testing.assert_close(shared[1, 2:], plain[1, 2:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(shared[0], plain[0], atol=1e-5, rtol=1e-5)


def test_eager_attention_gets_an_additive_mask():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=48, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         initializer_range=0.3, tie_word_embeddings=False, pad_token_id=0,
                         attn_implementation="eager")
    torch.manual_seed(3)
    eager = LlamaForCausalLM(config).eval()
    assert eager.config._attn_implementation == "eager"
    expected = [plain_greedy(eager, p, eos_id=None, cap=12) for p in PROMPTS]
    assert greedy_batch(eager, PROMPTS, pad_id=0, eos_id=None, max_new_tokens=12, draft_tokens=4) == expected
