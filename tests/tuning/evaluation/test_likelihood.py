"""tuning.evaluation.likelihood: the references' NLL, checked against a per-item log-softmax by hand."""

from __future__ import annotations

import json
import math

import pytest

from tuning.errors import InputError

PROMPTS = ["Translate the following sentence from English to Chinese.\nOpen the file\n",
           "Save the document\n", "Print the page, please, and close the window\n"]
REFS = ["打开文件", "保存文档", "打印页面"]


@pytest.fixture(scope="module")
def model_and_tok(tiny_model_dir):
    from tuning.generation import load_model

    return load_model(tiny_model_dir, device="cpu", dtype="float32")


def _by_hand(model, tok, prompt, ref):
    """One unpadded sequence, log-softmax, the reference tokens and EOS picked out one by one."""
    import torch

    p = tok(prompt)["input_ids"]
    r = tok(ref, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([p + r])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    total = 0.0
    for k, token in enumerate(r):
        total -= float(logp[len(p) + k - 1, token])
    return total, len(r)


def test_matches_hand_computation_whatever_the_batching(model_and_tok):
    from tuning.evaluation.likelihood import reference_nll

    model, tok = model_and_tok
    expected = [_by_hand(model, tok, p, r) for p, r in zip(PROMPTS, REFS)]
    for batch_size in (1, 2, 16):  # padding and sorting must not change a number
        got = reference_nll(model, tok, PROMPTS, REFS, batch_size=batch_size, progress=False)
        assert [n for _, n in got] == [n for _, n in expected]
        for (v, _), (w, _) in zip(got, expected):
            assert v == pytest.approx(w, rel=1e-4, abs=1e-4)


def test_mean_is_token_weighted():
    from tuning.evaluation.likelihood import mean_nll

    # (3 nats over 1 token) and (3 nats over 5 tokens): 6/6 = 1.0, not mean(3, 0.6) = 1.8
    assert mean_nll([(3.0, 1), (3.0, 5)]) == pytest.approx(1.0)
    with pytest.raises(InputError):
        mean_nll([])


def test_uniform_model_gives_log_vocab(tiny_model_dir):
    """A model whose logits are all equal predicts every token with p = 1/V: nll = log V per token."""
    import torch

    from tuning.evaluation.likelihood import mean_nll, reference_nll
    from tuning.generation import load_model

    model, tok = load_model(tiny_model_dir, device="cpu", dtype="float32")
    with torch.no_grad():
        model.lm_head.weight.zero_()
    got = reference_nll(model, tok, PROMPTS, REFS, progress=False)
    assert mean_nll(got) == pytest.approx(math.log(model.config.vocab_size), rel=1e-6)


def test_bad_input(model_and_tok):
    from tuning.evaluation.likelihood import reference_nll

    model, tok = model_and_tok
    with pytest.raises(InputError, match="2 prompts but 1 references"):
        reference_nll(model, tok, PROMPTS[:2], REFS[:1])
    with pytest.raises(InputError, match="non-empty string"):
        reference_nll(model, tok, PROMPTS[:1], [""])


def test_cli_eval_nll_rows_and_pilots(tiny_model_dir, tmp_path, capsys):
    """`tuning eval --nll` writes one nll row per language (token-weighted, by hand here), and
    `tuning pilots --metric nll` passes the loss on (no 0..100 rule) for budgetlaw --lower-is-better."""
    import pandas as pd

    from tuning.cli import main
    from tuning.generation import load_model
    from tuning.prompts import render_prompt

    data = tmp_path / "t.jsonl"
    items = [{"id": f"i{k}", "language": "zh", "instruction": "Translate to Chinese.", "input": en, "reference": ref}
             for k, (en, ref) in enumerate(zip(["Open the file", "Save the document", "Print the page"], REFS))]
    data.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items), encoding="utf-8")
    out = tmp_path / "r.csv"
    assert main(["eval", "--model", str(tiny_model_dir), "--task", "jsonl:t", "--data", str(data), "--nll",
                 "--max-new-tokens", "4", "-o", str(out)]) == 0
    rows = pd.read_csv(out)
    nll = rows[rows.metric == "nll"]
    assert nll["language"].tolist() == ["zh"] and nll["n"].tolist() == [3]
    model, tok = load_model(tiny_model_dir, device="cpu", dtype="float32")
    hand = [_by_hand(model, tok, render_prompt(x["instruction"], x["input"]), x["reference"]) for x in items]
    assert nll["score"].iloc[0] == pytest.approx(sum(v for v, _ in hand) / sum(n for _, n in hand), rel=1e-4)
    assert set(rows.metric) >= {"bleu", "chrf", "off_target", "nll"}

    manifest = tmp_path / "m.manifest.json"
    manifest.write_text(json.dumps({"seed": 3, "counts": {"zh": {"translation": 40, "instruction": 0}}}), encoding="utf-8")
    pilots = tmp_path / "pilots.csv"
    assert main(["pilots", "--results", str(out), "--manifest", str(manifest), "--metric", "nll",
                 "-o", str(pilots)]) == 0
    got = pd.read_csv(pilots)
    assert got["score"].tolist() == pytest.approx([nll["score"].iloc[0]]) and got["metric"].tolist() == ["nll"]
    assert got["score"].iloc[0] > 0  # a loss of a few nats: outside nothing, refused by nothing

    # --nll needs a model to score under
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": x["id"], "prediction": x["reference"]}) + "\n" for x in items),
                     encoding="utf-8")
    assert main(["eval", "--task", "jsonl:t", "--data", str(data), "--predictions", str(preds), "--nll",
                 "-o", str(tmp_path / "r2.csv")]) == 2
    err = capsys.readouterr().err
    assert "--nll" in err and "--model" in err and "Traceback" not in err
    assert not (tmp_path / "r2.csv").exists()
