#!/usr/bin/env bash
# The GPU check (docs/benchmarks/evaluation.md, "GPU check"): training throughput/MFU of a ~1B Llama (bf16, FSDP2,
# one process), evaluation speed (NLL, generation: default path, model.generate, vLLM when
# installed) and the SmolLM2 smoke study, on one CUDA GPU, in at most 8 minutes. Prints one
# table and writes it to OUT/gpu_check.md (default OUT: gpu_check_out).
#
#   benchmarks/gpu_check.sh [OUT]
#
# Without a GPU it stops at once (exit 3) with one line saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
OUT="${1:-gpu_check_out}"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: no GPU here (nvidia-smi is missing or lists no device); nothing was run. Run it on a machine with an NVIDIA GPU." >&2
    exit 3
fi
exec timeout 480 "$PY" benchmarks/gpu_check.py --out "$OUT"
