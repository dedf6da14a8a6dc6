"""Distributed checkpoints (torch.distributed.checkpoint) and the final Hugging Face directory.

Layout under ``output_dir``::

    checkpoints/step-N/          one complete checkpoint (DCP shards + .metadata)
    checkpoints/step-N/trainer_state.json   written last: the completion marker
    checkpoints/step-N.tmp/      a checkpoint being written (ignored, removed on the next save)
    final/                       config.json, model.safetensors, tokenizer files

A checkpoint is written into ``step-N.tmp``; after every rank has finished, rank 0 writes
``trainer_state.json`` into it and renames the directory to ``step-N``. A crash at any point
leaves either a ``.tmp`` directory or a directory without the marker, and ``latest_checkpoint``
only returns directories named ``step-N`` that hold the marker. The rename needs the checkpoint
directory on a filesystem every rank sees (any multi-node run needs that anyway).

Trust: torch.distributed.checkpoint reads ``.metadata`` with ``pickle``, so loading a checkpoint
runs whatever that file says. The marker records the sha256 of the ``.metadata`` this trainer
wrote (``metadata_sha256``), and :func:`load_checkpoint` refuses a checkpoint whose marker is
missing, of another format, or does not match its ``.metadata``: a checkpoint written by
something else, damaged, or swapped after the save is never unpickled. The shards themselves
are read with ``torch.load(weights_only=True)``. This cannot stop someone who may write to
``output_dir`` and forge both files: ``output_dir`` must be a folder only trusted accounts can
write (docs/guarantees.md).

A checkpoint holds the ``Stateful`` entries of :func:`tuning.train.state.checkpoint_states`:
``model`` and ``optimizer`` (sharded: each rank writes its own shards; a different world size
can load them), ``scheduler``, ``train_state`` (:class:`~tuning.train.state.TrainState`: step,
epoch, examples and tokens seen; the marker repeats it as ``progress``) and ``rng`` (each rank's
generators). Checkpoints of the earlier single-entry layout have marker format
``tuning-checkpoint/1`` and are refused with the message for a foreign marker.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.checkpoint.stateful import Stateful

from budgetlaw.fileio import chmod_tree, read_json, write_json

from tuning.data.reading import sha256_file
from tuning.errors import InputError

log = logging.getLogger(__name__)

MARKER = "trainer_state.json"
MARKER_FORMAT = "tuning-checkpoint/2"  # /1: one "app" entry, not loadable by this layout
METADATA = ".metadata"  # DCP's pickled index of the shards
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (``step-N`` holding the marker), or None."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return None
    found = []
    for d in root.iterdir():
        m = _STEP_DIR.match(d.name)
        if m and d.is_dir() and (d / MARKER).is_file():
            found.append((int(m.group(1)), d))
    return max(found)[1] if found else None


def read_marker(path: str | Path) -> dict[str, Any]:
    p = Path(path) / MARKER
    return read_json(p, error=InputError, message=lambda exc: f"{p}: unreadable checkpoint marker ({str(exc)[:200]}); delete {Path(path)} "
                                    "to resume from an older one")


def save_checkpoint(states: dict[str, Stateful], output_dir: str | Path, step: int, *, rank: int, world: int,
                    keep: int = 0, extra: dict[str, Any] | None = None) -> Path:
    """Write ``checkpoints/step-{step}`` atomically (see the module docstring); collective.

    ``states`` are the entries of :func:`tuning.train.state.checkpoint_states`."""
    root = checkpoint_root(output_dir)
    final = root / f"step-{step}"
    tmp = root / f"step-{step}.tmp"
    main = rank == 0
    if main:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)  # a leftover from a crashed save
    dist.barrier()
    t0 = time.perf_counter()
    dcp.save(states, checkpoint_id=str(tmp))
    dist.barrier()  # every rank's shards are on disk before the marker
    if main:
        marker = {
            "format": MARKER_FORMAT,
            "metadata_sha256": sha256_file(tmp / METADATA),
            "step": step,
            "world_size": world,
            "progress": states["train_state"].state_dict(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "torch": torch.__version__,
            **(extra or {}),
        }
        write_json(tmp / MARKER, marker)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        _prune(root, keep)
        log.info("saved checkpoint %s in %.1fs", final, time.perf_counter() - t0)
    dist.barrier()
    return final


def load_checkpoint(states: dict[str, Stateful], path: str | Path, *, world: int) -> dict[str, Any]:
    """Load ``path`` into ``states`` in place; returns the marker. RNG state is restored only
    when the world size matches the one that saved it (ranks would not line up otherwise)."""
    marker = read_marker(path)
    check_trusted(path, marker)
    if marker.get("world_size") != world:
        states = {key: value for key, value in states.items() if key != "rng"}
    try:
        dcp.load(states, checkpoint_id=str(path))
    except (Exception, dcp.CheckpointException) as exc:
        # torch raises AssertionError, RuntimeError, pickle errors on damaged files, and wraps what
        # a rank raised (a truncated, empty, random or missing shard, a tensor of another shape) in
        # CheckpointException, a BaseException: the first rank's own exception is the message
        cause = _first_failure(exc)
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
        raise InputError(f"{path}: cannot load the checkpoint ({type(cause).__name__}: {first}); it is damaged or "
                         "does not fit this model (another model's run folder?): delete it to resume from an older "
                         "one, or set resume=false with a new output_dir") from None
    return marker


def _first_failure(exc: BaseException) -> BaseException:
    failures = getattr(exc, "failures", None)
    if isinstance(failures, dict) and failures:
        pair = failures[min(failures)]
        inner = pair[0] if isinstance(pair, tuple) else pair
        if isinstance(inner, BaseException):
            return inner
    return exc


def check_trusted(path: str | Path, marker: dict[str, Any]) -> None:
    """Refuse a checkpoint this trainer did not write (see the module docstring: Trust)."""
    path = Path(path)
    meta = path / METADATA
    if marker.get("format") != MARKER_FORMAT or not isinstance(marker.get("metadata_sha256"), str):
        raise InputError(f"{path}: its {MARKER} does not record the sha256 of {METADATA} (not written by this "
                         "version of the trainer); it is not loaded, because loading unpickles that file: start "
                         "afresh in a new output_dir, or delete this checkpoint to resume from an older one")
    if not meta.is_file():
        raise InputError(f"{path}: no {METADATA}; the checkpoint is incomplete: delete it to resume from an older one")
    if sha256_file(meta) != marker["metadata_sha256"]:
        raise InputError(f"{meta}: does not match the sha256 its {MARKER} recorded (changed after the save); it is "
                         "not loaded, because loading unpickles it: delete this checkpoint to resume from an older one")


def save_final(model, tokenizer, out_dir: str | Path, *, rank: int, interrupted=lambda: False) -> Path | None:
    """Gather the full state dict (to rank 0's CPU) and write a Hugging Face directory.

    Written to ``final.tmp`` and renamed, so ``final/`` is always complete; collective. When
    ``interrupted()`` (SIGTERM, deferred by the caller) turns true on rank 0 before the rename,
    ``final.tmp`` is removed and None is returned on every rank: the caller then writes a
    checkpoint, from which ``resume=true`` writes ``final/``.
    """
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    done = torch.zeros(1, dtype=torch.float64, device=_device_of(model))
    if rank == 0:
        if tmp.exists():
            shutil.rmtree(tmp)
        if not interrupted():
            model.save_pretrained(tmp, state_dict=sd, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            chmod_tree(tmp)  # safetensors writes 0600: give the export the ordinary modes under the umask
        if interrupted():  # before or during the write: no half export, no final.tmp left
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
            done += 1
            log.info("saved the final model to %s", out)
    dist.broadcast(done, src=0)  # every rank learns whether final/ was written
    return out if done.item() > 0 else None


def _device_of(model) -> torch.device:
    """The device collectives of this process group use: the model's (cuda for NCCL), else CPU."""
    try:
        device = next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")
    return device if device.type == "cuda" else torch.device("cpu")


def _prune(root: Path, keep: int) -> None:
    if keep <= 0:
        return
    done = sorted(
        (int(m.group(1)), d) for d in root.iterdir()
        if (m := _STEP_DIR.match(d.name)) and (d / MARKER).is_file()
    )
    for _, d in done[:-keep]:
        shutil.rmtree(d, ignore_errors=True)

