"""A tiny COMET checkpoint built offline, in comet 2.2.7's on-disk layout.

MODEL/hparams.yaml + MODEL/checkpoints/model.ckpt, where hparams.yaml's pretrained_model points
at a local "pretrained model" directory (a 2-layer XLM-R config + a Unigram tokenizer trained
here), so comet.load_from_checkpoint never needs a hub.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_CORPUS = [
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
    tok.train_from_iterator(_CORPUS * 5, trainer)
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


@pytest.fixture(scope="session")
def tiny_comet(tmp_path_factory):
    return build_tiny_comet(tmp_path_factory.mktemp("comet"))
