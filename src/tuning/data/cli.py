"""``tuning mix`` and ``tuning tokens``: thin wrappers over build_mixture and token_counts.

No torch or transformers at import time: ``tuning --help`` must stay fast.
"""

from __future__ import annotations

import argparse
import logging
from tuning.data.mixture import build_mixture
from budgetlaw.fileio import atomic_write, check_output
from tuning.data.mixture import read_mixture
from tuning.data.tokenize import load_tokenizer, token_counts

log = logging.getLogger(__name__)


def _lang_path(text: str) -> tuple[str, str]:
    lang, sep, path = text.partition("=")
    if not sep or not lang.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected LANG=PATH, e.g. zh=/usr/share/locale")
    return lang.strip(), path.strip()


def register(subparsers) -> None:
    mix = subparsers.add_parser(
        "mix", help="build a training mixture (JSONL + manifest) from a budgetlaw plan",
        description="Draw the planned number of translation pairs per language, add English and "
                    "translated instructions, drop held-out text; write OUT and OUT.manifest.json. "
                    "PATH formats: .tsv[.gz], .po/.mo, locale tree, FLORES dir, EN_FILE,XX_FILE or "
                    "PREFIX (PREFIX.en + PREFIX.xx), .json/.jsonl instructions (see docs/data.md).",
    )
    mix.add_argument("plan", help="plan.json written by budgetlaw (uses sizes, constraints.max_epochs)")
    mix.add_argument("-o", "--output", required=True, help="mixture JSONL to write")
    mix.add_argument("--parallel", action="append", type=_lang_path, default=[], metavar="LANG=PATH",
                     help="parallel data for LANG (repeatable, also per language)")
    mix.add_argument("--instructions", action="append", type=_lang_path, default=[], metavar="LANG=PATH",
                     help="instruction data in LANG; en=PATH is required unless --recipe translation (repeatable)")
    mix.add_argument("--heldout", action="append", type=_lang_path, default=[], metavar="LANG=PATH",
                     help="evaluation/dev data that must not enter the mixture (repeatable)")
    mix.add_argument("--recipe", choices=("coit", "muit", "translation"), default=None,
                     help="coit: one target language; muit: several (default: from the plan); "
                          "translation: translation pairs only, no --instructions")
    mix.add_argument("--direction", choices=("en-x", "x-en", "both"), default="en-x",
                     help="translation direction of the records (default en-x)")
    mix.add_argument("--seed", type=int, default=0)
    mix.add_argument("--min-score", type=float, default=None,
                     help="drop 3-column TSV rows with an alignment score below this")
    mix.set_defaults(func=run_mix)

    tokens = subparsers.add_parser(
        "tokens", help="count tokens per language of a mixture (for a token budget)",
        description="Write a CSV with one row per language: records, prompt/response/total tokens, "
                    "tokens_per_pair (use it as `cost` in budgetlaw allocate).",
    )
    tokens.add_argument("mixture", help="mixture JSONL (tuning mix)")
    tokens.add_argument("--tokenizer", required=True, help="tokenizer directory (or hub name)")
    tokens.add_argument("-o", "--output", required=True, help="CSV to write")
    tokens.add_argument("--chat-template", action="store_true",
                        help="count with the tokenizer's chat template instead of the Alpaca prompt")
    tokens.set_defaults(func=run_tokens)


def run_mix(args) -> int:
    manifest = build_mixture(
        args.plan, args.output, parallel=args.parallel, instructions=args.instructions,
        heldout=args.heldout, recipe=args.recipe, direction=args.direction, seed=args.seed,
        min_score=args.min_score,
    )
    for lang, c in manifest["counts"].items():
        log.info("%s: %d translation, %d instruction records; %d held-out hits", lang,
                 c["translation"], c["instruction"], manifest["heldout_hits"].get(lang, 0))
    return 0


def run_tokens(args) -> int:
    check_output(args.output, [args.mixture])
    records = read_mixture(args.mixture)
    tokenizer = load_tokenizer(args.tokenizer)
    frame = token_counts(records, tokenizer, chat_template=args.chat_template)
    with atomic_write(args.output) as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
    log.info("wrote %s (%d languages)", args.output, len(frame))
    return 0
