"""Prompt templates: the Alpaca format, translation instructions, and chat templates.

The default format is the Stanford Alpaca one. With an input::

    Below is an instruction that describes a task, paired with an input that provides further
    context. Write a response that appropriately completes the request.

    ### Instruction:
    {instruction}

    ### Input:
    {input}

    ### Response:
    <- the prompt ends with this newline; the model's answer starts here

(the first paragraph is one line in the template). Without an input the "### Input:" block is
left out and the first sentence reads "Below is an instruction that describes a task."

Translation records draw their instruction at random (per record, from a seeded
``random.Random``) out of :data:`TRANSLATION_INSTRUCTIONS`, so the model does not overfit one
wording; evaluation always uses :data:`EVAL_TRANSLATION_INSTRUCTION`. Templates carry ``{src}``
and ``{tgt}`` placeholders, filled with English display names ("English", "Chinese").
"""

from __future__ import annotations

import random

from tuning.errors import InputError
from tuning.languages import display_name

__all__ = [
    "ALPACA_PROMPT",
    "ALPACA_PROMPT_NO_INPUT",
    "TRANSLATION_INSTRUCTIONS",
    "EVAL_TRANSLATION_INSTRUCTION",
    "DIRECTIONS",
    "render_prompt",
    "render_chat_prompt",
    "translation_instruction",
]

ALPACA_PROMPT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)

# Written for this project. Varied in register, length and verb, all asking for the
# translation only (no commentary), so the response is exactly the target sentence.
TRANSLATION_INSTRUCTIONS: tuple[str, ...] = (
    "Translate the following text from {src} to {tgt}.",
    "Translate this {src} sentence into {tgt}.",
    "Render the text below in {tgt}. The original is written in {src}.",
    "Please give a {tgt} translation of the following {src} text.",
    "What is the {tgt} translation of this {src} sentence?",
    "Convert the following {src} passage into fluent {tgt}.",
    "Rewrite the input, which is in {src}, in {tgt}.",
    "You are a professional translator. Translate the {src} input into {tgt}.",
    "Produce a faithful {tgt} version of the {src} text below.",
    "Translate from {src} into {tgt}, keeping the meaning and tone of the original.",
    "Here is a sentence in {src}. Write it in {tgt}.",
    "Provide the {tgt} equivalent of the following {src} text.",
    "How would you say this in {tgt}? The text is in {src}.",
    "Translate the {src} text into natural, idiomatic {tgt}.",
    "Give only the {tgt} translation of this {src} input, with no explanation.",
    "{src} to {tgt}: translate the input.",
    "Turn the following {src} sentence into {tgt}.",
    "I need this {src} text in {tgt}. Please translate it.",
    "Translate the input into {tgt}. The source language is {src}.",
    "Express the meaning of the following {src} text in {tgt}.",
    "Could you translate this from {src} to {tgt}?",
    "Write a {tgt} translation for the {src} sentence that follows.",
    "The text below is in {src}. Translate it accurately into {tgt}.",
    "Carry the following {src} text over into {tgt}, preserving names and numbers.",
    "Translate this user interface text from {src} to {tgt}.",
    "Act as a {src}-{tgt} translator and translate the input.",
    "Translate the given {src} text to {tgt} while keeping its formatting.",
    "Read the {src} text and give its translation in {tgt}.",
    "Localise the following {src} string for {tgt} speakers.",
    "Put this {src} sentence into {tgt}.",
    "Translate into {tgt} (from {src}):",
    "Please translate the following from {src} into {tgt}, as a native speaker would write it.",
    "Find the best {tgt} rendering of the {src} text below.",
    "Supply a {tgt} translation of the input, which is written in {src}.",
)

EVAL_TRANSLATION_INSTRUCTION = "Translate the following text from {src} to {tgt}."

# Directions a mixture can take: English into the language, the reverse, or both (drawn per
# record at random).
DIRECTIONS = ("en-x", "x-en", "both")


def render_prompt(instruction: str, input: str = "") -> str:  # noqa: A002 - Alpaca's field name
    """The Alpaca prompt for one record; it ends with "### Response:\\n"."""
    if input:
        return ALPACA_PROMPT.format(instruction=instruction, input=input)
    return ALPACA_PROMPT_NO_INPUT.format(instruction=instruction)


def render_chat_prompt(tokenizer, instruction: str, input: str = "") -> str:  # noqa: A002
    """The prompt from the tokenizer's own chat template (one user turn, generation prompt on).

    The user message is the instruction, followed by a blank line and the input when there is
    one. Raises InputError when the tokenizer has no chat template.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template: "
            "use the Alpaca prompt (chat_template=False) or a tokenizer that ships one"
        )
    content = f"{instruction}\n\n{input}" if input else instruction
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
    )


def _name(lang: str) -> str:
    # Accept a code in any spelling ("zho_simpl") or a display name ("Chinese").
    return display_name(lang)


def translation_instruction(src: str, tgt: str, rng: random.Random | None = None) -> str:
    """A translation instruction from ``src`` to ``tgt`` (codes or display names).

    With ``rng`` one of :data:`TRANSLATION_INSTRUCTIONS` is drawn (``rng.randrange``); without it
    the fixed :data:`EVAL_TRANSLATION_INSTRUCTION` is used.
    """
    template = (
        EVAL_TRANSLATION_INSTRUCTION
        if rng is None
        else TRANSLATION_INSTRUCTIONS[rng.randrange(len(TRANSLATION_INSTRUCTIONS))]
    )
    return template.format(src=_name(src), tgt=_name(tgt))
