"""benchmarks/gpu_check.sh and its driver: here (no GPU) they stop at once with one line and exit 3;
the pieces that run before the GPU stages are checked on their own."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def _driver():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _gpu_here() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_stops_at_once_without_a_gpu(tmp_path):
    if _gpu_here():
        pytest.skip("a GPU is present: the script would run the whole check")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 3
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no GPU here" in lines[0] and "nothing was run" in lines[0]
    assert not out.exists()  # nothing written


def test_the_driver_stops_too_when_torch_sees_no_gpu(tmp_path):
    if _gpu_here():
        pytest.skip("a GPU is present")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "torch.cuda.is_available() is False" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_an_empty_cuda_visible_devices_is_named():
    driver = _driver()
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        assert driver.no_gpu_reason() == "CUDA_VISIBLE_DEVICES is empty"
    finally:
        if old is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = old


def test_the_1b_config_has_the_parameters_it_says():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    driver = _driver()
    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**driver.LLAMA_1B))
    built = sum(p.numel() for p in model.parameters())
    assert driver.llama_parameters(driver.LLAMA_1B) == built
    assert 1.0e9 < built < 1.2e9  # "~1B"


def test_a_stage_reports_its_measures_its_failure_or_its_timeout(tmp_path):
    driver = _driver()
    ok = driver.run_stage("a", [sys.executable, "-c", "print('noise'); print('{\"value\": \"7 tokens/s\"}')"], 60,
                          tmp_path / "a.log")
    assert ok["status"] == "ok" and ok["value"] == "7 tokens/s"
    bad = driver.run_stage("b", [sys.executable, "-c", "import sys; sys.exit(5)"], 60, tmp_path / "b.log")
    assert bad["status"].startswith("failed (exit 5")
    slow = driver.run_stage("c", [sys.executable, "-c", "import time; time.sleep(30)"], 1, tmp_path / "c.log")
    assert slow["status"] == "timed out (1 s)"
    table = driver.format_table([ok, bad, slow]).splitlines()
    assert table[0] == "| stage | status | s | measure | value |" and len(table) == 5
    assert table[2].startswith("| a | ok |") and table[2].endswith("| 7 tokens/s |")
    json.dumps([ok, bad, slow], default=str)
