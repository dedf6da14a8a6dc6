"""Prompt and prediction files (JSONL), written so an interrupted run can resume.

prompts JSONL: one object per line with ``prompt`` (or ``instruction`` [+ ``input``], rendered
with the Alpaca template) and optional ``id`` (default: the line number).
predictions JSONL: one object per line ``{"id", "prompt", "prediction"}``. Lines are appended
and flushed after every batch; on restart the finished ids are skipped. A torn last line (the
run was killed mid-write) is cut off before appending. A recorded prompt that differs from the
prompt of the same id now (other data, other prompt settings) is refused, never resumed.

items sidecar (``tuning eval``'s predictions folder, ``NAME.items.json`` beside ``NAME.jsonl``):
``{"format": "tuning-prediction-items/1", "task": NAME, "n_items": N, "items_sha256": HEX}``
where HEX is :func:`items_digest` of the (id, prompt) items the predictions are made from. A
resume whose items have another digest (another ``--data``, ``--limit``, ``--split`` or prompt
template) is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from tuning.errors import InputError
from tuning.data.reading import iter_jsonl
from tuning.prompts import render_prompt
from budgetlaw.fileio import write_json
from tuning.generation import generate
from budgetlaw.fileio import read_json

log = logging.getLogger(__name__)


def read_prompts(path: str | Path) -> list[tuple[str, str]]:
    """(id, prompt) pairs from a prompts JSONL file; ids must be unique."""

    path = Path(path)
    if not path.is_file():
        raise InputError(f"prompts file {path} does not exist")
    out, seen = [], set()
    for lineno, rec in iter_jsonl(path):
        if "prompt" in rec:
            prompt = rec["prompt"]
        elif "instruction" in rec:
            prompt = render_prompt(rec["instruction"], rec.get("input", ""))
        else:
            raise InputError(f"{path}, line {lineno}: no 'prompt' (or 'instruction') key; add one")
        pid = str(rec.get("id", lineno))
        if pid in seen:
            raise InputError(f"{path}, line {lineno}: duplicate id {pid!r}; ids must be unique to resume")
        seen.add(pid)
        out.append((pid, str(prompt)))
    if not out:
        raise InputError(f"prompts file {path} is empty")
    return out


ITEMS_FORMAT = "tuning-prediction-items/1"


def items_digest(items: Sequence[tuple[str, str]]) -> str:
    """sha256 (hex) of the UTF-8 JSON list ``[[id, prompt], ...]`` in item order (compact separators)."""
    text = json.dumps([[str(i), str(p)] for i, p in items], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def items_sidecar(predictions: str | Path) -> Path:
    """``NAME.jsonl`` -> ``NAME.items.json``."""
    path = Path(predictions)
    return path.with_name(path.name.removesuffix(".jsonl") + ".items.json")


def read_predictions(path: str | Path, *, repair: bool = False,
                     prompts: dict[str, str] | None = None) -> dict[str, str]:
    """id -> prediction from a predictions file; a torn last line is ignored (cut off if repair).

    With ``prompts`` (id -> the prompt asked now), a record whose ``prompt`` differs from the
    prompt of its id is refused: it was made from other data or other prompt settings. A record
    without a prompt (or with ``""``, files made by hand) is not checked.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    data = path.read_bytes()
    done: dict[str, str] = {}
    first_line: dict[str, int] = {}
    good_end = 0
    pos = 0
    lines = data.split(b"\n")
    for k, raw in enumerate(lines):
        end = pos + len(raw) + (1 if k < len(lines) - 1 else 0)
        if raw.strip():
            try:
                rec = json.loads(raw.decode("utf-8"))
                pid, prediction = str(rec["id"]), rec["prediction"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, RecursionError):
                if k < len(lines) - 1 and any(x.strip() for x in lines[k + 1 :]):
                    raise InputError(f"{path}: line {k + 1} is not a prediction record; "
                                     "fix or delete the file and rerun") from None
                break  # torn last line
            if not isinstance(prediction, str):
                raise InputError(f"{path}, line {k + 1}: prediction of id {pid!r} is {type(prediction).__name__}, "
                                 "not a string; write the model's output text as a JSON string")
            if prompts is not None and rec.get("prompt") not in (None, "") and pid in prompts \
                    and rec["prompt"] != prompts[pid]:
                raise InputError(f"{path}, line {k + 1}: the prompt recorded for id {pid!r} differs from the "
                                 "task's prompt for that id (other data or prompt settings); delete the file "
                                 "or regenerate it for this data")
            if pid in done:
                raise InputError(f"{path}, line {k + 1}: id {pid!r} appears again (first on line {first_line[pid]}); "
                                 "keep one prediction per id")
            done[pid], first_line[pid] = prediction, k + 1
        if k < len(lines) - 1:
            good_end = end
        pos = end
    if repair and good_end < len(data):
        log.warning("%s: dropping a torn last line (%d bytes)", path, len(data) - good_end)
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
    return done


def check_resume(items: Sequence[tuple[str, str]], out: str | Path, *, task: str | None = None) -> None:
    """Refuse to resume ``out`` from other items: ids must be unique, recorded prompts must be
    the prompts of their ids and, with ``task`` (``tuning eval``), the items sidecar must hold
    these items' digest. An old file without a sidecar is taken only when every recorded id is
    one of the items with exactly its prompt; the sidecar is then written. Reads only."""
    out = Path(out)
    prompts: dict[str, str] = {}
    for pid, prompt in items:
        if pid in prompts:
            raise InputError(f"{task or out}: item id {pid!r} appears twice; ids must be unique "
                             "(one prediction is scored against one reference)")
        prompts[pid] = prompt
    if task is None or not out.exists():
        if out.exists():
            read_predictions(out, prompts=prompts)
        return
    side = items_sidecar(out)
    if side.is_file():
        meta = read_json(side, error=InputError, message=lambda exc: f"{side}: unreadable ({str(exc)[:120]}); delete {out} and {side} "
                                           "to regenerate")
        if not isinstance(meta, dict) or meta.get("items_sha256") != items_digest(items):
            raise InputError(f"{out}: made from other items than {task} has now (another --data, --limit, "
                             f"--split or prompt template; {side.name} records their digest); delete {out} "
                             f"and {side.name}, or pass another --predictions-dir")
        read_predictions(out, prompts=prompts)
        return
    done = _recorded_prompts(out)
    strange = [pid for pid, prompt in done.items() if prompts.get(pid) != prompt]
    if strange:
        raise InputError(f"{out}: an older predictions file without {side.name} (the digest of the items it was "
                         f"made from) whose id {strange[0]!r} is not an item of {task} with the same prompt; "
                         f"delete it (or regenerate into another --predictions-dir)")


def _recorded_prompts(path: Path) -> dict[str, str | None]:
    """id -> recorded prompt (None when a line has none) of a predictions file; torn last line skipped."""
    read_predictions(path)  # the file's own checks first
    out: dict[str, str | None] = {}
    for raw in path.read_bytes().split(b"\n"):
        try:
            rec = json.loads(raw.decode("utf-8"))
            out[str(rec["id"])] = rec.get("prompt")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError, RecursionError):
            continue  # blank or the torn last line: read_predictions accepted the file
    return out


def write_items_sidecar(items: Sequence[tuple[str, str]], out: str | Path, task: str) -> None:
    write_json(items_sidecar(out), {"format": ITEMS_FORMAT, "task": task, "n_items": len(items),
                                    "items_sha256": items_digest(items)}, indent=1, sort_keys=False)


def generate_to_file(model_or_dir, items: Sequence[tuple[str, str]], out: str | Path, *,
                     tokenizer=None, task: str | None = None, **generate_kwargs) -> dict[str, str]:
    """Generate predictions for (id, prompt) ``items`` into ``out``, resuming; return id -> prediction.

    A resume is checked by :func:`check_resume`; with ``task`` the items sidecar is written.
    """

    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"output {out}: the directory {out.parent} does not exist; create it first")
    check_resume(items, out, task=task)
    if task is not None:
        write_items_sidecar(items, out, task)
    done = read_predictions(out, repair=True, prompts=dict(items))
    todo = [(pid, p) for pid, p in items if pid not in done]
    if done:
        log.info("%s: %d of %d already done, resuming", out, len(items) - len(todo), len(items))
    if todo:
        with open(out, "a", encoding="utf-8") as fh:
            def write(indices, texts):
                for i, text in zip(indices, texts):
                    pid, prompt = todo[i]
                    fh.write(json.dumps({"id": pid, "prompt": prompt, "prediction": text},
                                        ensure_ascii=False) + "\n")
                    done[pid] = text
                fh.flush()
                os.fsync(fh.fileno())

            generate(model_or_dir, [p for _, p in todo], tokenizer=tokenizer, on_batch=write,
                     **generate_kwargs)
    return done
