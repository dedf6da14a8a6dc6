"""The greedy loop (finished rows leave the batch, a shared prompt start runs once) against
model.generate one prompt at a time; the optional engines, skipped where not installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tuning.errors import InputError
from tuning.generation import generate, load_model

SYSTEM = ("<s>### Instruction:\nBelow is an instruction that describes a task. Write a response that "
          "appropriately completes the request.\n")
PROMPTS = [SYSTEM + s for s in ("Open the file", "Translate: The quick brown fox jumps over the lazy dog.",
                                "打开文件", "Mở tệp", "Save the document\n\n### Response:\n", "x")]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(tiny_model_dir, device="cpu", dtype="float32")


def _one_by_one(model, tok, prompts, max_new):
    """model.generate on each prompt alone: no padding, no shared start, nobody leaves a batch."""
    out = []
    for p in prompts:
        ids = torch.tensor([tok(p, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            new = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                                 do_sample=False, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        row = new[0, ids.shape[1]:].tolist()
        out.append(tok.decode(row[:row.index(tok.eos_token_id)] if tok.eos_token_id in row else row,
                              skip_special_tokens=True))
    return out


@pytest.fixture
def eos_early(tiny):
    """The tiny model made to end some rows early: EOS gets a bonus wherever the last hidden state's
    first unit is positive, so rows finish at different steps (a row leaving the batch then matters)."""
    model, tok = tiny
    eos = tok.eos_token_id

    def hook(module, args, output):
        output = output.clone()
        output[..., eos] += 30.0 * (args[0][..., 0] > 0.3)
        return output

    handle = model.lm_head.register_forward_hook(hook)
    yield model, tok
    handle.remove()


def test_the_loop_matches_generate_one_prompt_at_a_time(eos_early):
    model, tok = eos_early
    expected = _one_by_one(model, tok, PROMPTS, 10)
    lengths = [len(tok(x, add_special_tokens=False)["input_ids"]) for x in expected]
    assert len(set(lengths)) > 2 and min(lengths) < 10  # rows do end at different steps
    for batch_size in (1, 4, len(PROMPTS)):
        got = generate(model, PROMPTS, tokenizer=tok, batch_size=batch_size, max_new_tokens=10,
                       add_special_tokens=False, progress=False)
        assert got == expected
        assert generate(model, PROMPTS, tokenizer=tok, batch_size=batch_size, max_new_tokens=10, add_special_tokens=False,
                        progress=False, backend="hf") == expected


def test_finished_rows_leave_the_batch_and_the_start_runs_once(eos_early):
    from tuning.generation.greedy import greedy_batch

    model, tok = eos_early
    rows = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    seen = []
    handle = model.model.register_forward_pre_hook(lambda m, a, kw: seen.append(tuple(kw["input_ids"].shape)),
                                                   with_kwargs=True)
    try:
        out = greedy_batch(model, rows, pad_id=tok.pad_token_id, eos_id=tok.eos_token_id, max_new_tokens=10,
                           draft_tokens=0)  # one token per pass: the step count below holds
    finally:
        handle.remove()
    shared = len(tok(SYSTEM, add_special_tokens=False)["input_ids"])
    assert seen[0][0] == 1 and shared - 2 <= seen[0][1] <= shared  # the shared start, one row
    assert seen[1] == (len(rows), max(len(r) for r in rows) - seen[0][1])  # every row's rest
    # decode step k (1..9) feeds the token of step k-1 of each row that did not end there: the
    # rows with at least k tokens; a row that emitted EOS is not fed again
    running = [sum(len(o) >= k for o in out) for k in range(1, 10)]
    fed = [rows_ for rows_, width in seen[2:]]
    assert fed == [r for r in running if r]
    assert fed[0] < len(rows)  # some rows did leave
    assert all(width == 1 for _, width in seen[2:])


def test_a_configured_logits_processor_falls_back_to_generate(tiny):
    from tuning.generation.greedy import plain_greedy

    model, tok = tiny
    assert plain_greedy(model)
    model.generation_config.repetition_penalty = 1.5
    try:
        assert not plain_greedy(model)
        expected = _one_by_one(model, tok, PROMPTS[:3], 8)  # generate applies the penalty
        assert generate(model, PROMPTS[:3], tokenizer=tok, batch_size=3, max_new_tokens=8, add_special_tokens=False,
                        progress=False) == expected
    finally:
        model.generation_config.repetition_penalty = 1.0


def test_unknown_and_missing_backends_are_one_line_errors(tiny, tiny_model_dir, monkeypatch):
    import builtins

    model, tok = tiny
    with pytest.raises(InputError, match="backend 'fast' is not one of torch, hf, ctranslate2, vllm"):
        generate(model, PROMPTS, tokenizer=tok, backend="fast")
    real_import = builtins.__import__

    def no_engines(name, *args, **kwargs):
        if name in ("vllm", "ctranslate2"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_engines)
    for engine in ("vllm", "ctranslate2"):
        with pytest.raises(InputError, match=f"needs the optional package '{engine}'.*pip install {engine}") as err:
            generate(tiny_model_dir, PROMPTS, backend=engine)
        assert "\n" not in str(err.value)


def test_ctranslate2_gives_the_torch_outputs(tiny, tiny_model_dir, tmp_path, monkeypatch):
    import tempfile

    pytest.importorskip("ctranslate2")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the converted copy goes there
    model, tok = tiny
    expected = generate(model, PROMPTS, tokenizer=tok, batch_size=3, max_new_tokens=8, add_special_tokens=False,
                        progress=False)
    got = generate(tiny_model_dir, PROMPTS, batch_size=3, max_new_tokens=8, add_special_tokens=False, progress=False,
                   backend="ctranslate2", dtype="float32")
    assert got == expected
    assert len(list((tmp_path / "tuning-ctranslate2").glob("*/model.bin"))) == 1  # converted once, reused
    assert generate(model, PROMPTS[:2], tokenizer=tok, batch_size=2, max_new_tokens=8, add_special_tokens=False,
                    progress=False, backend="ctranslate2", dtype="float32") == expected[:2]  # a loaded model
    assert len(list((tmp_path / "tuning-ctranslate2").glob("*/model.bin"))) == 1
    with pytest.raises(InputError, match="greedy only"):
        generate(tiny_model_dir, PROMPTS, backend="ctranslate2", do_sample=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="vLLM runs on a GPU only")
def test_vllm_gives_the_torch_outputs(tiny_model_dir):
    pytest.importorskip("vllm")
    expected = generate(tiny_model_dir, PROMPTS, batch_size=3, max_new_tokens=8, add_special_tokens=False,
                        progress=False, dtype="float32")
    got = generate(tiny_model_dir, PROMPTS, batch_size=3, max_new_tokens=8, add_special_tokens=False, progress=False,
                   backend="vllm", dtype="float32")
    assert got == expected


def test_settings_carry_the_backend_and_refuse_a_bad_one():
    from argparse import Namespace

    from tuning.evaluation.settings import GenerationSettings

    base = dict(batch_size=4, max_new_tokens=8, max_prompt_tokens=None, sample=False, temperature=1.0, top_p=1.0,
                seed=0, no_sort=False)
    assert GenerationSettings.from_args(Namespace(**base)).backend == "torch"
    hf = GenerationSettings.from_args(Namespace(**base, backend="hf")).check()
    assert hf.generate_kwargs()["backend"] == "hf" and "backend" not in hf.decoding()
    with pytest.raises(InputError, match="--backend fast: choose one of torch, hf, ctranslate2, vllm"):
        GenerationSettings(backend="fast").check()
    with pytest.raises(InputError, match="--backend vllm is greedy only"):
        GenerationSettings(backend="vllm", do_sample=True).check()


def _cli_generate(model_dir, tmp_path, name: str, *options: str) -> tuple[int, Path]:
    """`tuning generate` of the first three PROMPTS into tmp_path/NAME.jsonl: (exit status, output)."""
    from tuning.cli import main

    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"i{k}", "prompt": p}) + "\n" for k, p in enumerate(PROMPTS[:3])),
                       encoding="utf-8")
    out = tmp_path / f"{name}.jsonl"
    return main(["generate", "--model", str(model_dir), "--prompts", str(prompts), "-o", str(out),
                 "--device", "cpu", *options]), out


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_cli_generate_with_the_hf_backend_writes_the_same_predictions(tiny_model_dir, tmp_path):
    outs = {}
    for backend in ("torch", "hf"):
        status, out = _cli_generate(tiny_model_dir, tmp_path, backend, "--max-new-tokens", "6", "--backend", backend)
        assert status == 0
        outs[backend] = _records(out)
    assert outs["torch"] == outs["hf"] and set(outs["torch"][0]) == {"id", "prompt", "prediction"}


def test_draft_tokens_reach_the_loop_and_keep_the_greedy_outputs(eos_early, monkeypatch):
    import tuning.generation.decode as generation

    model, tok = eos_early
    expected = _one_by_one(model, tok, PROMPTS, 12)
    seen = []
    real = generation.greedy_batch

    def spy(*args, **kwargs):
        seen.append(kwargs.get("draft_tokens", "default"))
        return real(*args, **kwargs)

    monkeypatch.setattr(generation, "greedy_batch", spy)
    for draft in (None, 0, 1, 7):
        seen.clear()
        got = generate(model, PROMPTS, tokenizer=tok, batch_size=3, max_new_tokens=12, add_special_tokens=False,
                       progress=False, draft_tokens=draft)
        assert got == expected
        assert seen == ["default" if draft is None else draft] * 2  # two batches of 3


def test_draft_tokens_are_refused_when_they_cannot_apply(tiny):
    model, tok = tiny
    for bad in (-1, 1.5, True):
        with pytest.raises(InputError, match="draft_tokens .* must be an integer >= 0"):
            generate(model, PROMPTS, tokenizer=tok, draft_tokens=bad, progress=False)
    with pytest.raises(InputError, match="draft_tokens is an option of backend 'torch', not 'hf'"):
        generate(model, PROMPTS, tokenizer=tok, draft_tokens=2, backend="hf", progress=False)
    # sampling goes through model.generate, which knows no drafts: refused, not silently ignored
    with pytest.raises(InputError, match="draft_tokens speeds greedy decoding only"):
        generate(model, PROMPTS, tokenizer=tok, draft_tokens=2, do_sample=True, progress=False)


def test_cli_draft_tokens_option(tiny_model_dir, tmp_path, capsys):
    outs = {}
    for draft in ("0", "4"):
        status, out = _cli_generate(tiny_model_dir, tmp_path, f"d{draft}", "--max-new-tokens", "6",
                                    "--draft-tokens", draft)
        assert status == 0
        outs[draft] = _records(out)
    assert outs["0"] == outs["4"] and len(outs["0"]) == 3
    capsys.readouterr()
    for extra, message in ((["--draft-tokens", "-2"], "--draft-tokens -2: must be >= 0"),
                           (["--draft-tokens", "3", "--backend", "hf"], "--draft-tokens is an option of --backend torch"),
                           (["--draft-tokens", "3", "--sample"], "--draft-tokens speeds greedy decoding only")):
        status, out = _cli_generate(tiny_model_dir, tmp_path, "refused", *extra)
        assert status != 0
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and not out.exists()
