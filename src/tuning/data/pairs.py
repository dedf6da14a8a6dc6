"""A translation pair (English first), its compact packing, and line-aligned plain text.

The bottom of tuning.data's readers: :mod:`tuning.data.readers`, :mod:`tuning.data.evalsets`
and :mod:`tuning.data.gettext` all build ``Pair`` objects, so ``Pair`` lives here, below all
three, and readers can import the other two at module level without a cycle.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tuning.data.reading import iter_lines
from tuning.errors import InputError

__all__ = ["Pair", "PairPacker", "read_plaintext"]


class Pair(NamedTuple):
    en: str
    xx: str
    origin: str  # the file the pair came from, for the mixture's "source" field


class PairPacker:
    """Packs a Pair into one bytes object (about half the memory of the strings) and back.

    Layout: ``<u32 len(en)><u32 len(xx)><u32 origin index>`` + UTF-8 en + UTF-8 xx; the origins
    are kept once in a table. Used to hold a large sample while streaming.
    """

    _HEAD = struct.Struct("<III")

    def __init__(self):
        self._origins: list[str] = []
        self._index: dict[str, int] = {}

    def pack(self, pair: Pair) -> bytes:
        index = self._index.get(pair.origin)
        if index is None:
            index = self._index[pair.origin] = len(self._origins)
            self._origins.append(pair.origin)
        en, xx = pair.en.encode("utf-8"), pair.xx.encode("utf-8")
        return self._HEAD.pack(len(en), len(xx), index) + en + xx

    def unpack(self, data: bytes) -> Pair:
        n_en, n_xx, index = self._HEAD.unpack_from(data)
        start = self._HEAD.size
        en = data[start:start + n_en].decode("utf-8")
        xx = data[start + n_en:start + n_en + n_xx].decode("utf-8")
        return Pair(en, xx, self._origins[index])


def read_plaintext(en_path, xx_path) -> Iterator[Pair]:
    """Line-aligned files: line i of one is the translation of line i of the other.

    Raises InputError on a length mismatch (naming both files and both line counts) and on an
    empty line on either side (naming the file and line).
    """
    en_path, xx_path = Path(en_path), Path(xx_path)
    origin = str(xx_path)
    en_lines, xx_lines = iter_lines(en_path), iter_lines(xx_path)
    n = 0
    while True:
        # not zip(): it would swallow the extra line of the longer file before noticing
        en_item, xx_item = next(en_lines, None), next(xx_lines, None)
        if en_item is None or xx_item is None:
            break
        n += 1
        for path, (number, text) in ((en_path, en_item), (xx_path, xx_item)):
            if not text.strip():
                raise InputError(
                    f"{path}, line {number}: empty line; every line must hold a sentence. "
                    f"Remove line {number} from both {en_path} and {xx_path}"
                )
        yield Pair(en_item[1], xx_item[1], origin)
    rest_en = (en_item is not None) + sum(1 for _ in en_lines)
    rest_xx = (xx_item is not None) + sum(1 for _ in xx_lines)
    if rest_en or rest_xx:
        raise InputError(
            f"line-aligned files differ in length: {en_path} has {n + rest_en} lines, "
            f"{xx_path} has {n + rest_xx}; they must have one line per sentence pair"
        )
