"""The output layer at target positions only (TargetLogits): the same loss and gradients as the
full logits, with the layer run on the target rows alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _builders import build_tiny_llama, build_tokenizer
from torch import nn

from tuning.train.data import IGNORE_INDEX, layout_cost
from tuning.generation.heads import TargetLogits
from tuning.train.model import position_parameters


@pytest.fixture(scope="module")
def model_and_batch():
    tok = build_tokenizer()
    model = build_tiny_llama(tok, layers=2, hidden=32, seed=3)
    gen = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, len(tok), (3, 12), generator=gen)
    targets = torch.full((3, 12), IGNORE_INDEX)
    targets[0, 4:11] = input_ids[0, 5:12]  # a response after a 5-token prompt
    targets[1, 8:9] = input_ids[1, 9:10]  # one target
    targets[2, 2:6] = input_ids[2, 3:7]  # then padding (targets ignored)
    return model, input_ids, targets


def _loss_and_grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_target_logits_give_the_full_logits_loss_and_gradients(model_and_batch):
    model, input_ids, targets = model_and_batch
    flat = targets.flatten()
    full = model(input_ids=input_ids).logits  # the plain way: every position, ignore_index
    want, want_grads = _loss_and_grads(model, F.cross_entropy(full.flatten(0, 1), flat, ignore_index=IGNORE_INDEX,
                                                              reduction="sum"))
    seen = []
    hook = model.lm_head.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape)))
    head = TargetLogits(model)
    try:
        index = (flat != IGNORE_INDEX).nonzero().squeeze(1)
        logits = head.logits(model, index, input_ids=input_ids)
        got, got_grads = _loss_and_grads(model, F.cross_entropy(logits, flat[index], reduction="sum"))
    finally:
        head.remove()
        hook.remove()
    assert seen == [(12, 32)]  # 7 + 1 + 4 target rows of hidden 32 reached the layer, not 3 x 12
    assert logits.shape == (12, model.config.vocab_size)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert got_grads.keys() == want_grads.keys()
    for name, grad in want_grads.items():
        torch.testing.assert_close(got_grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)
    # removed: the model gives full logits again
    assert model(input_ids=input_ids).logits.shape == (3, 12, model.config.vocab_size)


def test_a_batch_without_targets_gives_zero_loss_and_zero_gradients(model_and_batch):
    model, input_ids, _ = model_and_batch
    head = TargetLogits(model)
    index = torch.zeros(0, dtype=torch.long)
    loss, grads = _loss_and_grads(model, F.cross_entropy(head.logits(model, index, input_ids=input_ids),
                                                         torch.zeros(0, dtype=torch.long), reduction="sum"))
    head.remove()
    assert loss.item() == 0.0
    assert grads and all(not g.any() for g in grads.values())


class _ComputesItsOwnHead(nn.Module):
    """A model whose forward does not call what get_output_embeddings returns."""

    def __init__(self):
        super().__init__()
        self.body = nn.Embedding(10, 4)
        self.unused = nn.Linear(4, 10)
        self.proj = nn.Linear(4, 10)

    def get_output_embeddings(self):
        return self.unused

    def forward(self, input_ids):
        return type("Out", (), {"logits": self.proj(self.body(input_ids))})()


def test_a_model_that_skips_its_output_embeddings_gets_its_rows_selected_after():
    torch.manual_seed(0)
    model = _ComputesItsOwnHead()
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    index = torch.tensor([1, 5])
    head = TargetLogits(model)
    got = head.logits(model, index, input_ids=ids)
    head.remove()
    want = model(ids).logits.flatten(0, 1)[[1, 5]]
    assert torch.equal(got, want)


def test_position_parameters_leave_out_embeddings_and_output_layer(model_and_batch):
    model = model_and_batch[0]
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    # untied: both the embedding table and the output layer are vocab x hidden
    assert position_parameters(model) == total - 2 * cfg.vocab_size * cfg.hidden_size


def test_layout_cost_counts_position_parameters_per_position():
    kwargs = dict(batch_size=2, world=1, grad_accum=1, seed=0, n_params=1000, attn_width=0)
    # 4 examples of 8 tokens, one per row: 4 rows x 8 positions; plus 2 optimiser steps x 12 x n_params
    assert layout_cost([8] * 4, 64, False, **kwargs) == 32 * 6 * 1000 + 2 * 12 * 1000
    assert layout_cost([8] * 4, 64, False, position_params=100, **kwargs) == 32 * 6 * 100 + 2 * 12 * 1000
