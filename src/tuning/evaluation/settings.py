"""How predictions are made: one frozen object for the generation options of `generate`/`eval`.

Its :meth:`GenerationSettings.signature` is the text appended to every results.csv signature
(``decode:greedy|max_new:256|prompt:alpaca``, ``|limit:N`` when a limit is set), and
:meth:`~GenerationSettings.decoding` the part without the limit, which the predictions folder's
run.json records: a limit changes which items are scored, not how each one is generated, so
predictions made under another limit may be resumed.
"""

from __future__ import annotations

import dataclasses

from tuning.errors import InputError
from tuning.generation import BACKENDS


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    batch_size: int = 16
    max_new_tokens: int = 256
    max_prompt_tokens: int | None = None  # keep the last N prompt tokens
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    sort_by_length: bool = True
    chat_template: bool = False  # prompts rendered with the tokenizer's chat template (else Alpaca)
    limit: int | None = None  # first N items of each task
    # how greedy tokens are computed (tuning.generation.BACKENDS); not part of the signature:
    # every backend decodes the same greedy tokens up to near-ties (docs/evaluation.md)
    backend: str = "torch"
    draft_tokens: int | None = None  # backend torch: drafts per row and pass (None: greedy's default)

    @classmethod
    def from_args(cls, args) -> GenerationSettings:
        """From parsed `tuning generate`/`eval` options (generate has no --chat-template or --limit)."""
        return cls(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                   max_prompt_tokens=args.max_prompt_tokens, do_sample=args.sample,
                   temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                   sort_by_length=not args.no_sort, chat_template=getattr(args, "chat_template", False),
                   limit=getattr(args, "limit", None), backend=getattr(args, "backend", None) or "torch",
                   draft_tokens=getattr(args, "draft_tokens", None))

    def check(self) -> GenerationSettings:
        """Refuse numbers that cannot make sense, at the door (messages name the option)."""
        for option, value in (("--batch-size", self.batch_size), ("--max-new-tokens", self.max_new_tokens)):
            if value < 1:
                raise InputError(f"{option} {value}: must be >= 1")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise InputError(f"--max-prompt-tokens {self.max_prompt_tokens}: must be >= 1 (or leave it out)")
        if not (self.temperature > 0 and self.temperature < float("inf")):
            raise InputError(f"--temperature {self.temperature}: must be a finite number > 0")
        if not 0 < self.top_p <= 1:
            raise InputError(f"--top-p {self.top_p}: must be in (0, 1]")

        if self.backend not in BACKENDS:
            raise InputError(f"--backend {self.backend}: choose one of {', '.join(BACKENDS)}")
        if self.do_sample and self.backend not in ("torch", "hf"):
            raise InputError(f"--backend {self.backend} is greedy only; drop --sample or use --backend torch")
        if self.draft_tokens is not None:
            if self.draft_tokens < 0:
                raise InputError(f"--draft-tokens {self.draft_tokens}: must be >= 0 (0: one token per pass)")
            if self.backend != "torch":
                raise InputError(f"--draft-tokens is an option of --backend torch, not {self.backend}; drop it")
            if self.do_sample:
                raise InputError("--draft-tokens speeds greedy decoding only; drop it or --sample")
        return self

    def generate_kwargs(self) -> dict:
        """Keyword arguments of tuning.generation.generate / generate_to_file."""
        return dict(batch_size=self.batch_size, max_new_tokens=self.max_new_tokens,
                    max_prompt_tokens=self.max_prompt_tokens, do_sample=self.do_sample,
                    temperature=self.temperature, top_p=self.top_p, seed=self.seed,
                    sort_by_length=self.sort_by_length,
                    # the default backend is generate's own default: only another one is passed
                    **({} if self.backend == "torch" else {"backend": self.backend}),
                    **({} if self.draft_tokens is None else {"draft_tokens": self.draft_tokens}))

    def decoding(self) -> str:
        """``decode:...|max_new:N|prompt:alpaca|chat``: what changes each prediction."""
        decode = (f"sample-t{self.temperature:g}-p{self.top_p:g}-s{self.seed}" if self.do_sample
                  else "greedy")
        return f"decode:{decode}|max_new:{self.max_new_tokens}|prompt:{'chat' if self.chat_template else 'alpaca'}"

    def signature(self) -> str:
        """:meth:`decoding` plus ``|limit:N`` when a limit is set."""
        return self.decoding() + (f"|limit:{self.limit}" if self.limit else "")
