"""Fixtures for the trainer tests: a small mixture of short translation pairs and long instructions."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

PAIRS = [
    ("Open the file", "打开文件"), ("Save the document", "保存文档"), ("Close the window", "关闭窗口"),
    ("Print the page", "打印页面"), ("Open the file", "افتح الملف"), ("Close the window", "Κλείσιμο παραθύρου"),
]
SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Open the file", "Save the document", "Print the page"]


def make_records(n: int, seed: int = 0, long_every: int = 3, long_words: tuple[int, int] = (4, 12)) -> list[dict]:
    """Every ``long_every``-th record a long English instruction, the rest short translations."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        if i % long_every == 0:
            out = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(*long_words)))
            records.append(dict(id=f"i{i}", language="en", task="instruction", instruction="Write a story.",
                                input="", output=out, source="test"))
        else:
            en, xx = rng.choice(PAIRS)
            records.append(dict(id=f"t{i}", language="zh", task="translation",
                                instruction="Translate the following sentence from English to Chinese.",
                                input=en, output=xx, source="test"))
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def mixture_path(tmp_path) -> Path:
    return write_jsonl(tmp_path / "mixture.jsonl", make_records(24))


@pytest.fixture(scope="session")
def records_factory():
    return make_records
