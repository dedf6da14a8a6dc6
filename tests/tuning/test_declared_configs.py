"""The train config and the study file read through their declared schemas: whole messages."""

from __future__ import annotations

import dataclasses

import pytest

from tuning.errors import InputError
from tuning.study.spec import EVALUATE, EVALUATE_DEFAULTS, STUDY, TOP, Transfer, load_study
from tuning.train.config import SCHEMA, TrainConfig, load_config

BASE = ["model=m", "data=d.jsonl", "output_dir=out"]


@pytest.mark.parametrize("override, message", [
    ("epochs=0", "overrides: key 'epochs': 0 is not a positive number"),
    ("warmup_ratio=1", "overrides: key 'warmup_ratio': 1 is not a number in [0, 1)"),
    ("min_lr_ratio=1.5", "overrides: key 'min_lr_ratio': 1.5 is not a number in [0, 1]"),
    ("seq_len=4", "overrides: key 'seq_len': 4 is not an integer >= 8"),
    ("max_steps=0", "overrides: key 'max_steps': 0 is not a positive integer or null"),
    ("batch_size=2.5", "overrides: key 'batch_size': 2.5 is not a positive integer"),
    ("max_grad_norm=-1", "overrides: key 'max_grad_norm': -1 is not a number >= 0 (0 disables clipping)"),
    ("lr=.inf", "overrides: key 'lr': inf is not a finite number; give a positive number"),
    ("lr=abc", "overrides: key 'lr' must be a float, got 'abc'"),
    ("packing=yes", "overrides: key 'packing' must be a bool or null, got 'yes'"),
    ("seq_len=null", "overrides: key 'seq_len' cannot be null; give an integer >= 8"),
    ("dtype=fp16", "overrides: key 'dtype': 'fp16' is not one of auto, bf16, fp32"),
    ("warmup=0.1", "overrides: unknown config key 'warmup'; did you mean 'warmup_ratio'?"),
])
def test_train_config_messages(override, message):
    with pytest.raises(InputError) as info:
        load_config(None, BASE + [override])
    assert str(info.value) == message


def test_train_config_schema_is_the_dataclass():
    assert SCHEMA.names == tuple(f.name for f in dataclasses.fields(TrainConfig))
    assert SCHEMA.defaults() == {f.name: f.default for f in dataclasses.fields(TrainConfig)
                                 if f.default is not dataclasses.MISSING}
    with pytest.raises(InputError, match=r"^overrides: missing required key\(s\) model, data, output_dir; set them"):
        load_config(None, [])
    with pytest.raises(InputError, match=r"^key 'epochs': 0 is not a positive number$"):
        TrainConfig(model="m", data="d", output_dir="o", epochs=0)  # built in code: checked too


def test_the_study_declares_its_keys():
    assert TOP[:4] == ("name", "results", "work", "model") and "objective" in TOP
    assert EVALUATE_DEFAULTS == EVALUATE.defaults() == {"pilot_generate": 100, "max_new_tokens": 160, "gen_batch": 50,
                                                        "align_pairs": 100, "device": "auto", "dtype": "float32"}
    assert [f.name for f in STUDY.fields if f.required] == ["model", "languages", "pilots", "budget"]


STUDY_FILE = """\
model: model
heldout: 8
languages: {el: {parallel: el.tsv}, tr: {parallel: tr.tsv}}
pilots: {sizes: [8, 16, 24, 32]}
budget: 48
"""


@pytest.mark.parametrize("extra, message", [
    ("evaluate: {gen_batch: 0}\n", "evaluate.gen_batch: 0 is not a positive integer"),
    ("evaluate: {device: tpu}\n", "evaluate.device: 'tpu' is not one of cpu, cuda, auto"),
    ("evaluate: {devise: cpu}\n", "evaluate: unknown key 'devise'; did you mean 'device'?"),
    ("train: {nproc: 0}\n", "train.nproc: 0 is not a positive integer"),
    ("train: {seq_len: 4}\n", "train: key 'seq_len': 4 is not an integer >= 8"),
    ("transfer: {loo_budget: 20, n_boot: -1}\n", "transfer.n_boot: -1 is not a non-negative integer"),
    ("transfer: {stage1: both}\n", "transfer.stage1: 'both' is not one of separate, joint, auto (default separate)"),
    ("report: {title: 5}\n", "report.title must be a str, got 5"),
    ("resources: {default: {mem: 4}}\n", "resources.default: unknown key 'mem'; did you mean 'mem_gb'?"),
    ("plan_metric: bleu\n", "plan_metric: 'bleu' is not one of nll, chrf"),
])
def test_study_section_messages(tmp_path, extra, message):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}", encoding="utf-8")
    for lang in ("el", "tr"):
        (tmp_path / f"{lang}.tsv").write_text("".join(f"a {i}\tb {i}\n" for i in range(80)), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(STUDY_FILE + extra, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_study(tmp_path / "s.yaml")
    assert str(info.value) == f"{tmp_path / 's.yaml'}: {message}"


def test_a_study_without_a_required_key(tmp_path):
    (tmp_path / "s.yaml").write_text("model: m\nlanguages: [el]\npilots: {sizes: [1, 2, 3, 4]}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_study(tmp_path / "s.yaml")
    assert str(info.value) == (f"{tmp_path / 's.yaml'}: missing required key(s) budget; give them in the study file "
                               "(docs/study.md lists every key)")
    assert {f.name for f in dataclasses.fields(Transfer)} >= {"loo_budget", "stage1"}
