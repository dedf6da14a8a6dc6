"""Hostile input, command by command: a table of bad inputs fed through the command line.

Every case must end with exit status 2, exactly one line on stderr of the form
``<program> <command>: error: ...`` holding the expected words, no traceback, and the
workspace byte for byte (and mode for mode) as it was: no input changed, no output or
temporary file left. Each table also gets random bytes and a truncated copy of every valid
input format the command reads. A new command gets a table here (docs/guarantees.md).

SIGTERM is sent from inside the process at the worst moment (just before the final rename,
when the temporary output is complete) so the test does not depend on timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _builders import build_tiny_llama, build_tokenizer

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
SIZES = (10_000, 20_000, 50_000, 100_000, 200_000)
LAWS = {"ar": (42.5, 0.04, 0.11), "hi": (52.0, 0.03, 0.14), "zh": (40.0, 0.04, 0.085)}


# -- helpers -------------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """relative path -> (sha256 or 'dir', mode) of everything under root."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = (digest, stat.S_IMODE(st.st_mode))
    return out


def random_bytes(n: int = 600, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def truncated(path: Path) -> bytes:
    """A copy cut where the outcome is known: JSON in the middle (never valid), line formats
    just after the first field of the last line (a row that lacks its other fields)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return data[: len(data) // 2]
    body = data.rstrip(b"\n")
    start = body.rfind(b"\n") + 1
    sep = b"\t" if path.suffix == ".tsv" else b","
    if path.suffix == ".jsonl":
        return body[: start + (len(body) - start) // 2]  # a torn JSON object
    return body[: body.index(sep, start) + 1]


def check_refused(main, prog: str, argv: list[str], ws: Path, needle: str, capsys) -> str:
    """Run main(argv) in ws; assert the house rules for bad input; return the message."""
    before = snapshot(ws)
    cwd = os.getcwd()
    os.chdir(ws)
    try:
        status = main(argv)
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, (status, captured.err)
    assert "Traceback" not in captured.err
    assert len(lines) == 1, captured.err  # one line, however the library phrased its error
    assert lines[0].startswith(f"{prog} {argv[0]}: error: "), lines[0]
    assert needle.lower() in lines[0].lower(), (needle, lines[0])
    assert snapshot(ws) == before, "an input changed or an output/temporary file was left"
    return lines[0]


def unwritable_folder(ws: Path) -> Path:
    folder = ws / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root may write anywhere it has permission bits for
        folder.chmod(0o755)
        folder.rmdir()
        folder = Path("/proc/1")
        if os.access(folder, os.W_OK) or not folder.is_dir():
            pytest.skip("no folder this user cannot write")
    return folder


# -- budgetlaw -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bl_master(tmp_path_factory):
    from budgetlaw.cli import main

    ws = tmp_path_factory.mktemp("bl")
    rows = [(lang, s, round(100 - a * (b * s) ** (-c), 6), 0) for lang, (a, b, c) in LAWS.items() for s in SIZES]
    pd.DataFrame(rows, columns=["language", "size", "score", "seed"]).to_csv(ws / "pilots.csv", index=False)
    (ws / "langs.csv").write_text("language,available,floor\nar,300000,1000\nhi,120000,1000\nzh,400000,1000\n")
    for argv in (["fit", "pilots.csv", "-o", "laws.json", "--n-boot", "20"],
                 ["fit", "pilots.csv", "-o", "other_laws.json", "--n-boot", "20", "--seed", "1"],
                 ["allocate", "laws.json", "--budget", "300k", "-o", "plan.json"]):
        cwd = os.getcwd()
        os.chdir(ws)
        try:
            assert main(argv) == 0
        finally:
            os.chdir(cwd)
    return ws


@pytest.fixture()
def bl_ws(bl_master, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(bl_master, ws)
    (ws / "twice.csv").write_text((ws / "pilots.csv").read_text() +
                                  "\n".join((ws / "pilots.csv").read_text().splitlines()[1:]) + "\n")
    (ws / "ragged.csv").write_text("language,size,score\nar,10000,60\nar,20000,61,7,8,9\n")
    for name in ("pilots.csv", "laws.json", "plan.json", "langs.csv"):
        stem, ext = name.split(".")
        (ws / f"{stem}_random.{ext}").write_bytes(random_bytes())
        (ws / f"{stem}_cut.{ext}").write_bytes(truncated(ws / name))
    return ws


BUDGETLAW_CASES = [
    # fit
    (["fit", "pilots.csv", "-o", "pilots.csv"], "is also an input"),
    (["fit", "pilots.csv", "-o", "."], "is an existing folder"),
    (["fit", "pilots.csv", "-o", "missing/laws.json"], "does not exist"),
    (["fit", "pilots.csv", "-o", "pilots.csv/laws.json"], "is not a folder"),
    (["fit", "pilots.csv", "-o", "new.json", "--n-boot", "1000000000000"], "--n-boot"),
    (["fit", "pilots.csv", "-o", "new.json", "--n-boot", "-1"], "--n-boot"),
    (["fit", "twice.csv", "-o", "new.json"], "appears twice"),
    (["fit", "pilots.csv", "--lower-is-better", "-o", "pilots.csv"], "is also an input"),
    (["fit", "ragged.csv", "-o", "new.json"], "not a readable CSV"),
    (["fit", "nope.csv", "-o", "new.json"], "not found"),
    (["fit", "pilots_random.csv", "-o", "new.json"], "pilots_random.csv"),
    (["fit", "pilots_cut.csv", "-o", "new.json"], "is empty"),
    # allocate
    (["allocate", "laws.json", "--budget", "1M", "-o", "laws.json"], "is also an input"),
    (["allocate", "laws.json", "--budget", "1M", "--languages", "langs.csv", "-o", "langs.csv"], "is also an input"),
    (["allocate", "laws.json", "--budget", "1M", "-o", "."], "is an existing folder"),
    (["allocate", "laws.json", "--budget", "1e-9", "-o", "new.json"], "cannot pay one pair"),
    (["allocate", "laws.json", "--budget", "2", "-o", "new.json"], "cannot pay one pair"),
    (["allocate", "laws.json", "--budget", "1e999", "-o", "new.json"], "--budget"),
    (["allocate", "laws_random.json", "--budget", "1M", "-o", "new.json"], "laws_random.json"),
    (["allocate", "laws_cut.json", "--budget", "1M", "-o", "new.json"], "not valid JSON"),
    (["allocate", "laws.json", "--budget", "1M", "--languages", "langs_random.csv", "-o", "new.json"], "langs_random.csv"),
    (["allocate", "laws.json", "--budget", "1M", "--languages", "langs_cut.csv", "-o", "new.json"], "langs_cut.csv"),
    # report
    (["report", "laws.json", "plan.json", "-o", "laws.json"], "not a folder"),
    (["report", "other_laws.json", "plan.json", "-o", "rep"], "made from other laws"),
    (["report", "laws.json", "plan_random.json", "-o", "rep"], "plan_random.json"),
    (["report", "laws.json", "plan_cut.json", "-o", "rep"], "not valid JSON"),
    (["report", "laws_cut.json", "plan.json", "-o", "rep"], "not valid JSON"),
    (["report", "laws.json", "plan.json", "-o", "rep", "--pilots", "pilots_random.csv"], "pilots_random.csv"),
    # demo
    (["demo", "-o", "pilots.csv"], "not a folder"),
    (["demo", "-o", "out", "--n-boot", "-5"], "--n-boot"),
    (["demo", "-o", "out", "--budget", "0"], "--budget"),
]


@pytest.mark.parametrize("argv, needle", BUDGETLAW_CASES, ids=[" ".join(c[0]) for c in BUDGETLAW_CASES])
def test_budgetlaw_refuses(bl_ws, capsys, argv, needle):
    from budgetlaw.cli import main

    check_refused(main, "budgetlaw", argv, bl_ws, needle, capsys)


def test_budgetlaw_report_refuses_to_replace_an_input_in_its_folder(bl_ws, capsys):
    from budgetlaw.cli import main

    (bl_ws / "plans.csv").write_bytes((bl_ws / "pilots.csv").read_bytes())  # an input named like a report file
    check_refused(main, "budgetlaw", ["report", "laws.json", "plan.json", "-o", ".", "--pilots", "plans.csv"],
                  bl_ws, "would replace the input", capsys)


@pytest.mark.parametrize("command", ["fit", "report", "demo"])
def test_budgetlaw_unwritable_output_folder(bl_ws, capsys, command):
    from budgetlaw.cli import main

    folder = unwritable_folder(bl_ws)
    argv = {"fit": ["fit", "pilots.csv", "-o", f"{folder}/laws.json"],
            "report": ["report", "laws.json", "plan.json", "-o", f"{folder}/rep"],
            "demo": ["demo", "-o", f"{folder}/demo"]}[command]
    check_refused(main, "budgetlaw", argv, bl_ws, "not writable", capsys)


def test_budgetlaw_huge_budget_warns_of_extrapolation(bl_ws, capsys):
    from budgetlaw.cli import main

    os.chdir(bl_ws)
    assert main(["allocate", "laws.json", "--budget", "1e300", "-o", "huge.json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("budgetlaw allocate: warning: the plan extrapolates")
    assert "x its largest pilot size 200000" in err[0]


def test_same_inputs_give_the_same_bytes(bl_ws):
    """plan.json holds no solver timings (they differ from run to run); laws.json neither."""
    from budgetlaw.cli import main

    os.chdir(bl_ws)
    for k in (1, 2):
        assert main(["fit", "pilots.csv", "-o", f"laws{k}.json", "--n-boot", "20"]) == 0
        for solver in ("exact", "cvxpy"):
            assert main(["allocate", "laws.json", "--budget", "300k", "--solver", solver, "-o", f"{solver}{k}.json"]) == 0
    assert (bl_ws / "laws1.json").read_bytes() == (bl_ws / "laws2.json").read_bytes()
    for solver in ("exact", "cvxpy"):
        assert (bl_ws / f"{solver}1.json").read_bytes() == (bl_ws / f"{solver}2.json").read_bytes()
        assert "time_s" not in json.loads((bl_ws / f"{solver}1.json").read_text())["solver"]


def test_budgetlaw_outputs_follow_the_umask(bl_ws):
    from budgetlaw.cli import main

    os.chdir(bl_ws)
    old = os.umask(0o027)
    try:
        assert main(["report", "laws.json", "plan.json", "-o", "rep", "--budgets", "none", "--baselines", "uniform"]) == 0
        assert main(["allocate", "laws.json", "--budget", "300k", "-o", "p2.json"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((bl_ws / "rep").stat().st_mode) == 0o750  # not mkdtemp's 0700
    assert stat.S_IMODE((bl_ws / "rep" / "report.md").stat().st_mode) == 0o640
    assert stat.S_IMODE((bl_ws / "p2.json").stat().st_mode) == 0o640


# -- SIGTERM: the same clean exit as Ctrl-C --------------------------------------------------------
_SIGTERM_AT_RENAME = """
import os, signal, sys
real = os.replace
def replace(src, dst):
    os.kill(os.getpid(), signal.SIGTERM)  # the temporary output is complete: the worst moment
    return real(src, dst)
os.replace = replace
from {module} import main
sys.exit(main(sys.argv[1:]))
"""


def _run_sigterm(module: str, argv: list[str], ws: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-c", _SIGTERM_AT_RENAME.format(module=module), *argv], cwd=ws,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("argv", [
    ["fit", "pilots.csv", "-o", "new.json", "--n-boot", "5"],
    ["report", "laws.json", "plan.json", "-o", "rep", "--budgets", "none", "--baselines", "uniform"],
    ["demo", "-o", "out", "--n-boot", "5"],
], ids=["fit", "report", "demo"])
def test_budgetlaw_sigterm_leaves_nothing(bl_ws, argv):
    before = snapshot(bl_ws)
    result = _run_sigterm("budgetlaw.cli", argv, bl_ws)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"budgetlaw {argv[0]}: interrupted"
    assert snapshot(bl_ws) == before


# -- tuning: mix, tokens, pilots, eval, generate, align, convert ---------------------------------------
@pytest.fixture()
def tu_ws(tmp_path):
    from tuning.cli import main

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "plan.json").write_text(json.dumps({"sizes": {"zh": 3}, "constraints": {"max_epochs": 1}}))
    (ws / "p.tsv").write_text("Open the file\t打开文件\nSave the document\t保存文档\nClose the window\t关闭窗口\n",
                              encoding="utf-8")
    (ws / "en.json").write_text(json.dumps([{"instruction": "Print the page", "input": "", "output": "Done"}]))
    (ws / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    cwd = os.getcwd()
    os.chdir(ws)
    try:
        assert main(["mix", "plan.json", "-o", "mix.jsonl", "--parallel", "zh=p.tsv", "--instructions", "en=en.json"]) == 0
    finally:
        os.chdir(cwd)
    results = "language,task,metric,score,n,signature,model\nzh,flores:en-zh,bleu,30.5,3,sig,m\n"
    (ws / "results.csv").write_text(results)
    manifest = json.loads((ws / "mix.manifest.json").read_text())
    (ws / "seed.manifest.json").write_text(json.dumps({**manifest, "seed": "abc"}))
    (ws / "old_pilots.csv").write_text("language,size,score,seed,metric\nzh,3,20.0,0,bleu\n")
    flores = ws / "flores" / "devtest"
    flores.mkdir(parents=True)
    (flores / "eng_Latn.devtest").write_text("Open the file.\nSave the document.\n", encoding="utf-8")
    (flores / "zho_Hans.devtest").write_text("打开文件。\n保存文档。\n", encoding="utf-8")
    (ws / "preds.jsonl").write_text('{"id": "0", "prediction": "打开文件。"}\n{"id": "1", "prediction": "保存文档。"}\n')
    (ws / "preds_int.jsonl").write_text('{"id": "0", "prediction": 7}\n{"id": "1", "prediction": "保存文档。"}\n')
    (ws / "preds_dup.jsonl").write_text('{"id": "0", "prediction": "a"}\n{"id": "0", "prediction": "b"}\n'
                                        '{"id": "1", "prediction": "c"}\n')
    (ws / "prompts.jsonl").write_text('{"id": "a", "prompt": "Hi"}\n')
    (ws / "pairs.jsonl").write_text('{"language": "zh", "en": "Open the file.", "text": "打开文件。"}\n')
    (ws / "model.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + random_bytes(40))
    (ws / "random.gguf").write_bytes(random_bytes())
    (ws / "train.yaml").write_text("model: m\ndata: mix.jsonl\n  output_dir: [out\n")
    for name in ("plan.json", "p.tsv", "en.json", "mix.jsonl", "mix.manifest.json", "results.csv", "preds.jsonl"):
        stem, ext = name.rsplit(".", 1)
        (ws / f"{stem}_random.{ext}").write_bytes(random_bytes())
        (ws / f"{stem}_cut.{ext}").write_bytes(truncated(ws / name))
    return ws


MIX = ["mix", "plan.json", "--parallel", "zh=p.tsv", "--instructions", "en=en.json"]
EVAL = ["eval", "--task", "flores:en-zh", "--data", "flores"]
PILOTS = ["pilots", "--results", "results.csv", "--metric", "bleu"]
TUNING_CASES = [
    # mix: outputs
    ([*MIX, "-o", "plan.json"], "is also an input"),
    ([*MIX, "-o", "p.tsv"], "is also an input"),
    ([*MIX, "-o", "en.json"], "is also an input"),
    ([*MIX, "-o", "."], "is an existing folder"),
    ([*MIX, "-o", "missing/mix.jsonl"], "does not exist"),
    ([*MIX, "-o", "p.tsv/mix.jsonl"], "is not a folder"),
    (["mix", "plan.json", "--recipe", "translation", "--parallel", "zh=p.tsv", "-o", "p.tsv"], "is also an input"),
    # mix: inputs
    ([*MIX, "-o", "m.jsonl", "--heldout", "zh=missing.tsv"], "no such file or folder"),
    ([*MIX, "-o", "m.jsonl", "--heldout", "en=en.json"], "removes every en instruction"),
    ([*MIX, "-o", "m.jsonl", "--min-score", "nan"], "--min-score"),
    (["mix", "plan.json", "--parallel", "zh=nowhere/corpus", "--instructions", "en=en.json", "-o", "m.jsonl"],
     "no such file or folder"),
    (["mix", "plan.json", "--parallel", "zh=p.tsv", "--instructions", "en=deep.json", "-o", "m.jsonl"], "nested too deeply"),
    (["mix", "plan_random.json", "--parallel", "zh=p.tsv", "--instructions", "en=en.json", "-o", "m.jsonl"], "plan_random.json"),
    (["mix", "plan_cut.json", "--parallel", "zh=p.tsv", "--instructions", "en=en.json", "-o", "m.jsonl"], "not a JSON plan"),
    (["mix", "plan.json", "--parallel", "zh=p_random.tsv", "--instructions", "en=en.json", "-o", "m.jsonl"], "p_random.tsv"),
    (["mix", "plan.json", "--parallel", "zh=p_cut.tsv", "--instructions", "en=en.json", "-o", "m.jsonl"], "p_cut.tsv"),
    (["mix", "plan.json", "--parallel", "zh=p.tsv", "--instructions", "en=en_random.json", "-o", "m.jsonl"], "en_random.json"),
    (["mix", "plan.json", "--parallel", "zh=p.tsv", "--instructions", "en=en_cut.json", "-o", "m.jsonl"], "malformed JSON"),
    # tokens
    (["tokens", "mix.jsonl", "--tokenizer", ".", "-o", "mix.jsonl"], "is also an input"),
    (["tokens", "mix_random.jsonl", "--tokenizer", ".", "-o", "c.csv"], "mix_random.jsonl"),
    (["tokens", "mix_cut.jsonl", "--tokenizer", ".", "-o", "c.csv"], "malformed JSON"),
    # pilots
    ([*PILOTS, "--manifest", "mix.manifest.json", "-o", "results.csv"], "is also an input"),
    ([*PILOTS, "--manifest", "mix.manifest.json", "-o", "mix.manifest.json"], "is also an input"),
    ([*PILOTS, "--manifest", "mix.manifest.json", "-o", "old_pilots.csv"], "already exists"),
    ([*PILOTS, "--manifest", "seed.manifest.json", "-o", "new.csv"], "not a whole number"),
    ([*PILOTS, "--manifest", "mix.manifest_random.json", "-o", "new.csv"], "mix.manifest_random.json"),
    ([*PILOTS, "--manifest", "mix.manifest_cut.json", "-o", "new.csv"], "not JSON"),
    (["pilots", "--results", "results_random.csv", "--metric", "bleu", "--manifest", "mix.manifest.json", "-o", "n.csv"],
     "results_random.csv"),
    (["pilots", "--results", "results_cut.csv", "--metric", "bleu", "--manifest", "mix.manifest.json", "-o", "n.csv"],
     "results_cut.csv"),
    # eval
    ([*EVAL, "--predictions", "preds.jsonl", "-o", "r.csv", "--limit", "0"], "--limit 0"),
    ([*EVAL, "--predictions", "preds_int.jsonl", "-o", "r.csv"], "not a string"),
    ([*EVAL, "--predictions", "preds.jsonl", "--nll", "-o", "r.csv"], "--nll"),
    ([*EVAL, "--predictions", "preds_dup.jsonl", "-o", "r.csv"], "appears again"),
    ([*EVAL, "--predictions", "preds.jsonl", "-o", "preds.jsonl"], "is also an input"),
    ([*EVAL, "--predictions", "preds.jsonl", "-o", "r.csv", "--comet-model", "./no/such/comet"], "no such file or folder"),
    ([*EVAL, "--predictions", "preds_random.jsonl", "-o", "r.csv"], "preds_random.jsonl"),
    ([*EVAL, "--predictions", "preds_cut.jsonl", "-o", "r.csv"], "no prediction for 1 of 2"),
    # generate, align, convert
    (["generate", "--model", ".", "--prompts", "prompts.jsonl", "-o", "prompts.jsonl"], "is also an input"),
    (["generate", "--model", ".", "--prompts", "prompts.jsonl", "-o", "o.jsonl", "--batch-size", "0"], "--batch-size"),
    (["align", "--model", ".", "--pairs", "pairs.jsonl", "-o", "pairs.jsonl"], "is also an input"),
    (["convert", "random.gguf", "-o", "m"], "not a GGUF file"),
    (["convert", "model.gguf", "-o", "m"], "cannot read the GGUF header"),
    (["convert", "missing.gguf", "-o", "m"], "not found"),
    # train: configuration errors are one line (PyYAML's own messages take 4-7)
    (["train", "train.yaml"], "not valid YAML"),
    (["train", "missing.yaml"], "config file not found"),
]


@pytest.mark.parametrize("argv, needle", TUNING_CASES, ids=[" ".join(c[0]) for c in TUNING_CASES])
def test_tuning_refuses(tu_ws, capsys, argv, needle):
    from tuning.cli import main

    if argv[0] == "convert":
        pytest.importorskip("gguf")
    check_refused(main, "tuning", argv, tu_ws, needle, capsys)


def test_tuning_unwritable_output_folder(tu_ws, capsys):
    from tuning.cli import main

    folder = unwritable_folder(tu_ws)
    check_refused(main, "tuning", [*MIX, "-o", f"{folder}/mix.jsonl"], tu_ws, "not writable", capsys)


def test_mix_output_follows_the_umask(tu_ws):
    from tuning.cli import main

    os.chdir(tu_ws)
    old = os.umask(0o027)
    try:
        assert main([*MIX, "-o", "m2.jsonl"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tu_ws / "m2.jsonl").stat().st_mode) == 0o640  # was forced to 0644
    assert stat.S_IMODE((tu_ws / "m2.manifest.json").stat().st_mode) == 0o640


def test_mix_sigterm_leaves_nothing(tu_ws):
    before = snapshot(tu_ws)
    result = _run_sigterm("tuning.cli", [*MIX, "-o", "m3.jsonl"], tu_ws)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "tuning mix: interrupted"
    assert snapshot(tu_ws) == before


def test_perfect_translation_is_a_pilot_point(tu_ws, capsys):
    """sacrebleu gives a perfect match 100.00000000000004; the project's own result must pass."""
    from tuning.cli import main

    os.chdir(tu_ws)
    perfect = tu_ws / "perfect.jsonl"
    perfect.write_text('{"id": "0", "prediction": "打开文件。"}\n{"id": "1", "prediction": "保存文档。"}\n',
                       encoding="utf-8")
    assert main([*EVAL, "--predictions", "perfect.jsonl", "-o", "perfect.csv"]) == 0
    bleu = pd.read_csv(tu_ws / "perfect.csv").set_index("metric").loc["bleu", "score"]
    assert bleu == 100.0
    assert main(["pilots", "--results", "perfect.csv", "--manifest", "mix.manifest.json", "--metric", "bleu",
                 "-o", "perfect_pilots.csv"]) == 0
    assert pd.read_csv(tu_ws / "perfect_pilots.csv")["score"].tolist() == [100.0]


def test_prediction_file_names_stay_inside_their_folder():
    from tuning.evaluation.cli import prediction_file_name

    name = prediction_file_name("jsonl:x/../../../NAME")
    assert "/" not in name and not name.startswith(".") and name.endswith(".jsonl")
    assert prediction_file_name("flores:en-zh") == "flores_en-zh.jsonl"  # unchanged for ordinary tasks


# -- tuning train: a run folder that is not left empty, checkpoints that are not trusted -----------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-llama")
    tok = build_tokenizer()
    build_tiny_llama(tok).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def _train(ws: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(PYTHONPATH=str(SRC), MASTER_PORT=str(29500 + os.getpid() % 1000), TOKENIZERS_PARALLELISM="false")
    return subprocess.run([sys.executable, "-m", "tuning", "train", *args], cwd=ws, capture_output=True, text=True,
                          timeout=600, env=env, preexec_fn=lambda: os.umask(umask))


def _error_line(result, command="train") -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"tuning {command}: error: ")]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


def test_train_bad_model_config_is_one_short_line_and_leaves_no_run_folder(tmp_path, tiny_model):
    bad = tmp_path / "bad-model"
    shutil.copytree(tiny_model, bad)
    (bad / "config.json").write_text(json.dumps({"model_type": "no-such-model", "vocab_size": 10}))
    mix = tmp_path / "mix.jsonl"
    mix.write_text(json.dumps({"id": "a", "language": "en", "task": "instruction", "instruction": "Say hi.",
                               "input": "", "output": "hi", "source": "t"}) + "\n")
    (tmp_path / "c.yaml").write_text("{}\n")
    result = _train(tmp_path, "c.yaml", f"model={bad}", f"data={mix}", "output_dir=run", "max_steps=1")
    line = _error_line(result)
    assert "no-such-model" in line and len(line) < 700
    assert not (tmp_path / "run").exists()  # a failed start leaves no empty run folder


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory, tiny_model):
    """A run stopped after 1 of 2 steps: one complete checkpoint to resume from."""
    ws = tmp_path_factory.mktemp("train")
    records = [{"id": f"r{i}", "language": "zh", "task": "translation", "instruction": "Translate.",
                "input": "Open the file", "output": "打开文件", "source": "t"} for i in range(6)]
    (ws / "mix.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    (ws / "c.yaml").write_text(f"model: {tiny_model}\ndata: mix.jsonl\nseq_len: 256\nbatch_size: 2\ngrad_accum: 1\n"
                               "max_steps: 2\nsave_every: 1\nlr: 1.0e-3\n")
    result = _train(ws, "c.yaml", "output_dir=run", "stop_after=1")
    assert result.returncode == 0, result.stderr[-3000:]
    return ws


@pytest.mark.slow  # tuning train in subprocesses (torch start-up each)
def test_train_resume_refuses_tampered_metadata_and_accepts_its_own(stopped_run, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(stopped_run, ws)
    ckpt = ws / "run" / "checkpoints" / "step-1"
    marker = json.loads((ckpt / "trainer_state.json").read_text())
    assert marker["metadata_sha256"] == hashlib.sha256((ckpt / ".metadata").read_bytes()).hexdigest()

    good = ws / "good"
    shutil.copytree(ws / "run", good)
    (ckpt / ".metadata").write_bytes(b"\x80\x04corrupt or hostile pickle")
    before = snapshot(ws)
    line = _error_line(_train(ws, "c.yaml", "output_dir=run", "resume=true"))
    assert ".metadata" in line and "does not match" in line
    assert snapshot(ws) == before

    del marker["metadata_sha256"]  # a checkpoint without the record (another writer, an old version)
    (good / "checkpoints" / "step-1" / "trainer_state.json").write_text(json.dumps(marker))
    (ws / "foreign").mkdir()
    shutil.copytree(good, ws / "foreign" / "run")
    line = _error_line(_train(ws / "foreign", "../c.yaml", "data=../mix.jsonl", "output_dir=run", "resume=true"))
    assert "does not record the sha256" in line

    fresh = tmp_path / "fresh"
    shutil.copytree(stopped_run, fresh)
    result = _train(fresh, "c.yaml", "output_dir=run", "resume=true", umask=0o022)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stderr
    assert stat.S_IMODE((fresh / "run" / "final" / "model.safetensors").stat().st_mode) == 0o644  # not 0600
