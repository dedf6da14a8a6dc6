import json
from collections import Counter

import pytest

from tuning.data.mixture import RECORD_KEYS, build_mixture, manifest_path, read_mixture, read_plan
from budgetlaw.errors import InputError as BudgetlawInputError
from tuning.errors import InputError

ZH_TSV = [  # (en, zh); p7 duplicates p1 after normalisation, h1/h2 hit FLORES
    ("Open the file", "打开文件"), ("Close the window", "关闭窗口"), ("Save the document", "保存文档"),
    ("Print the page", "打印页面"), ("Quit", "退出"), ("Undo", "撤销"),
    ("open  the FILE", "打开文件"),
    ("The quick brown fox.", "一只狐狸。"),          # English side is a FLORES sentence
    ("Another sentence.", "敏捷的棕色狐狸。"),         # Chinese side is a FLORES sentence
]
FLORES_EN = ["The quick brown fox.", "Something else."]
FLORES_ZH = ["敏捷的棕色狐狸。", "别的东西。"]
EN_INSTR = [
    {"instruction": "Name a colour.", "input": "", "output": "Red."},
    {"instruction": "Add the numbers.", "input": "2 + 2", "output": "4"},
    {"instruction": "name a colour.", "input": "", "output": "red."},  # duplicate
    {"instruction": "Say hello.", "input": "", "output": "Hello!"},
    {"instruction": "Held out question?", "input": "ctx", "output": "x"},  # in the held-out set
]


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "zh.tsv").write_text("".join(f"{en}\t{zh}\n" for en, zh in ZH_TSV), encoding="utf-8")
    (d / "c.en").write_text("One\nTwo\nThree\nFour\nFive\n", encoding="utf-8")
    (d / "c.ar").write_text("واحد\nاثنان\nثلاثة\nأربعة\nخمسة\n", encoding="utf-8")
    for split in ("dev", "devtest"):
        (d / "flores" / split).mkdir(parents=True)
        (d / "flores" / split / f"eng.{split}").write_text("\n".join(FLORES_EN) + "\n", encoding="utf-8")
        (d / "flores" / split / f"zho_simpl.{split}").write_text("\n".join(FLORES_ZH) + "\n", encoding="utf-8")
    (d / "alpaca.json").write_text(json.dumps(EN_INSTR), encoding="utf-8")
    (d / "eval.jsonl").write_text(json.dumps({"instruction": "Held out question?", "input": "ctx", "output": "?"}) + "\n")
    (d / "zh.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"instruction": "说出一种颜色。", "output": "红色。"}, {"instruction": "你好", "input": None, "output": "你好！"}]) + "\n",
        encoding="utf-8")
    return d


def plan_file(path, sizes, max_epochs=1):
    path.write_text(json.dumps({"sizes": sizes,
                                "constraints": {"max_epochs": max_epochs, "available": None}}))
    return path


def mix(data, out, sizes=None, max_epochs=1, **kw):
    plan = plan_file(out.parent / "plan.json", sizes or {"zh_CN": 4, "ar": 3.4}, max_epochs)
    kw.setdefault("parallel", {"zh": [str(data / "zh.tsv")], "arb": str(data / "c.ar")})
    kw.setdefault("instructions", [("en", str(data / "alpaca.json")), ("zh", str(data / "zh.jsonl"))])
    kw.setdefault("heldout", {"zh": str(data / "flores"), "en": str(data / "eval.jsonl")})
    return build_mixture(plan, out, **kw)


def test_mixture_counts_and_heldout(data, tmp_path):
    out = tmp_path / "a" / "mix.jsonl"
    out.parent.mkdir()
    m = mix(data, out)
    recs = read_mixture(out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert all(list(json.loads(line)) == list(RECORD_KEYS) for line in lines)
    assert m["counts"] == {"en": {"translation": 0, "instruction": 3},
                           "zh": {"translation": 4, "instruction": 2},
                           "ar": {"translation": 3, "instruction": 0}}
    assert m["heldout_hits"] == {"en": 1, "zh": 2, "ar": 0}
    assert m["removed_duplicates"]["zh"] == {"translation": 1, "instruction": 0}
    assert m["removed_duplicates"]["en"] == {"translation": 0, "instruction": 1}
    assert m["available_pairs"] == {"zh": 6, "ar": 5}
    assert m["output"] == {"path": "mix.jsonl", "sha256": m["output"]["sha256"], "records": 12}
    zh_tr = [r for r in recs if r["language"] == "zh" and r["task"] == "translation"]
    clean = dict(ZH_TSV[:6])
    assert len({r["input"] for r in zh_tr}) == 4 and all(clean[r["input"]] == r["output"] for r in zh_tr)
    assert all("English" in r["instruction"] and "Chinese" in r["instruction"] for r in zh_tr)
    text = out.read_text(encoding="utf-8")
    for held in FLORES_EN[:1] + FLORES_ZH[:1] + ["Held out question?"]:
        assert held not in text
    assert len({r["id"] for r in recs}) == len(recs)
    on_disk = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert on_disk["format"] == "tuning-mixture-manifest/1" and on_disk["plan"]["sizes"]["ar"] == 3.4
    roles = Counter(i["role"] for i in on_disk["inputs"])
    assert roles == {"heldout": 2, "parallel": 2, "instructions": 2}


def test_byte_identical_and_seed_matters(data, tmp_path):
    outs = []
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        outs.append(tmp_path / name / "mix.jsonl")
    mix(data, outs[0], direction="both", seed=7)
    mix(data, outs[1], direction="both", seed=7)
    mix(data, outs[2], direction="both", seed=8)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert manifest_path(outs[0]).read_bytes() == manifest_path(outs[1]).read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()


def test_direction(data, tmp_path):
    lines = "".join(f"sentence {i}\t句子 {i}\n" for i in range(200))
    (data / "big.tsv").write_text(lines, encoding="utf-8")
    kw = dict(sizes={"zh": 150}, parallel={"zh": str(data / "big.tsv")}, heldout=None,
              instructions={"en": str(data / "alpaca.json")})
    for direction, want in (("en-x", {True}), ("x-en", {False}), ("both", {True, False})):
        out = tmp_path / f"{direction}.jsonl"
        mix(data, out, direction=direction, **kw)
        tr = [r for r in read_mixture(out) if r["task"] == "translation"]
        assert len(tr) == 150
        assert {r["input"].startswith("sentence") for r in tr} == want
        for r in tr:
            src, tgt = ("English", "Chinese") if r["input"].startswith("sentence") else ("Chinese", "English")
            assert r["instruction"].index(src) != r["instruction"].index(tgt)
            assert r["output"].startswith("句子" if src == "English" else "sentence")


def test_repetition_needs_max_epochs(data, tmp_path):
    out = tmp_path / "mix.jsonl"
    with pytest.raises(InputError, match=r"zh: the plan asks for 10 pairs but its inputs hold only 6 distinct.*max_epochs=1"):
        mix(data, out, sizes={"zh": 10}, parallel={"zh": str(data / "zh.tsv")})
    assert not out.exists()
    m = mix(data, out, sizes={"zh": 10}, max_epochs=2, parallel={"zh": str(data / "zh.tsv")})
    tr = Counter(r["input"] for r in read_mixture(out) if r["task"] == "translation")
    assert sorted(tr.values()) == [1, 1, 2, 2, 2, 2] and m["epochs"]["zh"] == pytest.approx(10 / 6)


@pytest.mark.parametrize("kw,match", [
    (dict(recipe="coit"), "coit tunes for one target language but the plan has 2"),
    (dict(parallel={"zh": "IN/zh.tsv"}), "the plan names ar but no parallel data"),
    (dict(instructions={"zh": "IN/zh.jsonl"}), "no English instructions"),
    (dict(sizes={"xx": 3}), r"sizes\['xx'\]: unknown language code 'xx'"),
    (dict(sizes={"zh": -1}), r"sizes\['zh'\] = -1"),
    (dict(sizes={"en": 1}), "English is the pivot"),
    (dict(direction="sideways"), "direction 'sideways'"),
    (dict(parallel={"zh": "IN/none.tsv", "ar": "IN/c.ar"}), "none.tsv: no such file"),
])
def test_errors(data, tmp_path, kw, match):
    for key, value in kw.items():
        if isinstance(value, dict) and key != "sizes":
            kw[key] = {k: v.replace("IN", str(data)) for k, v in value.items()}
    out = tmp_path / "mix.jsonl"
    with pytest.raises(InputError, match=match):
        mix(data, out, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "plan.json"]


def test_late_error_leaves_nothing_behind(data, tmp_path):
    bad = data / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a", "output": \n', encoding="utf-8")
    out = tmp_path / "mix.jsonl"
    with pytest.raises(InputError, match=r"bad\.jsonl, line 2: malformed JSON"):
        mix(data, out, instructions={"en": str(bad)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "plan.json"]


def test_real_budgetlaw_plan(data, tmp_path):
    from budgetlaw.allocation.baselines import uniform
    from budgetlaw.law import PowerLaw

    laws = {"zh": PowerLaw(10.0, 1.0, 0.3), "ar": PowerLaw(20.0, 1.0, 0.4)}
    plan = uniform(laws, 8)  # 4 pairs each
    path = plan.save(tmp_path / "plan.json")
    m = build_mixture(path, tmp_path / "mix.jsonl", parallel={"zh": str(data / "zh.tsv"), "ar": str(data / "c.ar")},
                      instructions={"en": str(data / "alpaca.json")})
    assert m["counts"]["zh"]["translation"] == 4 and m["counts"]["ar"]["translation"] == 4
    assert m["plan"]["name"] == "uniform"
    broken = json.loads(path.read_text())
    del broken["predicted"]
    # budgetlaw validates its own plan; its error passes through as budgetlaw's (the base class)
    with pytest.raises(BudgetlawInputError, match="missing key") as caught:
        read_plan(broken)
    assert type(caught.value) is BudgetlawInputError  # not re-wrapped
    assert issubclass(InputError, BudgetlawInputError)  # so `except budgetlaw.InputError` catches both


def test_read_plan_forms(tmp_path):
    class FakePlan:
        def to_dict(self):
            return {"sizes": {"zho_Hans": 5.0}, "constraints": {"max_epochs": 3}}

    assert read_plan(FakePlan())[1:] == ({"zh": 5.0}, 3.0)
    assert read_plan({"sizes": {"ar": 2}})[1:] == ({"ar": 2.0}, 1.0)
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(InputError, match="not a JSON plan"):
        read_plan(tmp_path / "p.json")
    with pytest.raises(InputError, match="'sizes' must be"):
        read_plan({"sizes": {}})
    with pytest.raises(InputError, match="max_epochs"):
        read_plan({"sizes": {"ar": 1}, "constraints": {"max_epochs": 0}})


def test_squad_heldout_removes_instruction_records(data, tmp_path):
    squad = {"data": [{"title": "t", "paragraphs": [{"context": "Open the file", "qas": [
        {"id": "1", "question": "Say hello.", "answers": [{"text": "x", "answer_start": 0}]}]}]}]}
    (data / "xquad.json").write_text(json.dumps(squad), encoding="utf-8")
    m = mix(data, tmp_path / "mix.jsonl", heldout=[("zh", str(data / "xquad.json"))])
    # "Say hello." is an English instruction; "Open the file" is the English side of two zh
    # lines ("open  the FILE" normalises to it too): every occurrence counts
    assert m["heldout_hits"] == {"en": 1, "zh": 2, "ar": 0}
    assert m["counts"]["en"]["instruction"] == 4 - 1  # 5 given, 1 duplicate, 1 held out
    assert "Open the file" not in (tmp_path / "mix.jsonl").read_text(encoding="utf-8")


def test_translation_recipe_has_no_instructions(data, tmp_path):
    """--recipe translation: only translation records, for several languages, no --instructions needed."""
    out = tmp_path / "t.jsonl"
    manifest = build_mixture(plan_file(tmp_path / "p.json", {"zh": 4, "ar": 3}), out,
                             parallel={"zh": data / "zh.tsv", "ar": data / "c.en"},
                             heldout={"zh": data / "flores"}, recipe="translation", seed=2)
    records = read_mixture(out)
    assert Counter((r["language"], r["task"]) for r in records) == {("zh", "translation"): 4, ("ar", "translation"): 3}
    assert manifest["recipe"] == "translation"
    assert manifest["counts"]["en"] == {"translation": 0, "instruction": 0}
    # the FLORES sentences on either side of the zh corpus (rows 8 and 9) are held out
    assert manifest["heldout_hits"]["zh"] == 2
    with pytest.raises(InputError, match="recipe translation takes translation pairs only"):
        build_mixture(plan_file(tmp_path / "p.json", {"zh": 4}), tmp_path / "u.jsonl",
                      parallel={"zh": data / "zh.tsv"}, instructions={"en": data / "alpaca.json"},
                      recipe="translation")
    assert not (tmp_path / "u.jsonl").exists()
