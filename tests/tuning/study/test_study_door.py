"""Every key checked at the door: `tuning study run` refuses, before any job runs and in
seconds, what it would otherwise fail on later (or get silently wrong): one line naming the key
and the fix, exit status 2, nothing written (no results or work folder, no study.lock).

Nothing trains here: the model is a config.json (and a tokenizer_config.json) with the fields
the checks read; the corpora are small .tsv files made here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tuning.cli import main
from tuning.errors import InputError
from tuning.study.spec import load_study

STUDY = """\
model: model
prompt: alpaca
heldout: 8
languages:
  el: {parallel: el.tsv}
  tr: {parallel: tr.tsv}
train: {batch_size: 4, seq_len: 128}
pilots: {sizes: [8, 16, 24, 32], seeds: [1]}
budget: 48
"""
PAIRS = 60  # per language; 8 + 8 held out (the same English in both), 44 left for the pilots


@pytest.fixture()
def folder(tmp_path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps({"max_position_embeddings": 512}), encoding="utf-8")
    (tmp_path / "model" / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}), encoding="utf-8")
    for lang in ("el", "tr"):
        (tmp_path / f"{lang}.tsv").write_text("".join(f"Open the folder number {i} now\t{lang} {i}\n"
                                                      for i in range(PAIRS)), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(STUDY, encoding="utf-8")
    return tmp_path


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _refused(folder: Path, capsys, text: str, message: str, *extra: str) -> str:
    (folder / "s.yaml").write_text(text, encoding="utf-8")
    before = _files(folder)
    assert main(["study", "run", str(folder / "s.yaml"), *extra]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("tuning study: error: "), err
    assert "Traceback" not in captured.err + captured.out
    assert message in err, err
    assert _files(folder) == before  # no results/ or .work/, no study.lock
    return err


def test_the_door_passes_a_good_study(folder):
    from tuning.study.door import check_study

    check_study(load_study(folder / "s.yaml"))  # nothing raised: the refusals below are the edits alone


def _write(folder: Path, name: str, lines) -> None:
    (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


HELDOUT = [f"Close the window number {i} now\tx {i}" for i in range(8)]

DOOR = [
    # the model
    ("missing model path", lambda t, f: t.replace("model: model", "model: ./models/my-llama"),
     "models/my-llama does not exist (a path, not a hub name"),
    ("missing nested path", lambda t, f: t.replace("model: model", "model: models/llama/v2"),
     "models/llama/v2 does not exist (a path, not a hub name"),
    ("missing path under a folder here", lambda t, f: t.replace("model: model", "model: model/v2"),
     "model/v2 does not exist (a path, not a hub name"),
    ("a path or a hub name", lambda t, f: t.replace("model: model", "model: models/my-llama"),
     "(as a path, 'models/my-llama' does not exist beside the study file)"),
    ("missing parent path", lambda t, f: t.replace("model: model", "model: ../models/my-llama"),
     "my-llama does not exist (a path, not a hub name"),
    ("hub name offline", lambda t, f: t.replace("model: model", "model: nobody-here/no-such-model-x1"),
     "'nobody-here/no-such-model-x1' is a hub name, not in this machine's cache, and the hub (huggingface.co) "
     "cannot be reached from here (offline)"),
    ("seq_len", lambda t, f: t.replace("seq_len: 128", "seq_len: 100000"),
     "train.seq_len: 100000 is more than the model's 512 positions (config.json's max_position_embeddings); "
     "give seq_len 512 or less"),
    ("chat without a template", lambda t, f: t.replace("prompt: alpaca", "prompt: chat"),
     "prompt: chat, but the model's tokenizer has no chat template; give prompt: alpaca"),
    # held-out sets
    ("empty held-out file", lambda t, f: (_write(f, "el-held.tsv", []), t.replace(
        "el: {parallel: el.tsv}", "el: {parallel: el.tsv, heldout: el-held.tsv}"))[1],
     "el-held.tsv holds no held-out pairs"),
    ("truncated held-out file", lambda t, f: (f.joinpath("el-held.tsv").write_text(
        "\n".join(HELDOUT)[:-18], encoding="utf-8"), t.replace(
        "el: {parallel: el.tsv}", "el: {parallel: el.tsv, heldout: el-held.tsv}"))[1],
     "s.yaml: languages.el.heldout: "),
    ("truncated held-out line", lambda t, f: (f.joinpath("el-held.tsv").write_text(
        "\n".join(HELDOUT)[:-18], encoding="utf-8"), t.replace(
        "el: {parallel: el.tsv}", "el: {parallel: el.tsv, heldout: el-held.tsv}"))[1],
     "el-held.tsv, line 8: 'Close the windo' is not English<TAB>translation (a torn or edited line)"),
    ("torn held-out jsonl", lambda t, f: (f.joinpath("el-held.jsonl").write_text(
        json.dumps({"input": "Close it now", "reference": "x"}) + '\n{"input": "Close', encoding="utf-8"),
        t.replace("el: {parallel: el.tsv}", "el: {parallel: el.tsv, heldout: el-held.jsonl}"))[1],
     "el-held.jsonl, line 2: not a JSON object with non-empty 'input' and 'reference'"),
    ("held-out is the corpus", lambda t, f: t.replace("el: {parallel: el.tsv}", "el: {parallel: el.tsv, heldout: el.tsv}"),
     "el.tsv is the language's training corpus itself"),
    ("shared held-out file", lambda t, f: (_write(f, "held.tsv", HELDOUT), t.replace("heldout: 8", "heldout: held.tsv"))[1],
     "languages el and tr share the held-out file"),
    ("held-out not drawable", lambda t, f: t.replace("heldout: 8", "heldout: 100"),
     "languages.el: heldout 100: only 60 usable held-out messages of el"),
    # corpora and sizes
    ("pilot above corpus", lambda t, f: t.replace("[8, 16, 24, 32]", "[8, 16, 24, 50]"),
     "languages.el: its corpus", ),
    ("extrapolation above corpus", lambda t, f: t + "extrapolation: {languages: [tr], factors: [2]}\n",
     "languages.tr: its corpus"),
    # instructions
    ("instructions not JSON", lambda t, f: (_write(f, "alpaca.json", ["not json"]), t + "instructions: alpaca.json\n")[1],
     "instructions: ", ),
    ("instructions not JSONL", lambda t, f: (_write(f, "alpaca.jsonl", ['{"instruction": "a", "output": "b"}', "{oops"]),
                                              t + "instructions: alpaca.jsonl\n")[1], "alpaca.jsonl"),
    ("instructions of another format", lambda t, f: (_write(f, "alpaca.txt", ["a"]), t + "instructions: alpaca.txt\n")[1],
     "instruction data must be .json (a list) or .jsonl"),
    # seeds
    ("seed 2**70", lambda t, f: t.replace("seeds: [1]", f"seeds: [{2 ** 70}]"),
     f"pilots.seeds[0]: {2 ** 70} is beyond the seeds numpy and torch take; give a seed of at most 4294967295"),
    ("plan seed 2**70", lambda t, f: t + f"plans: {{optimized: [1], uniform: [{2 ** 70}]}}\n",
     "plans.uniform[0]: 1180591620717411303424 is beyond the seeds"),
    ("random seed 2**70", lambda t, f: t + f"transfer: {{loo_budget: 20, random: [[40, {2 ** 70}]]}}\n",
     "transfer.random[0] seed: 1180591620717411303424 is beyond the seeds"),
    # one language, one entry
    ("el and ell", lambda t, f: t.replace("  tr: {parallel: tr.tsv}", "  ell: {parallel: tr.tsv}"),
     "languages: 'el' and 'ell' are one language (el); list it once"),
    ("el and EL", lambda t, f: t.replace("  tr: {parallel: tr.tsv}", "  EL: {parallel: tr.tsv}"),
     "languages: 'el' and 'EL' are one language (el); list it once"),
    ("extrapolation twice", lambda t, f: t + "extrapolation: {languages: [el, ell]}\n",
     "extrapolation.languages: a language is listed twice"),
    # shapes
    ("repeat_languages: 5", lambda t, f: t + "transfer: {loo_budget: 20, repeat_languages: 5}\n",
     "transfer.repeat_languages: expected a list of the study's languages, e.g. [el], got 5"),
    ("random: 5", lambda t, f: t + "transfer: {loo_budget: 20, random: 5}\n",
     "transfer.random: expected a list of [budget, seed]"),
    ("extrapolation.languages: 5", lambda t, f: t + "extrapolation: {languages: 5}\n",
     "extrapolation.languages: expected a list of the study's languages"),
    ("name", lambda t, f: t + "name: ../elsewhere\n", "name: '../elsewhere' is not a plain name"),
]


@pytest.mark.parametrize("name,edit,message", DOOR, ids=[d[0] for d in DOOR])
def test_refused_at_the_door(folder, capsys, monkeypatch, name, edit, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _refused(folder, capsys, edit(STUDY, folder), message)


def test_the_corpus_count_is_what_the_mixture_can_draw(folder, capsys):
    """60 pairs, 8 held out per language by English text; the same English in el and tr, so the
    two held-out sets are one set of texts only if drawn alike: each language loses its own 8 and
    the other's 8 (the mixture drops a pair whose English is any held-out text), 44 or more left."""
    study = load_study(folder / "s.yaml")
    from tuning.study.steps import heldout_pairs

    held = {en for lang in study.languages for en, _ in heldout_pairs(lang)}
    left = PAIRS - len(held)
    text = STUDY.replace("[8, 16, 24, 32]", f"[8, 16, 24, {left + 1}]")
    err = _refused(folder, capsys, text, f"holds {left} distinct pairs once the held-out messages are set apart, "
                                         f"and the study asks for {left + 1}")
    assert "give sizes of at most" in err
    (folder / "s.yaml").write_text(STUDY.replace("[8, 16, 24, 32]", f"[8, 16, 24, {left}]"), encoding="utf-8")
    from tuning.study.door import check_study

    check_study(load_study(folder / "s.yaml"))  # exactly what is left: accepted


def test_a_chat_template_or_a_spelling_is_accepted(folder):
    from tuning.study.door import check_study

    (folder / "model" / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}),
                                                            encoding="utf-8")
    text = STUDY.replace("prompt: alpaca", "prompt: chat").replace("  tr: {", "  TUR: {")
    (folder / "s.yaml").write_text(text + "extrapolation: {languages: [ELL], factors: [1]}\n", encoding="utf-8")
    study = load_study(folder / "s.yaml")
    assert study.codes == ("el", "tr") and study.extrapolate == ("el",)
    check_study(study)


def test_a_results_path_that_is_a_file(folder, capsys):
    (folder / "taken").write_text("a file\n", encoding="utf-8")
    _refused(folder, capsys, STUDY, "results: ", "--results", str(folder / "taken"))
    _refused(folder, capsys, STUDY, "is a file, not a folder", "--work", str(folder / "taken" / "w"))


WRONG = [5, -1, 2 ** 70, 1.5, "x", [1], ["x"], [[1]], {"a": 1}, None, True, ""]
KEYS = ["name", "results", "work", "model", "prompt", "parallel", "heldout", "instructions", "languages", "train",
        "evaluate", "pilots", "budget", "plan_metric", "objective", "plans", "extrapolation", "transfer", "resources",
        "report", "languages.el", "languages.el.parallel", "languages.el.heldout", "train.seq_len", "train.lr",
        "evaluate.pilot_generate", "evaluate.device", "pilots.sizes", "pilots.seeds", "pilots.seed_sizes",
        "plans.optimized", "extrapolation.languages", "extrapolation.factors", "transfer.loo_budget",
        "transfer.random", "transfer.repeat_languages", "transfer.repeat_epochs", "transfer.repeat_unique",
        "transfer.distinct_languages", "transfer.plan_seeds", "transfer.n_boot", "transfer.stage1",
        "resources.default", "report.title"]


def test_a_value_of_any_shape_is_an_input_error_never_a_crash(folder):
    """Every key given values of the wrong shape: a study or one InputError line, nothing else."""
    base = yaml.safe_load(STUDY)
    base.update(extrapolation={"languages": ["el"]}, evaluate={"pilot_generate": 4}, heldout=8, transfer={"loo_budget": 20}, report={"title": "t"},
                resources={"default": {}}, plans={"optimized": [1]})
    crashes = []
    for key in KEYS:
        for value in WRONG:
            data = json.loads(json.dumps(base))
            *path, last = key.split(".")
            node = data
            for part in path:
                node = node[part]
            node[last] = value
            (folder / "s.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
            try:
                load_study(folder / "s.yaml")
            except InputError as exc:
                assert "\n" not in str(exc)
            except Exception as exc:  # noqa: BLE001 - the point of the test
                crashes.append(f"{key}={value!r}: {type(exc).__name__}: {exc}")
    assert not crashes, "\n".join(crashes)
