"""Builders shared by the tests: everything a test needs is made here, offline.

One home for the helpers that several test modules use (imported as ``from _builders import
...``; tests/conftest.py puts this folder on sys.path). Fixtures stay in the conftest.py files
and call these; nothing imports a conftest or another test module.

- a byte-level BPE tokenizer trained on a small multilingual corpus, and a tiny Llama;
- a tiny COMET checkpoint in comet 2.2.7's layout (a 2-layer XLM-R + a Unigram tokenizer);
- mixture records for the trainer, written as JSONL; the trainer run in-process;
- the system's gettext catalogs, for the tests that check tuning on real translations: they
  fail with the reason when the catalogs are missing, never skip silently.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

# -- tokenizer and model ------------------------------------------------------------------------
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


# -- COMET ----------------------------------------------------------------------------------------
_COMET_CORPUS = [
    "The cat sat on the mat.", "Open the file.", "Save the document.", "Close the window.",
    "猫坐在垫子上。", "打开文件", "保存文档", "Η γάτα κάθεται.", "Kedi oturdu.", "Con mèo ngồi.",
    "افتح الملف", "फ़ाइल खोलें",
]


def build_tiny_comet(out: Path, seed: int = 0):
    """Build, save and return (in-memory RegressionMetric, model directory)."""
    import pytorch_lightning as pl
    import torch
    import yaml
    from comet.models import RegressionMetric
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..3, mask last
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(_COMET_CORPUS * 5, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = XLMRobertaTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    encoder_dir = out / "tiny-xlmr"
    fast.save_pretrained(encoder_dir)
    XLMRobertaConfig(
        vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
        eos_token_id=2,
    ).save_pretrained(encoder_dir)

    torch.manual_seed(seed)
    model = RegressionMetric(pretrained_model=str(encoder_dir), load_pretrained_weights=False,
                             local_files_only=True, hidden_sizes=[16], layer_transformation="softmax")
    model.eval()
    model_dir = out / "tiny-comet"
    (model_dir / "checkpoints").mkdir(parents=True)
    hparams = dict(model.hparams)
    hparams["class_identifier"] = "regression_metric"
    # The checkpoint a Lightning Trainer would write, reduced to what loading reads.
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams,
                "pytorch-lightning_version": pl.__version__},
               model_dir / "checkpoints" / "model.ckpt")
    (model_dir / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    return model, model_dir


# -- trainer ----------------------------------------------------------------------------------------
PAIRS = [
    ("Open the file", "打开文件"), ("Save the document", "保存文档"), ("Close the window", "关闭窗口"),
    ("Print the page", "打印页面"), ("Open the file", "افتح الملف"), ("Close the window", "Κλείσιμο παραθύρου"),
]
SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Open the file", "Save the document", "Print the page"]


def make_records(n: int, seed: int = 0, long_every: int = 3, long_words: tuple[int, int] = (4, 12)) -> list[dict]:
    """Every ``long_every``-th record a long English instruction, the rest short translations."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        if i % long_every == 0:
            out = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(*long_words)))
            records.append(dict(id=f"i{i}", language="en", task="instruction", instruction="Write a story.",
                                input="", output=out, source="test"))
        else:
            en, xx = rng.choice(PAIRS)
            records.append(dict(id=f"t{i}", language="zh", task="translation",
                                instruction="Translate the following sentence from English to Chinese.",
                                input=en, output=xx, source="test"))
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def run_inprocess(config) -> list[dict]:
    """Run ``tuning.train.train(config)`` (a TrainConfig) as a world of one; its metrics rows."""
    import torch.distributed as dist

    from tuning.train import train

    try:
        train(config)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return read_metrics(f"{config.output_dir}/metrics.jsonl")


def read_metrics(path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def full_data_mean_loss(model_dir, records, seq_len) -> float:
    """sum of every response token's loss / number of response tokens, each example run alone."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuning.data.tokenize import IGNORE_INDEX, tokenize_records

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    examples, _ = tokenize_records(records, tok, seq_len, progress=False)
    total = count = 0.0
    with torch.no_grad():
        for ex in examples:
            n = sum(t != IGNORE_INDEX for t in ex.labels[1:])
            total += model(input_ids=torch.tensor([ex.input_ids]), labels=torch.tensor([ex.labels])).loss.item() * n
            count += n
    return total / count


# -- real gettext catalogs ----------------------------------------------------------------------------
LOCALE = Path("/usr/share/locale")


def system_catalogs(folder: str) -> list[Path]:
    """The ``.mo`` files of /usr/share/locale/FOLDER/LC_MESSAGES, sorted.

    docs/DESIGN.md counts on these human translations being on every machine of this kind; a
    test that needs them fails (it does not skip) when they are missing, saying what to install.
    """
    found = sorted((LOCALE / folder / "LC_MESSAGES").glob("*.mo"))
    if not found:
        pytest.fail(f"{LOCALE / folder / 'LC_MESSAGES'} holds no .mo catalogs: this test checks tuning on the "
                    "real gettext translations docs/DESIGN.md relies on. Install the system's translations "
                    "(e.g. Debian/Ubuntu without 'path-exclude=/usr/share/locale/*' in /etc/dpkg/dpkg.cfg.d/, "
                    "then reinstall coreutils) or deselect this test", pytrace=False)
    return found

