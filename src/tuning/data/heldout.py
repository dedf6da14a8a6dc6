"""Held-out texts a mixture must not contain: evaluation sentences, QA contexts, prompts.

``tuning mix --heldout L=PATH`` reads them here; :mod:`tuning.data.mixture` drops every pair
and instruction that matches one (after :func:`tuning.data.sampling.normalize`) and counts the
hits in the manifest's ``heldout_hits``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tuning.data.evalsets import squad_texts
from tuning.data.reading import sha256_file
from tuning.data.instructions import iter_instructions
from tuning.data.readers import open_pairs
from tuning.data.sampling import normalize

__all__ = ["Heldout"]


class Heldout:
    """Normalised held-out texts (sentences, contexts, questions) and prompts (instruction+input)."""

    def __init__(self):
        self.texts: set[str] = set()
        self.prompts: set[tuple[str, str]] = set()
        self.inputs: list[dict] = []

    def add(self, lang: str, spec: str) -> None:
        path = Path(spec)
        name = path.name.lower()
        before = len(self.texts) + len(self.prompts)
        if name.endswith(".json") and _is_squad(path):
            self.texts.update(normalize(t) for t in squad_texts(path))
            desc = {"path": spec, "language": lang, "format": "squad", "sha256": sha256_file(path)}
        elif name.endswith((".json", ".jsonl", ".jsonl.gz")):
            self.prompts.update((normalize(r["instruction"]), normalize(r["input"]))
                                for r in iter_instructions(path))
            desc = {"path": spec, "language": lang, "format": "instructions", "sha256": sha256_file(path)}
        else:
            source = open_pairs(spec, lang)
            for pair in source.pairs():
                self.texts.add(normalize(pair.en))
                self.texts.add(normalize(pair.xx))
            desc = source.describe()
        desc.update(role="heldout", items=len(self.texts) + len(self.prompts) - before)
        self.inputs.append(desc)

    def hit_pair(self, en: str, xx: str) -> bool:
        return bool(self.texts) and (normalize(en) in self.texts or normalize(xx) in self.texts)

    def hit_record(self, rec: Mapping) -> bool:
        if self.prompts and (normalize(rec["instruction"]), normalize(rec["input"])) in self.prompts:
            return True
        return bool(self.texts) and any(
            rec[k] and normalize(rec[k]) in self.texts for k in ("instruction", "input", "output"))


def _is_squad(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")
