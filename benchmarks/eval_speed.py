"""Evaluation speed on the real model: today's path against the new one, in one run.

For each model directory (the converted SmolLM2-135M-Instruct base, and trained pilots) and one
language's committed held-out set (docs/results/smollm2-gettext/heldout/LANG.jsonl, chat
template prompts exactly as examples/smollm2_six_languages.py evaluates):

- NLL of the references: ``reference_nll`` before this change (copied below as the named
  baseline: batches of 16 rows, full-vocabulary logits at every position) against today's
  ``tuning.evaluation.likelihood.reference_nll``; the per-item values compared;
- greedy generation of the first --gen-items prompts, batch --gen-batch, the study's cap
  (min(160, max(16, 1.5 x the longest reference + 8)) new tokens), side by side (--paths):
  ``hf`` (``model.generate``, the path before tuning.generation.greedy), ``torch-before`` (tuning.generation.greedy
  before the preallocated cache and drafts, copied below as a named baseline: DynamicCache,
  one token per pass), ``torch-k0`` (the preallocated cache, no drafts), ``torch`` (today's
  default: preallocated cache + prompt-lookup drafts), ``torch-kK`` for each K of --drafts, and
  any optional engine given with --engines; the outputs compared string by string;
- a pilot's whole evaluation = NLL of all --nll-items references + generation on --gen-items
  (what ``Experiment.evaluate`` runs for a pilot, metrics aside: they take well under a second).

Rates printed beside the matmul peak, measured in this run on the model's own layer shapes
(float32): NLL as the FLOPs each path really executes (2 x parameters used x rows it runs
them on) per second; generation as 2 x parameters x generated tokens per second.

Every timed section can pause a background job (--pause-pgid-file: a file holding a process
group id; SIGSTOP before, SIGCONT after, also on failure), so a shared machine's other work
does not enter the timings.

    .venv/bin/python benchmarks/eval_speed.py --model MODEL_DIR --model PILOT_DIR --pause-pgid-file /work/exp.pgid
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "docs" / "results" / "smollm2-gettext" / "heldout"


# -- the named baseline: reference_nll as it was before the NLL speed-up -----------------------
def baseline_reference_nll(model, tokenizer, prompts, references, *, batch_size=16, add_special_tokens=True):
    """Per item (nll, n), batches of ``batch_size`` right-padded rows with an attention mask and
    full-vocabulary logits at every position (the code of tuning.evaluation.likelihood at
    commit 3c6e513, progress bar and max_tokens left out)."""
    import torch.nn.functional as F

    seqs = []
    for prompt, ref in zip(prompts, references):
        p = tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]
        r = tokenizer(ref, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        seqs.append((p + r, len(r)))
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i][0]), i))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    results = [None] * len(seqs)
    dev = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(seqs[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        targets = torch.full((len(idx), width), -100, dtype=torch.long)
        for row, i in enumerate(idx):
            seq, n_ref = seqs[i]
            ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
            targets[row, len(seq) - n_ref - 1:len(seq) - 1] = torch.tensor(seq[len(seq) - n_ref:])
        with torch.inference_mode():
            logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), use_cache=False).logits
            token_nll = F.cross_entropy(logits.float().transpose(1, 2), targets.to(dev), ignore_index=-100,
                                        reduction="none")
        for row, i in enumerate(idx):
            results[i] = (float(token_nll[row].sum()), seqs[i][1])
    return results


# -- the named baseline of generation: tuning.generation.greedy.greedy_batch before the static cache and drafts
def baseline_greedy_batch(model, rows, *, pad_id, eos_id, max_new_tokens):
    """Greedy continuation of each row, one token per pass, transformers' DynamicCache (the
    code of tuning.generation.greedy.greedy_batch at commit e053976: shared start once, finished rows leave
    the batch; every step concatenates every layer's cache)."""
    import inspect

    from tuning.generation.greedy import shared_start

    dev = next(model.parameters()).device
    skip = shared_start(rows)
    width = max(len(r) for r in rows) - skip
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, skip + width), dtype=torch.long)
    mask[:, :skip] = 1
    for i, r in enumerate(rows):
        ids[i, width - (len(r) - skip):] = torch.tensor(list(r[skip:]), dtype=torch.long)
        mask[i, skip + width - (len(r) - skip):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, skip:]
    ids, mask, positions = ids.to(dev), mask.to(dev), positions.to(dev)
    keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    out = [[] for _ in rows]
    alive = list(range(n))
    with torch.inference_mode():
        cache = None
        if skip:
            cache = model(input_ids=torch.tensor([list(rows[0][:skip])], device=dev), use_cache=True,
                          **keep).past_key_values
            cache.batch_repeat_interleave(n)
        result = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                       use_cache=True, **keep)
        for step in range(max_new_tokens):
            cache = result.past_key_values
            token = result.logits[:, -1, :].argmax(dim=-1)
            running = []
            for b, t in enumerate(token.tolist()):
                if t == eos_id:
                    continue
                out[alive[b]].append(t)
                running.append(b)
            if not running or step == max_new_tokens - 1:
                break
            if len(running) < len(alive):
                index = torch.tensor(running, device=dev)
                cache.batch_select_indices(index)
                mask, positions, token = mask[index], positions[index], token[index]
                alive = [alive[b] for b in running]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            positions = positions[:, -1:] + 1
            result = model(input_ids=token[:, None], attention_mask=mask, position_ids=positions,
                           past_key_values=cache, use_cache=True)
    return out


def loop_generate(model, tok, prompts, *, batch_size, max_new_tokens, greedy):
    """Completions as ``tuning.generation.generate(backend="torch")`` makes them (same batches,
    same decoding of the tokens), with ``greedy(model, rows, pad_id=, eos_id=, max_new_tokens=)``
    as the loop: the baseline above, or tuning.generation.greedy with chosen drafting settings."""
    from tuning.generation import length_batches

    encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    outputs = [""] * len(prompts)
    for batch in length_batches([len(e) for e in encoded], batch_size, True):
        new = greedy(model, [encoded[i] for i in batch], pad_id=tok.pad_token_id, eos_id=tok.eos_token_id,
                     max_new_tokens=max_new_tokens)
        for i, row in zip(batch, new):
            outputs[i] = tok.decode(row, skip_special_tokens=True)
    return outputs


# -- pausing a background job -------------------------------------------------------------------
class Pause:
    """SIGSTOP the process group named in a file for the duration of a ``with`` block."""

    def __init__(self, pgid_file: str | None):
        self.file = pgid_file
        self.pgid = None
        self.paused_s = 0.0

    def _signal(self, sig) -> None:
        if self.pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)

    @contextlib.contextmanager
    def __call__(self):
        if self.file and Path(self.file).is_file():
            self.pgid = int(Path(self.file).read_text().strip())
        start = time.perf_counter()
        self._signal(signal.SIGSTOP)
        try:
            time.sleep(0.5 if self.pgid else 0)  # let the stopped job's cores go idle
            yield
        finally:
            self._signal(signal.SIGCONT)
            if self.pgid:
                self.paused_s += time.perf_counter() - start


def matmul_peak(hidden: int, inter: int, device: str = "cpu", repeats: int = 5) -> float:
    """FLOP/s of float32 matmuls of the model's own shapes at 2048 rows (the best of repeats)."""
    best = 0.0
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for k, n in ((hidden, inter), (inter, hidden), (hidden, hidden)):
        a, b = torch.randn(2048, k, device=device), torch.randn(k, n, device=device)
        torch.mm(a, b)
        for _ in range(repeats):
            sync()
            t = time.perf_counter()
            torch.mm(a, b)
            sync()
            best = max(best, 2 * 2048 * k * n / (time.perf_counter() - t))
    return best


def nll_work(model, tok, prompts, refs, new: bool) -> float:
    """FLOPs the path executes: body parameters x rows run, head parameters x rows it scores."""
    from tuning.evaluation.likelihood import _shared_prefix, _token_batches

    head = model.get_output_embeddings().weight.numel()
    body = sum(p.numel() for p in model.parameters()) - head - model.get_input_embeddings().weight.numel() * (
        0 if model.config.tie_word_embeddings else 1)
    seqs = []
    for p, r in zip(prompts, refs):
        pi = tok(p, add_special_tokens=False)["input_ids"]
        ri = tok(r, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        seqs.append((pi + ri, len(ri)))
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i][0]), i))
    total = 0
    if not new:
        for s in range(0, len(order), 16):
            idx = order[s:s + 16]
            total += (body + head) * len(idx) * max(len(seqs[i][0]) for i in idx)
        return 2.0 * total
    for idx in _token_batches(order, [len(s) for s, _ in seqs], 4096, None):
        rows = [seqs[i] for i in idx]
        skip = _shared_prefix(rows)
        total += body * (skip + len(idx) * (max(len(s) for s, _ in rows) - 1 - skip)) + head * (skip + sum(n for _, n in rows))
    return 2.0 * total


def cap_for(tok, refs, limit=160) -> int:
    longest = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in refs)
    return min(limit, max(16, int(1.5 * longest) + 8))


def main(argv=None) -> int:
    from tuning.evaluation.likelihood import mean_nll, reference_nll
    from tuning.evaluation.tasks import load_task
    from tuning.generation import generate, load_model
    from tuning.generation.greedy import DRAFT_TOKENS, greedy_batch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", required=True, help="model directory (repeat for several)")
    p.add_argument("--language", default="hi")
    p.add_argument("--nll-items", type=int, default=200)
    p.add_argument("--gen-items", type=int, default=100)
    p.add_argument("--gen-batch", type=int, default=50)
    p.add_argument("--no-nll", action="append", default=[], help="model directory whose NLL is not timed")
    p.add_argument("--paths", default="hf,torch-before,torch-k0,torch",
                   help="generation paths, the first is the reference of the speed-ups: hf, torch-before, torch, torch-kK")
    p.add_argument("--drafts", default="", help="comma-separated draft token counts to time too (torch-kK paths)")
    p.add_argument("--keep-texts", action="store_true", help="write the generated texts into --json")
    p.add_argument("--engines", default="", help="comma-separated optional engines to time too: ctranslate2,vllm")
    p.add_argument("--big-batch", type=int, default=0,
                   help="also time backend torch with this batch (finished rows leave it, so larger batches pay off)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--last-line-json", action="store_true", help="end with one JSON line (measure, value) for gpu_check")
    p.add_argument("--pause-pgid-file", default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    pause = Pause(args.pause_pgid_file)
    with pause():
        peak = matmul_peak(576, 1536, args.device)
    rows, out = [], {"peak_flops": peak, "models": {}}
    for model_dir in args.model:
        model, tok = load_model(model_dir, device=args.device, dtype="float32")
        task = load_task(f"jsonl:heldout-{args.language}", HELDOUT / f"{args.language}.jsonl", tokenizer=tok,
                         chat_template=True)
        items = task.items[:args.nll_items]
        prompts, refs = [it.prompt for it in items], [it.reference for it in items]
        params = sum(q.numel() for q in model.parameters())
        rec = {}
        name = Path(model_dir).name
        if model_dir not in args.no_nll:
            times, values = {}, {}
            for label, fn in (("before", lambda: baseline_reference_nll(model, tok, prompts, refs, add_special_tokens=False)),
                              ("now", lambda: reference_nll(model, tok, prompts, refs, add_special_tokens=False,
                                                            progress=False))):
                with pause():
                    t = time.perf_counter()
                    values[label] = fn()
                    times[label] = time.perf_counter() - t
                print(f"# {Path(model_dir).name} NLL {label}: {times[label]:.1f} s", file=sys.stderr, flush=True)
            seq_tokens = sum(len(tok(q + r, add_special_tokens=False)["input_ids"]) + 1 for q, r in zip(prompts, refs))
            diff = max(abs(a - b) / n for (a, n), (b, _) in zip(values["before"], values["now"]))
            work = {k: nll_work(model, tok, prompts, refs, new=(k == "now")) for k in times}
            rec["nll"] = {"s": times, "items": len(prompts), "sequence_tokens": seq_tokens,
                          "mean_nll": {k: mean_nll(v) for k, v in values.items()}, "max_item_diff_per_token": diff,
                          "executed_flops": work}
            for k in ("before", "now"):
                rows.append((name, "NLL", "before (batches of 16, full logits)" if k == "before" else "now (tokens, prefix, scored head)",
                             f"{times[k]:.1f}", f"{seq_tokens / times[k]:.0f} seq tok/s",
                             f"{work[k] / times[k] / peak:.0%}", f"{times['before'] / times[k]:.2f}x",
                             f"max item diff {diff:.1e} nats/token" if k == "now" else
                             f"mean {rec['nll']['mean_nll']['before']:.5f} vs {rec['nll']['mean_nll']['now']:.5f}"))
        gen_items = task.items[:args.gen_items]
        gen_prompts = [it.prompt for it in gen_items]
        cap = cap_for(tok, [it.reference for it in task.items])
        # hf: model.generate (the path before tuning.generation.greedy); torch-before: tuning.generation.greedy as it was
        # (DynamicCache, one token per pass); torch-k0: the preallocated cache, no drafts; torch:
        # today's default (preallocated cache + prompt-lookup drafts); torch-kK: K draft tokens
        backends = [b for b in args.paths.split(",") if b]
        backends += [f"torch-k{k}" for k in args.drafts.split(",") if k] + [e for e in args.engines.split(",") if e]
        if args.big_batch:
            backends.append(f"torch@{args.big_batch}")
        texts, times = {}, {}
        for label in backends:
            backend, _, big = label.partition("@")
            source = model_dir if backend in ("ctranslate2", "vllm") else model
            if backend == "ctranslate2":  # convert outside the timing (a one-off per model directory)
                from tuning.generation.engines import converted

                converted(Path(model_dir))
            loop = None
            if backend == "torch-before":
                loop = baseline_greedy_batch
            elif backend.startswith("torch-k"):
                loop = functools.partial(greedy_batch, draft_tokens=int(backend[len("torch-k"):]))
            with pause():
                t = time.perf_counter()
                if loop is not None:
                    texts[label] = loop_generate(model, tok, gen_prompts, batch_size=int(big or args.gen_batch),
                                                 max_new_tokens=cap, greedy=loop)
                else:
                    texts[label] = generate(source, gen_prompts, tokenizer=None if backend in ("ctranslate2", "vllm") else tok,
                                            batch_size=int(big or args.gen_batch), max_new_tokens=cap,
                                            add_special_tokens=False, progress=False, backend=backend, dtype="float32",
                                            device=args.device)
                times[label] = time.perf_counter() - t
            print(f"# {Path(model_dir).name} generate {label}: {times[label]:.1f} s", file=sys.stderr, flush=True)
        base = backends[0]  # the first path is the one the speed-ups and differences are taken against
        gen_tokens = {b: sum(min(cap, len(tok(x, add_special_tokens=False)["input_ids"])) for x in texts[b]) for b in backends}
        at_cap = sum(len(tok(x, add_special_tokens=False)["input_ids"]) >= cap for x in texts[base])
        differ = {b: {c: sum(x != y for x, y in zip(texts[b], texts[c])) for c in backends} for b in backends}
        rec["generation"] = {"s": times, "items": len(gen_prompts), "cap": cap, "at_cap": at_cap,
                             "generated_tokens": gen_tokens, "draft_tokens_default": DRAFT_TOKENS, "differ": differ,
                             "texts": texts if args.keep_texts else None}
        others = [c for c in ("hf", "torch-before") if c in backends] or [base]
        for b in backends:
            rows.append((name, "generate", f"{b}{' (before)' if b == 'hf' else ''}, batch {b.partition('@')[2] or args.gen_batch}", f"{times[b]:.1f}",
                         f"{gen_tokens[b] / times[b]:.1f} tok/s", f"{2 * params * gen_tokens[b] / times[b] / peak:.0%}",
                         f"{times[base] / times[b]:.2f}x",
                         "; ".join(f"{differ[b][c]} of {len(gen_prompts)} differ from {c}" for c in others if c != b)
                         + f"; cap {cap}, {at_cap} at cap"))
        if "nll" in rec and "hf" in backends:
            before = rec["nll"]["s"]["before"] + times["hf"]
            best = "torch" if "torch" in backends else min((b for b in backends if b.startswith("torch")), key=times.get)
            now = rec["nll"]["s"]["now"] + times[best]
            rec["pilot_evaluation_s"] = {"before": before, "now": now}
            rows.append((name, "whole evaluation", "NLL + generation", f"{before:.1f} -> {now:.1f}", "", "",
                         f"{before / now:.2f}x", f"NLL of {len(prompts)}, generation of {len(gen_prompts)} ({best})"))
        out["models"][model_dir] = rec
        del model
    device = (torch.cuda.get_device_name() if args.device.startswith("cuda") else
              f"{platform.processor() or platform.machine()}, {args.threads} threads") + f", torch {torch.__version__}"
    print(f"device: {device}; float32; language {args.language}; matmul peak {peak / 1e9:.0f} GFLOP/s "
          f"(model shapes, this run); background job paused {pause.paused_s:.0f} s")
    header = ("model", "what", "path", "s", "rate", "of peak", "speed-up", "outputs")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if args.last_line_json:
        summary = "; ".join(f"{r[1]} {r[2]}: {r[3]} s ({r[6]})" for r in rows)
        print(json.dumps({"measure": "SmolLM2-135M fp32, " + args.language, "value": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
