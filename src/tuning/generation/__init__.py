"""Decoding: prompts in, completions out, in input order (greedy by default).

    decode.py        generate (the entry point, backends torch/hf/ctranslate2/vllm) and its
                     GenerateSettings, load_model
    batching.py      prompts grouped by length and left-padded
    greedy.py        the fast greedy loop: shared prompt start, rows leave when done, drafts
    lookup.py        prompt-lookup drafts and their acceptance (pure Python)
    kvcache.py       the preallocated per-row KV cache, attention on the shared KV heads
    heads.py         the output layer at chosen positions only (decoding, likelihood, training)
    engines.py       the optional engines (ctranslate2, vllm) behind the same call
    hf_internals.py  every transformers internal the loop relies on, named once and checked

Importing this package stays light: torch and transformers load when a model is loaded or a
batch is decoded.
"""

from tuning.generation.batching import left_pad, length_batches
from tuning.generation.decode import BACKENDS, ENGINES, GenerateSettings, generate, load_model, short_reason

__all__ = ["generate", "GenerateSettings", "load_model", "length_batches", "left_pad", "BACKENDS", "ENGINES", "short_reason"]
