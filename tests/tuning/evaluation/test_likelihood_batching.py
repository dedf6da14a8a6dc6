"""reference_nll's cheaper forward (token batches, a shared prefix run once, the output layer at
scored positions only) against an independent full-logits computation, one sequence at a time."""

from __future__ import annotations

import pytest
import torch

from tuning.errors import InputError

# A chat-template-like shared start (longer than the 8 tokens below which nothing is shared),
# then prompts and references of different lengths, so the batches pad and the prefix is cut.
SYSTEM = ("<s>### Instruction:\nBelow is an instruction that describes a task. Write a response that "
          "appropriately completes the request.\nTranslate the following sentence from English to Chinese.\n")
SOURCES = ["Open the file", "Save the document", "Print the page, please, and close the window",
           "The quick brown fox jumps over the lazy dog.", "Close", "Open the file and save the document"]
PROMPTS = [f"{SYSTEM}{s}\n### Response:\n" for s in SOURCES]
REFS = ["打开文件", "保存文档", "打印页面", "Η γάτα κάθεται.", "关闭窗口", "打开文件 保存文档"]


@pytest.fixture(scope="module")
def llama(tiny_model_dir):
    from tuning.generation import load_model

    return load_model(tiny_model_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def gpt2(llama):
    """Absolute position embeddings: a prefix continued at the wrong position would show."""
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tok = llama
    torch.manual_seed(1)
    config = GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return GPT2LMHeadModel(config).eval(), tok


def _full_logits(model, tok, prompt, ref, max_tokens=None):
    """One unpadded sequence, full (length, vocab) logits in float64, the targets picked by hand."""
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    r = tok(ref, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = p + r
    if max_tokens is not None:
        ids = ids[-max_tokens:]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), dim=-1)
    start = len(ids) - len(r)
    return -sum(float(logp[start + k - 1, token]) for k, token in enumerate(r)), len(r)


def _check(got, expected):
    assert [n for _, n in got] == [n for _, n in expected]
    for (v, n), (w, _) in zip(got, expected):
        assert abs(v - w) / n < 1e-4  # nats per token


@pytest.mark.parametrize("which", ["llama", "gpt2"])
def test_every_way_of_cutting_the_work_gives_the_full_logits_numbers(which, request):
    from tuning.evaluation.likelihood import reference_nll

    model, tok = request.getfixturevalue(which)
    expected = [_full_logits(model, tok, p, r) for p, r in zip(PROMPTS, REFS)]
    for kwargs in (dict(), dict(share_prefix=False), dict(batch_tokens=1), dict(batch_tokens=120),
                   dict(batch_size=2), dict(batch_size=1, share_prefix=True)):
        got = reference_nll(model, tok, PROMPTS, REFS, add_special_tokens=False, progress=False, **kwargs)
        _check(got, expected)


def test_the_prefix_is_shared_and_the_head_runs_at_scored_positions_only(llama):
    from tuning.evaluation.likelihood import reference_nll

    model, tok = llama
    fed, heads = [], []
    h1 = model.model.register_forward_pre_hook(lambda m, a, kw: fed.append(kw["input_ids"].shape), with_kwargs=True)
    h2 = model.lm_head.register_forward_hook(lambda m, a, out: heads.append(out.shape))
    try:
        got = reference_nll(model, tok, PROMPTS, REFS, add_special_tokens=False, progress=False)
    finally:
        h1.remove()
        h2.remove()
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    shared = len(tok(SYSTEM, add_special_tokens=False)["input_ids"])
    assert shared >= 8 and min(lengths) > shared  # the test prompts do share a long start
    # one batch (the default token budget holds all six): the prefix as one row, then the rest
    assert len(fed) == 2 and fed[0][0] == 1 and fed[1][0] == len(PROMPTS)
    assert shared - 2 <= fed[0][1] < min(lengths)  # BPE may merge across the boundary
    total = [len(tok(p + r, add_special_tokens=False)["input_ids"]) for p, r in zip(PROMPTS, REFS)]
    assert fed[1][1] <= max(total) + 1 - fed[0][1]
    # the output layer ran on the prefix row (the model's own forward) and on the scored rows only
    assert heads[-1][:-1] == (sum(n for _, n in got),)


def test_max_tokens_keeps_the_last_tokens_and_refuses_to_cut_the_reference(llama):
    from tuning.evaluation.likelihood import reference_nll

    model, tok = llama
    expected = [_full_logits(model, tok, p, r, max_tokens=30) for p, r in zip(PROMPTS, REFS)]
    got = reference_nll(model, tok, PROMPTS, REFS, add_special_tokens=False, max_tokens=30, progress=False)
    _check(got, expected)
    with pytest.raises(InputError, match="max_tokens"):
        reference_nll(model, tok, PROMPTS, REFS, add_special_tokens=False, max_tokens=2, progress=False)


def test_token_batches():
    from tuning.evaluation.likelihood import _token_batches

    lengths = [10, 40, 30, 30, 5]
    order = [1, 2, 3, 0, 4]  # longest first
    # 40 x 2 = 80 <= 100, 40 x 3 = 120 > 100; then 30 x 3 = 90 <= 100
    assert _token_batches(order, lengths, 100, None) == [[1, 2], [3, 0, 4]]
    assert _token_batches(order, lengths, 100, 2) == [[1, 2], [3, 0], [4]]
    assert _token_batches(order, lengths, 1, None) == [[1], [2], [3], [0], [4]]  # always a row


def test_bad_batch_settings(llama):
    from tuning.evaluation.likelihood import reference_nll

    model, tok = llama
    with pytest.raises(InputError, match="batch_tokens"):
        reference_nll(model, tok, PROMPTS, REFS, batch_tokens=0)
    with pytest.raises(InputError, match="batch_size"):
        reference_nll(model, tok, PROMPTS, REFS, batch_size=0)


def test_train_and_evaluation_share_one_target_logits():
    from tuning.generation.heads import TargetLogits
    from tuning.train import trainer

    assert trainer.TargetLogits is TargetLogits  # the trainer's head is the one evaluation uses
