"""The tokenised view of mixture records: input_ids and labels with the prompt masked.

For one record::

    prompt_ids   = encode(render_prompt(instruction, input))        # special tokens (BOS) on,
                                                                    # a trailing EOS removed
    response_ids = encode(output, add_special_tokens=False) + [eos_token_id]
    input_ids    = prompt_ids + response_ids
    labels       = [-100] * len(prompt_ids) + response_ids

The prompt and the response are encoded separately, so the boundary between them falls exactly
where the labels switch from -100 to token ids (encoding the concatenated text and cutting at the
prompt's length can merge the last prompt token with the first response token). With
``chat_template=True`` the prompt is the tokenizer's chat template (which writes its own special
tokens, so it is encoded without adding more).

Truncation is explicit: when ``len(input_ids) > seq_len`` the response is cut on the right
(EOS is lost with it) and ``truncated`` is True. A record whose prompt leaves no room for a
single response token (``len(prompt_ids) >= seq_len``) cannot teach anything: it is dropped
(``tokenize_record`` returns None) and the caller counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tuning.errors import InputError
from tuning.prompts import render_chat_prompt, render_prompt

__all__ = [
    "IGNORE_INDEX",
    "TokenizedExample",
    "ensure_pad_token",
    "load_tokenizer",
    "tokenize_record",
    "tokenize_records",
    "token_counts",
]

log = logging.getLogger(__name__)

IGNORE_INDEX = -100  # the label torch's cross-entropy skips
_BATCH = 512


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]
    truncated: bool
    language: str
    # Positions 0..n_prompt-1 are the prompt; kept for packing and statistics.
    n_prompt: int = field(default=0, compare=False)

    def __len__(self) -> int:
        return len(self.input_ids)

    def to_dict(self) -> dict:
        return {
            "input_ids": list(self.input_ids),
            "labels": list(self.labels),
            "truncated": self.truncated,
            "language": self.language,
            "n_prompt": self.n_prompt,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> TokenizedExample:
        return cls(
            input_ids=list(data["input_ids"]),
            labels=list(data["labels"]),
            truncated=bool(data["truncated"]),
            language=str(data["language"]),
            n_prompt=int(data.get("n_prompt", 0)),
        )


def load_tokenizer(name_or_dir: str, *, pad_token: bool = False,
                   hint: str = "give a directory holding tokenizer.json / tokenizer_config.json"):
    """AutoTokenizer from a local directory (or a hub name where a hub is reachable).

    With ``pad_token`` it also gets a pad token distinct from EOS (:func:`ensure_pad_token`):
    training pads batches; counting tokens does not, and must not grow the vocabulary. ``hint``
    ends the error message with what the caller's argument should be.
    """
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_dir)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = first if len(first) <= 200 else first[:197] + "..."
        raise InputError(f"{name_or_dir}: cannot load a tokenizer ({first}); {hint}") from None
    return ensure_pad_token(tokenizer) if pad_token else tokenizer


def ensure_pad_token(tokenizer):
    """Give ``tokenizer`` a pad token distinct from EOS (adding "<pad>" if needed); return it.

    Padding with EOS would teach the model that EOS is a token to ignore (its labels get masked
    together with the padding). When a token is added the vocabulary grows by one: the model's
    embeddings must then be resized to ``len(tokenizer)``.
    """
    if tokenizer.eos_token_id is None:
        raise InputError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no EOS token: "
            "set tokenizer.eos_token before tokenising (records end with EOS)"
        )
    pad = tokenizer.pad_token_id
    if pad is not None and pad != tokenizer.eos_token_id:
        return tokenizer
    before = len(tokenizer)
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    if len(tokenizer) != before:
        log.warning(
            "added a pad token '<pad>' (id %d): resize the model's embeddings to %d",
            tokenizer.pad_token_id, len(tokenizer),
        )
    return tokenizer


def _field(record: Mapping, key: str) -> str:
    value = record.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(
            f"record {record.get('id', '?')!r}: field {key!r} must be a string, "
            f"got {type(value).__name__}; fix the mixture file"
        )
    return value


def _prompt_text(record: Mapping, tokenizer, chat_template: bool) -> str:
    instruction = _field(record, "instruction")
    input_ = _field(record, "input")
    if chat_template:
        return render_chat_prompt(tokenizer, instruction, input_)
    return render_prompt(instruction, input_)


def _assemble(prompt_ids, response_ids, eos_id, seq_len, language) -> TokenizedExample | None:
    prompt_ids = list(prompt_ids)
    if prompt_ids and prompt_ids[-1] == eos_id:
        # a tokenizer whose post-processor appends EOS would end the prompt before the answer
        prompt_ids.pop()
    if len(prompt_ids) >= seq_len:
        return None
    response = list(response_ids) + [eos_id]
    room = seq_len - len(prompt_ids)
    truncated = len(response) > room
    response = response[:room]
    return TokenizedExample(
        input_ids=prompt_ids + response,
        labels=[IGNORE_INDEX] * len(prompt_ids) + response,
        truncated=truncated,
        language=language,
        n_prompt=len(prompt_ids),
    )


def _check(tokenizer, seq_len: int) -> None:
    if seq_len < 2:
        raise InputError(f"seq_len must be at least 2, got {seq_len}")
    if tokenizer.eos_token_id is None:
        raise InputError("the tokenizer has no EOS token: set tokenizer.eos_token first")


def tokenize_record(record: Mapping, tokenizer, seq_len: int, *, chat_template: bool = False):
    """One record -> :class:`TokenizedExample`, or None when no response token fits."""
    _check(tokenizer, seq_len)
    prompt = _prompt_text(record, tokenizer, chat_template)
    prompt_ids = tokenizer(prompt, add_special_tokens=not chat_template)["input_ids"]
    response_ids = tokenizer(_field(record, "output"), add_special_tokens=False)["input_ids"]
    return _assemble(prompt_ids, response_ids, tokenizer.eos_token_id, seq_len,
                     str(record.get("language", "")))


def tokenize_records(
    records: Iterable[Mapping], tokenizer, seq_len: int, *, chat_template: bool = False,
    progress: bool = True,
) -> tuple[list[TokenizedExample], dict]:
    """Tokenise many records in batches (fast tokenizers encode a batch in parallel).

    Returns ``(examples, stats)`` with stats ``{"n": records in, "kept": examples out,
    "truncated": kept but cut, "dropped": no response token fit, "seq_len": seq_len}``.
    """
    from tqdm.auto import tqdm

    _check(tokenizer, seq_len)
    records = list(records)
    examples: list[TokenizedExample] = []
    truncated = dropped = 0
    with tqdm(total=len(records), desc="tokenise", unit="rec", disable=not progress) as bar:
        for record, p, r in _encoded(records, tokenizer, chat_template):
            ex = _assemble(p, r, tokenizer.eos_token_id, seq_len, str(record.get("language", "")))
            bar.update(1)
            if ex is None:
                dropped += 1
                continue
            truncated += ex.truncated
            examples.append(ex)
    stats = {"n": len(records), "kept": len(examples), "truncated": truncated,
             "dropped": dropped, "seq_len": seq_len}
    if truncated or dropped:
        log.warning("tokenise: %d of %d records truncated, %d dropped (seq_len=%d)",
                    truncated, len(records), dropped, seq_len)
    return examples, stats


def _encoded(records: list, tokenizer, chat_template: bool):
    """Yield ``(record, prompt_ids, response_ids)``, encoding in batches (fast tokenizers are
    much quicker on lists). The prompt carries the tokenizer's special tokens (BOS); the
    response none (EOS is added by the caller)."""
    for start in range(0, len(records), _BATCH):
        batch = records[start:start + _BATCH]
        prompts = [_prompt_text(r, tokenizer, chat_template) for r in batch]
        outputs = [_field(r, "output") for r in batch]
        p_ids = tokenizer(prompts, add_special_tokens=not chat_template)["input_ids"]
        r_ids = tokenizer(outputs, add_special_tokens=False)["input_ids"]
        yield from zip(batch, p_ids, r_ids)


def token_counts(records: Iterable[Mapping], tokenizer, *, chat_template: bool = False):
    """Tokens per language, to turn a pair budget into a token budget.

    Returns a DataFrame with one row per language (sorted) and columns::

        language, records, translation_records, instruction_records,
        prompt_tokens, response_tokens, total_tokens,      # response includes EOS
        tokens_per_record, tokens_per_pair

    ``tokens_per_pair`` is the mean ``total_tokens`` of that language's translation records
    (NaN when it has none): pass it as ``cost`` to ``budgetlaw.allocate`` with a budget in tokens.
    """
    import pandas as pd

    rows: dict[str, dict] = {}
    for record, p, r in _encoded(list(records), tokenizer, chat_template):
        lang = str(record.get("language", ""))
        row = rows.setdefault(lang, dict.fromkeys(
            ("records", "translation_records", "instruction_records", "prompt_tokens",
             "response_tokens", "translation_tokens"), 0))
        is_tr = record.get("task") == "translation"
        row["records"] += 1
        row["translation_records" if is_tr else "instruction_records"] += 1
        row["prompt_tokens"] += len(p)
        row["response_tokens"] += len(r) + 1  # + EOS
        if is_tr:
            row["translation_tokens"] += len(p) + len(r) + 1
    columns = ["language", "records", "translation_records", "instruction_records",
               "prompt_tokens", "response_tokens", "total_tokens", "tokens_per_record",
               "tokens_per_pair"]
    out = []
    for lang in sorted(rows):
        row = rows[lang]
        total = row["prompt_tokens"] + row["response_tokens"]
        n_tr = row["translation_records"]
        out.append({
            "language": lang,
            **{k: row[k] for k in ("records", "translation_records", "instruction_records",
                                   "prompt_tokens", "response_tokens")},
            "total_tokens": total,
            "tokens_per_record": total / row["records"],
            "tokens_per_pair": row["translation_tokens"] / n_tr if n_tr else float("nan"),
        })
    return pd.DataFrame(out, columns=columns)
