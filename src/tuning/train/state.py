"""What a checkpoint holds, one ``Stateful`` entry per concern (torchtitan's layout).

    states = checkpoint_states(model, optimizer, scheduler, train_state, rank=rank)
    dcp.save(states, checkpoint_id=...)      # keys: model, optimizer, scheduler, train_state, rng

``model`` and ``optimizer`` are the sharded FSDP2 state (each rank writes its own shards; a
different world size can load them), ``scheduler`` is the LR scheduler itself (it has
``state_dict``/``load_state_dict``), ``train_state`` the loop's position (:class:`TrainState`)
and ``rng`` each rank's generators, keyed by rank.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.checkpoint.stateful import Stateful


@dataclasses.dataclass
class TrainState(Stateful):
    """Where the loop is: steps done, whole epochs done, examples and tokens seen (all ranks).

    The loop advances it once per optimiser step; checkpoints save it and resume restores it,
    and the checkpoint marker and run.json report it.
    """

    step: int = 0
    epoch: int = 0
    examples: int = 0
    tokens: int = 0

    def advance(self, *, steps_per_epoch: int, examples: int, tokens: int) -> None:
        """One optimiser step done, which read ``examples`` examples and ``tokens`` tokens."""
        self.step += 1
        self.epoch = self.step // steps_per_epoch
        self.examples += examples
        self.tokens += tokens

    def state_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, int(state_dict[field.name]))


class ModelState(Stateful):
    """The (sharded) model's parameters and buffers, loaded in place."""

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def state_dict(self) -> dict[str, Any]:
        return get_model_state_dict(self.model)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        set_model_state_dict(self.model, state_dict)


class OptimizerState(Stateful):
    """The optimiser's state, keyed by parameter name (needs the model to name them)."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer

    def state_dict(self) -> dict[str, Any]:
        return get_optimizer_state_dict(self.model, self.optimizer)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        set_optimizer_state_dict(self.model, self.optimizer, state_dict)


class RngState(Stateful):
    """This rank's CPU (and CUDA) generator state under ``rank{N}``: each rank restores its own
    (dropout, sampling layers), so it is only loaded when the world size is unchanged."""

    def __init__(self, rank: int):
        self.key = f"rank{rank}"

    def state_dict(self) -> dict[str, Any]:
        rng = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state()
        return {self.key: rng}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        rng = state_dict.get(self.key)
        if rng is None:
            return
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])


def checkpoint_states(model, optimizer, scheduler, train_state: TrainState, *, rank: int) -> dict[str, Stateful]:
    """The entries of a checkpoint, in the order they are saved and loaded."""
    return {
        "model": ModelState(model),
        "optimizer": OptimizerState(model, optimizer),
        "scheduler": scheduler,
        "train_state": train_state,
        "rng": RngState(rank),
    }
