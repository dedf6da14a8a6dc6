"""A tiny llama GGUF written here with the ``gguf`` package: the byte-level BPE of
``_builders.build_tokenizer`` as a ``gpt2`` tokenizer and random float32 weights named as
llama.cpp names them, so ``tuning convert`` can run end to end in a test without a download."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def build_tiny_gguf(path: Path, *, arch: str = "llama", hidden: int = 32, layers: int = 1, seed: int = 0,
                    tokenizer_model: str = "gpt2", tensors: bool = True) -> Path:
    import gguf
    from _builders import build_tokenizer

    tok = build_tokenizer()
    data = json.loads(tok.backend_tokenizer.to_str())
    vocab = sorted(data["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    special = {t: i for t, i in vocab if t.startswith("<") and t.endswith(">")}
    n_vocab, ff, heads = len(tokens), hidden * 2, 4
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model(tokenizer_model)
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in special else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(special["<s>"])
    writer.add_eos_token_id(special["</s>"])
    writer.add_unk_token_id(special["<unk>"])
    writer.add_pad_token_id(special["<pad>"])
    rng = np.random.default_rng(seed)
    w = lambda *shape: (rng.standard_normal(shape) * 0.02).astype(np.float32)  # noqa: E731
    kv = hidden // heads * 2
    writer.add_tensor("token_embd.weight", w(n_vocab, hidden))
    if not tensors:  # a file whose blocks are missing
        layers = 0
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", w(hidden, hidden))
        writer.add_tensor(f"blk.{i}.attn_k.weight", w(kv, hidden))
        writer.add_tensor(f"blk.{i}.attn_v.weight", w(kv, hidden))
        writer.add_tensor(f"blk.{i}.attn_output.weight", w(hidden, hidden))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", w(ff, hidden))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", w(ff, hidden))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", w(hidden, ff))
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    writer.add_tensor("output.weight", w(n_vocab, hidden))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
