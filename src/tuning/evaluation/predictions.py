"""Prompt and prediction files (JSONL), written so an interrupted run can resume.

prompts JSONL: one object per line with ``prompt`` (or ``instruction`` [+ ``input``], rendered
with the Alpaca template) and optional ``id`` (default: the line number).
predictions JSONL: one object per line ``{"id", "prompt", "prediction"}``. Lines are appended
and flushed after every batch; on restart the finished ids are skipped. A torn last line (the
run was killed mid-write) is cut off before appending.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from tuning.errors import InputError

log = logging.getLogger(__name__)


def read_prompts(path: str | Path) -> list[tuple[str, str]]:
    """(id, prompt) pairs from a prompts JSONL file; ids must be unique."""
    from tuning.data.files import iter_jsonl
    from tuning.prompts import render_prompt

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


def read_predictions(path: str | Path, *, repair: bool = False) -> dict[str, str]:
    """id -> prediction from a predictions file; a torn last line is ignored (cut off if repair)."""
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


def generate_to_file(model_or_dir, items: Sequence[tuple[str, str]], out: str | Path, *,
                     tokenizer=None, **generate_kwargs) -> dict[str, str]:
    """Generate predictions for (id, prompt) ``items`` into ``out``, resuming; return id -> prediction."""
    from tuning.generation import generate

    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"output {out}: the directory {out.parent} does not exist; create it first")
    done = read_predictions(out, repair=True)
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
