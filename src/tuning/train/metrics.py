"""Per-step training metrics: ``metrics.jsonl``, optional TensorBoard, memory and MFU.

``metrics.jsonl`` holds one JSON object per logged step (keys in docs/training.md). Rows are
appended and flushed as training goes, so a crashed run keeps its history; on resume, rows after
the resumed step are dropped first, so the file always reads as one run.

MFU (model FLOPs utilisation, GPU only) uses the 6N rule: a forward and backward pass costs
about 6 * N FLOPs per token for N parameters (attention's own FLOPs are left out)::

    mfu = 6 * N * tokens_per_s / (world * peak_flops_per_gpu)

with the dense bf16 peak of the GPU from ``PEAK_BF16_FLOPS`` (null for an unknown GPU).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from pathlib import Path
from typing import Any

import torch

from budgetlaw.fileio import atomic_write

log = logging.getLogger(__name__)

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, FLOP/s.
PEAK_BF16_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,  # SXM; the PCIe card is lower (756e12) and is matched first below
    "H100 PCIe": 756e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
    "L4": 121e12,
}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key in sorted(PEAK_BF16_FLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_BF16_FLOPS[key]
    return None


def mfu(n_params: int, tokens_per_s: float, device: torch.device, world: int) -> float | None:
    peak = peak_flops(device)
    return None if peak is None else 6.0 * n_params * tokens_per_s / (world * peak)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch on this rank, or the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


class MetricsLog:
    """Appends rows to metrics.jsonl (and TensorBoard when asked and installed); rank 0 only."""

    def __init__(self, path: Path, *, enabled: bool, truncate_after: int = 0, tensorboard: bool = False):
        self.path, self.enabled = Path(path), enabled
        self._fh = None
        self._tb = None
        if not enabled:
            return
        kept = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                if row.get("step", 0) <= truncate_after:
                    kept.append(line)
        with atomic_write(self.path) as fh:  # a resumed run drops the rows after its checkpoint
            fh.write("".join(k + "\n" for k in kept))
        self._fh = self.path.open("a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning("tensorboard=true but the tensorboard package is not installed; writing metrics.jsonl only")
            else:
                self._tb = SummaryWriter(log_dir=str(self.path.parent / "tensorboard"))

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tb.add_scalar(f"train/{key}", value, row["step"])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
