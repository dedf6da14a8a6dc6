"""The checks ``tuning study run`` makes on the study's files before any job runs or anything is
written, in seconds (tuning.study.spec checks the file's keys; these read what the keys name):

- the model: a hub name must be in the local cache or the hub reachable (offline: said so);
  ``train.seq_len`` at most the model's positions (config.json or the GGUF's context length,
  no weights read); ``prompt: chat`` needs a chat template in the tokenizer;
- the instruction files parse (Alpaca JSON/JSONL, every record);
- the held-out sets: each file whole and non-empty, ``heldout: N`` drawable from the corpus;
- each language's corpus, less every held-out message (the mixtures drop them), holds the
  distinct pairs of the largest fixed mixture the study gives it (pilots, extrapolation,
  repetition, leave-one-out, random splits, the transfer stage's uniform models).

Every refusal is one tuning.InputError line naming the key and the fix.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tuning.convert import _check_gguf
from tuning.data.instructions import read_instructions
from tuning.data.readers import open_pairs
from tuning.data.sampling import normalize
from tuning.errors import InputError
from tuning.study.graph import build_jobs
from tuning.study.steps import heldout_pairs

#: config.json keys that hold a model's positions, in the order transformers' models use them
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")
HUB = ("huggingface.co", 443)


def check_study(study) -> None:
    """Every check of the module docstring; InputError at the first problem."""
    where = str(study.path)
    files = _model_files(study, where)
    _positions(study, files, where)
    _chat_template(study, files, where)
    _instructions(study, where)
    _corpora(study, where)


# -- the model --------------------------------------------------------------------------------------
def _model_files(study, where: str) -> dict:
    """{"config": dict or None, "tokenizer": dict or None, "template": bool, "gguf": (positions,
    template) or None}: what the checks read, without loading weights."""
    model = study.model
    if model.endswith(".gguf"):
        return {"gguf": _gguf(Path(model))}
    folder = Path(model)
    if not (folder / "config.json").is_file():
        folder = _hub(model, where)
    return {"config": _json(folder / "config.json", f"{where}: model"),
            "tokenizer": _json(folder / "tokenizer_config.json", f"{where}: model") if (folder / "tokenizer_config.json").is_file() else None,
            "template": any((folder / n).is_file() for n in ("chat_template.jinja", "chat_template.json")),
            "folder": folder}


def _json(path: Path, where: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{where}: {path} is not a readable JSON file ({type(exc).__name__}); the model "
                         "directory is damaged: make it again") from None
    return data if isinstance(data, dict) else {}


def _hub(name: str, where: str) -> Path:
    """The local folder of a hub model's cached files, or InputError when the model cannot be had."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        try_to_load_from_cache = None
    cached = try_to_load_from_cache(name, "config.json") if try_to_load_from_cache else None
    if isinstance(cached, str):
        return Path(cached).parent
    offline = any(os.environ.get(k, "").lower() in ("1", "true", "yes", "on")
                  for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    if not offline:
        try:
            socket.create_connection(HUB, timeout=3).close()
        except OSError:
            offline = True
    if offline:
        raise InputError(f"{where}: model: {name!r} is a hub name, not in this machine's cache, and the hub "
                         f"({HUB[0]}) cannot be reached from here (offline); give a local model directory or .gguf "
                         f"file (as a path, {name!r} does not exist beside the study file), or download the model "
                         "where the hub is reachable (it is then taken from the cache)")
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(name, "config.json", etag_timeout=10)).parent
    except Exception as exc:  # the hub's own errors: no such repository, gated, no config.json
        raise InputError(f"{where}: model: the hub has no model {name!r} that can be read here "
                         f"({type(exc).__name__}); check the name (OWNER/NAME) or give a local model directory") from None


_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def _gguf_fields(path: Path, wanted) -> dict:
    """The ``wanted`` scalar and string fields of a GGUF header, read key by key (the GGUF
    format's key-value section; arrays such as the vocabulary skipped): milliseconds, where
    gguf.GGUFReader maps every tensor first."""
    import struct

    _check_gguf(path)
    out: dict = {}
    with open(path, "rb") as fh:
        def read(fmt):
            size = struct.calcsize(fmt)
            data = fh.read(size)
            if len(data) < size:
                raise InputError(f"{path}: the GGUF header is cut short; the file is damaged or truncated")
            return struct.unpack(fmt, data)[0]

        def string():
            n = read("<Q")
            return fh.read(n).decode("utf-8", "replace")

        def value(kind):
            if kind == 8:
                return string()
            if kind == 9:
                item, count = read("<I"), read("<Q")
                if item in _SCALAR:
                    fh.seek(struct.calcsize(_SCALAR[item]) * count, 1)
                else:
                    for _ in range(count):
                        value(item)
                return None
            if kind not in _SCALAR:
                raise InputError(f"{path}: GGUF value type {kind} is unknown; the file is damaged")
            return read(_SCALAR[kind])

        fh.read(4)
        if read("<I") < 2:
            raise InputError(f"{path}: a GGUF file of version 1; convert it with a current llama.cpp")
        read("<Q")  # tensors
        for _ in range(read("<Q")):
            key = string()
            got = value(read("<I"))
            if key in wanted or key.endswith(".context_length"):
                out[key] = got
    return out


def _gguf(path: Path) -> tuple[int | None, bool]:
    """(context length or None, has a chat template) from the GGUF header."""
    fields = _gguf_fields(path, ("general.architecture", "tokenizer.chat_template"))
    arch = fields.get("general.architecture")
    positions = fields.get(f"{arch}.context_length")
    return (int(positions) if isinstance(positions, int) else None), bool(fields.get("tokenizer.chat_template"))


def _positions(study, files: dict, where: str) -> None:
    if "gguf" in files:
        positions, source = files["gguf"][0], "its GGUF context_length"
    else:
        config = files["config"] or {}
        key = next((k for k in POSITION_KEYS if isinstance(config.get(k), int) and config[k] > 0), None)
        positions, source = (config[key], f"config.json's {key}") if key else (None, "")
    seq_len = study.train["seq_len"]
    if positions is not None and seq_len > positions:
        raise InputError(f"{where}: train.seq_len: {seq_len} is more than the model's {positions} positions "
                         f"({source}); give seq_len {positions} or less")


def _chat_template(study, files: dict, where: str) -> None:
    if not study.chat:
        return
    if "gguf" in files:
        has = files["gguf"][1]
    else:
        tok = files["tokenizer"]
        has = files["template"] or bool(tok and tok.get("chat_template"))
    if not has:
        raise InputError(f"{where}: prompt: chat, but the model's tokenizer has no chat template; give prompt: "
                         "alpaca (works for any model) or a model whose tokenizer ships one")


# -- instructions, held-out sets, corpora --------------------------------------------------------------
def _instructions(study, where: str) -> None:
    files = [("instructions", study.instructions)] + [
        (f"languages.{lang.code}.instructions", lang.instructions) for lang in study.languages]
    for key, path in files:
        if path is None:
            continue
        try:
            read_instructions(path)
        except InputError as exc:
            raise InputError(f"{where}: {key}: {exc}") from None


def _needs(study) -> dict[str, int]:
    """The most distinct pairs a fixed mixture of the study asks of each language (plans read
    the corpora's sizes as caps, so their models are not counted)."""
    need: dict[str, int] = {}
    for job in build_jobs(study):
        for lang, n in job.params.get("sizes", {}).items():
            need[lang] = max(need.get(lang, 0), int(n))
    return need


def _corpora(study, where: str) -> None:
    corpus, held = {}, set()
    for lang in study.languages:
        try:
            corpus[lang.code] = [(p.en, p.xx) for p in open_pairs(lang.parallel, lang.code).pairs()]
            pairs = heldout_pairs(lang, corpus[lang.code])
        except InputError as exc:
            text = str(exc)
            prefix = "" if text.startswith(where) else f"{where}: " if text.startswith("languages.") \
                else f"{where}: languages.{lang.code}: "
            raise InputError(prefix + text) from None
        for en, xx in pairs:
            held.update((normalize(en), normalize(xx)))
    need = _needs(study)
    for lang in study.languages:
        # the mixture drops a pair whose English or translation is any language's held-out text
        left = {(en, xx) for en, xx in corpus[lang.code] if normalize(en) not in held and normalize(xx) not in held}
        wanted = need.get(lang.code, 0)
        if wanted > len(left):
            raise InputError(f"{where}: languages.{lang.code}: its corpus {lang.parallel} holds {len(left)} distinct "
                             f"pairs once the held-out messages are set apart, and the study asks for {wanted} "
                             f"(pilots.sizes, extrapolation, transfer); give sizes of at most {len(left)} or more pairs")
