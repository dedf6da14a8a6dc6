"""The training loop: read top to bottom, like nanoGPT's train.py.

One call of ``train(config)`` is one rank of a job (torchrun starts one per GPU; a plain
``python -m tuning train`` is a world of one). It is ``Trainer(config).train()``: the
constructor does steps 1-4, ``train`` the loop and the export (5-6), ``train_step`` one step of
the loop, and a ``Checkpointer`` decides when to save (every ``save_every`` steps, and whenever
the run must stop) and resumes. The steps:

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

import dataclasses
import logging
import math
import signal
import time
from collections.abc import Callable
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


def train(config: TrainConfig, *, started: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the job; returns the run record also written to ``output_dir/run.json``.

    ``output_dir`` is created only once the data, the model and any checkpoint have loaded, and
    a run that fails before its first file is written removes the folder it created: a failed
    start leaves no empty run folder behind. ``started`` is called once, between start-up
    (steps 1-4) and the loop."""
    out = Path(config.output_dir)
    created = not out.exists()
    try:
        trainer = Trainer(config)
        if started is not None:
            started()
        return trainer.train()
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


@dataclasses.dataclass(frozen=True)
class Layout:
    """The examples laid out in rows, and the step plan over them (step 3 above)."""

    rows: list[list[int]]  # example indices of each row
    row_lengths: tuple[int, ...]
    row_targets: list[int]  # response tokens of each row (what a step's loss is a mean over)
    plan: StepPlan
    packing: bool
    layout_costs: dict | None  # the estimates packing was chosen by; None when the config fixed it
    total_steps: int


class Checkpointer:
    """Owns the run's checkpoints: when one is due, what it holds, and resuming from the newest.

    A checkpoint is written every ``save_every`` steps and whenever the loop must stop
    (``force``: SIGTERM, ``stop_after``, or a final export cut short), always through
    :meth:`save`, so every checkpoint's marker carries the same extra keys."""

    def __init__(self, states: dict, config: TrainConfig, d, *, total_steps: int, rows_per_step: int):
        self.states, self.config, self.d = states, config, d
        self.out = Path(config.output_dir)
        self.total_steps, self.rows_per_step = total_steps, rows_per_step

    def save(self, step: int, *, force: bool = False) -> None:
        """Checkpoint after ``step`` steps when forced or when ``save_every`` says so; collective."""
        every = self.config.save_every
        if not (force or (every and step % every == 0)):
            return
        ckpt.save_checkpoint(self.states, self.out, step, rank=self.d.rank, world=self.d.world,
                             keep=self.config.keep_checkpoints,
                             extra={"total_steps": self.total_steps, "rows_per_step": self.rows_per_step,
                                    "config": self.config.to_dict()})

    def load(self) -> None:
        """Resume from the newest complete checkpoint, if any (every entry of ``states`` is
        loaded in place, the loop's position included)."""
        latest = ckpt.latest_checkpoint(self.out)
        if latest is None:
            log.info("resume=true but no complete checkpoint in %s: starting from scratch", ckpt.checkpoint_root(self.out))
            return
        marker = ckpt.load_checkpoint(self.states, latest, world=self.d.world)
        rows_per_step, total_steps = self.rows_per_step, self.total_steps
        if marker.get("rows_per_step", rows_per_step) != rows_per_step or marker.get("total_steps", total_steps) != total_steps:
            log.warning(
                "%s was saved with %s rows/step and %s total steps, this run has %d and %d: the data order "
                "and LR schedule will not continue exactly; keep batch_size x world x grad_accum and the "
                "step count unchanged to resume exactly", latest, marker.get("rows_per_step"),
                marker.get("total_steps"), rows_per_step, total_steps,
            )
        log.info("resumed from %s at step %d", latest, self.states["train_state"].step)


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What one optimiser step measured; ``stats`` is the all-reduced [loss sum, tokens,
    examples, SIGTERM flag] of every rank."""

    loss: float
    lr: float
    grad_norm: torch.Tensor
    stats: torch.Tensor
    step_time_s: float
    target_tokens: int

    @property
    def preempted(self) -> bool:
        return self.stats[3].item() > 0


class Trainer:
    """One rank of the job: ``Trainer(config)`` does steps 1-4 of the module docstring (data,
    model and optimiser, layout and schedule, resume), :meth:`train` steps 5-6."""

    def __init__(self, config: TrainConfig):
        check_paths(config)
        self.config = config
        self.out = out = Path(config.output_dir)
        if not config.resume and ckpt.latest_checkpoint(out) is not None:
            # A later resume would pick the old run's newest checkpoint: refuse rather than mix runs.
            raise InputError(f"output_dir {str(out)!r} holds checkpoints of an earlier run; set resume=true to continue "
                             "it, or choose a new output_dir (or delete its checkpoints/) to start afresh")
        self.d = d = init_distributed()
        torch.manual_seed(config.seed)

        # ---- 1. data: tokenise -------------------------------------------------------------------
        self.tokenizer = load_tokenizer(config.model)
        records = read_mixture(config.data)
        self.examples, self.tok_stats = tokenize_mixture(records, self.tokenizer, config, progress=d.is_main)
        self.grad_accum = config.grad_accum or max(1, math.ceil(config.global_batch_size / (config.batch_size * d.world)))

        # ---- 2. model, optimiser ----------------------------------------------------------------
        self.model = build_model(
            config.model, d, attn_implementation=config.attn_implementation, dtype=config.dtype,
            activation_checkpointing=config.activation_checkpointing, vocab_size=len(self.tokenizer),
        )
        self.n_params = count_parameters(self.model)
        self.sharded = is_sharded(self.model)
        # fused AdamW (one kernel for all parameters) on plain tensors; foreach on FSDP2's DTensors
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, betas=(config.adam_beta1, config.adam_beta2),
            eps=config.adam_eps, weight_decay=config.weight_decay,
            **({"foreach": True} if self.sharded else {"fused": True}),
        )

        # ---- 3. rows and the step plan (packing chosen here when the config leaves it open) -----
        self.layout = layout = self._lay_out()
        self.flatten = config.attn_implementation == "flash_attention_2"
        warmup = math.ceil(config.warmup_ratio * layout.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, partial(lr_factor, warmup=warmup, total=layout.total_steps, min_ratio=config.min_lr_ratio)
        )
        self.state = TrainState()
        states = checkpoint_states(self.model, self.optimizer, self.scheduler, self.state, rank=d.rank)
        self.checkpointer = Checkpointer(states, config, d, total_steps=layout.total_steps,
                                         rows_per_step=layout.plan.batch_size * d.world * self.grad_accum)

        # ---- 4. resume -----------------------------------------------------------------------------
        if config.resume:
            self.checkpointer.load()

    def _lay_out(self) -> Layout:
        """Rows (packed, or one example per row), the step plan and the step count; logged."""
        config, d, examples = self.config, self.d, self.examples
        lengths = [len(ex.input_ids) for ex in examples]
        layout_costs = None
        packing = config.packing
        if packing is None:
            cfg = self.model.config
            head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
            attn_width = cfg.num_hidden_layers * cfg.num_attention_heads * head_dim
            # estimated on whole steps (rows per step as one batch), so that how a step is split
            # across ranks and micro-batches never changes the choice, hence what is optimised
            packing, layout_costs = choose_packing(lengths, config.seq_len,
                                                   batch_size=config.batch_size * d.world * self.grad_accum,
                                                   world=1, grad_accum=1, seed=config.seed, n_params=self.n_params,
                                                   attn_width=attn_width,
                                                   position_params=position_parameters(self.model))
        rows = make_rows(lengths, config.seq_len, packing)
        row_lengths = tuple(sum(lengths[i] for i in row) for row in rows)
        plan = StepPlan(row_lengths, config.batch_size, d.world, self.grad_accum, config.seed,
                        group_by_length=not packing)
        total_steps = config.max_steps or max(1, math.ceil(config.epochs * plan.steps_per_epoch))
        n_targets = [sum(t != IGNORE_INDEX for t in ex.labels[1:]) for ex in examples]
        row_targets = [sum(n_targets[i] for i in row) for row in rows]
        log.info(
            "%d examples in %d rows (%s%s; %.1f%% of row tokens used), %d steps/epoch, %d steps, world %d x batch %d x accum %d",
            len(examples), len(rows), "packed" if packing else "one per row, grouped by length",
            "" if layout_costs is None else (", chosen: estimated compute grouped/packed = "
                                             f"{layout_costs['grouped'] / layout_costs['packed']:.2f}"),
            100 * sum(row_lengths) / (len(rows) * config.seq_len), plan.steps_per_epoch, total_steps, d.world,
            config.batch_size, self.grad_accum,
        )
        return Layout(rows, row_lengths, row_targets, plan, packing, layout_costs, total_steps)

    def train(self) -> dict[str, Any]:
        """Steps 5-6: the loop from the resumed step, then ``final/``; returns the run record."""
        config, d, out, layout = self.config, self.d, self.out, self.layout
        start, total_steps = self.state.step, layout.total_steps
        if d.is_main:
            out.mkdir(parents=True, exist_ok=True)
        self.metrics = MetricsLog(out / "metrics.jsonl", enabled=d.is_main, truncate_after=start,
                                  tensorboard=config.tensorboard)
        record = _run_record(config, d, self.tokenizer, self.tok_stats, layout.plan, total_steps, self.grad_accum,
                             self.n_params, len(layout.rows), start)
        record["packing"] = {"packed": layout.packing, "chosen": layout.layout_costs is not None,
                             **({"estimated_cost": layout.layout_costs} if layout.layout_costs else {})}
        if d.is_main:
            write_json(out / "run.json", record, default=str)

        # ---- 5. the loop ---------------------------------------------------------------------------
        self.model.train()
        self.head = TargetLogits(self.model)
        self._plan_cache: dict = {}
        stopped_early = False
        bar = tqdm(total=total_steps, initial=start, desc="train", disable=not d.is_main, dynamic_ncols=True)
        with _Preemption() as preempt:
            for step in range(start, total_steps):
                result = self.train_step(step, preempt)
                self._log_step(step + 1, result, bar)
                if not math.isfinite(result.loss):
                    raise FloatingPointError(f"loss became {result.loss} at step {step + 1}; lower lr or check the data")
                stop = result.preempted or step + 1 == config.stop_after
                self.checkpointer.save(step + 1, force=stop)
                if stop:
                    stopped_early = True
                    log.warning("stopped (%s) after step %d of %d; rerun with resume=true to continue",
                                "SIGTERM" if result.preempted else "stop_after", step + 1, total_steps)
                    break
        bar.close()
        self.metrics.close()
        self.head.remove()

        # ---- 6. final model --------------------------------------------------------------------
        if config.save_final and not stopped_early:
            stopped_early = not self._save_final()
        record.update(finished=not stopped_early, steps_done=self.state.step, examples_seen=self.state.examples,
                      tokens_seen=self.state.tokens)
        if d.is_main:
            write_json(out / "run.json", record, default=str)
        dist.barrier()
        return record

    def train_step(self, step: int, preempt: _Preemption) -> StepResult:
        """One optimiser step (0-based ``step``): ``grad_accum`` micro-batches of forward and
        backward on this rank, clip, update, and one all-reduce of what the step counted."""
        d, plan = self.d, self.layout.plan
        t0 = time.perf_counter()
        micro = plan.step_micro_batches(step, self._plan_cache)
        step_targets = max(1, sum(self.layout.row_targets[r] for rank_mb in micro for mb in rank_mb for r in mb))
        loss_sum = torch.zeros((), device=d.device)
        n_tokens = n_examples = 0
        for m, rows_mb in enumerate(micro[d.rank]):
            token_loss, batch = self._forward_backward(m, rows_mb, step_targets)
            loss_sum += token_loss
            n_tokens += batch["n_tokens"]
            n_examples += batch["n_examples"]
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm or float("inf"))
        if hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

        # One all-reduce per step: loss, token and example counts, and the SIGTERM flag.
        stats = torch.tensor([loss_sum.item(), n_tokens, n_examples, float(preempt.requested)], dtype=torch.float64, device=d.device)
        dist.all_reduce(stats)
        dt = time.perf_counter() - t0
        loss = stats[0].item() / step_targets
        self.state.advance(steps_per_epoch=plan.steps_per_epoch, examples=int(stats[2]), tokens=int(stats[1]))
        return StepResult(loss, lr, grad_norm, stats, dt, step_targets)

    def _forward_backward(self, m: int, rows_mb: list[int], step_targets: int):
        """Micro-batch ``m`` of the step: backpropagate ``world * loss_sum / step_targets``;
        returns the (detached) summed token loss and the collated batch."""
        d, model = self.d, self.model
        batch = collate([self.layout.rows[r] for r in rows_mb], self.examples, self.tokenizer.pad_token_id,
                        flatten=self.flatten)
        if self.sharded:  # reduce-scatter gradients only after the last micro-batch of the step
            model.set_requires_gradient_sync(m == self.grad_accum - 1)
        # position_ids restarting at 0 mark the examples of a packed row (block mask);
        # rows of one example need none: the causal kernel is exact for them
        position_ids = None if batch["one_per_row"] else batch["position_ids"].to(d.device)
        # the output layer runs at target positions only (TargetLogits): same loss, less compute
        targets = batch["targets"].flatten()
        index = (targets != IGNORE_INDEX).nonzero().squeeze(1)
        logits = self.head.logits(model, index.to(d.device), input_ids=batch["input_ids"].to(d.device),
                                  position_ids=position_ids, use_cache=False)
        token_loss = F.cross_entropy(logits.float(), targets[index].to(d.device), reduction="sum")
        (token_loss * (d.world / step_targets)).backward()
        return token_loss.detach(), batch

    def _log_step(self, done: int, r: StepResult, bar) -> None:
        """metrics.jsonl every ``log_every`` steps and at the last; the progress bar every step."""
        d, steps_per_epoch = self.d, self.layout.plan.steps_per_epoch
        if d.is_main and (done % self.config.log_every == 0 or done == self.layout.total_steps):
            tps = r.stats[1].item() / r.step_time_s
            self.metrics.write({
                "step": done, "epoch": done / steps_per_epoch, "loss": r.loss, "lr": r.lr,
                "grad_norm": r.grad_norm.item(), "tokens_per_s": tps, "examples_per_s": r.stats[2].item() / r.step_time_s,
                "target_tokens": r.target_tokens, "tokens": int(r.stats[1]), "step_time_s": r.step_time_s,
                "peak_memory_mb": peak_memory_mb(d.device), "mfu": mfu(self.n_params, tps, d.device, d.world),
            })
        bar.update(1)
        bar.set_postfix(loss=f"{r.loss:.4f}", lr=f"{r.lr:.2e}")

    def _save_final(self) -> bool:
        """Write ``final/``; False when SIGTERM cut the export short (a checkpoint is written instead)."""
        # SIGTERM here is pre-emption too: the export stops, a checkpoint of the finished steps is
        # written (as in the loop), and resume=true then only writes final/; the run is never lost
        with _Preemption() as preempt:
            if ckpt.save_final(self.model, self.tokenizer, self.out / "final", rank=self.d.rank,
                               interrupted=lambda: preempt.requested) is not None:
                return True
            self.checkpointer.save(self.state.step, force=True)
            log.warning("stopped (SIGTERM) during the final save after step %d of %d; rerun with resume=true to "
                        "write final/", self.state.step, self.layout.total_steps)
            return False


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

