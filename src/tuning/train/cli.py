"""``tuning train CONFIG.yaml [key=value ...]``: one call of tuning.train.train.

Launch with ``python -m tuning train ...`` (one process) or
``torchrun --nproc_per_node N -m tuning train ...``; see docs/training.md. Torch is imported
only when the command runs, so ``tuning --help`` stays fast.
"""

from __future__ import annotations

import argparse
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
    from tuning.train.trainer import train

    train(config)
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
