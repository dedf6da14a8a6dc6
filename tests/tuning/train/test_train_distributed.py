"""Two processes with gloo under torchrun: loss falls, checkpoints, exact resume, final/, SIGTERM.

Kept to two torchrun launches and one single-process launch (each a few seconds here).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tuning.train.checkpoint import MARKER
from tuning.train.config import load_config

from _builders import full_data_mean_loss, read_metrics, run_inprocess, write_jsonl

pytestmark = pytest.mark.slow

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def launch(args, *, nproc=2, timeout=240):
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               "-m", "tuning", "train", *args]
    else:
        cmd = [sys.executable, "-m", "tuning", "train", *args]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def job(tiny_model_dir, records_factory, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    records = records_factory(30, seed=11)
    data = write_jsonl(tmp / "mix.jsonl", records)
    cfg = tmp / "train.yaml"
    cfg.write_text(
        f"model: {tiny_model_dir}\ndata: {data}\noutput_dir: {tmp / 'a'}\n"
        "seq_len: 320\nbatch_size: 2\ngrad_accum: 2\nmax_steps: 8\nsave_every: 4\nkeep_checkpoints: 0\n"
        "lr: 3.0e-3\nwarmup_ratio: 0.1\npacking: true\n"  # the thresholds below were measured packed
    )
    launch([str(cfg)])
    return {"tmp": tmp, "cfg": cfg, "records": records, "a": tmp / "a", "metrics": read_metrics(tmp / "a" / "metrics.jsonl")}


def test_loss_falls_and_metrics_say_what_they_count(job):
    rows = job["metrics"]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]
    for key in ("loss", "lr", "grad_norm", "tokens_per_s", "peak_memory_mb", "mfu"):
        assert key in rows[0]
    assert rows[0]["mfu"] is None  # CPU: no peak FLOPs to divide by
    assert rows[0]["lr"] == pytest.approx(3e-3 / 1)  # warmup = ceil(0.1 * 8) = 1 step


def test_checkpoints_are_complete(job):
    root = job["a"] / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["step-4", "step-8"]
    assert all((root / n / MARKER).is_file() and (root / n / ".metadata").is_file() for n in ("step-4", "step-8"))


def test_world_size_does_not_change_the_losses(job):
    # One process with batch 4 reads the same 8 rows per step as 2 processes with batch 2.
    config = load_config(job["cfg"], [f"output_dir={job['tmp'] / 'w1'}", "batch_size=4", "save_every=0", "save_final=false"])
    single = run_inprocess(config)
    for a, b in zip(job["metrics"], single):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)


def test_resume_replays_the_uninterrupted_run(job):
    b = job["tmp"] / "b"
    shutil.copytree(job["a"] / "checkpoints" / "step-4", b / "checkpoints" / "step-4")
    launch([str(job["cfg"]), f"output_dir={b}", "resume=true", "save_final=false"])
    resumed = read_metrics(b / "metrics.jsonl")
    assert [r["step"] for r in resumed] == [5, 6, 7, 8]
    for a, r in zip(job["metrics"][4:], resumed):
        assert r["loss"] == pytest.approx(a["loss"], abs=1e-6)
        assert r["lr"] == a["lr"]
        assert r["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-5)


def test_final_loads_with_from_pretrained_and_is_the_trained_model(job, tiny_model_dir):
    final = job["a"] / "final"
    assert (final / "model.safetensors").is_file() and (final / "config.json").is_file()
    some = job["records"][:8]
    trained = full_data_mean_loss(final, some, 320)
    initial = full_data_mean_loss(tiny_model_dir, some, 320)
    assert trained < 0.8 * initial


def test_sigterm_checkpoints_and_exits_cleanly(job):
    out = job["tmp"] / "term"
    cmd = [sys.executable, "-m", "tuning", "train", str(job["cfg"]), f"output_dir={out}", "max_steps=500",
           "save_every=0"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.is_file() and metrics.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    steps = [r["step"] for r in read_metrics(metrics)]
    assert 2 <= steps[-1] < 500
    ckpts = list((out / "checkpoints").iterdir())
    assert [p.name for p in ckpts] == [f"step-{steps[-1]}"] and (ckpts[0] / MARKER).is_file()
    assert not (out / "final").exists()
    assert "SIGTERM" in err


def test_a_two_process_checkpoint_resumes_in_one_process(job):
    # DCP reshards the model and optimiser; batch 4 x world 1 keeps the 8 rows per step.
    c = job["tmp"] / "c"
    shutil.copytree(job["a"] / "checkpoints" / "step-4", c / "checkpoints" / "step-4")
    config = load_config(job["cfg"], [f"output_dir={c}", "batch_size=4", "resume=true", "save_every=0",
                                      "save_final=false"])
    resumed = run_inprocess(config)
    assert [r["step"] for r in resumed] == [5, 6, 7, 8]
    for a, r in zip(job["metrics"][4:], resumed):
        assert r["loss"] == pytest.approx(a["loss"], rel=1e-5)
