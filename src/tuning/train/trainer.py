"""The training loop: read top to bottom, like nanoGPT's train.py.

One call of ``train(config)`` is one rank of a job (torchrun starts one per GPU; a plain
``python -m tuning train`` is a world of one). The steps:

1. join the process group; tokenise the mixture;
2. build the model (FSDP2-sharded when there is more than one rank or mixed precision) and AdamW;
3. lay the examples out in rows (packed, or one per row grouped by length: chosen by estimated
   compute when ``packing`` is null), fix the step plan and the warmup + cosine schedule;
4. resume from the newest complete checkpoint when ``resume`` is true;
5. for each step: ``grad_accum`` micro-batches of forward/backward, clip, update, log;
   checkpoint every ``save_every`` steps and on SIGTERM;
6. write ``final/`` (a Hugging Face directory) and ``run.json``.

The loss of a step is a token mean over the whole step::
    loss = sum of token cross-entropies over every micro-batch on every rank
           / number of response tokens in the step (all ranks)

Every rank knows the whole step plan, so the denominator is counted locally, without
communication, before the first backward. Each micro-batch backpropagates
``world * loss_sum / n_targets``: FSDP averages gradients over ranks, the factor ``world``
turns that average back into the sum. Packing, batch shape, accumulation and world size
therefore do not change what is optimised.

The learning rate at (0-based) step s, with W = ceil(warmup_ratio * total) warmup steps::
    lr(s) = lr * (s + 1) / W                                         for s < W
    lr(s) = lr * (m + (1 - m) * 0.5 * (1 + cos(pi * (s - W) / (total - W))))   otherwise

with m = ``min_lr_ratio``.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from tuning.errors import InputError
from tuning.train import checkpoint as ckpt
from tuning.train.config import TrainConfig, check_paths
from budgetlaw.fileio import write_json
from tuning.data.reading import sha256_file
from tuning.data.mixture import read_mixture
from tuning.train.data import IGNORE_INDEX, StepPlan, choose_packing, collate, make_rows
from tuning.train.metrics import MetricsLog, mfu, peak_memory_mb
from tuning.generation.heads import TargetLogits
from tuning.train.model import (build_model, count_parameters, init_distributed, is_sharded, load_tokenizer,
                                position_parameters)
from tuning.train.state import TrainState, checkpoint_states
from tuning.data.tokenize import tokenize_records

log = logging.getLogger(__name__)


def lr_factor(step: int, *, warmup: int, total: int, min_ratio: float) -> float:
    """The schedule above, as a multiple of the peak lr (torch LambdaLR calls it with s)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def tokenize_mixture(records: list[dict], tokenizer, config: TrainConfig, *, progress: bool = True):
    """Records -> TokenizedExamples (prompt masked, EOS appended) via tuning.data.tokenize."""

    examples, stats = tokenize_records(records, tokenizer, config.seq_len, chat_template=config.chat_template,
                                       progress=progress)
    if not examples:
        raise InputError(f"{config.data}: no record fits in seq_len={config.seq_len} tokens; raise seq_len")
    return examples, stats


class _Preemption:
    """Remembers a SIGTERM so the loop can checkpoint at the end of the step and stop."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self) -> "_Preemption":
        try:
            self._old = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread (e.g. called from a notebook worker)
            self._old = None
        return self

    def _handle(self, signum, frame) -> None:
        log.warning("SIGTERM received: checkpointing at the end of this step, then stopping")
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def train(config: TrainConfig) -> dict[str, Any]:
    """Run (or resume) the job; returns the run record also written to ``output_dir/run.json``.

    ``output_dir`` is created only once the data, the model and any checkpoint have loaded, and
    a run that fails before its first file is written removes the folder it created: a failed
    start leaves no empty run folder behind."""
    out = Path(config.output_dir)
    created = not out.exists()
    try:
        return _train(config)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def _train(config: TrainConfig) -> dict[str, Any]:
    check_paths(config)
    out = Path(config.output_dir)
    if not config.resume and ckpt.latest_checkpoint(out) is not None:
        # A later resume would pick the old run's newest checkpoint: refuse rather than mix runs.
        raise InputError(f"output_dir {str(out)!r} holds checkpoints of an earlier run; set resume=true to continue "
                         "it, or choose a new output_dir (or delete its checkpoints/) to start afresh")
    d = init_distributed()
    torch.manual_seed(config.seed)

    # ---- 1. data: tokenise -------------------------------------------------------------------
    tokenizer = load_tokenizer(config.model)
    records = read_mixture(config.data)
    examples, tok_stats = tokenize_mixture(records, tokenizer, config, progress=d.is_main)
    grad_accum = config.grad_accum or max(1, math.ceil(config.global_batch_size / (config.batch_size * d.world)))

    # ---- 2. model, optimiser ----------------------------------------------------------------
    model = build_model(
        config.model, d, attn_implementation=config.attn_implementation, dtype=config.dtype,
        activation_checkpointing=config.activation_checkpointing, vocab_size=len(tokenizer),
    )
    n_params = count_parameters(model)
    sharded = is_sharded(model)
    # fused AdamW (one kernel for all parameters) on plain tensors; foreach on FSDP2's DTensors
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps, weight_decay=config.weight_decay, **({"foreach": True} if sharded else {"fused": True}),
    )

    # ---- 3. rows and the step plan (packing chosen here when the config leaves it open) -----
    lengths = [len(ex.input_ids) for ex in examples]
    layout_costs = None
    packing = config.packing
    if packing is None:
        cfg = model.config
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        attn_width = cfg.num_hidden_layers * cfg.num_attention_heads * head_dim
        # estimated on whole steps (rows per step as one batch), so that how a step is split
        # across ranks and micro-batches never changes the choice, hence what is optimised
        packing, layout_costs = choose_packing(lengths, config.seq_len, batch_size=config.batch_size * d.world * grad_accum,
                                               world=1, grad_accum=1, seed=config.seed, n_params=n_params,
                                               attn_width=attn_width, position_params=position_parameters(model))
    rows = make_rows(lengths, config.seq_len, packing)
    row_lengths = tuple(sum(lengths[i] for i in row) for row in rows)
    plan = StepPlan(row_lengths, config.batch_size, d.world, grad_accum, config.seed, group_by_length=not packing)
    total_steps = config.max_steps or max(1, math.ceil(config.epochs * plan.steps_per_epoch))
    n_targets = [sum(t != IGNORE_INDEX for t in ex.labels[1:]) for ex in examples]
    row_targets = [sum(n_targets[i] for i in row) for row in rows]
    flatten = config.attn_implementation == "flash_attention_2"
    log.info(
        "%d examples in %d rows (%s%s; %.1f%% of row tokens used), %d steps/epoch, %d steps, world %d x batch %d x accum %d",
        len(examples), len(rows), "packed" if packing else "one per row, grouped by length",
        "" if layout_costs is None else (", chosen: estimated compute grouped/packed = "
                                         f"{layout_costs['grouped'] / layout_costs['packed']:.2f}"),
        100 * sum(row_lengths) / (len(rows) * config.seq_len), plan.steps_per_epoch, total_steps, d.world,
        config.batch_size, grad_accum,
    )
    warmup = math.ceil(config.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(lr_factor, warmup=warmup, total=total_steps, min_ratio=config.min_lr_ratio)
    )
    state = TrainState()
    states = checkpoint_states(model, optimizer, scheduler, state, rank=d.rank)

    # ---- 4. resume -----------------------------------------------------------------------------
    if config.resume:
        latest = ckpt.latest_checkpoint(out)
        if latest is None:
            log.info("resume=true but no complete checkpoint in %s: starting from scratch", ckpt.checkpoint_root(out))
        else:
            marker = ckpt.load_checkpoint(states, latest, world=d.world)
            rows_per_step = config.batch_size * d.world * grad_accum
            if marker.get("rows_per_step", rows_per_step) != rows_per_step or marker.get("total_steps", total_steps) != total_steps:
                log.warning(
                    "%s was saved with %s rows/step and %s total steps, this run has %d and %d: the data order "
                    "and LR schedule will not continue exactly; keep batch_size x world x grad_accum and the "
                    "step count unchanged to resume exactly", latest, marker.get("rows_per_step"),
                    marker.get("total_steps"), rows_per_step, total_steps,
                )
            log.info("resumed from %s at step %d", latest, state.step)
    start = state.step
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLog(out / "metrics.jsonl", enabled=d.is_main, truncate_after=start,
                         tensorboard=config.tensorboard)
    record = _run_record(config, d, tokenizer, tok_stats, plan, total_steps, grad_accum, n_params, len(rows), start)
    record["packing"] = {"packed": packing, "chosen": layout_costs is not None,
                         **({"estimated_cost": layout_costs} if layout_costs else {})}
    if d.is_main:
        write_json(out / "run.json", record, default=str)

    # ---- 5. the loop ---------------------------------------------------------------------------
    model.train()
    head = TargetLogits(model)
    cache: dict = {}
    stopped_early = False
    bar = tqdm(total=total_steps, initial=start, desc="train", disable=not d.is_main, dynamic_ncols=True)
    with _Preemption() as preempt:
        for step in range(start, total_steps):
            t0 = time.perf_counter()
            micro = plan.step_micro_batches(step, cache)
            step_targets = max(1, sum(row_targets[r] for rank_mb in micro for mb in rank_mb for r in mb))
            loss_sum = torch.zeros((), device=d.device)
            n_tokens = n_examples = 0
            for m, rows_mb in enumerate(micro[d.rank]):
                batch = collate([rows[r] for r in rows_mb], examples, tokenizer.pad_token_id, flatten=flatten)
                if sharded:  # reduce-scatter gradients only after the last micro-batch of the step
                    model.set_requires_gradient_sync(m == grad_accum - 1)
                # position_ids restarting at 0 mark the examples of a packed row (block mask);
                # rows of one example need none: the causal kernel is exact for them
                position_ids = None if batch["one_per_row"] else batch["position_ids"].to(d.device)
                # the output layer runs at target positions only (TargetLogits): same loss, less compute
                targets = batch["targets"].flatten()
                index = (targets != IGNORE_INDEX).nonzero().squeeze(1)
                logits = head.logits(model, index.to(d.device), input_ids=batch["input_ids"].to(d.device),
                                     position_ids=position_ids, use_cache=False)
                token_loss = F.cross_entropy(logits.float(), targets[index].to(d.device), reduction="sum")
                (token_loss * (d.world / step_targets)).backward()
                loss_sum += token_loss.detach()
                n_tokens += batch["n_tokens"]
                n_examples += batch["n_examples"]
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm or float("inf"))
            if hasattr(grad_norm, "full_tensor"):
                grad_norm = grad_norm.full_tensor()
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            # One all-reduce per step: loss, token and example counts, and the SIGTERM flag.
            stats = torch.tensor([loss_sum.item(), n_tokens, n_examples, float(preempt.requested)], dtype=torch.float64, device=d.device)
            dist.all_reduce(stats)
            dt = time.perf_counter() - t0
            loss = stats[0].item() / step_targets
            state.advance(steps_per_epoch=plan.steps_per_epoch, examples=int(stats[2]), tokens=int(stats[1]))
            if d.is_main and ((step + 1) % config.log_every == 0 or step + 1 == total_steps):
                tps = stats[1].item() / dt
                metrics.write({
                    "step": step + 1, "epoch": (step + 1) / plan.steps_per_epoch, "loss": loss, "lr": lr,
                    "grad_norm": grad_norm.item(), "tokens_per_s": tps, "examples_per_s": stats[2].item() / dt,
                    "target_tokens": step_targets, "tokens": int(stats[1]), "step_time_s": dt,
                    "peak_memory_mb": peak_memory_mb(d.device), "mfu": mfu(n_params, tps, d.device, d.world),
                })
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")

            if not math.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} at step {step + 1}; lower lr or check the data")
            preempted = stats[3].item() > 0
            stop = preempted or step + 1 == config.stop_after
            if stop or (config.save_every and (step + 1) % config.save_every == 0):
                ckpt.save_checkpoint(states, out, step + 1, rank=d.rank, world=d.world, keep=config.keep_checkpoints,
                                     extra={"total_steps": total_steps, "rows_per_step": plan.batch_size * d.world * grad_accum,
                                            "config": config.to_dict()})
            if stop:
                stopped_early = True
                log.warning("stopped (%s) after step %d of %d; rerun with resume=true to continue",
                            "SIGTERM" if preempted else "stop_after", step + 1, total_steps)
                break
    bar.close()
    metrics.close()
    head.remove()

    # ---- 6. final model --------------------------------------------------------------------
    if config.save_final and not stopped_early:
        # SIGTERM here is pre-emption too: the export stops, a checkpoint of the finished steps is
        # written (as in the loop), and resume=true then only writes final/; the run is never lost
        with _Preemption() as preempt:
            if ckpt.save_final(model, tokenizer, out / "final", rank=d.rank,
                               interrupted=lambda: preempt.requested) is None:
                ckpt.save_checkpoint(states, out, state.step, rank=d.rank, world=d.world, keep=config.keep_checkpoints,
                                     extra={"total_steps": total_steps, "rows_per_step": plan.batch_size * d.world * grad_accum,
                                            "config": config.to_dict()})
                stopped_early = True
                log.warning("stopped (SIGTERM) during the final save after step %d of %d; rerun with resume=true to "
                            "write final/", state.step, total_steps)
    record.update(finished=not stopped_early, steps_done=state.step, examples_seen=state.examples,
                  tokens_seen=state.tokens)
    if d.is_main:
        write_json(out / "run.json", record, default=str)
    dist.barrier()
    return record


def _run_record(config, d, tokenizer, tok_stats, plan, total_steps, grad_accum, n_params, n_rows, start) -> dict:
    import transformers

    return {
        "format": "tuning-train-run/1",
        "config": config.to_dict(),
        "world_size": d.world,
        "device": str(d.device) if d.device.type == "cpu" else torch.cuda.get_device_name(d.device),
        "grad_accum": grad_accum,
        "rows_per_step": plan.batch_size * d.world * grad_accum,
        "steps_per_epoch": plan.steps_per_epoch,
        "total_steps": total_steps,
        "resumed_from_step": start,
        "parameters": n_params,
        "rows": n_rows,
        "tokenize": dict(tok_stats),
        "data_sha256": sha256_file(config.data),
        "pad_token_id": tokenizer.pad_token_id,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }

