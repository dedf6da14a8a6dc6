"""The training configuration: a dataclass schema read from YAML plus ``key=value`` overrides.

Defaults follow the Stanford Alpaca recipe for full fine-tuning: 3 epochs, AdamW at lr 2e-5
with a cosine schedule and 3% warmup, an effective batch of 128 rows, sequences of at most 512
tokens, and the loss on the response tokens only.

An override is ``key=value`` where ``value`` uses YAML syntax (``max_steps=null``,
``packing=false``, ``lr=1e-4``). Every key and value is checked once, here, by ``SCHEMA``: the
dataclass's fields with the bounds and choices ``declared`` on them (budgetlaw.fileio.schema); an
unknown key, a value of the wrong type or out of bounds is an ``InputError`` naming the key, where
it came from, and the fix.
The YAML is read strictly: a key given twice (in the file, or twice among the overrides) is
refused rather than the last one silently winning, and only ``true``/``false`` are booleans
(YAML 1.1's ``yes``, ``no``, ``on``, ``off`` stay words, so ``packing=off`` is refused instead of
being read as false).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from budgetlaw.fileio import Schema, check_output, declared, read_json, read_yaml, yaml_value
from tuning.data.reading import sha256_file
from tuning.errors import InputError


@dataclass(frozen=True)
class TrainConfig:
    """One training job. Paths are kept as given (str); see docs/training.md for every key."""

    model: str  # Hugging Face model directory (config, safetensors weights, tokenizer)
    data: str  # mixture JSONL (tuning mix), one record per line
    output_dir: str
    epochs: float = declared(3.0, above=0)
    max_steps: Optional[int] = declared(None, minimum=1)  # optimiser steps; wins over epochs when set
    stop_after: Optional[int] = declared(None, minimum=1)  # stop (with a checkpoint) after this step; the schedule is unchanged
    seq_len: int = declared(512, minimum=8)  # tokens
    batch_size: int = declared(4, minimum=1)  # rows per process per micro-step
    grad_accum: Optional[int] = declared(None, minimum=1)  # None: global_batch_size / (batch_size * world)
    global_batch_size: int = declared(128, minimum=1)  # rows per optimiser step, used only when grad_accum is None
    lr: float = declared(2e-5, above=0)
    min_lr_ratio: float = declared(0.0, minimum=0, maximum=1)  # cosine decays to lr * min_lr_ratio
    warmup_ratio: float = declared(0.03, minimum=0, below=1)
    weight_decay: float = declared(0.0, minimum=0)
    adam_beta1: float = declared(0.9, minimum=0, below=1)
    adam_beta2: float = declared(0.999, minimum=0, below=1)
    adam_eps: float = declared(1e-8, above=0)
    max_grad_norm: float = declared(1.0, minimum=0, hint="0 disables clipping")  # the norm is still logged
    packing: Optional[bool] = None  # None: chosen per run (train.data.choose_packing)
    activation_checkpointing: bool = False
    attn_implementation: str = declared("sdpa", choices=("sdpa", "eager", "flash_attention_2", "flex_attention"))
    dtype: str = declared("auto", choices=("auto", "bf16", "fp32"))  # in compute: auto (bf16 on GPU, fp32 on CPU)
    chat_template: bool = False  # render prompts with the tokenizer's chat template
    save_every: int = declared(0, minimum=0, hint="0 = never")  # steps between distributed checkpoints
    keep_checkpoints: int = declared(2, minimum=0, hint="0 = keep all")  # newest complete checkpoints kept
    resume: bool = False
    save_final: bool = True
    seed: int = 0
    log_every: int = declared(1, minimum=1)  # steps between metrics.jsonl rows
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard package)

    def __post_init__(self) -> None:
        SCHEMA.check(dataclasses.asdict(self), error=InputError)  # built in code, not read: checked all the same

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> "TrainConfig":
        return _build(dict(data), where)

    def replace(self, **changes: Any) -> "TrainConfig":
        return self.from_dict({**self.to_dict(), **changes})


#: every key with its type, default and bounds, declared above; the one check of a config
SCHEMA = Schema.of(TrainConfig, label="key {!r}", noun="config key", listing="known keys",
                   fix="set them in the YAML or as key=value")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a YAML config (a mapping of keys to values) and apply ``key=value`` overrides."""
    data: dict[str, Any] = {}
    where = "overrides"
    if path is not None:
        where = str(path)
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: config file not found; pass the path of a YAML file of training keys")
        loaded = read_yaml(p, what="config", error=InputError)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise InputError(f"{p}: the config must be a mapping of key: value, got {type(loaded).__name__}")
        data.update(loaded)
    given: set[str] = set()
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"override {item!r}: write overrides as key=value (YAML value syntax, e.g. max_steps=null)")
        if key in given:
            raise InputError(f"override {item!r}: {key} is given twice among the overrides; give it once")
        given.add(key)
        data[key] = yaml_value(text, where=f"override {item!r}", error=InputError)
    return _build(data, where + (" + overrides" if path is not None and overrides else ""))


def check_paths(config: TrainConfig) -> None:
    """Check the input paths before any work starts (the model is a local directory: no hub)."""
    model = Path(config.model)
    if not (model / "config.json").is_file():
        raise InputError(
            f"model {config.model!r}: not a Hugging Face model directory (no config.json); "
            "point `model` at a local directory with config.json, safetensors weights and the tokenizer"
        )
    if not Path(config.data).is_file():
        raise InputError(f"data {config.data!r}: mixture file not found; set `data` to a mixture JSONL written by `tuning mix`")
    out = Path(config.output_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output_dir {config.output_dir!r} exists and is not a directory; choose another path")
    check_output(out, [config.data, config.model], kind="dir", option="output_dir")
    _check_positions(config)
    if config.resume:
        _check_same_data(config)


def _check_positions(config: TrainConfig) -> None:
    """seq_len may not exceed the positions the model has (max_position_embeddings, or
    n_positions for GPT-2-style configs): longer rows would index past the position table."""
    import json

    try:
        model_config = json.loads((Path(config.model) / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return  # transformers reports an unreadable config.json when the model loads
    if not isinstance(model_config, dict):
        return
    positions = model_config.get("max_position_embeddings", model_config.get("n_positions"))
    if isinstance(positions, int) and not isinstance(positions, bool) and 0 < positions < config.seq_len:
        raise InputError(f"key 'seq_len' = {config.seq_len}: the model {config.model!r} has {positions} positions "
                         f"(max_position_embeddings in its config.json); set seq_len <= {positions}")


def _check_same_data(config: TrainConfig) -> None:
    """resume=true continues a run on the data it was started on: run.json records the sha256
    of the mixture; another mixture would continue the schedule on other examples."""
    record_path = Path(config.output_dir) / "run.json"
    if not (Path(config.output_dir) / "checkpoints").is_dir() or not record_path.is_file():
        return  # nothing to resume (resume=true then starts afresh)
    record = read_json(record_path, error=InputError, message=lambda exc: f"{record_path}: unreadable ({str(exc)[:120]}); it records the run to "
                                                "resume: restore it, or start afresh in a new output_dir")
    recorded = record.get("data_sha256") if isinstance(record, dict) else None
    if isinstance(recorded, str) and recorded != sha256_file(config.data):
        was = (record.get("config") or {}).get("data") if isinstance(record.get("config"), dict) else None
        raise InputError(f"data {config.data!r}: not the mixture the run in {config.output_dir!r} was started on "
                         f"({was!r}, sha256 {recorded[:12]}...); resume with that data, or start afresh in a new "
                         "output_dir")


def _build(data: dict[str, Any], where: str) -> TrainConfig:
    return TrainConfig(**SCHEMA.check(data, where, error=InputError))
