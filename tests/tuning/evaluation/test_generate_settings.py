"""generate's decoding knobs as one frozen GenerateSettings: the object and the keywords agree."""

from __future__ import annotations

import dataclasses

import pytest

from tuning.errors import InputError
from tuning.evaluation.settings import GenerationSettings
from tuning.generation import GenerateSettings, generate, load_model

PROMPTS = ["Open the file", "打开文件", "### Instruction:\nSave the document\n\n### Response:\n", "x"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(tiny_model_dir, device="cpu", dtype="float32")


def test_a_settings_object_decodes_as_the_same_keywords(tiny):
    model, tok = tiny
    by_keywords = generate(model, PROMPTS, tokenizer=tok, batch_size=2, max_new_tokens=7, progress=False)
    settings = GenerateSettings(batch_size=2, max_new_tokens=7)
    assert generate(model, PROMPTS, settings, tokenizer=tok, progress=False) == by_keywords
    # a keyword overrides that one field of the settings; the object itself is left as it was
    longer = GenerateSettings(batch_size=2, max_new_tokens=30)
    assert generate(model, PROMPTS, longer, tokenizer=tok, max_new_tokens=7, progress=False) == by_keywords
    assert longer.max_new_tokens == 30
    one_token = generate(model, PROMPTS, settings, tokenizer=tok, max_new_tokens=1, progress=False)
    assert all(len(tok(text, add_special_tokens=False)["input_ids"]) <= 1 for text in one_token)


def test_settings_are_frozen_and_checked_when_made():
    assert GenerateSettings() == GenerateSettings(batch_size=16, max_new_tokens=256, backend="torch")
    with pytest.raises(dataclasses.FrozenInstanceError):
        GenerateSettings().batch_size = 3
    for bad, words in ((dict(batch_size=0), "batch_size and max_new_tokens must be at least 1"),
                       (dict(max_new_tokens=0), "batch_size and max_new_tokens must be at least 1"),
                       (dict(backend="fast"), "backend 'fast' is not one of"),
                       (dict(draft_tokens=-1), "draft_tokens -1 must be an integer >= 0"),
                       (dict(draft_tokens=2, backend="hf"), "draft_tokens is an option of backend 'torch'"),
                       (dict(draft_tokens=2, do_sample=True), "draft_tokens speeds greedy decoding only")):
        with pytest.raises(InputError, match=words):
            GenerateSettings(**bad)


def test_an_unknown_keyword_names_the_settings_fields(tiny):
    model, tok = tiny
    with pytest.raises(TypeError, match="max_new_token.*fields of GenerateSettings: .*max_new_tokens"):
        generate(model, PROMPTS, tokenizer=tok, max_new_token=5, progress=False)


def test_the_command_line_settings_map_onto_generate_settings():
    # every option `tuning generate`/`eval` passes on is a field of GenerateSettings
    options = GenerationSettings(backend="hf", max_prompt_tokens=9).generate_kwargs()
    made = GenerateSettings(**options)
    assert {name: getattr(made, name) for name in options} == options
