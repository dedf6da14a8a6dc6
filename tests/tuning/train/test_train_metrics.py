"""metrics.jsonl on resume, and the MFU formula."""

from __future__ import annotations

import json

import pytest
import torch

from tuning.train import metrics
from tuning.train.metrics import MetricsLog


def test_resume_drops_rows_after_the_checkpoint_and_cut_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in range(1, 8)) + '{"step": 8, "lo')
    log = MetricsLog(path, enabled=True, truncate_after=4)
    log.write({"step": 5, "loss": 0.5})
    log.close()
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5] and rows[-1]["loss"] == 0.5


def test_other_ranks_write_nothing(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl", enabled=False)
    log.write({"step": 1})
    log.close()
    assert not (tmp_path / "m.jsonl").exists()


def test_mfu_by_hand(monkeypatch):
    assert metrics.mfu(10**9, 1000.0, torch.device("cpu"), 1) is None
    monkeypatch.setattr(metrics, "peak_flops", lambda device: 1e15)
    # 6 * 1e9 params * 1000 tokens/s = 6e12 FLOP/s over 2 GPUs of 1e15 each.
    assert metrics.mfu(10**9, 1000.0, torch.device("cpu"), 2) == pytest.approx(0.003)
