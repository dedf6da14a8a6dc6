import csv
import json

import pytest

from tuning.cli import main
from budgetlaw.fileio import atomic_paths, atomic_write
from tuning.data.tokenize import tokenize_record


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "plan.json").write_text(json.dumps({"sizes": {"zh": 3},
                                                    "constraints": {"max_epochs": 1}}))
    (tmp_path / "p.tsv").write_text("Open the file\t打开文件\nSave the document\t保存文档\nClose the window\t关闭窗口\n",
                                    encoding="utf-8")
    (tmp_path / "en.json").write_text(json.dumps([{"instruction": "Print the page", "input": "", "output": "Done"}]))
    return tmp_path


def test_mix_and_tokens_commands(inputs, tiny_model_dir, tiny_tokenizer):
    out = inputs / "mix.jsonl"
    rc = main(["mix", str(inputs / "plan.json"), "-o", str(out), "--parallel", f"zh={inputs / 'p.tsv'}",
               "--instructions", f"en={inputs / 'en.json'}", "--seed", "3"])
    assert rc == 0 and (inputs / "mix.manifest.json").is_file()
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4
    counts = inputs / "counts.csv"
    assert main(["tokens", str(out), "--tokenizer", str(tiny_model_dir), "-o", str(counts)]) == 0
    rows = {r["language"]: r for r in csv.DictReader(counts.open(encoding="utf-8"))}
    zh = [len(tokenize_record(r, tiny_tokenizer, 10_000).input_ids) for r in records if r["language"] == "zh"]
    assert int(rows["zh"]["translation_records"]) == 3 and int(rows["zh"]["total_tokens"]) == sum(zh)
    assert float(rows["zh"]["tokens_per_pair"]) == pytest.approx(sum(zh) / 3)


def test_errors_exit_2_without_traceback(inputs, capsys):
    out = inputs / "mix.jsonl"
    rc = main(["mix", str(inputs / "plan.json"), "-o", str(out), "--parallel", "zh=" + str(inputs / "p.tsv"),
               "--parallel", "xx=whatever.tsv", "--instructions", f"en={inputs / 'en.json'}"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown language code 'xx'" in err and "Traceback" not in err
    assert not out.exists()
    (inputs / "bad.jsonl").write_text("{}\n")
    assert main(["tokens", str(inputs / "bad.jsonl"), "--tokenizer", str(inputs), "-o", str(inputs / "c.csv")]) == 2
    assert "line 1: a mixture record needs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mix", "plan.json", "-o", "x", "--parallel", "zh"])  # argparse: expected LANG=PATH


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_paths(tmp_path / "a", tmp_path / "b") as (ta, tb):
        ta.write_text("A")
        tb.write_text("B")
    assert (tmp_path / "a").read_text() == "A" and (tmp_path / "b").read_text() == "B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "out.txt"]
