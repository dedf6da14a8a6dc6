"""One-pass seeded sampling of k distinct items, in memory proportional to k.

The method is bottom-k sampling on a keyed hash: every item gets the priority

    h(item) = first 8 bytes of BLAKE2b(normalize(item), key=seed) as an unsigned integer

and the sample is the k items with the smallest priorities. Because the hash is a pseudo-random
function of the item's *content*, this is a uniform random sample of the distinct items
(duplicates share one priority, so an item's chance does not grow with its copies), the result
does not depend on the order of the input, and a duplicate is recognised whenever its twin is
in the sample. Memory: the k kept items plus, to count duplicates exactly, 8 bytes per item seen
(a numpy ``uint64`` array, not the items).

Identity is by normalised text (:func:`normalize`): Unicode NFKC, case folded, runs of
whitespace made one space, ends stripped. The first item seen of a set of duplicates is kept.
"""

from __future__ import annotations

import hashlib
import heapq
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

__all__ = ["normalize", "priority", "SampleStats", "sample_distinct"]


def normalize(text: str) -> str:
    """Comparison form of a text: NFKC, casefold, single spaces, stripped."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _key_bytes(seed) -> bytes:
    return hashlib.blake2b(str(seed).encode("utf-8"), digest_size=32).digest()


def priority(parts: Sequence[str], seed) -> int:
    """The 64-bit priority of an item made of text ``parts`` (e.g. ``(en, xx)``)."""
    data = "\x1f".join(normalize(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=_key_bytes(seed)).digest(), "big")


@dataclass(frozen=True)
class SampleStats:
    seen: int  # items read
    distinct: int  # distinct items among them (by normalised text)
    sampled: int  # items returned: min(k, distinct)

    @property
    def duplicates(self) -> int:
        return self.seen - self.distinct

    def to_dict(self) -> dict:
        return {**asdict(self), "duplicates": self.duplicates}


def sample_distinct(
    items: Iterable, k: int, *, seed, parts: Callable[[object], Sequence[str]] = lambda x: (x,),
    count_distinct: bool = True,
) -> tuple[list, SampleStats]:
    """Up to ``k`` distinct items drawn uniformly at random, in one pass.

    ``parts(item)`` gives the texts that identify an item (default: the item itself, a str).
    The sample comes back in priority order, itself a random order. With
    ``count_distinct=False`` the 8-bytes-per-item array is not kept and ``distinct`` counts only
    the duplicates met while their twin was in the sample (exact whenever ``distinct <= k``).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    key = _key_bytes(seed)
    blake = hashlib.blake2b
    heap: list[int] = []  # max-heap of kept priorities, stored negated
    kept: dict[int, object] = {}
    hashes = array("Q") if count_distinct else None
    seen = dup_met = 0
    for item in items:
        seen += 1
        data = "\x1f".join(normalize(p) for p in parts(item)).encode("utf-8")
        h = int.from_bytes(blake(data, digest_size=8, key=key).digest(), "big")
        if hashes is not None:
            hashes.append(h)
        if h in kept:
            dup_met += 1
            continue
        if len(kept) < k:
            kept[h] = item
            heapq.heappush(heap, -h)
        elif k and h < -heap[0]:
            del kept[-heapq.heappushpop(heap, -h)]
            kept[h] = item
    if hashes is not None:
        import numpy as np

        distinct = int(np.unique(np.frombuffer(hashes, dtype=np.uint64)).size) if seen else 0
    else:
        distinct = seen - dup_met
    sample = [kept[h] for h in sorted(kept)]
    return sample, SampleStats(seen=seen, distinct=distinct, sampled=len(sample))
