"""``tuning train CONFIG.yaml [key=value ...]``: one call of tuning.train.train.

Launch with ``python -m tuning train ...`` (one process) or
``torchrun --nproc_per_node N -m tuning train ...``; see docs/training.md. Torch is imported
only when the command runs, so ``tuning --help`` stays fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import logging
import os
from tuning.train.config import load_config


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="full-parameter instruction tuning (FSDP2) on a mixture",
        description="Train a Hugging Face causal LM on a mixture JSONL. Keys are documented in "
        "docs/training.md; overrides use YAML value syntax, e.g. max_steps=null lr=1e-5.",
    )
    p.add_argument("config", help="YAML file of training keys")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override a key of the config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    if int(os.environ.get("RANK", "0")) != 0:
        logging.getLogger().setLevel(logging.WARNING)  # one copy of the log, from rank 0
    with _collector_for_one_job() as started:
        from tuning.train.trainer import train

        train(config, started=started)
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


@contextlib.contextmanager
def _collector_for_one_job():
    """The cyclic garbage collector while one job starts, runs and exits; yields the callback
    for the end of start-up.

    Start-up (importing torch and transformers, the tokenizer, the model) makes some 300k
    objects that live to the end of the job, and the collector's full passes over them, while
    they are made and again when the interpreter exits, took 0.5 s and 0.6 s of every run on the
    2-core CPU machine (docs/benchmarks/train.md). So it is off during start-up; then what exists
    is frozen (``gc.freeze``: left out of later passes, still freed by reference counting) and
    it runs as usual through the loop (the ~11k unreachable objects start-up leaves are kept
    with it; a pass to free them first would cost 0.2 s). On the way out everything is
    unfrozen, so an in-process caller's objects are collectable again, and frozen once more at
    interpreter exit. Losses and saved bytes are the same either way.
    """
    enabled = gc.isenabled()

    def started() -> None:
        gc.freeze()
        if enabled:
            gc.enable()

    gc.disable()
    try:
        yield started
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
        atexit.register(gc.freeze)
