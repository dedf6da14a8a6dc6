"""The loop in one process (world 1, in-process): what a step optimises, packed or not."""

from __future__ import annotations

import json

import pytest
from _builders import full_data_mean_loss, run_inprocess, write_jsonl

from tuning.train.config import TrainConfig


@pytest.fixture(scope="module")
def full_batch_runs(tiny_model_dir, records_factory, tmp_path_factory):
    """Three steps where every step reads the whole mixture, packed and unpacked."""
    tmp = tmp_path_factory.mktemp("loop")
    records = records_factory(9, seed=7)
    data = write_jsonl(tmp / "mix.jsonl", records)
    runs = {}
    for name, packing, ac in (("packed", True, False), ("unpacked", False, False), ("packed+ac", True, True),
                              ("auto", None, False)):
        # 9 examples: batch 3 x accum 3 = 9 rows per step, so one step = one epoch, packed or not.
        cfg = TrainConfig(model=str(tiny_model_dir), data=str(data), output_dir=str(tmp / name),
                          seq_len=320, batch_size=3, grad_accum=3, max_steps=3, lr=1e-3, warmup_ratio=0.0,
                          packing=packing, activation_checkpointing=ac, save_final=False)
        runs[name] = run_inprocess(cfg)
    stopped = TrainConfig(**{**cfg.to_dict(), "output_dir": str(tmp / "stopped"), "stop_after": 2,
                             "activation_checkpointing": False, "save_final": True})
    runs["stopped"] = run_inprocess(stopped)
    runs["auto_record"] = json.loads((tmp / "auto" / "run.json").read_text())
    runs["stopped_dir"] = tmp / "stopped"
    return runs, full_data_mean_loss(tiny_model_dir, records, 320)


def test_step_loss_is_the_token_mean_over_the_step(full_batch_runs):
    runs, expected = full_batch_runs
    for name in ("packed", "unpacked", "packed+ac"):
        rows = runs[name]
        assert rows[0]["loss"] == pytest.approx(expected, rel=1e-5), name


def test_packing_does_not_change_what_is_optimised(full_batch_runs):
    runs, _ = full_batch_runs
    packed, unpacked = runs["packed"], runs["unpacked"]
    assert [r["step"] for r in packed] == [1, 2, 3]
    for a, b in zip(packed, unpacked):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)
        assert a["target_tokens"] == b["target_tokens"]
    assert packed[-1]["loss"] < packed[0]["loss"]


def test_packing_left_open_is_chosen_and_recorded(full_batch_runs):
    runs, _ = full_batch_runs
    choice = runs["auto_record"]["packing"]
    assert choice["chosen"] is True and set(choice["estimated_cost"]) == {"packed", "grouped"}
    cheaper = min(choice["estimated_cost"], key=choice["estimated_cost"].get)
    assert choice["packed"] is (cheaper == "packed")
    same = runs["packed" if choice["packed"] else "unpacked"]
    for a, b in zip(runs["auto"], same):
        assert a["loss"] == b["loss"] and a["grad_norm"] == b["grad_norm"]
    assert runs["auto_record"]["config"]["packing"] is None


def test_activation_checkpointing_recomputes_the_same_step(full_batch_runs):
    runs, _ = full_batch_runs
    for a, b in zip(runs["packed"], runs["packed+ac"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-5)


def test_stop_after_checkpoints_and_keeps_the_schedule(full_batch_runs):
    runs, _ = full_batch_runs
    out = runs["stopped_dir"]
    assert [r["step"] for r in runs["stopped"]] == [1, 2]
    for a, b in zip(runs["stopped"], runs["packed"]):
        assert a["lr"] == b["lr"] and a["loss"] == pytest.approx(b["loss"], rel=1e-6)
    assert (out / "checkpoints" / "step-2" / "trainer_state.json").is_file()
    assert not (out / "final").exists()  # a stopped run has no final model
    record = json.loads((out / "run.json").read_text())
    assert record["finished"] is False and record["steps_done"] == 2 and record["total_steps"] == 3


def test_resume_from_a_checkpoint_continues_the_uninterrupted_run(full_batch_runs, tmp_path):
    # world 1, in-process: the checkpoint's separate entries (model, optimizer, scheduler,
    # train_state, rng) are loaded back and step 3 is the uninterrupted run's step 3.
    import shutil

    runs, _ = full_batch_runs
    stopped = runs["stopped_dir"]
    marker = json.loads((stopped / "checkpoints" / "step-2" / "trainer_state.json").read_text())
    assert marker["format"] == "tuning-checkpoint/2"
    assert marker["progress"]["step"] == 2 and marker["progress"]["epoch"] == 2  # one step = one epoch here
    out = tmp_path / "resumed"
    shutil.copytree(stopped / "checkpoints" / "step-2", out / "checkpoints" / "step-2")
    config = TrainConfig(**{**json.loads((stopped / "run.json").read_text())["config"],
                            "output_dir": str(out), "resume": True, "stop_after": None, "save_final": False})
    resumed = run_inprocess(config)
    assert [r["step"] for r in resumed] == [3]
    expected = runs["packed"][2]
    assert resumed[0]["lr"] == expected["lr"]
    assert resumed[0]["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    assert resumed[0]["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-5)
    record = json.loads((out / "run.json").read_text())
    assert record["resumed_from_step"] == 2 and record["steps_done"] == 3 and record["finished"] is True
    assert record["examples_seen"] == 3 * 9  # 9 examples per step, carried over from the checkpoint
