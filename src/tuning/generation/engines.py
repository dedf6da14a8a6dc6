"""Optional inference engines behind :func:`tuning.generation.generate`: CTranslate2 and vLLM.

Neither is a dependency of the package: each is imported when asked for, and a missing one is a
one-line :class:`~tuning.errors.InputError` naming the package to install. Both are greedy only
(sampling stays with the torch backends, whose seeded draws the signatures describe) and take a
model directory (they load the weights themselves).

- ``ctranslate2`` (CPU or GPU wheels on PyPI): the Hugging Face directory is converted once
  (``ctranslate2.converters.TransformersConverter``, a few seconds for a small model) into a
  cache folder keyed by the directory's path and the time its weights were written, then
  ``Generator.generate_batch`` with ``sampling_topk=1`` decodes the same token ids the torch
  path sees (the prompts are tokenised here, not by the engine).
- ``vllm`` (GPU only): ``LLM.generate`` with ``temperature=0`` on the same token ids.

Greedy outputs of an engine can differ from the torch path where two tokens are nearly tied
(other kernels, other summation order); ``benchmarks/eval_speed.py`` counts them.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tuning.errors import InputError
from tuning.generation.batching import length_batches

log = logging.getLogger(__name__)

_PACKAGES = {"ctranslate2": "ctranslate2", "vllm": "vllm"}


def require(backend: str):
    """The engine's module, or an InputError that says how to install it."""
    try:
        return importlib.import_module(_PACKAGES[backend])
    except ImportError:
        raise InputError(f"backend {backend!r} needs the optional package {_PACKAGES[backend]!r}, which is not "
                         f"installed; `pip install {_PACKAGES[backend]}` or use --backend torch") from None


def available(backend: str) -> bool:
    """Whether the engine's package can be imported here."""
    try:
        require(backend)
    except InputError:
        return False
    return True


def engine_generate(backend: str, model_dir, prompts: Sequence[str], *, tokenizer=None, batch_size: int = 16,
                    max_new_tokens: int = 256, do_sample: bool = False, add_special_tokens: bool = True,
                    max_prompt_tokens: int | None = None, sort_by_length: bool = True, device: str | None = None,
                    dtype: str | None = None, progress: bool = True,
                    on_batch: Callable[[list[int], list[str]], None] | None = None) -> list[str]:
    """Greedy completions from an engine; arguments as :func:`tuning.generation.generate`."""
    module = require(backend)
    if do_sample:
        raise InputError(f"backend {backend!r} is greedy only here; sample with --backend torch")
    if not isinstance(model_dir, (str, Path)):
        # a model loaded by from_pretrained knows its directory; the engine reads the files itself
        model_dir = getattr(model_dir, "name_or_path", "") or ""
        if not model_dir or not Path(model_dir).is_dir():
            raise InputError(f"backend {backend!r} loads the model itself: pass a model directory (or a model "
                             "loaded from one), not a model built in memory")
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise InputError(f"model directory {path} has no config.json; pass the folder written by save_pretrained")
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)

    prompts = list(prompts)
    encoded = [tokenizer(p, add_special_tokens=add_special_tokens)["input_ids"] for p in prompts]
    if max_prompt_tokens:
        encoded = [ids[-max_prompt_tokens:] for ids in encoded]
    batches = length_batches([len(e) for e in encoded], batch_size, sort_by_length)
    run = _ctranslate2 if backend == "ctranslate2" else _vllm
    decode = run(module, path, tokenizer, max_new_tokens, device, dtype)
    outputs: list[str] = [""] * len(prompts)
    for batch in batches:
        rows = decode([encoded[i] for i in batch])
        eos = tokenizer.eos_token_id
        texts = [tokenizer.decode(r[: r.index(eos)] if eos in r else r, skip_special_tokens=True) for r in rows]
        for i, text in zip(batch, texts):
            outputs[i] = text
        if on_batch is not None:
            on_batch(list(batch), texts)
    return outputs


def _ctranslate2(ct2, path: Path, tokenizer, max_new_tokens: int, device, dtype):
    device = device or ("cuda" if ct2.get_cuda_device_count() > 0 else "cpu")
    compute = {None: "default", "float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}.get(dtype)
    if compute is None:
        raise InputError(f"--dtype {dtype!r}: choose float32, bfloat16 or float16")
    if device == "cpu" and compute == "default":
        compute = "float32"  # as the torch path on the CPU
    folder = converted(path)
    import torch

    generator = ct2.Generator(str(folder), device=device, compute_type=compute,
                              intra_threads=torch.get_num_threads() if device == "cpu" else 0)
    end = tokenizer.convert_ids_to_tokens(tokenizer.eos_token_id)

    def decode(rows):
        tokens = [tokenizer.convert_ids_to_tokens(r) for r in rows]
        results = generator.generate_batch(tokens, max_length=max_new_tokens, sampling_topk=1, beam_size=1,
                                           include_prompt_in_result=False, end_token=end, max_batch_size=0)
        return [list(r.sequences_ids[0]) for r in results]

    return decode


def converted(path: Path) -> Path:
    """The CTranslate2 copy of a model directory, converted on first use (float32 weights)."""
    ct2 = require("ctranslate2")
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    stamp = max((w.stat().st_mtime_ns for w in weights), default=0)
    key = hashlib.sha256(f"{path.resolve()}|{stamp}".encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "tuning-ctranslate2" / key
    if not (folder / "model.bin").is_file():
        log.info("converting %s for CTranslate2 into %s", path, folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        # convert into a temporary sibling and rename, so an interrupted conversion is never used
        partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=key + "."))
        ct2.converters.TransformersConverter(str(path), low_cpu_mem_usage=True).convert(str(partial), force=True)
        try:
            partial.rename(folder)
        except OSError:  # another process converted it meanwhile
            pass
    return folder


def _vllm(vllm, path: Path, tokenizer, max_new_tokens: int, device, dtype):
    llm = vllm.LLM(model=str(path), dtype=dtype or "auto", seed=0)
    params = vllm.SamplingParams(temperature=0.0, max_tokens=max_new_tokens,
                                 stop_token_ids=[tokenizer.eos_token_id], skip_special_tokens=True)

    def decode(rows):
        requests = [{"prompt_token_ids": list(r)} for r in rows]
        return [list(o.outputs[0].token_ids) for o in llm.generate(requests, params, use_tqdm=False)]

    return decode
