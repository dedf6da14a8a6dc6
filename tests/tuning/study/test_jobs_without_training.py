"""The study's jobs that train nothing, run on small files made here: held-out sets from a file
and drawn from a corpus, and a model's mixture (translation pairs only, or with instructions).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuning.study.graph import build_jobs
from tuning.study.spec import load_study

PAIRS = [(f"Open the folder number {i} now", f"Άνοιγμα φακέλου {i} τώρα") for i in range(30)]


def _write(folder: Path, instructions: bool) -> Path:
    (folder / "model").mkdir()
    (folder / "model" / "config.json").write_text("{}", encoding="utf-8")
    (folder / "el.tsv").write_text("".join(f"{en}\t{xx}\n" for en, xx in PAIRS), encoding="utf-8")
    (folder / "held.tsv").write_text("".join(f"{en}\t{xx}\n" for en, xx in PAIRS[:4]), encoding="utf-8")
    extra = ""
    if instructions:
        en = [{"instruction": f"Say {w}.", "input": "", "output": w} for w in ("one", "two", "three")]
        (folder / "alpaca.json").write_text(json.dumps(en), encoding="utf-8")
        (folder / "alpaca_el.jsonl").write_text(
            json.dumps({"instruction": "Πες ένα.", "input": "", "output": "ένα"}, ensure_ascii=False) + "\n",
            encoding="utf-8")
        extra = "instructions: alpaca.json\n"
    el = "{parallel: el.tsv, heldout: held.tsv" + (", instructions: alpaca_el.jsonl}" if instructions else "}")
    (folder / "s.yaml").write_text(
        f"model: model\nprompt: alpaca\n{extra}languages:\n  el: {el}\n  tr: {{parallel: el.tsv, heldout: 3}}\n"
        "pilots: {sizes: [4, 8, 12, 16]}\nbudget: 16\n", encoding="utf-8")
    return folder / "s.yaml"


@pytest.mark.parametrize("instructions", [False, True], ids=["pairs", "with-instructions"])
def test_heldout_sets_and_a_mixture(tmp_path, instructions):
    from tuning.study import runs, steps

    study = load_study(_write(tmp_path, instructions))
    jobs = {j.id: j for j in build_jobs(study)}
    assert "prepare" not in jobs  # the model is a directory: nothing to prepare
    (study.results / "heldout").mkdir(parents=True)
    steps.heldout(study, jobs["heldout-el"])
    steps.heldout(study, jobs["heldout-tr"])
    held_el = [json.loads(x) for x in (study.results / "heldout" / "el.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["input"], r["reference"]) for r in held_el] == PAIRS[:4]  # the file, in its order
    assert [r["id"] for r in held_el] == ["el-000", "el-001", "el-002", "el-003"]
    held_tr = [json.loads(x) for x in (study.results / "heldout" / "tr.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(held_tr) == 3 and {(r["input"], r["reference"]) for r in held_tr} <= set(PAIRS)

    path, manifest = runs.mixture(study, "pilot-el-00008-s1", {"el": 8}, seed=1)
    records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    pairs = [(r["input"], r["output"]) for r in records if r["task"] == "translation"]
    assert len(pairs) == 8 and len(set(pairs)) == 8
    held = {(r["input"], r["reference"]) for r in held_el + held_tr}
    assert not held & set(pairs)  # neither language's held-out messages are ever trained on
    others = [r for r in records if r["task"] != "translation"]
    if instructions:
        assert sorted(r["output"] for r in others) == ["one", "three", "two", "ένα"]
    else:
        assert others == []
    assert manifest["counts"]["el"]["translation"] == 8
