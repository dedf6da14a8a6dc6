"""Model loading for training: process group, meta-device init, FSDP2 wrapping, checkpointing.

The recipe (as in torchtitan / torchtune):

1. every rank builds the model from its config on the ``meta`` device (no memory, no init);
2. activation checkpointing (optional) wraps each decoder block;
3. ``fully_shard`` each decoder block, then the root, so parameters are sharded across ranks
   and gathered one block at a time. On GPU the policy computes in bf16 and reduces gradients
   in fp32 (``MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)``); the sharded master
   weights and the optimiser stay fp32. On CPU everything is fp32. A world of one in fp32 is
   not wrapped at all: there is nothing to shard and FSDP2 would only slow every step;
4. ``to_empty`` allocates the local shards, then rank 0 reads the Hugging Face checkpoint and
   ``set_model_state_dict(..., full_state_dict=True, broadcast_from_rank0=True)`` scatters it,
   so only rank 0 ever holds a full copy. Non-persistent buffers (rotary ``inv_freq``) are not
   in any checkpoint: rank 0 takes them from its loaded copy and broadcasts them.

A single process without torchrun gets a world of one (a gloo/nccl group over a HashStore), so
the same loop, checkpoints and collectives run everywhere.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from tuning.errors import InputError
from tuning.data.tokenize import load_tokenizer as load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """Join the torchrun process group (env:// rendezvous), or make a group of one."""
    cuda = torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
    else:
        rank, world, local_rank = 0, 1, 0
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
            dist.init_process_group(backend, device_id=device if cuda else None)
        else:
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return Dist(rank=rank, world=world, local_rank=local_rank, device=device)


def load_tokenizer(model_dir: str):
    """The model directory's tokenizer, with a pad token distinct from EOS (added if missing)."""

    return load(model_dir, pad_token=True, hint="`model` must be a Hugging Face model directory")


def compute_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"bf16": torch.bfloat16, "fp32": torch.float32}[name]


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks (``model.model.layers`` for Llama, Qwen, Mistral, Gemma)."""
    base = getattr(model, getattr(model, "base_model_prefix", "model"), None)
    layers = getattr(base, "layers", None)
    if layers is None:
        layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        raise InputError(f"{type(model).__name__}: cannot find the decoder blocks (model.model.layers); this model family is not supported")
    return list(layers)


def build_model(model_dir: str, dist_info: Dist, *, attn_implementation: str = "sdpa", dtype: str = "auto",
                activation_checkpointing: bool = False, vocab_size: int | None = None) -> nn.Module:
    """Build, shard and fill the model of ``model_dir`` (see the module docstring for the steps)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise InputError(f"{model_dir}: no config.json; `model` must be a Hugging Face model directory (config, safetensors, tokenizer)")
    try:
        config = AutoConfig.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{model_dir}/config.json: transformers cannot read it ({_short(exc)}); `model` must be a "
                         "Hugging Face model directory with a known model_type") from None
    config._attn_implementation = attn_implementation
    full_sd, buffers = {}, {}
    if dist_info.is_main:
        # fp32 master weights: mixed precision comes from the FSDP policy, not the stored dtype.
        ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attn_implementation)
        if vocab_size is not None and vocab_size > ref.get_input_embeddings().weight.shape[0]:
            ref.resize_token_embeddings(vocab_size)  # a pad token was added to the tokenizer
        full_sd = ref.state_dict()
        buffers = dict(ref.named_buffers())
        config = ref.config
        del ref
    if dist_info.world > 1:
        box = [config]
        dist.broadcast_object_list(box, src=0)
        config = box[0]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation=attn_implementation)
    if activation_checkpointing:
        apply_activation_checkpointing(model)
    param_dtype = compute_dtype(dtype, dist_info.device)
    if dist_info.world > 1 or param_dtype != torch.float32:
        shard(model, param_dtype, dist_info.device)
    # else: one process in fp32 has nothing to shard and no mixed precision to apply; FSDP2
    # would only add DTensor dispatch to every optimiser and gradient-norm op (the same numbers)
    model.to_empty(device=dist_info.device)
    set_model_state_dict(model, full_sd, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    persistent = set(model.state_dict().keys())
    for name, buf in model.named_buffers():
        if name in persistent:
            continue
        src = buffers[name].to(dist_info.device) if dist_info.is_main else torch.empty_like(buf)
        if dist_info.world > 1:
            dist.broadcast(src, 0)
        buf.copy_(src)
    model.train()
    return model


def shard(model: nn.Module, param_dtype: torch.dtype, device: torch.device) -> None:
    """FSDP2: shard every decoder block, then the root (embeddings, final norm, LM head)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    kwargs = {}
    if param_dtype != torch.float32:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    layers = decoder_layers(model)
    for i, layer in enumerate(layers):
        # The last block's parameters are needed again at once by the root's backward, so
        # keeping them gathered after forward saves one all-gather per step.
        fully_shard(layer, reshard_after_forward=i < len(layers) - 1, **kwargs)
    fully_shard(model, **kwargs)


def apply_activation_checkpointing(model: nn.Module) -> None:
    """Recompute each decoder block in backward instead of storing its activations.

    Uses transformers' own mechanism (non-reentrant torch.utils.checkpoint per block), which
    leaves parameter names unchanged, so checkpoints and final/ stay plain Hugging Face names.
    """
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False


def is_sharded(model: nn.Module) -> bool:
    """Whether ``build_model`` wrapped the model with FSDP2 (its parameters are DTensors)."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def count_parameters(model: nn.Module) -> int:
    """Total (unsharded) parameter count."""
    return sum(p.numel() for p in model.parameters())


def position_parameters(model: nn.Module) -> int:
    """Parameters applied at every position: all but the input embeddings (a lookup) and the
    output layer (computed at target positions only, see ``TargetLogits``)."""
    skip = {id(m.weight) for m in (model.get_input_embeddings(), model.get_output_embeddings())
            if m is not None and getattr(m, "weight", None) is not None}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def _short(exc: BaseException, limit: int = 200) -> str:
    """First line of an exception's message, at most ``limit`` characters."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return first if len(first) <= limit else first[: limit - 3] + "..."
