"""Config schema: recipe defaults, YAML overrides, errors that name the key (and the CLI's exit 2)."""

from __future__ import annotations

import pytest

from tuning.cli import main
from tuning.errors import InputError
from tuning.train.config import TrainConfig, load_config

BASE = ["model=m", "data=d.jsonl", "output_dir=out"]


def test_defaults_follow_the_alpaca_recipe():
    c = load_config(None, BASE)
    # Stanford Alpaca: 3 epochs, lr 2e-5, cosine with 3% warmup, batch 128, max length 512.
    assert (c.epochs, c.lr, c.warmup_ratio, c.global_batch_size, c.seq_len) == (3.0, 2e-5, 0.03, 128, 512)
    assert c.packing is None and c.resume is False  # packing: chosen per run and c.save_every == 0 and c.max_steps is None


def test_yaml_file_and_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: m\ndata: d.jsonl\noutput_dir: out\nmax_steps: 10\nlr: 1.0e-4\npacking: true\n")
    c = load_config(cfg, ["max_steps=null", "lr=3e-4", "packing=false", "seq_len=128"])
    assert c.max_steps is None and c.lr == 3e-4 and c.packing is False and c.seq_len == 128
    assert TrainConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "override, words",
    [
        ("lrr=1", ["'lrr'", "did you mean 'lr'"]),
        ("lr=abc", ["'lr'", "float"]),
        ("packing=3", ["'packing'", "bool"]),
        ("epochs=0", ["'epochs'", "positive"]),
        ("batch_size=2.5", ["'batch_size'", "int"]),
        ("dtype=fp16", ["'dtype'", "bf16"]),
        ("seq_len=null", ["'seq_len'", "null"]),
        ("seq_len", ["key=value"]),
    ],
)
def test_bad_keys_and_values_name_the_key(override, words):
    with pytest.raises(InputError) as info:
        load_config(None, BASE + [override])
    for w in words:
        assert w in str(info.value)


def test_missing_required_key_and_file(tmp_path):
    with pytest.raises(InputError, match="output_dir"):
        load_config(None, ["model=m", "data=d"])
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(InputError, match="mapping"):
        load_config(bad)


def test_cli_prints_the_error_without_traceback_and_exits_2(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: {tmp_path}\ndata: d.jsonl\noutput_dir: out\n")
    assert main(["train", str(cfg), "warmup=0.1"]) == 2
    err = capsys.readouterr().err
    assert "'warmup'" in err and "warmup_ratio" in err and "Traceback" not in err
    # Paths are checked before any model is loaded (and nothing asks a hub).
    assert main(["train", str(cfg)]) == 2
    assert "config.json" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    assert main(["train", str(cfg)]) == 2
    assert "d.jsonl" in capsys.readouterr().err


def test_a_fresh_run_refuses_an_output_dir_with_checkpoints(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (tmp_path / "d.jsonl").write_text("{}\n")
    done = tmp_path / "out" / "checkpoints" / "step-3"
    done.mkdir(parents=True)
    (done / "trainer_state.json").write_text("{}")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: {model}\ndata: {tmp_path / 'd.jsonl'}\noutput_dir: {tmp_path / 'out'}\n")
    assert main(["train", str(cfg)]) == 2
    assert "resume=true" in capsys.readouterr().err
