"""One-pass seeded sampling of k distinct items, in memory proportional to k.

The method is bottom-k sampling on a keyed hash: every item gets the priority

    h(item) = first 8 bytes of BLAKE2b(normalize(item), key=seed) as an unsigned integer

and the sample is the k items with the smallest priorities. Because the hash is a pseudo-random
function of the item's *content*, this is a uniform random sample of the distinct items
(duplicates share one priority, so an item's chance does not grow with its copies), the result
does not depend on the order of the input, and no two items of the sample are duplicates.
Memory: at most 1.25 k candidate items (packed into one bytearray when the caller gives
``pack``/``unpack``) plus, to count duplicates
exactly, 8 bytes per item seen (an array of priorities, not the items).

Identity is by normalised text (:func:`normalize`): Unicode NFKC, case folded, runs of
whitespace made one space, ends stripped. The first item seen of a set of duplicates is kept.
"""

from __future__ import annotations

import hashlib
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

__all__ = ["normalize", "priority", "SampleStats", "PackedSample", "sample_distinct"]


def normalize(text: str) -> str:
    """Comparison form of a text: NFKC, casefold, single spaces, stripped."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _key_bytes(seed) -> bytes:
    return hashlib.blake2b(str(seed).encode("utf-8"), digest_size=32).digest()


def priority(parts: Sequence[str], seed) -> int:
    """The 64-bit priority of an item made of text ``parts`` (e.g. ``(en, xx)``)."""
    data = "\x1f".join(normalize(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=_key_bytes(seed)).digest(), "big")


class _ListStore:
    def __init__(self):
        self.items: list = []

    def append(self, item) -> None:
        self.items.append(item)

    def keep(self, indices: list[int]) -> None:
        self.items = [self.items[i] for i in indices]

    def view(self, order: list[int]) -> list:
        return [self.items[i] for i in order]


class PackedSample(Sequence):
    """A read-only sequence of items kept packed in one bytearray; unpacked on access.

    What :func:`sample_distinct` returns when given ``pack``/``unpack``: a sample of a few
    hundred thousand pairs then costs its UTF-8 bytes, not Python string objects.
    """

    def __init__(self, blob: bytearray, ends: array, order: list[int], unpack: Callable):
        self._blob, self._ends, self._order, self._unpack = blob, ends, order, unpack

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        j = self._order[index]
        start = self._ends[j - 1] if j else 0
        return self._unpack(bytes(self._blob[start:self._ends[j]]))

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))


class _PackedStore:
    """Candidates packed to bytes and laid end to end in one bytearray, compacted in place.

    One buffer instead of one object per candidate: no per-object header, no heap fragmentation
    from the candidates a compaction throws away, and no second copy while compacting.
    """

    def __init__(self, pack: Callable, unpack: Callable):
        self.pack, self.unpack = pack, unpack
        self.blob = bytearray()
        self.ends = array("Q")

    def append(self, item) -> None:
        self.blob += self.pack(item)
        self.ends.append(len(self.blob))

    def keep(self, indices: list[int]) -> None:
        # indices ascend, so every kept span moves towards the front (or stays): safe in place
        blob, ends = self.blob, self.ends
        new_ends = array("Q")
        write = 0
        for i in indices:
            start, end = (ends[i - 1] if i else 0), ends[i]
            if start != write:
                blob[write:write + end - start] = blob[start:end]
            write += end - start
            new_ends.append(write)
        del blob[write:]
        self.ends = new_ends

    def view(self, order: list[int]) -> PackedSample:
        return PackedSample(self.blob, self.ends, order, self.unpack)


@dataclass(frozen=True)
class SampleStats:
    seen: int  # items read
    distinct: int | None  # distinct items among them (by normalised text); None if not counted
    sampled: int  # items returned: min(k, distinct)

    @property
    def duplicates(self) -> int | None:
        return None if self.distinct is None else self.seen - self.distinct

    def to_dict(self) -> dict:
        return {**asdict(self), "duplicates": self.duplicates}


def sample_distinct(
    items: Iterable, k: int, *, seed, parts: Callable[[object], Sequence[str]] = lambda x: (x,),
    count_distinct: bool = True, pack: Callable | None = None, unpack: Callable | None = None,
) -> tuple[list, SampleStats]:
    """Up to ``k`` distinct items drawn uniformly at random, in one pass.

    ``parts(item)`` gives the texts that identify an item (default: the item itself, a str).
    The sample comes back in priority order, itself a random order: a list, or with ``pack``
    (item -> bytes) and ``unpack`` (bytes -> item) a :class:`PackedSample`, the candidates
    packed end to end in one bytearray and unpacked on access. With ``count_distinct=False`` the
    8-bytes-per-item array is not kept; ``distinct`` is then exact only when fewer than ``k``
    distinct items exist, and None otherwise.

    Candidates go to a buffer of at most ``k + max(k // 4, 1024)`` items; when it is full the
    ``k`` smallest distinct priorities are kept (numpy) and the k-th becomes a threshold that
    rejects every later item at or above it, so the buffer fills ever more slowly (about
    ``k * ln(n / k)`` candidates are buffered over the whole pass).
    """
    import numpy as np

    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    key = _key_bytes(seed)
    blake = hashlib.blake2b
    cap = k + max(k // 4, 1024)
    store = _PackedStore(pack, unpack) if pack else _ListStore()  # candidates, arrival order
    prios = array("Q")  # their priorities
    threshold = 1 << 64 if k else 0  # priorities >= threshold cannot be in the sample
    hashes = array("Q") if count_distinct else None
    seen = 0
    full = False

    def compact():
        nonlocal prios, threshold, full
        values = np.frombuffer(prios, dtype=np.uint64)
        uniq, first = np.unique(values, return_index=True)  # first: earliest copy of each
        keep = np.sort(first[:k])  # back to arrival order, so the first copy wins next time
        if len(uniq) >= k and k:
            threshold, full = int(uniq[k - 1]), True  # an equal priority is a kept item's twin
        store.keep(keep.tolist())
        prios = array("Q", values[keep].tobytes())

    for item in items:
        seen += 1
        data = "\x1f".join(normalize(p) for p in parts(item)).encode("utf-8")
        h = int.from_bytes(blake(data, digest_size=8, key=key).digest(), "big")
        if hashes is not None:
            hashes.append(h)
        if h >= threshold:
            continue
        store.append(item)
        prios.append(h)
        if len(prios) >= cap:
            compact()
    compact()
    if hashes is not None:
        everything = np.frombuffer(hashes, dtype=np.uint64)
        everything.sort()  # in place: no second copy of the 8-bytes-per-item array
        distinct = int(np.count_nonzero(everything[1:] != everything[:-1])) + 1 if seen else 0
    else:
        distinct = None if full else len(prios)
    order = np.argsort(np.frombuffer(prios, dtype=np.uint64), kind="stable")
    sample = store.view(order.tolist())
    return sample, SampleStats(seen=seen, distinct=distinct, sampled=len(sample))
