"""Greedy decoding of one batch that does no work for finished rows or for a shared prompt start.

What ``model.generate`` does for a batch, greedy, and where this loop does less::

    prefill   every row, left-padded, whole prompt      ->  the rows' shared start (a chat
                                                            template's system text and the task's
                                                            instruction) once, as one row; then
                                                            each row's own rest
    decode    every row until the last one ends         ->  only the rows still running: a row
                                                            that emits EOS or reaches the cap
                                                            leaves the batch and its cache
    output    logits of the whole vocabulary, argmax    ->  the same (the output layer runs at
                                                            each row's last position only)
    cache     DynamicCache: every layer's keys and      ->  preallocated, written in place
              values concatenated at every step; the        (:class:`tuning.generation.kvcache.RowCache`);
              shared key/value heads copied to every        attention reads the shared heads
              query head (repeat_kv) at every step          in place (``grouped_attention``)
    steps     one token per row and pass                ->  a row's next tokens drafted from its
                                                            own earlier n-grams and verified in
                                                            the same pass (:mod:`tuning.generation.lookup`):
                                                            a row that repeats itself, as a model
                                                            rambling to the cap does, gains up to
                                                            ``draft_tokens + 1`` tokens per pass;
                                                            how many are fed is chosen per pass
                                                            by the gain expected per unit of work

Layout of a row: ``[shared start][left padding][rest of the prompt][generated]``. The attention
mask hides the padding and positions count real tokens only (``cumsum(mask) - 1``), so every row
sees the keys, values and positions it would see alone: its greedy tokens are the ones it gets
alone, up to float summation order (a near-tie between two tokens can flip; the benchmark counts
them). The next token is ``argmax`` of the logits, as ``generate`` picks it when no logits
processor is configured; :func:`plain_greedy` says when that holds. Drafts never change which
tokens are greedy (:func:`tuning.generation.lookup.accepted`), only how many passes reach them; a pass over
``q`` tokens sums in another order than ``q`` one-token passes, so on real models a near-tie can
still flip: ``draft_tokens=0`` decodes one token per pass (the arithmetic of the loop before
drafting, the same tokens on the held-out sets, docs/benchmarks/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from tuning.generation.lookup import Lookup, accepted, emit, pass_width

__all__ = ["greedy_batch", "plain_greedy", "shared_start"]

DRAFT_TOKENS = 5  # at most this many draft tokens per row and pass (docs/benchmarks/evaluation.md)
NGRAM, MIN_NGRAM = 3, 1  # n-gram sizes the drafts are looked up by, longest first
# A pass's fixed cost in fed tokens (tuning.generation.lookup.pass_width), measured for SmolLM2-135M on one
# CPU thread: ~80 ms a pass + ~5 ms a token. A GPU pass is far more fixed cost (weights read,
# kernel launches) than per token, so there this under-drafts; not measured (no GPU was lent).
PASS_COST_TOKENS = 16

_MIN_SHARED = 8  # a shorter shared start saves less than its own forward pass and cache copy cost

# generation_config fields that make generate() change the logits or the stopping before argmax
_PROCESSORS = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "encoder_repetition_penalty": 1.0,
               "bad_words_ids": None, "min_length": 0, "min_new_tokens": None, "suppress_tokens": None,
               "begin_suppress_tokens": None, "forced_bos_token_id": None, "forced_eos_token_id": None,
               "sequence_bias": None, "exponential_decay_length_penalty": None, "stop_strings": None,
               "max_time": None, "num_beams": 1, "penalty_alpha": None, "guidance_scale": None}


def plain_greedy(model) -> bool:
    """Whether the model's generation_config leaves greedy decoding as a plain argmax (no
    repetition penalty, banned words, forced or suppressed tokens, beams): then
    :func:`greedy_batch` decodes what ``generate`` decodes."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return True
    return all(getattr(config, name, default) in (default, None) or
               (name == "num_beams" and getattr(config, name) == 1)
               for name, default in _PROCESSORS.items())


def shared_start(rows: Sequence[Sequence[int]]) -> int:
    """Tokens every row starts with, stopping before each row's last token (whose logits give
    the first new token); 0 when fewer than _MIN_SHARED or for a single row."""
    if len(rows) < 2:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n if n >= _MIN_SHARED else 0


def greedy_batch(model, rows: Sequence[Sequence[int]], *, pad_id: int, eos_id: int | None,
                 max_new_tokens: int, share_start: bool = True, draft_tokens: int = DRAFT_TOKENS,
                 ngram: int = NGRAM, min_ngram: int = MIN_NGRAM,
                 pass_cost: float = PASS_COST_TOKENS) -> list[list[int]]:
    """The greedy continuation of each row of token ids (EOS not included), at most
    ``max_new_tokens`` tokens each; a row ends at its first EOS.

    ``draft_tokens`` > 0 verifies up to that many prompt-lookup draft tokens per row and pass
    (:mod:`tuning.generation.lookup`, n-grams of ``ngram`` down to ``min_ngram`` tokens); 0 decodes one
    token per pass, the arithmetic of the loop before drafting. How many a pass feeds is chosen
    per pass (:func:`tuning.generation.lookup.pass_width`, ``pass_cost`` its fixed cost in tokens) from
    what each row had accepted: all of its last draft -> one more than that, else what it
    accepted; at least 1 when its draft is found by the longest n-gram (a repeat); 1 at first.
    """
    import torch

    # these import transformers: only when decoding
    from tuning.generation.kvcache import RowCache, grouped_attention

    if not rows:
        return []
    if any(len(r) == 0 for r in rows):
        raise ValueError("greedy_batch: every row needs at least one prompt token")
    if draft_tokens < 0:
        raise ValueError("greedy_batch: draft_tokens must be 0 or more")
    dev = next(model.parameters()).device
    skip = shared_start(rows) if share_start else 0
    ids, mask, positions = _layout(rows, skip, pad_id)
    n, width = ids.shape
    cache = RowCache(model.config.num_hidden_layers, n, skip + width + max_new_tokens + draft_tokens + 1,
                     device=dev)
    cache.valid[:, :skip + width] = mask.to(dev)
    forward = _Forward(model, cache)
    out: list[list[int]] = [[] for _ in rows]
    live = _Rows(rows, positions.to(dev), ngram, min_ngram, drafting=draft_tokens > 0)
    with torch.inference_mode():
        if skip:
            forward.prefix(rows[0][:skip])
        with grouped_attention(model):
            # Left padding puts every row's last prompt token in the last column: the output layer
            # need run there only (logits_to_keep, where the model's forward takes it).
            logits = forward(ids.to(dev), live.positions, 1)
            cache.advance(torch.full((n,), width, dtype=torch.long, device=dev))
            live.positions = live.positions[:, -1] + 1  # the position of each row's next input token
            verified = False  # whether the last pass fed [last token, drafts] (not the prompt)
            while True:
                gains, running = live.accept(logits.argmax(dim=-1).tolist(), out, eos_id, max_new_tokens)
                if not running:
                    break
                if verified:
                    live.step_past(gains, cache)
                gains = live.keep(running, gains, cache)
                q = live.next_drafts(gains, out, draft_tokens, max_new_tokens, pass_cost)
                logits = forward(live.inputs(gains, q, pad_id).to(dev),
                                 live.positions[:, None] + torch.arange(q, device=dev), q)
                verified = True
    return out


def _layout(rows: Sequence[Sequence[int]], skip: int, pad_id: int):
    """The rows after their shared start of ``skip`` tokens, left-padded: (ids, mask, positions),
    the mask over the shared start too, positions counting real tokens only (on the CPU)."""
    import torch

    width = max(len(r) for r in rows) - skip
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, skip + width), dtype=torch.bool)
    mask[:, :skip] = True
    for i, r in enumerate(rows):
        ids[i, width - (len(r) - skip):] = torch.tensor(list(r[skip:]), dtype=torch.long)
        mask[i, skip + width - (len(r) - skip):] = True
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)[:, skip:]
    return ids, mask, positions


class _Forward:
    """The model's forward pass over the row cache: KV written in place, logits where scored."""

    def __init__(self, model, cache):
        from tuning.generation.hf_internals import attn_implementation, takes_logits_to_keep

        self.model, self.cache = model, cache
        self.keep = takes_logits_to_keep(model)
        self.eager = attn_implementation(model.config, "sdpa") != "sdpa"
        self.dtype = next(model.parameters()).dtype
        self.device = next(model.parameters()).device

    def prefix(self, tokens: Sequence[int]) -> None:
        """The rows' shared start, once, as one row, into every row's cache."""
        import torch

        past = self.model(input_ids=torch.tensor([list(tokens)], device=self.device), use_cache=True,
                          **({"logits_to_keep": 1} if self.keep else {})).past_key_values
        self.cache.load_prefix(past)
        del past

    def __call__(self, inputs, pos, scored: int):
        """Logits at the last ``scored`` fed positions; the KV of ``inputs`` written in place
        from each row's length."""
        import torch

        cache, q = self.cache, inputs.shape[1]
        cache.plan(q)
        attn = cache.mask(q, self.dtype if self.eager else None)
        extra = {"logits_to_keep": scored} if self.keep else {}
        return self.model(input_ids=inputs, attention_mask=attn, position_ids=pos, past_key_values=cache,
                          cache_position=torch.arange(cache.read - q, cache.read, device=self.device), use_cache=True,
                          **extra).logits[:, -scored:, :]


class _Rows:
    """The rows still decoding, in batch order: for each, its input row (``alive``), the position
    of its next input token, its lookup of drafts, the draft last fed, and how many draft tokens
    it is expected to have accepted."""

    def __init__(self, rows: Sequence[Sequence[int]], positions, ngram: int, min_ngram: int, *, drafting: bool):
        self.alive = list(range(len(rows)))
        self.positions = positions
        self.lookups = [Lookup(r, ngram, min_ngram) for r in rows] if drafting else []
        self.drafts: list[list[int]] = [[] for _ in rows]
        self.expect = [1] * len(rows)

    def accept(self, predicted: list, out: list[list[int]], eos_id: int | None, cap: int):
        """Each row's tokens gained by the last pass (its accepted drafts and the next greedy
        token), appended to its output; returns (gains, batch rows still running)."""
        gains, running = [], []
        for b, row in enumerate(self.alive):
            gains.append(accepted(self.drafts[b], predicted[b]))
            _, done = emit(gains[-1], out[row], eos_id=eos_id, cap=cap)
            if not done:
                running.append(b)
        return gains, running

    def step_past(self, gains: list[list[int]], cache) -> None:
        """After a verifying pass: the pass's first input and the accepted drafts stay in the
        cache; the last gained token is fed next, len(gained) positions after the pass's first input."""
        import torch

        for b, (g, d) in enumerate(zip(gains, self.drafts)):
            if d:
                self.expect[b] = len(g) if len(g) == len(d) + 1 else len(g) - 1
        step = torch.tensor([len(g) for g in gains], device=self.positions.device)
        cache.advance(step)
        self.positions = self.positions + step

    def keep(self, running: list[int], gains: list[list[int]], cache) -> list[list[int]]:
        """Finished rows leave the batch and the cache; returns the gains of those that stay."""
        import torch

        if len(running) == len(self.alive):
            return gains
        index = torch.tensor(running, device=self.positions.device)
        cache.keep(index)
        self.positions = self.positions[index]
        self.alive = [self.alive[b] for b in running]
        self.expect = [self.expect[b] for b in running]
        self.lookups = [self.lookups[b] for b in running] if self.lookups else []
        return [gains[b] for b in running]

    def next_drafts(self, gains: list[list[int]], out: list[list[int]], draft_tokens: int, cap: int,
                    pass_cost: float) -> int:
        """Each row's next draft, cut to the pass width chosen for them; returns that width."""
        for lk, g in zip(self.lookups, gains):
            lk.extend(g)
        if not self.lookups:
            self.drafts = [[] for _ in self.alive]
            return 1
        # the cap leaves room for at most cap - len(out) - 1 drafts after the next token
        drafts = [lk.draft(min(draft_tokens, cap - len(out[row]) - 1)) for lk, row in zip(self.lookups, self.alive)]
        hopes = [max(e, 1) if lk.matched == lk.sizes[0] else e for e, lk in zip(self.expect, self.lookups)]
        q = pass_width(hopes, max(len(d) for d in drafts), pass_cost)
        self.drafts = [d[:q - 1] for d in drafts]
        return q

    def inputs(self, gains: list[list[int]], q: int, pad_id: int):
        """The next pass's input ids: each row's last gained token, then its draft, padded to ``q``."""
        import torch

        inputs = torch.full((len(self.alive), q), pad_id, dtype=torch.long)
        for b, (g, d) in enumerate(zip(gains, self.drafts)):
            inputs[b, :1 + len(d)] = torch.tensor([g[-1], *d], dtype=torch.long)
        return inputs
