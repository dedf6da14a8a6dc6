import copy

import pytest

from tuning.data.tokenize import (
    IGNORE_INDEX,
    TokenizedExample,
    ensure_pad_token,
    token_counts,
    tokenize_record,
    tokenize_records,
)
from tuning.prompts import render_prompt

REC = {"id": "zh-1", "language": "zh", "task": "translation",
       "instruction": "Translate the following text from English to Chinese.",
       "input": "Open the file", "output": "打开文件", "source": "t"}


def test_masking_token_by_token(tiny_tokenizer):
    tok = tiny_tokenizer
    ex = tokenize_record(REC, tok, 512)
    prompt = render_prompt(REC["instruction"], REC["input"])
    n_prompt = len(tok(prompt)["input_ids"])
    assert ex.n_prompt == n_prompt and not ex.truncated and ex.language == "zh"
    assert len(ex.input_ids) == len(ex.labels)
    for i, (t, lab) in enumerate(zip(ex.input_ids, ex.labels)):
        assert lab == (IGNORE_INDEX if i < n_prompt else t)
    # the prompt tokens decode to the prompt, the supervised ones to the answer and EOS
    assert tok.decode(ex.input_ids[:n_prompt]) == prompt
    supervised = [t for t in ex.labels if t != IGNORE_INDEX]
    assert supervised[-1] == tok.eos_token_id
    assert tok.decode(supervised[:-1]) == "打开文件"
    assert tok.eos_token_id != tok.pad_token_id


def test_truncation_and_drop(tiny_tokenizer):
    tok = tiny_tokenizer
    full = tokenize_record(REC, tok, 10_000)
    n_prompt, n_total = full.n_prompt, len(full.input_ids)
    cut = tokenize_record(REC, tok, n_total - 1)
    assert cut.truncated and len(cut.input_ids) == n_total - 1
    assert cut.input_ids == full.input_ids[:-1] and cut.labels == full.labels[:-1]
    exact = tokenize_record(REC, tok, n_total)
    assert not exact.truncated and exact.input_ids == full.input_ids
    assert tokenize_record(REC, tok, n_prompt) is None  # no room for one response token
    one = tokenize_record(REC, tok, n_prompt + 1)
    assert one.truncated and sum(x != IGNORE_INDEX for x in one.labels) == 1

    recs = [REC, {**REC, "output": "打开文件 " * 40}, {**REC, "instruction": "x " * 400}]
    examples, stats = tokenize_records(recs, tok, n_total + 2, progress=False)
    assert stats == {"n": 3, "kept": 2, "truncated": 1, "dropped": 1, "seq_len": n_total + 2}
    assert examples[0] == full
    assert TokenizedExample.from_dict(examples[1].to_dict()) == examples[1]


def test_ensure_pad_token(tiny_tokenizer):
    tok = copy.deepcopy(tiny_tokenizer)
    assert ensure_pad_token(tok) is tok and tok.pad_token == "<pad>"
    tok.pad_token = tok.eos_token  # what many checkpoints ship
    n = len(tok)
    ensure_pad_token(tok)
    assert tok.pad_token_id != tok.eos_token_id and tok.pad_token == "<pad>" and len(tok) == n


def test_token_counts(tiny_tokenizer):
    tok = tiny_tokenizer
    recs = [REC, {**REC, "input": "Close the window", "output": "关闭窗口"},
            {**REC, "language": "en", "task": "instruction", "input": "", "output": "Hi"}]
    df = token_counts(recs, tok).set_index("language")
    lens = [len(tokenize_record(r, tok, 10_000).input_ids) for r in recs]
    assert df.loc["zh", "records"] == 2 and df.loc["zh", "translation_records"] == 2
    assert df.loc["zh", "total_tokens"] == lens[0] + lens[1]
    assert df.loc["zh", "tokens_per_pair"] == pytest.approx((lens[0] + lens[1]) / 2)
    assert df.loc["en", "instruction_records"] == 1 and df.loc["en", "total_tokens"] == lens[2]
    assert df.loc["en", "response_tokens"] == len(tok("Hi", add_special_tokens=False)["input_ids"]) + 1
    import math
    assert math.isnan(df.loc["en", "tokens_per_pair"])


def test_tokenizer_that_adds_bos_and_eos(tiny_tokenizer):
    from tokenizers import processors

    tok = copy.deepcopy(tiny_tokenizer)
    bos, eos = tok.bos_token_id, tok.eos_token_id
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    assert tok("Open the file")["input_ids"][-1] == eos  # the post-processor really appends EOS
    ex = tokenize_record(REC, tok, 512)
    assert ex.input_ids[0] == bos and ex.input_ids.count(eos) == 1 and ex.input_ids[-1] == eos
    plain = tokenize_record(REC, tiny_tokenizer, 512)
    assert ex.input_ids == [bos] + plain.input_ids  # same tokens, one BOS in front
    assert ex.labels == [IGNORE_INDEX] + plain.labels
