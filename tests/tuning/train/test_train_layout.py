"""The packing choice: the compute estimate of each layout, worked out by hand."""

from __future__ import annotations

import pytest

from tuning.train.data import choose_packing, layout_cost

P, A = 1_000, 10  # parameters and attention width (layers x heads x head_dim) of a made-up model


def test_layout_cost_by_hand():
    lengths = [10, 10, 10, 10]
    kw = dict(batch_size=2, world=1, grad_accum=1, seed=0, n_params=P, attn_width=A)
    # packed into rows of 32: best fit gives rows of 30 and 10 tokens, one micro-batch of both,
    # padded to 32: 2 rows x 32 positions, each 6P + 12 A x 32; one optimiser step
    packed = 2 * 32 * (6 * P + 12 * A * 32) + 1 * 12 * P
    assert layout_cost(lengths, 32, True, **kw) == pytest.approx(packed)
    # one example per row: two micro-batches of 2 rows, 10 tokens padded to 16; two steps
    grouped = 2 * (2 * 16 * (6 * P + 12 * A * 16)) + 2 * 12 * P
    assert layout_cost(lengths, 32, False, **kw) == pytest.approx(grouped)


def test_grad_accum_and_world_count_steps_not_positions():
    lengths = [10] * 8
    one = layout_cost(lengths, 32, False, batch_size=2, world=1, grad_accum=1, seed=0, n_params=P, attn_width=A)
    four = layout_cost(lengths, 32, False, batch_size=2, world=2, grad_accum=2, seed=0, n_params=P, attn_width=A)
    assert one - four == pytest.approx((4 - 1) * 12 * P)  # 4 steps of one micro-batch vs 1 step of four


def test_choice_follows_the_attention_cost():
    # lengths that do not fill a micro-batch evenly: grouping pads, packing does not
    lengths = [7, 30, 12, 25, 3, 18, 29, 9] * 8
    kw = dict(batch_size=4, world=1, grad_accum=1, seed=1, n_params=10 * P)
    # attention free: packing only removes padding and steps, so it wins
    packed, costs = choose_packing(lengths, 256, attn_width=0, **kw)
    assert packed is True and costs["packed"] < costs["grouped"]
    # attention dear: the 256-wide squares of packed rows cost more than grouping's padding
    packed, costs = choose_packing(lengths, 256, attn_width=100 * P, **kw)
    assert packed is False and costs["grouped"] < costs["packed"]
