"""Hostile input, second table (issue 19): tuning's newest surfaces (eval resume, pilots
--append, convert, train resume and its final save). Each class of bad input the issue found gets
several instances here, fed through the command line with the house rules of docs/guarantees.md
checked by ``_hostile.check_refused`` (exit 2, one line, nothing changed). budgetlaw's are in
tests/test_hostile_inputs_3.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _hostile import LABEL_CASES, check_refused, random_bytes, run_in, snapshot

ROOT = Path(__file__).resolve().parents[1]


# -- tuning eval: predictions tied to the items they were made from ------------------------------
def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _task_records(sentences: list[str]) -> list[dict]:
    return [{"id": str(i), "prompt": f"Translate to Chinese: {s}", "reference": "打开文件", "language": "zh",
             "source": s} for i, s in enumerate(sentences)]


@pytest.fixture()
def ev_ws(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    _jsonl(ws / "a.jsonl", _task_records(["Open the file", "Save the document"]))
    _jsonl(ws / "b.jsonl", _task_records(["Close the window", "Print the page"]))
    _jsonl(ws / "dup.jsonl", [*_task_records(["Open the file", "Save the document"]),
                              {"id": "0", "prompt": "again", "reference": "x", "language": "zh"}])
    _jsonl(ws / "implicit_dup.jsonl", [{"id": "2", "prompt": "p", "reference": "x", "language": "zh"},
                                       {"prompt": "q", "reference": "y", "language": "zh"}])  # line 2 -> id "2"
    (ws / "squad_dup.json").write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": "Paris is in France.", "qas": [
            {"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
            {"id": "q1", "question": "What is in France?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}))
    _jsonl(ws / "preds_a.jsonl", [{"id": "0", "prompt": "Translate to Chinese: Open the file", "prediction": "打开"},
                                  {"id": "1", "prompt": "Translate to Chinese: Save the document", "prediction": "保存"}])
    _jsonl(ws / "preds_other.jsonl", [{"id": "0", "prompt": "Translate to Chinese: Close the window", "prediction": "x"},
                                      {"id": "1", "prompt": "Translate to Chinese: Print the page", "prediction": "y"}])
    _jsonl(ws / "preds_bare.jsonl", [{"id": "0", "prediction": "打开"}, {"id": "1", "prediction": "保存"}])
    (ws / "afile").write_text("not a folder\n")
    (ws / "amodel").mkdir()  # a model folder: predictions are never written into an input
    (ws / "amodel" / "config.json").write_text("{}")
    return ws


EVAL_A = ["eval", "--task", "jsonl:t", "--data", "a.jsonl"]
EVAL_CASES = [
    # duplicate item ids in the task data: one prediction would be scored for several references
    (["eval", "--task", "jsonl:t", "--data", "dup.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "id '0' appears again"),
    (["eval", "--task", "jsonl:t", "--data", "implicit_dup.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "id '2' appears again"),
    (["eval", "--task", "jsonl-qa:t", "--data", "dup.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "appears again"),
    (["eval", "--task", "xquad:en", "--data", "squad_dup.json", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "duplicate question id 'q1'"),
    # predictions whose recorded prompts are not the task's
    ([*EVAL_A, "--predictions", "preds_other.jsonl", "-o", "r.csv"], "differs from the task's prompt"),
    (["eval", "--task", "jsonl:t", "--data", "b.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"],
     "differs from the task's prompt"),
    (["eval", "--task", "jsonl:t", "--data", "a.jsonl", "--task", "jsonl:u", "--data", "b.jsonl",
      "--predictions", "preds_a.jsonl", "--predictions", "preds_a.jsonl", "-o", "r.csv"], "differs from"),
    # the predictions folder checked before the model loads (no model here: it must not get that far)
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "r.csv"], "the same path as -o"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "./r.csv"], "the same path as -o"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "afile"], "is an existing file"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "a.jsonl"], "a.jsonl"),
    ([*EVAL_A, "--model", "no-model", "-o", "r.csv", "--predictions-dir", "afile/p"], "is not a folder"),
    ([*EVAL_A, "--model", "amodel", "-o", "r.csv", "--predictions-dir", "amodel"], "is also an input"),
    ([*EVAL_A, "--model", "amodel", "-o", "r.csv", "--predictions-dir", "./amodel/"], "is also an input"),
]


@pytest.mark.parametrize("argv, needle", EVAL_CASES, ids=[" ".join(c[0]) for c in EVAL_CASES])
def test_eval_refuses(ev_ws, capsys, argv, needle):
    from tuning.cli import main

    check_refused(main, "tuning", argv, ev_ws, needle, capsys)


def test_eval_scores_predictions_whose_prompts_match(ev_ws):
    from tuning.cli import main

    for preds in ("preds_a.jsonl", "preds_bare.jsonl"):  # recorded prompts equal, or none recorded
        assert run_in(ev_ws, main, [*EVAL_A, "--predictions", preds, "-o", "r.csv"]) == 0
        assert set(pd.read_csv(ev_ws / "r.csv")["language"]) == {"zh"}


def test_prediction_file_names_never_collide():
    from tuning.evaluation.cli import prediction_file_name

    names = ["jsonl:a/b", "jsonl:a\\b", "jsonl:a_b", "jsonl:a:b", "jsonl:日本", "jsonl:中文", "jsonl:ab",
             "jsonl:a b", "jsonl:a\x00b", "jsonl-qa:a/b", "jsonl:..", "jsonl:.a"]
    files = [prediction_file_name(n) for n in names]
    assert len(set(files)) == len(names), files
    for f in files:
        assert "/" not in f and "\\" not in f and not f.startswith(".") and f.isascii() and f.endswith(".jsonl")
    assert prediction_file_name("flores:en-zh") == "flores_en-zh.jsonl"  # ordinary names are unchanged
    assert prediction_file_name("jsonl:my_test.v2") == "jsonl_my_test.v2.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from _builders import build_tiny_llama, build_tokenizer

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = build_tokenizer()
    build_tiny_llama(tok).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


GEN = ["--max-new-tokens", "3", "--device", "cpu", "--dtype", "float32", "--batch-size", "2"]


def test_eval_resume_is_tied_to_its_items(ev_ws, tiny_model, capsys):
    """A resume from other data, another --limit or another task's file is refused; the same
    items resume (nothing regenerated); an old file without the digest is taken only when its
    prompts are exactly the task's."""
    from tuning.cli import main

    model = ["--model", str(tiny_model), *GEN]
    assert run_in(ev_ws, main, [*EVAL_A, *model, "-o", "r.csv"]) == 0
    pred_dir = ev_ws / "r.predictions"
    side = json.loads((pred_dir / "jsonl_t.items.json").read_text())
    assert side["n_items"] == 2 and side["task"] == "jsonl:t"
    # the digest, worked out here from its documented definition
    import hashlib

    items = [[r["id"], r["prompt"]] for r in _task_records(["Open the file", "Save the document"])]
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    assert side["items_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    capsys.readouterr()

    for argv, needle in [
        (["eval", "--task", "jsonl:t", "--data", "b.jsonl", *model, "-o", "r.csv"], "made from other items"),
        ([*EVAL_A, "--limit", "1", *model, "-o", "r.csv"], "made from other items"),
        (["eval", "--task", "jsonl:u", "--data", "a.jsonl", "--task", "jsonl:t", "--data", "b.jsonl",
          *model, "-o", "r.csv"], "made from other items"),  # checked before the first new prediction
        ([*EVAL_A, "--task", "jsonl:t", "--data", "a.jsonl", *model, "-o", "r.csv"], "given twice"),
    ]:
        check_refused(main, "tuning", argv, ev_ws, needle, capsys)
    before = (pred_dir / "jsonl_t.jsonl").read_bytes()
    assert run_in(ev_ws, main, [*EVAL_A, *model, "-o", "r.csv"]) == 0
    assert (pred_dir / "jsonl_t.jsonl").read_bytes() == before  # resumed: nothing generated again

    # an older predictions file (no sidecar): prompts equal -> taken, sidecar written
    (pred_dir / "jsonl_t.items.json").unlink()
    assert run_in(ev_ws, main, [*EVAL_A, *model, "-o", "r.csv"]) == 0
    assert (pred_dir / "jsonl_t.items.json").is_file()
    # ... prompts of other data -> refused with what to do
    (pred_dir / "jsonl_t.items.json").unlink()
    capsys.readouterr()
    check_refused(main, "tuning", ["eval", "--task", "jsonl:t", "--data", "b.jsonl", *model, "-o", "r.csv"],
                  ev_ws, "delete it", capsys)
    # ... a line without its prompt cannot be tied to anything -> refused
    shutil.copy(ev_ws / "preds_bare.jsonl", pred_dir / "jsonl_t.jsonl")
    check_refused(main, "tuning", [*EVAL_A, *model, "-o", "r.csv"], ev_ws, "without jsonl_t.items.json", capsys)


def test_generate_resume_refuses_other_prompts(ev_ws, tiny_model, capsys):
    from tuning.cli import main

    _jsonl(ev_ws / "p.jsonl", [{"id": "0", "prompt": "Translate to Chinese: Open the file"}])
    _jsonl(ev_ws / "q.jsonl", [{"id": "0", "prompt": "Something else"}])
    assert run_in(ev_ws, main, ["generate", "--model", str(tiny_model), "--prompts", "p.jsonl", "-o", "o.jsonl",
                                *GEN]) == 0
    capsys.readouterr()
    check_refused(main, "tuning", ["generate", "--model", str(tiny_model), "--prompts", "q.jsonl", "-o", "o.jsonl",
                                   *GEN], ev_ws, "differs from the task's prompt", capsys)


# -- tuning pilots --append: metric, size, scale, direction, repeats ------------------------------
@pytest.fixture()
def pi_ws(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    header = "language,task,metric,score,n,signature,model\n"
    (ws / "comet.csv").write_text(header + "zh,flores:en-zh,comet,81.5,3,sig,m\n")
    (ws / "comet01.csv").write_text(header + "zh,flores:en-zh,comet,0.815,3,sig,m\nar,flores:en-ar,comet,0.7,3,sig,m\n")
    (ws / "comet01_one.csv").write_text(header + "zh,flores:en-zh,comet,1.0,3,sig,m\n")
    (ws / "nll.csv").write_text(header + "zh,flores:en-zh,nll,1.25,3,sig,m\n")
    (ws / "loss.csv").write_text(header + "zh,flores:en-zh,loss,2.5,3,sig,m\n")
    (ws / "loss_neg.csv").write_text(header + "zh,flores:en-zh,loss,-2.5,3,sig,m\n")
    manifest = {"format": "tuning-mixture-manifest/1", "seed": 0, "counts": {"zh": {"translation": 3}}}
    (ws / "m.json").write_text(json.dumps(manifest))
    for name, value in (("nan", "NaN"), ("inf", "Infinity"), ("str", '"3"'), ("bool", "true"), ("half", "2.5"),
                        ("null", "null")):
        (ws / f"m_{name}.json").write_text(json.dumps(manifest).replace('"translation": 3', f'"translation": {value}'))
    (ws / "nometric.csv").write_text("language,size,score,seed\nzh,3,80.0,0\n")
    (ws / "nometric_noseed.csv").write_text("Language,Size,Score\nzh,3,80.0\n")
    (ws / "with_metric.csv").write_text("language,size,score,seed,metric\nzh,3.0,81.5,0,comet\n")
    (ws / "hand.csv").write_text("language,size,score,seed,metric\nzh_CN,3,70,0,COMET\n")
    return ws


def _pilots(results: str, metric: str, out: str, *extra: str, manifest: str = "m.json") -> list[str]:
    return ["pilots", "--results", results, "--manifest", manifest, "--metric", metric, "-o", out, *extra]


PILOTS_CASES = [
    # a file without a metric column would mix metrics
    (_pilots("nll.csv", "nll", "nometric.csv", "--append"), "has no metric column"),
    (_pilots("comet.csv", "comet", "nometric.csv", "--append"), "has no metric column"),
    (_pilots("nll.csv", "nll", "nometric_noseed.csv", "--append"), "has no metric column"),
    # sizes that are not a whole number of pairs
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_nan.json"), "nan, not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_inf.json"), "not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_str.json"), "'3', not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_bool.json"), "True, not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_half.json"), "2.5, not a whole number"),
    (_pilots("comet.csv", "comet", "new.csv", manifest="m_null.json"), "None, not a whole number"),
    # COMET on 0..1
    (_pilots("comet01.csv", "comet", "new.csv"), "0..1 scale"),
    (_pilots("comet01_one.csv", "comet", "new.csv"), "0..1 scale"),
    (_pilots("comet01.csv", "COMET", "new.csv"), "0..1 scale"),
    # `loss` is a loss here as in budgetlaw
    (_pilots("loss_neg.csv", "loss", "new.csv"), "is not a loss"),
    # the same run appended twice
    (_pilots("comet.csv", "comet", "with_metric.csv", "--append"), "already holds this run"),
    (_pilots("comet.csv", "comet", "hand.csv", "--append"), "already holds this run"),
]


@pytest.mark.parametrize("argv, needle", PILOTS_CASES, ids=[" ".join(c[0]) for c in PILOTS_CASES])
def test_pilots_refuses(pi_ws, capsys, argv, needle):
    from tuning.cli import main

    check_refused(main, "tuning", argv, pi_ws, needle, capsys)


def test_pilots_loss_is_a_loss_and_appending_twice_is_refused(pi_ws, capsys):
    """`loss` 2.5 is not a 0..100 score: it passes as a loss; budgetlaw then refuses it as a score."""
    from budgetlaw.cli import main as bl_main
    from tuning.cli import main

    assert run_in(pi_ws, main, _pilots("loss.csv", "loss", "p.csv")) == 0
    assert pd.read_csv(pi_ws / "p.csv").to_dict("records") == [
        {"language": "zh", "size": 3.0, "score": 2.5, "seed": 0, "metric": "loss"}]
    capsys.readouterr()
    check_refused(main, "tuning", _pilots("loss.csv", "loss", "p.csv", "--append"), pi_ws, "already holds", capsys)
    # another seed is another run
    assert run_in(pi_ws, main, _pilots("loss.csv", "loss", "p.csv", "--append", "--seed", "1")) == 0
    assert pd.read_csv(pi_ws / "p.csv")["seed"].tolist() == [0, 1]
    capsys.readouterr()
    check_refused(bl_main, "budgetlaw", ["fit", "p.csv", "-o", "laws.json"], pi_ws, "loss", capsys)


# -- tuning convert: a tokenizer folder that loads, errors of transformers in one line -----------
@pytest.fixture(scope="module")
def gguf_master(tmp_path_factory):
    pytest.importorskip("gguf")
    from _gguf import build_tiny_gguf

    ws = tmp_path_factory.mktemp("gguf")
    build_tiny_gguf(ws / "tiny.gguf")
    build_tiny_gguf(ws / "t5.gguf", arch="t5")  # TypeError inside transformers' tokenizer skeleton
    build_tiny_gguf(ws / "falcon.gguf", arch="falcon")  # RuntimeError loading the state dict
    build_tiny_gguf(ws / "bloom.gguf", arch="bloom")
    build_tiny_gguf(ws / "noblocks.gguf", tensors=False)  # converted to random weights before
    build_tiny_gguf(ws / "qwen.gguf", arch="qwen2")  # llama tensors: qwen2's biases missing
    return ws


def test_convert_writes_no_gguf_copy_and_the_tokenizer_loads(gguf_master, tmp_path):
    """transformers copied the GGUF to tokenizer.model (sentencepiece cannot read it); the
    converted folder's tokenizer must load from tokenizer.json alone and encode as the BPE the
    GGUF was made from."""
    from _builders import build_tokenizer
    from transformers import AutoTokenizer

    from tuning.cli import main

    assert run_in(tmp_path, main, ["convert", str(gguf_master / "tiny.gguf"), "-o", "m"]) == 0
    out = tmp_path / "m"
    assert not (out / "tokenizer.model").exists()
    for path in out.iterdir():
        assert path.read_bytes()[:4] != b"GGUF", path.name
    tok = AutoTokenizer.from_pretrained(out)
    text = "Open the file 打开文件"
    assert tok(text, add_special_tokens=False)["input_ids"] == build_tokenizer()(text)["input_ids"]
    assert tok.eos_token == "</s>" and tok.pad_token == "<pad>"  # from the GGUF metadata


CONVERT_CASES = [
    ("t5.gguf", "m", "transformers cannot load this GGUF model (TypeError"),
    ("falcon.gguf", "m", "transformers cannot load this GGUF model (RuntimeError"),
    ("bloom.gguf", "m", "transformers cannot load this GGUF model"),
    ("noblocks.gguf", "m", "holds no weights for 9 of the model's tensors"),
    ("qwen.gguf", "m", "holds no weights for 3"),
]


@pytest.mark.parametrize("name, out, needle", CONVERT_CASES, ids=[c[0] for c in CONVERT_CASES])
def test_convert_errors_of_transformers_are_one_line(gguf_master, tmp_path, capsys, name, out, needle):
    from tuning.cli import main

    shutil.copy(gguf_master / name, tmp_path / name)
    check_refused(main, "tuning", ["convert", name, "-o", out], tmp_path, needle, capsys)


def test_convert_refuses_an_unwritable_output_before_converting(gguf_master, tmp_path, capsys, monkeypatch):
    import transformers

    from tuning.cli import main

    def must_not_load(*args, **kwargs):
        raise AssertionError("the conversion started before the output was checked")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", must_not_load)
    shutil.copy(gguf_master / "tiny.gguf", tmp_path / "tiny.gguf")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    target = ro if not os.access(ro, os.W_OK) or os.geteuid() != 0 else Path("/proc/1")
    try:
        check_refused(main, "tuning", ["convert", "tiny.gguf", "-o", f"{target}/m"], tmp_path, "writ", capsys)
    finally:
        ro.chmod(0o755)


# -- tuning train: strict config, resume on the same data, damaged checkpoints, final save -------
@pytest.fixture(scope="module")
def train_master(tmp_path_factory, tiny_model):
    """A run stopped after 1 of 2 steps (one complete checkpoint), and a second, smaller model."""
    from _builders import build_tiny_llama, build_tokenizer

    ws = tmp_path_factory.mktemp("train")
    tok = build_tokenizer()
    build_tiny_llama(tok, layers=1, hidden=32).save_pretrained(ws / "other_model", safe_serialization=True)
    tok.save_pretrained(ws / "other_model")
    records = [{"id": f"r{i}", "language": "zh", "task": "translation", "instruction": "Translate.",
                "input": "Open the file", "output": "打开文件", "source": "t"} for i in range(6)]
    _jsonl(ws / "mix.jsonl", records)
    _jsonl(ws / "mix2.jsonl", records[:5])
    (ws / "c.yaml").write_text(f"model: {tiny_model}\ndata: mix.jsonl\nseq_len: 256\nbatch_size: 2\ngrad_accum: 1\n"
                               "max_steps: 2\nsave_every: 1\nlr: 1.0e-3\n")
    result = _train(ws, "c.yaml", "output_dir=run", "stop_after=1")
    assert result.returncode == 0, result.stderr[-3000:]
    return ws


def _train(ws: Path, *args: str, prelude: str = "") -> "subprocess.CompletedProcess":
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(PYTHONPATH=str(ROOT / "src"), MASTER_PORT=str(29500 + (os.getpid() + 7) % 1000),
               TOKENIZERS_PARALLELISM="false")
    code = prelude + "\nimport sys\nfrom tuning.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, "train", *args], cwd=ws, capture_output=True, text=True,
                          timeout=600, env=env)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("tuning train: error: ")]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


CONFIG_CASES = [
    ("model: m\ndata: d\noutput_dir: o\nlr: 1.0e-3\nlr: 1.0\n", [], "key 'lr' appears twice"),
    ("model: m\ndata: d\noutput_dir: o\ndata: e\n", [], "key 'data' appears twice"),
    ("model: m\ndata: d\noutput_dir: o\npacking: yes\n", [], "key 'packing' must be a bool or null, got 'yes'"),
    ("model: m\ndata: d\noutput_dir: o\n", ["packing=no"], "got 'no'"),
    ("model: m\ndata: d\noutput_dir: o\n", ["packing=off"], "got 'off'"),
    ("model: m\ndata: d\noutput_dir: o\n", ["resume=on"], "key 'resume' must be a bool"),
    ("model: m\ndata: d\noutput_dir: o\n", ["lr=1e-3", "lr=1e-4"], "lr is given twice"),
]


@pytest.mark.parametrize("text, overrides, needle", CONFIG_CASES, ids=[c[2] for c in CONFIG_CASES])
def test_train_config_is_read_strictly(tmp_path, capsys, text, overrides, needle):
    from tuning.cli import main

    (tmp_path / "c.yaml").write_text(text)
    check_refused(main, "tuning", ["train", "c.yaml", *overrides], tmp_path, needle, capsys)


def test_train_config_true_false_still_read():
    from tuning.train.config import load_config

    c = load_config(None, ["model=m", "data=d", "output_dir=o", "packing=false", "resume=True", "tensorboard=FALSE"])
    assert (c.packing, c.resume, c.tensorboard) == (False, True, False)


@pytest.mark.parametrize("seq_len", [513, 4096])
def test_train_refuses_seq_len_beyond_the_models_positions(train_master, tmp_path, capsys, seq_len):
    from tuning.cli import main

    shutil.copy(train_master / "mix.jsonl", tmp_path / "mix.jsonl")
    (tmp_path / "c.yaml").write_text((train_master / "c.yaml").read_text())
    check_refused(main, "tuning", ["train", "c.yaml", "output_dir=new", f"seq_len={seq_len}"], tmp_path,
                  "has 512 positions", capsys)


def _damage(run: Path, how: str) -> None:
    shard = next((run / "checkpoints" / "step-1").glob("*.distcp"))
    data = shard.read_bytes()
    if how == "truncated":
        shard.write_bytes(data[: len(data) // 3])
    elif how == "empty":
        shard.write_bytes(b"")
    elif how == "random":
        shard.write_bytes(random_bytes(len(data)))
    elif how == "missing":
        shard.unlink()


@pytest.mark.slow  # tuning train in subprocesses (torch start-up each)
@pytest.mark.parametrize("how, args, needle", [
    ("truncated", [], "cannot load the checkpoint"),
    ("empty", [], "cannot load the checkpoint (EOFError"),
    ("random", [], "cannot load the checkpoint"),
    ("missing", [], "(FileNotFoundError"),
    ("other model", ["model=other_model"], "Size mismatch"),
    ("other data", ["data=mix2.jsonl"], "not the mixture the run in 'run' was started on ('mix.jsonl'"),
])
def test_train_resume_refuses_damaged_or_foreign_runs(train_master, tmp_path, how, args, needle):
    ws = tmp_path / "ws"
    shutil.copytree(train_master, ws)
    _damage(ws / "run", how)
    before = snapshot(ws)
    line = _one_error_line(_train(ws, "c.yaml", "output_dir=run", "resume=true", *args))
    assert needle in line and len(line) < 700, line
    assert snapshot(ws) == before


_SIGTERM_IN_FINAL_SAVE = """
import os, signal
import transformers
real = transformers.PreTrainedModel.save_pretrained
def save_pretrained(self, *args, **kwargs):
    if os.environ.get("SIGTERM_IN_SAVE") == "1":
        os.kill(os.getpid(), signal.SIGTERM)  # half way through the export
    return real(self, *args, **kwargs)
transformers.PreTrainedModel.save_pretrained = save_pretrained
"""


@pytest.mark.slow  # tuning train in subprocesses (torch start-up each)
def test_sigterm_during_the_final_save_leaves_a_run_that_resume_finishes(train_master, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("mix.jsonl", "c.yaml"):
        shutil.copy(train_master / name, ws / name)
    monkeypatch.setenv("SIGTERM_IN_SAVE", "1")
    result = _train(ws, "c.yaml", "output_dir=run", "save_every=0", prelude=_SIGTERM_IN_FINAL_SAVE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "during the final save" in result.stderr
    run = ws / "run"
    assert not (run / "final.tmp").exists() and not (run / "final").exists()
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-2"]  # the finished steps, complete
    assert json.loads((run / "run.json").read_text())["finished"] is False
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]

    monkeypatch.setenv("SIGTERM_IN_SAVE", "0")
    result = _train(ws, "c.yaml", "output_dir=run", "save_every=0", "resume=true", prelude=_SIGTERM_IN_FINAL_SAVE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "final" / "model.safetensors").is_file() and not (run / "final.tmp").exists()
    record = json.loads((run / "run.json").read_text())
    assert record["finished"] is True and record["steps_done"] == 2 and record["resumed_from_step"] == 2
    assert [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()] == losses


@pytest.mark.parametrize("lang, needle", LABEL_CASES[:3] + LABEL_CASES[4:5])
def test_pilots_refuses_language_codes_unsafe_in_csv(pi_ws, capsys, lang, needle):
    from tuning.cli import main

    (pi_ws / "bad.csv").write_text("language,task,metric,score,n,signature,model\n"
                                   f"\"{lang.replace(chr(34), chr(34) * 2)}\",flores:en-zh,comet,81.5,3,sig,m\n")
    check_refused(main, "tuning", _pilots("bad.csv", "comet", "new.csv"), pi_ws, needle, capsys)
