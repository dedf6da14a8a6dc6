"""Shared fixtures for the tuning tests: a tiny Llama and a tokenizer trained here, offline.

Everything is built in the test session: no hub is reachable from CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# A small multilingual corpus to train the byte-level BPE on, so every test language tokenises
# to something shorter than raw bytes.
_CORPUS = [
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.",
    "### Instruction:", "### Input:", "### Response:",
    "Translate the following sentence from English to Chinese.",
    "Open the file", "Save the document", "Close the window", "Print the page",
    "The quick brown fox jumps over the lazy dog.",
    "打开文件", "保存文档", "关闭窗口", "打印页面",
    "افتح الملف", "احفظ المستند", "أغلق النافذة",
    "Άνοιγμα αρχείου", "Αποθήκευση εγγράφου", "Κλείσιμο παραθύρου",
    "फ़ाइल खोलें", "दस्तावेज़ सहेजें", "विंडो बंद करें",
    "Dosyayı aç", "Belgeyi kaydet", "Pencereyi kapat",
    "Mở tệp", "Lưu tài liệu", "Đóng cửa sổ",
]

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


def build_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on _CORPUS, wrapped as a PreTrainedTokenizerFast.

    The pad token is distinct from EOS, as the trainer requires.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS)


def build_tiny_llama(tokenizer, *, layers: int = 2, hidden: int = 64, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A Hugging Face model directory (config, safetensors, tokenizer) of a 2-layer Llama."""
    out = tmp_path_factory.mktemp("tiny-llama")
    model = build_tiny_llama(tiny_tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tiny_tokenizer.save_pretrained(out)
    return out
