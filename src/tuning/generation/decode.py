"""Batched decoding with a causal LM: greedy by default, results in input order.

Prompts are tokenised one by one, sorted by token length (longest first, so a batch that does
not fit in memory fails at once rather than at the end) and cut into batches of
``batch_size``. Each batch is left-padded: the attention mask hides the padding and positions
are counted from each prompt's first real token (position_ids = cumsum(mask) - 1), so a
prompt's greedy completion is the same whatever it is batched with. Decoding stops at EOS
(per sequence) or after ``max_new_tokens``; the completion is the decoded new tokens, special
tokens dropped. Sorting only changes which prompts share a batch, never the output order.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from tuning.errors import InputError
from tuning.generation.batching import left_pad, length_batches
from tuning.generation.engines import engine_generate
from tuning.generation.greedy import greedy_batch, plain_greedy

log = logging.getLogger(__name__)

ENGINES = ("ctranslate2", "vllm")
BACKENDS = ("torch", "hf", *ENGINES)


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, cut to ``limit`` characters (transformers'
    messages can list every model type it knows: thousands of characters)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return first if len(first) <= limit else first[: limit - 3] + "..."


def load_model(model_dir: str | Path, *, device: str | None = None, dtype: str | None = None):
    """(model, tokenizer) from a Hugging Face model directory, in eval mode on ``device``.

    dtype None picks bfloat16 on a GPU that supports it and float32 on the CPU.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise InputError(
            f"model directory {path} has no config.json; pass the folder written by "
            "save_pretrained (or the trainer's final/ export)"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        use_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        torch_dtype = torch.bfloat16 if use_bf16 else torch.float32
    else:
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise InputError(f"--dtype {dtype!r}: choose float32, bfloat16 or float16")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype).to(device)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"model directory {path}: cannot load the model ({short_reason(exc)}); pass a folder "
                         "written by save_pretrained with a config.json transformers knows") from None
    model.eval()
    return model, tokenizer


def _prepare_tokenizer(tokenizer):
    if tokenizer.pad_token_id is None:
        # Inference only: the padded positions are masked, so EOS can stand in as padding
        # without adding a token (which would change the embedding matrix).
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@dataclasses.dataclass(frozen=True)
class GenerateSettings:
    """The decoding knobs of :func:`generate`, checked when made.

    ``max_prompt_tokens`` keeps the last that many prompt tokens (the instruction's end and the
    response marker matter most). Sampling (``do_sample=True``) uses ``temperature``/``top_p``
    and ``torch.manual_seed(seed)``.

    ``backend`` (see :data:`BACKENDS`): ``torch`` (default) decodes greedy batches with
    :func:`tuning.generation.greedy.greedy_batch` (finished rows leave the batch; the prompts' shared start
    runs once) and falls back to ``hf`` for sampling or a generation_config with logits
    processors; ``hf`` is ``model.generate`` on every batch; ``ctranslate2`` and ``vllm`` are
    optional engines (:mod:`tuning.generation.engines`), greedy only, from a model directory.

    ``draft_tokens`` (``torch`` backend, greedy only; default :data:`tuning.generation.greedy.DRAFT_TOKENS`): at most
    that many prompt-lookup draft tokens verified per row and pass; 0 decodes one token per pass
    (every greedy token computed in a one-token pass, as ``hf`` computes it). Drafts change how
    many passes reach the greedy tokens, not which tokens are greedy (up to float near-ties).
    """

    batch_size: int = 16
    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    sort_by_length: bool = True
    add_special_tokens: bool = True
    max_prompt_tokens: int | None = None
    backend: str = "torch"
    draft_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise InputError("generate: batch_size and max_new_tokens must be at least 1")
        if self.backend not in BACKENDS:
            raise InputError(f"generate: backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        draft = self.draft_tokens
        if draft is not None and (isinstance(draft, bool) or not isinstance(draft, int) or draft < 0):
            raise InputError(f"generate: draft_tokens {draft!r} must be an integer >= 0 (0: one token per pass)")
        if draft is not None and self.backend != "torch":
            raise InputError(f"generate: draft_tokens is an option of backend 'torch', not {self.backend!r}; drop it")
        if draft is not None and self.do_sample:  # sampling runs model.generate: drafts would be ignored
            raise InputError("generate: draft_tokens speeds greedy decoding only; drop it or do_sample=True")


_KNOBS = frozenset(field.name for field in dataclasses.fields(GenerateSettings))


def generate(
    model_dir_or_model,
    prompts: Sequence[str],
    settings: GenerateSettings | None = None,
    *,
    tokenizer=None,
    device: str | None = None,
    dtype: str | None = None,
    progress: bool = True,
    on_batch: Callable[[list[int], list[str]], None] | None = None,
    **knobs,
) -> list[str]:
    """Completions of ``prompts`` (in input order) from a model directory or a loaded model,
    decoded as ``settings`` (:class:`GenerateSettings`) says.

    Any field of :class:`GenerateSettings` may also be passed by keyword (``max_new_tokens=64``):
    it overrides that field of ``settings`` (of the defaults when ``settings`` is None). With a
    loaded model pass its ``tokenizer`` too; ``device`` and ``dtype`` are for loading one.
    ``on_batch(indices, completions)`` is called after every batch (the CLI appends them to its
    output file).
    """
    if isinstance(prompts, str):
        raise InputError("generate: prompts must be a list of strings, not one string")
    prompts = list(prompts)
    s = _with_knobs(settings, knobs)
    if s.backend in ENGINES:
        return engine_generate(s.backend, model_dir_or_model, prompts, tokenizer=tokenizer, batch_size=s.batch_size,
                               max_new_tokens=s.max_new_tokens, do_sample=s.do_sample,
                               add_special_tokens=s.add_special_tokens, max_prompt_tokens=s.max_prompt_tokens,
                               sort_by_length=s.sort_by_length, device=device, dtype=dtype, progress=progress,
                               on_batch=on_batch)
    model, tokenizer = _model_and_tokenizer(model_dir_or_model, tokenizer, device=device, dtype=dtype)
    if not prompts:
        return []
    return _decode_batches(model, _prepare_tokenizer(tokenizer), prompts, s, progress=progress, on_batch=on_batch)


def _with_knobs(settings: GenerateSettings | None, knobs: dict) -> GenerateSettings:
    unknown = sorted(set(knobs) - _KNOBS)
    if unknown:
        raise TypeError(f"generate() got unexpected keyword arguments {unknown}; the decoding options are the "
                        f"fields of GenerateSettings: {', '.join(sorted(_KNOBS))}")
    settings = settings if settings is not None else GenerateSettings()
    return dataclasses.replace(settings, **knobs) if knobs else settings


def _model_and_tokenizer(model_dir_or_model, tokenizer, *, device, dtype):
    if isinstance(model_dir_or_model, (str, Path)):
        model, loaded_tok = load_model(model_dir_or_model, device=device, dtype=dtype)
        return model, tokenizer or loaded_tok
    if tokenizer is None:
        raise InputError("generate: pass tokenizer= together with an already-loaded model")
    return model_dir_or_model, tokenizer


def _decode_batches(model, tokenizer, prompts: list[str], s: GenerateSettings, *, progress: bool,
                    on_batch) -> list[str]:
    """Prompts tokenised, cut into batches by length, each batch decoded; outputs in input order."""
    import torch
    from tqdm.auto import tqdm

    model.eval()
    encoded = [tokenizer(p, add_special_tokens=s.add_special_tokens)["input_ids"] for p in prompts]
    if s.max_prompt_tokens:
        encoded = [ids[-s.max_prompt_tokens:] for ids in encoded]
    batches = length_batches([len(e) for e in encoded], s.batch_size, s.sort_by_length)
    outputs: list[str | None] = [None] * len(prompts)
    if s.do_sample:
        torch.manual_seed(s.seed)
    bar = tqdm(total=len(prompts), desc="generate", unit="prompt", disable=not progress)
    use_loop = s.backend == "torch" and not s.do_sample and plain_greedy(model)
    decode_batch = _greedy_loop_batch if use_loop else _hf_generate_batch
    for batch in batches:
        texts = decode_batch(model, tokenizer, [encoded[i] for i in batch], s)
        for i, text in zip(batch, texts):
            outputs[i] = text
        if on_batch is not None:
            on_batch(list(batch), texts)
        bar.update(len(batch))
    bar.close()
    return [o if o is not None else "" for o in outputs]


def _greedy_loop_batch(model, tokenizer, rows: list[list[int]], s: GenerateSettings) -> list[str]:
    """One batch through the fast greedy loop (backend torch)."""
    new = greedy_batch(model, rows, pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id,
                       max_new_tokens=s.max_new_tokens,
                       **({} if s.draft_tokens is None else {"draft_tokens": s.draft_tokens}))
    return [tokenizer.decode(row, skip_special_tokens=True) for row in new]


def _hf_generate_batch(model, tokenizer, rows: list[list[int]], s: GenerateSettings) -> list[str]:
    """One batch through ``model.generate`` (backend hf, sampling, or logits processors)."""
    import torch

    sampling = (dict(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=0) if s.do_sample
                else dict(do_sample=False))
    dev = next(model.parameters()).device
    ids, mask, _ = left_pad(rows, tokenizer.pad_token_id)
    with torch.inference_mode():
        # generate() derives position_ids from the attention mask (cumsum - 1) for
        # left-padded rows; left_pad returns the same positions for callers that need them.
        out = model.generate(
            input_ids=ids.to(dev),
            attention_mask=mask.to(dev),
            max_new_tokens=s.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **sampling,
        )
    new = out[:, ids.shape[1] :].tolist()
    return [tokenizer.decode(_until_eos(row, tokenizer), skip_special_tokens=True) for row in new]


def _until_eos(tokens: list[int], tokenizer) -> list[int]:
    """Tokens before the first EOS (generate pads finished rows, possibly with EOS itself)."""
    eos = tokenizer.eos_token_id
    return tokens[: tokens.index(eos)] if eos is not None and eos in tokens else tokens
