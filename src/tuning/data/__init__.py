"""tuning.data: read parallel text and instructions, build a mixture from a plan, tokenise it.

    from tuning.data import build_mixture
    build_mixture("plan.json", "mix.jsonl", parallel={"zh": ["/usr/share/locale"]},
                  instructions={"en": ["alpaca.json"]})

Modules: ``pairs`` (``Pair``, line-aligned text; the bottom layer), ``readers`` (recognise a
format and stream its pairs: plain text, TSV), ``instructions`` (JSON/JSONL), ``gettext`` (.po/.mo catalogs
and locale trees), ``evalsets`` (FLORES, SQuAD-format QA), ``sampling`` (one-pass seeded
sampling without duplicates), ``mixture`` (plan -> mixture.jsonl + manifest), ``tokenize``
(records -> input_ids/labels), ``cli`` (``tuning mix``, ``tuning tokens``).
Names load on first use so ``import tuning.data`` stays cheap.
"""

from __future__ import annotations

from tuning._lazy import lazy_attributes

_LAZY = {
    "build_mixture": "tuning.data.mixture",
    "read_plan": "tuning.data.mixture",
    "read_pairs": "tuning.data.readers",
    "read_instructions": "tuning.data.instructions",
    "read_flores": "tuning.data.evalsets",
    "read_squad": "tuning.data.evalsets",
    "sample_distinct": "tuning.data.sampling",
    "tokenize_records": "tuning.data.tokenize",
    "token_counts": "tuning.data.tokenize",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes("tuning.data", _LAZY, globals())
