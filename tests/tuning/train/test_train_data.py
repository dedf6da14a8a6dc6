"""Packing, the step plan, collation, the lr schedule and checkpoint discovery (no model)."""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from tuning.errors import InputError
from tuning.train.checkpoint import MARKER, latest_checkpoint
from tuning.train.data import IGNORE_INDEX, StepPlan, collate, pack
from tuning.train.trainer import lr_factor


def test_best_fit_decreasing_by_hand():
    # lengths 6,5,4,3,2 into rows of 10: 6 opens row A (room 4), 5 opens B (room 5),
    # 4 fits A exactly (the tightest fit), 3 goes to B (room 2), 2 fills B.
    assert pack([6, 5, 4, 3, 2], 10) == [[0, 2], [1, 3, 4]]
    # Two 7s cannot share a row; the 3s fill the holes they leave: two full rows.
    rows = pack([7, 3, 7, 3], 10)
    assert len(rows) == 2 and all(sum([7, 3, 7, 3][i] for i in r) == 10 for r in rows)


def test_packing_covers_every_example_once_and_respects_the_row_length():
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(1, 120, (500,), generator=g).tolist()
    rows = pack(lengths, 128)
    seen = Counter(i for row in rows for i in row)
    assert sorted(seen) == list(range(500)) and set(seen.values()) == {1}
    assert all(sum(lengths[i] for i in row) <= 128 for row in rows)
    # No two rows could be merged: otherwise best fit would have used the room.
    loads = sorted(sum(lengths[i] for i in row) for row in rows)
    assert loads[0] + loads[1] > 128
    assert len(rows) >= math.ceil(sum(lengths) / 128)
    with pytest.raises(ValueError):
        pack([5, 200], 128)


@pytest.mark.parametrize("group", [False, True])
def test_step_plan_reads_every_row_once_per_epoch(group):
    lengths = tuple(range(1, 48))  # 47 rows
    plan = StepPlan(lengths, batch_size=3, world=2, grad_accum=2, seed=5, group_by_length=group)
    assert plan.steps_per_epoch == math.ceil(math.ceil(47 / 3) / 4) == 4
    for epoch in (0, 1):
        got = []
        for k in range(plan.steps_per_epoch):
            micro = plan.step_micro_batches(epoch * plan.steps_per_epoch + k)
            assert len(micro) == 2 and all(len(m) == 2 for m in micro)  # ranks x grad_accum
            got += [r for rank in micro for mb in rank for r in mb]
        assert sorted(got) == list(range(47))
    # A pure function of (seed, epoch, step): a fresh plan and a cached one agree.
    cache: dict = {}
    fresh = StepPlan(lengths, 3, 2, 2, 5, group)
    assert [plan.step_micro_batches(s, cache) for s in range(8)] == [fresh.step_micro_batches(s) for s in range(8)]
    assert plan.epoch_micro_batches(0) != plan.epoch_micro_batches(1)


@pytest.mark.parametrize("group", [False, True])
def test_a_step_reads_the_same_rows_however_it_is_split(group):
    # 2 ranks x 3 micro-batches x 2 rows and 1 rank x 1 micro-batch x 12 rows: 12 rows per step
    g = torch.Generator().manual_seed(1)
    lengths = tuple(torch.randint(1, 300, (101,), generator=g).tolist())
    split = StepPlan(lengths, 2, 2, 3, 7, group)
    whole = StepPlan(lengths, 12, 1, 1, 7, group)
    assert split.steps_per_epoch == whole.steps_per_epoch == 9
    for step in range(2 * split.steps_per_epoch):
        a = sorted(r for rank in split.step_micro_batches(step) for mb in rank for r in mb)
        b = sorted(r for rank in whole.step_micro_batches(step) for mb in rank for r in mb)
        assert a == b, step


def test_length_grouping_cuts_padding():
    g = torch.Generator().manual_seed(0)
    lengths = tuple(torch.randint(10, 500, (640,), generator=g).tolist())

    def padded(group):
        plan = StepPlan(lengths, 8, 1, 1, 0, group)
        return sum(len(mb) * max(lengths[r] for r in mb) for mb in plan.epoch_micro_batches(0))

    assert padded(True) < 0.8 * padded(False)
    assert padded(True) >= sum(lengths)


def _ex(ids, n_prompt):
    return SimpleNamespace(input_ids=ids, labels=[IGNORE_INDEX] * n_prompt + ids[n_prompt:])


def test_collate_by_hand():
    examples = [_ex([11, 12, 13, 14], 2), _ex([21, 22, 23], 1), _ex([31, 32], 1)]
    b = collate([[0, 1], [2]], examples, pad_id=0, multiple_of=8)
    assert b["input_ids"].tolist() == [
        [11, 12, 13, 14, 21, 22, 23, 0],
        [31, 32, 0, 0, 0, 0, 0, 0],
    ]
    # Positions restart for every example; padding restarts too (a block of its own).
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2, 0], [0, 1, 0, 1, 2, 3, 4, 5]]
    # targets[t] = the next token of the same example; nothing across a boundary or on the prompt.
    X = IGNORE_INDEX
    assert b["targets"].tolist() == [[X, 13, 14, X, 22, 23, X, X], [32, X, X, X, X, X, X, X]]
    assert (b["n_targets"], b["n_tokens"], b["n_examples"]) == (5, 9, 3)
    flat = collate([[0, 1], [2]], examples, pad_id=0, flatten=True)
    assert flat["input_ids"].tolist() == [[11, 12, 13, 14, 21, 22, 23, 31, 32]]
    assert flat["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2, 0, 1]]
    dummy = collate([], examples, pad_id=0)
    assert dummy["n_targets"] == 0 and dummy["n_examples"] == 0 and dummy["n_tokens"] == 0


def test_lr_schedule_by_hand():
    f = lambda s: lr_factor(s, warmup=4, total=20, min_ratio=0.1)  # noqa: E731
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == pytest.approx(1.0)
    assert f(12) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the cosine: the mean
    assert f(20) == pytest.approx(0.1)


def test_latest_checkpoint_ignores_incomplete_ones(tmp_path):
    root = tmp_path / "checkpoints"
    assert latest_checkpoint(tmp_path) is None
    for name, marker in [("step-5", True), ("step-20", False), ("step-30.tmp", True), ("step-10", True)]:
        (root / name).mkdir(parents=True)
        if marker:
            (root / name / MARKER).write_text("{}")
    assert latest_checkpoint(tmp_path) == root / "step-10"


def test_pruning_keeps_the_newest_complete_checkpoints(tmp_path):
    from tuning.train.checkpoint import _prune

    root = tmp_path / "checkpoints"
    for name in ("step-2", "step-4", "step-10", "step-12.tmp"):
        (root / name).mkdir(parents=True)
        (root / name / MARKER).write_text("{}")
    (root / "step-11").mkdir()  # incomplete: neither counted nor deleted
    _prune(root, keep=2)
    assert sorted(p.name for p in root.iterdir()) == ["step-10", "step-11", "step-12.tmp", "step-4"]


def test_train_state_is_stateful_and_advances_per_step():
    from torch.distributed.checkpoint.stateful import Stateful

    from tuning.train.state import TrainState

    state = TrainState()
    assert isinstance(state, Stateful)
    for _ in range(5):
        state.advance(steps_per_epoch=2, examples=3, tokens=100)
    assert state.state_dict() == {"step": 5, "epoch": 2, "examples": 15, "tokens": 500}
    other = TrainState()
    other.load_state_dict({"step": 5, "epoch": 2, "examples": 15, "tokens": 500})
    assert other == state


def test_a_checkpoint_of_the_old_layout_is_refused_before_it_is_unpickled(tmp_path):
    import hashlib

    from tuning.train.checkpoint import METADATA, check_trusted

    (tmp_path / METADATA).write_bytes(b"not read")
    old = {"format": "tuning-checkpoint/1", "metadata_sha256": hashlib.sha256(b"not read").hexdigest()}
    with pytest.raises(InputError, match="not written by this version of the trainer"):
        check_trusted(tmp_path, old)
    check_trusted(tmp_path, {**old, "format": "tuning-checkpoint/2"})  # the current layout passes
