"""Batched generation equals one prompt at a time; positions under left padding; resume."""

from __future__ import annotations

import json

import pytest
import torch

from tuning.cli import main
from tuning.errors import InputError
from tuning.evaluation.predictions import generate_to_file, read_predictions
from tuning.generation import generate, left_pad, length_batches, load_model

PROMPTS = [
    "Open the file",
    "Translate the following sentence from English to Chinese. The quick brown fox jumps over the lazy dog.",
    "打开文件",
    "Mở tệp",
    "### Instruction:\nSave the document\n\n### Response:\n",
    "Άνοιγμα αρχείου και αποθήκευση εγγράφου",
    "x",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(tiny_model_dir, device="cpu", dtype="float32")


def test_batched_greedy_equals_one_at_a_time(tiny):
    model, tok = tiny
    singles = [generate(model, [p], tokenizer=tok, batch_size=1, max_new_tokens=12, progress=False)[0]
               for p in PROMPTS]
    assert len(set(singles)) == len(PROMPTS)  # distinct outputs, so a mix-up would show
    for sort in (True, False):
        for batch_size in (3, len(PROMPTS)):
            batched = generate(model, PROMPTS, tokenizer=tok, batch_size=batch_size,
                               max_new_tokens=12, sort_by_length=sort, progress=False)
            assert batched == singles


def test_generate_from_directory_matches_loaded_model(tiny, tiny_model_dir):
    model, tok = tiny
    a = generate(tiny_model_dir, PROMPTS[:3], batch_size=2, max_new_tokens=6, progress=False, device="cpu")
    b = generate(model, PROMPTS[:3], tokenizer=tok, batch_size=2, max_new_tokens=6, progress=False)
    assert a == b


@pytest.fixture(scope="module")
def tiny_gpt2(tiny):
    """GPT-2 has absolute position embeddings, so wrong positions under left padding show."""
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tok = tiny
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id)
    return GPT2LMHeadModel(config).eval(), tok


@pytest.mark.parametrize("which", ["llama", "gpt2"])
def test_left_pad_positions_are_what_the_model_needs(tiny, tiny_gpt2, which):
    """Left-padded logits equal unpadded ones with our positions (and mask)."""
    model, tok = tiny if which == "llama" else tiny_gpt2
    short, long_ = tok("Open the file")["input_ids"], tok(PROMPTS[1])["input_ids"]
    ids, mask, pos = left_pad([short, long_], tok.pad_token_id)
    assert pos[0, -len(short):].tolist() == list(range(len(short)))
    assert mask[0].tolist() == [0] * (len(long_) - len(short)) + [1] * len(short)
    with torch.no_grad():
        alone = model(torch.tensor([short])).logits[0, -1]
        right = model(ids, attention_mask=mask, position_ids=pos).logits[0, -1]
        unmasked = model(ids, position_ids=pos).logits[0, -1]
        naive = model(ids, attention_mask=mask,
                      position_ids=torch.arange(ids.shape[1]).expand_as(ids)).logits[0, -1]
    torch.testing.assert_close(right, alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unmasked, alone, atol=1e-3)  # the mask matters for both
    # Rotary positions only see offsets, so a shift is harmless for Llama; GPT-2's absolute
    # embeddings are not, which is what makes its batched-vs-single test below meaningful.
    assert torch.allclose(naive, alone, atol=1e-4) == (which == "llama")


def test_batched_equals_single_with_absolute_positions(tiny_gpt2):
    model, tok = tiny_gpt2
    singles = [generate(model, [p], tokenizer=tok, max_new_tokens=10, progress=False)[0] for p in PROMPTS]
    batched = generate(model, PROMPTS, tokenizer=tok, batch_size=4, max_new_tokens=10, progress=False)
    assert batched == singles


def test_length_batches():
    assert length_batches([1, 5, 3, 5], 2) == [[1, 3], [2, 0]]
    assert length_batches([1, 5, 3], 2, sort_by_length=False) == [[0, 1], [2]]


def test_stops_at_eos(tiny):
    model, tok = tiny
    prompt = tok("Open the file")["input_ids"]
    expected = model.generate(torch.tensor([prompt]), max_new_tokens=2,
                              do_sample=False, pad_token_id=tok.pad_token_id)[0, -2:].tolist()
    # EOS wins at the third new token's position (the logits after position len(prompt) + 1),
    # whichever pass computes it: a verify pass of drafted tokens computes several positions
    positions, calls = [], {"n": 0}
    pre = model.model.register_forward_pre_hook(lambda m, a, kw: positions.append(kw["position_ids"]),
                                                with_kwargs=True)

    def force_eos_at_third_token(module, inputs, output):
        calls["n"] += 1
        pos = positions[-1][:, -output.shape[1]:]
        output[..., tok.eos_token_id] += 1e4 * (pos >= len(prompt) + 1)
        return output

    handle = model.lm_head.register_forward_hook(force_eos_at_third_token)
    try:
        out = generate(model, ["Open the file"], tokenizer=tok, max_new_tokens=20, progress=False)
    finally:
        handle.remove()
        pre.remove()
    assert int(positions[-1].max()) >= len(prompt) + 1 and calls["n"] <= 3  # no pass after the one giving EOS
    assert out == [tok.decode(expected, skip_special_tokens=True)]


def test_sampling_is_seeded(tiny):
    model, tok = tiny
    a = generate(model, PROMPTS[:2], tokenizer=tok, do_sample=True, seed=3, max_new_tokens=8, progress=False)
    b = generate(model, PROMPTS[:2], tokenizer=tok, do_sample=True, seed=3, max_new_tokens=8, progress=False)
    assert a == b


def test_bad_input(tiny, tmp_path):
    model, tok = tiny
    with pytest.raises(InputError, match="tokenizer"):
        generate(model, ["a"])
    with pytest.raises(InputError, match="list of strings"):
        generate(model, "a", tokenizer=tok)
    with pytest.raises(InputError, match="config.json"):
        load_model(tmp_path)


def test_resume_skips_finished_ids_and_tolerates_a_torn_line(tiny, tmp_path):
    model, tok = tiny
    items = [(f"q{i}", p) for i, p in enumerate(PROMPTS)]
    out = tmp_path / "pred.jsonl"
    out.write_text(json.dumps({"id": "q0", "prompt": PROMPTS[0], "prediction": "KEPT"}) + "\n"
                   + '{"id": "q1", "prompt": "Transl', encoding="utf-8")  # killed mid-write
    done = generate_to_file(model, items, out, tokenizer=tok, batch_size=3, max_new_tokens=6, progress=False)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(i for i, _ in items)  # each id once
    assert done["q0"] == "KEPT"  # not regenerated
    fresh = generate(model, PROMPTS[1:], tokenizer=tok, max_new_tokens=6, progress=False)
    assert [done[f"q{i}"] for i in range(1, len(PROMPTS))] == fresh
    assert read_predictions(out) == done


def test_cli_generate_resumes(tiny_model_dir, tmp_path):
    prompts = tmp_path / "in.jsonl"
    prompts.write_text("\n".join(json.dumps({"id": i, "prompt": p}) for i, p in enumerate(PROMPTS[:4])),
                       encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["generate", "--model", str(tiny_model_dir), "--prompts", str(prompts), "-o", str(out),
            "--max-new-tokens", "5", "--batch-size", "2", "--device", "cpu"]
    assert main(argv) == 0
    first = out.read_text(encoding="utf-8")
    assert len(first.splitlines()) == 4
    assert main(argv) == 0  # everything done: nothing appended
    assert out.read_text(encoding="utf-8") == first
    assert main(["generate", "--model", str(tmp_path), "--prompts", str(prompts), "-o", str(out)]) == 2
