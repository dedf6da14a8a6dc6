import random
import re

import pytest

from tuning.errors import InputError
from tuning.prompts import (
    ALPACA_PROMPT,
    ALPACA_PROMPT_NO_INPUT,
    EVAL_TRANSLATION_INSTRUCTION,
    TRANSLATION_INSTRUCTIONS,
    render_chat_prompt,
    render_prompt,
    translation_instruction,
)


def test_alpaca_prompt_text():
    expected = (
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nSay hi\n\n### Input:\nBob\n\n### Response:\n"
    )
    assert render_prompt("Say hi", "Bob") == expected
    assert render_prompt("Say hi") == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nSay hi\n\n### Response:\n"
    )
    assert ALPACA_PROMPT.endswith("### Response:\n") and ALPACA_PROMPT_NO_INPUT.endswith("### Response:\n")


def test_translation_instructions():
    assert len(TRANSLATION_INSTRUCTIONS) >= 30
    assert len(set(TRANSLATION_INSTRUCTIONS)) == len(TRANSLATION_INSTRUCTIONS)
    for t in TRANSLATION_INSTRUCTIONS:
        assert set(re.findall(r"{(\w+)}", t)) == {"src", "tgt"}, t
    assert translation_instruction("en", "zho_simpl") == "Translate the following text from English to Chinese."
    assert "{" not in EVAL_TRANSLATION_INSTRUCTION.format(src="a", tgt="b")


def test_drawn_instruction_uses_rng():
    rng_a, rng_b = random.Random(3), random.Random(3)
    draws = [translation_instruction("en", "ar", rng_a) for _ in range(200)]
    assert draws == [translation_instruction("English", "Arabic", rng_b) for _ in range(200)]
    assert len(set(draws)) > 20  # 200 draws out of >= 30 templates cover most of them
    assert all("English" in d and "Arabic" in d for d in draws)


def test_unknown_language_in_instruction():
    with pytest.raises(InputError):
        translation_instruction("en", "xx")


def test_chat_template(tiny_tokenizer):
    import copy

    tok = copy.deepcopy(tiny_tokenizer)
    with pytest.raises(InputError):
        render_chat_prompt(tok, "Hi")
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    assert render_chat_prompt(tok, "Translate.", "Hello") == "<|user|>Translate.\n\nHello\n<|assistant|>"
