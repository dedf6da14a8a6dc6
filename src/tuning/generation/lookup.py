"""Prompt-lookup drafts and their acceptance: the speculative part of :mod:`tuning.generation.greedy`.

A row's **draft** is a guess of its next tokens copied from its own text (prompt + tokens
generated so far): find the latest earlier place where the text's last ``n`` tokens occurred
(``n`` from ``ngram`` down to ``min_ngram``; the longest match wins) and propose the tokens that
followed it there, up to ``k``. A copy may run into its own output, as in LZ77, so a row that
repeats a phrase shorter than ``k`` still gets ``k`` tokens (``a b a b`` drafts ``a b a b ...``).
Rambling to the length cap is mostly such repetition, which is why this pays.

**Acceptance** keeps the output greedy. The model runs once on ``[last, d1 .. dm]``; ``p[i]``
is the argmax of its logits after input ``i``. ``p[0]`` is the next greedy token whatever the
draft; ``p[i]`` is the greedy token after that only if ``d1 .. di`` equal ``p[0] .. p[i-1]``. So
the tokens gained are ``p[0] .. p[a]`` with ``a`` the length of the longest prefix where
``d[i+1] == p[i]``: one to ``m + 1`` tokens per pass, never a token greedy decoding would not
have produced (up to float rounding: a pass over ``m + 1`` tokens sums in another order than
``m + 1`` one-token passes, so a near-tie between two tokens can flip; the benchmark counts it).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Lookup", "accepted", "emit", "pass_width"]


class Lookup:
    """The n-gram index of one row's text, extended as tokens are generated.

    ``index[n][gram]`` is the position just after the latest occurrence of the n-gram ``gram``
    that has a following token; the text's final n-gram is entered only once a token follows it,
    so a lookup of the final n-gram finds an *earlier* occurrence.
    """

    def __init__(self, tokens: Sequence[int], ngram: int = 3, min_ngram: int = 1):
        if not 1 <= min_ngram <= ngram:
            raise ValueError(f"Lookup: need 1 <= min_ngram ({min_ngram}) <= ngram ({ngram})")
        self.sizes = range(ngram, min_ngram - 1, -1)
        self.matched = 0  # the n-gram size the last draft was found by (0: none)
        self.tokens: list[int] = []
        self.index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in self.sizes}
        self.extend(tokens)

    def extend(self, tokens: Sequence[int]) -> None:
        text = self.tokens
        for t in tokens:
            end = len(text)  # the n-grams ending just before the new token now have a follower
            for n in self.sizes:
                if end >= n:
                    self.index[n][tuple(text[end - n:end])] = end
            text.append(t)

    def draft(self, k: int) -> list[int]:
        """Up to ``k`` tokens that followed the latest earlier occurrence of the longest matching
        final n-gram; empty when none occurs earlier (or ``k`` is 0)."""
        text = self.tokens
        self.matched = 0
        if k <= 0:
            return []
        for n in self.sizes:
            if len(text) <= n:
                continue
            start = self.index[n].get(tuple(text[-n:]))
            if start is not None:
                out: list[int] = []
                for i in range(k):  # may copy from its own draft (a repeat shorter than k)
                    j = start + i
                    out.append(text[j] if j < len(text) else out[j - len(text)])
                self.matched = n
                return out
        return []


def pass_width(expected: Sequence[float], limit: int, fixed: float) -> int:
    """Tokens per row ``q`` (1 .. ``limit + 1``) for the next pass: the ``q`` that gains the most
    tokens per unit of work,

        max over q of  sum_b (1 + min(q - 1, expected[b]))  /  (fixed + rows * q),

    with ``expected[b]`` the draft tokens row ``b`` is expected to have accepted, and the pass's
    work counted in fed tokens (every row feeds ``q``: a short draft is padded) plus ``fixed``,
    a pass's cost that does not grow with its tokens (reading the weights, launching kernels),
    in the same unit. The smallest such ``q`` wins a tie."""
    rows = len(expected)
    best, width = 0.0, 1
    for q in range(1, limit + 2):
        rate = sum(1 + min(q - 1, e) for e in expected) / (fixed + rows * q)
        if rate > best * (1 + 1e-9):
            best, width = rate, q
    return width


def accepted(draft: Sequence[int], predicted: Sequence[int]) -> list[int]:
    """The greedy tokens a verify pass yields: ``predicted[0 .. a]`` where ``a`` is the longest
    prefix with ``draft[i] == predicted[i]`` (``predicted`` has at least ``len(draft) + 1``
    entries: the argmax after the last token and after each draft token)."""
    a = 0
    while a < len(draft) and draft[a] == predicted[a]:
        a += 1
    return list(predicted[:a + 1])


def emit(tokens: Sequence[int], out: list[int], *, eos_id: int | None, cap: int) -> tuple[int, bool]:
    """Append greedy ``tokens`` to a row's output ``out`` as one-token decoding would: stop
    before the first EOS or once ``out`` holds ``cap`` tokens. Returns (tokens used, row done)."""
    for used, t in enumerate(tokens, start=1):
        if t == eos_id:
            return used, True
        out.append(t)
        if len(out) >= cap:
            return used, True
    return len(tokens), False
