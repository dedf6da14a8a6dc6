"""Fixtures for the trainer tests: a small mixture of short translation pairs and long instructions."""

from __future__ import annotations

from pathlib import Path

import pytest
from _builders import make_records, write_jsonl


@pytest.fixture
def mixture_path(tmp_path) -> Path:
    return write_jsonl(tmp_path / "mixture.jsonl", make_records(24))


@pytest.fixture(scope="session")
def records_factory():
    return make_records
