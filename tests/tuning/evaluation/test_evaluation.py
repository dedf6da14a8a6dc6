"""Tasks, `tuning eval` and `tuning pilots` end to end, numbers checked against sacrebleu directly."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sacrebleu

from tuning.cli import main
from tuning.errors import InputError
from tuning.evaluation.results import RESULT_COLUMNS, read_results, results_to_pilots
from tuning.evaluation.tasks import flores_lines, load_task, parse_task, score_task

EN = ["Open the file.", "Save the document.", "Close the window."]
ZH = ["打开文件。", "保存文档。", "关闭窗口。"]


@pytest.fixture()
def flores(tmp_path):
    root = tmp_path / "flores200_dataset" / "devtest"
    root.mkdir(parents=True)
    (root / "eng_Latn.devtest").write_text("\n".join(EN) + "\n", encoding="utf-8")
    (root / "zho_Hans.devtest").write_text("\n".join(ZH) + "\n", encoding="utf-8")
    (root / "tur_Latn.devtest").write_text("Dosyayı aç.\n", encoding="utf-8")  # misaligned
    return root.parent


@pytest.fixture()
def squad(tmp_path):
    doc = {"data": [{"paragraphs": [{"context": "北京是中国的首都。", "qas": [
        {"id": "a", "question": "中国的首都是哪里？", "answers": [{"text": "北京", "answer_start": 0}]},
        {"id": "b", "question": "北京是哪个国家的首都？", "answers": [{"text": "中国", "answer_start": 3}]},
    ]}]}]}
    path = tmp_path / "xquad.zh.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _write_preds(path, ids, preds):
    path.write_text("".join(json.dumps({"id": i, "prompt": "", "prediction": p}, ensure_ascii=False) + "\n"
                            for i, p in zip(ids, preds)), encoding="utf-8")
    return path


def test_parse_and_find(flores):
    assert parse_task("flores:en-zh") == ("flores", "en-zh")
    with pytest.raises(InputError, match="FAMILY"):
        parse_task("wmt:en-zh")
    assert flores_lines(flores, "zh", "devtest") == ZH
    assert flores_lines(flores / "devtest", "eng", "devtest") == EN
    with pytest.raises(InputError, match="no devtest file for ar"):
        flores_lines(flores, "ar", "devtest")


def test_flores_task_both_directions(flores):
    forward = load_task("flores:en-zh", flores)
    assert (forward.language, forward.target_language, len(forward.items)) == ("zh", "zh", 3)
    assert forward.items[1].source == EN[1] and forward.items[1].reference == ZH[1]
    assert EN[1] in forward.prompts[1] and "Chinese" in forward.prompts[1]
    assert forward.prompts[1].endswith("### Response:\n")
    backward = load_task("flores:zho_Hans-eng_Latn", flores)
    assert (backward.name, backward.language, backward.target_language) == ("flores:zh-en", "zh", "en")
    with pytest.raises(InputError, match="line-aligned"):
        load_task("flores:en-tr", flores)


def test_score_flores_against_sacrebleu(flores):
    task = load_task("flores:en-zh", flores)
    preds = ["打开文件。", "保存这个文档", "Close the window."]
    rows = {r.metric: r for r in score_task(task, preds, model="m")}
    assert rows["bleu"].score == pytest.approx(sacrebleu.corpus_bleu(preds, [ZH], tokenize="zh").score)
    assert rows["chrf"].score == pytest.approx(sacrebleu.corpus_chrf(preds, [ZH], word_order=2).score)
    assert rows["off_target"].score == pytest.approx(100 / 3)
    assert {r.language for r in rows.values()} == {"zh"} and rows["bleu"].n == 3
    with pytest.raises(InputError, match="2 predictions for 3 items"):
        score_task(task, preds[:2])


def test_score_qa(squad):
    task = load_task("xquad:zh", squad)
    assert "问题：中国的首都是哪里？" in task.prompts[0]
    rows = {r.metric: r.score for r in score_task(task, ["北京", "它是中国的首都"])}
    # EM: 1, 0. F1: 1 and chars {中,国} of 7 -> P 2/7, R 1 -> 4/9. Contains: 1, 1.
    assert rows["qa_em"] == pytest.approx(50.0)
    assert rows["qa_f1"] == pytest.approx(100 * (1 + 4 / 9) / 2)
    assert rows["qa_contains"] == pytest.approx(100.0)
    assert rows["off_target"] == 0.0


def test_cli_eval_generates_and_scores(tiny_model_dir, flores, squad, tmp_path):
    out = tmp_path / "results.csv"
    argv = ["eval", "--model", str(tiny_model_dir), "--task", "flores:en-zh", "--data", str(flores),
            "--task", "xquad:zh", "--data", str(squad), "-o", str(out), "--max-new-tokens", "6",
            "--device", "cpu"]
    assert main(argv) == 0
    results = read_results(out)
    assert list(results.columns) == RESULT_COLUMNS
    assert set(results["metric"]) == {"bleu", "chrf", "off_target", "qa_em", "qa_f1", "qa_contains"}
    preds_file = tmp_path / "results.predictions" / "flores_en-zh.jsonl"
    preds = [json.loads(x)["prediction"] for x in preds_file.read_text(encoding="utf-8").splitlines()]
    bleu_row = results[(results.task == "flores:en-zh") & (results.metric == "bleu")].iloc[0]
    assert bleu_row.score == pytest.approx(sacrebleu.corpus_bleu(preds, [ZH], tokenize="zh").score)
    assert bleu_row.model == str(tiny_model_dir)
    assert "tok:zh" in bleu_row.signature and "decode:greedy|max_new:6|prompt:alpaca" in bleu_row.signature
    # Rerunning with other settings must not reuse those predictions.
    argv[argv.index("6")] = "7"
    assert main(argv) == 2


def test_cli_eval_scores_prediction_files_with_comet(flores, tiny_comet, tmp_path):
    _, comet_dir = tiny_comet
    preds = _write_preds(tmp_path / "p.jsonl", ["0", "1", "2"], ZH)  # perfect translations
    out = tmp_path / "results.csv"
    assert main(["eval", "--task", "flores:en-zh", "--data", str(flores), "--predictions", str(preds),
                 "-o", str(out), "--comet-model", str(comet_dir)]) == 0
    scores = read_results(out).set_index("metric")["score"]
    assert scores["bleu"] == pytest.approx(100.0) and scores["chrf"] == pytest.approx(100.0)
    assert scores["off_target"] == 0.0 and "comet" in scores.index
    assert main(["eval", "--task", "flores:en-zh", "--data", str(flores), "--predictions", str(preds),
                 "-o", str(out), "--append"]) == 0
    assert len(read_results(out)) == 4 + 3


@pytest.mark.parametrize("case", ["empty", "missing_lang", "short", "mismatch"])
def test_cli_eval_bad_input(flores, tmp_path, capsys, case):
    preds = _write_preds(tmp_path / "p.jsonl", ["0", "1", "2"], ZH)
    task, data = "flores:en-zh", str(flores)
    if case == "empty":
        preds.write_text("", encoding="utf-8")
        expect = "is empty"
    elif case == "missing_lang":
        task, expect = "flores:en-ar", "no devtest file for ar"
    elif case == "short":
        _write_preds(preds, ["0", "1"], ZH[:2])
        expect = "no prediction for 1 of 3"
    else:
        task, expect = "flores:en-tr", "must be line-aligned"
    rc = main(["eval", "--task", task, "--data", data, "--predictions", str(preds), "-o", str(tmp_path / "r.csv")])
    assert rc == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err
    assert not (tmp_path / "r.csv").exists()


def _results(tmp_path):
    rows = [
        ("zh", "flores:en-zh", "comet", 80.0), ("zh", "flores:zh-en", "comet", 84.0),
        ("ar", "flores:en-ar", "comet", 70.0), ("ar", "flores:en-ar", "bleu", 20.0),
    ]
    frame = pd.DataFrame([dict(language=l, task=t, metric=m, score=s, n=3, signature="x", model="m")
                          for l, t, m, s in rows], columns=RESULT_COLUMNS)
    frame.to_csv(tmp_path / "results.csv", index=False)
    manifest = {"format": "tuning-mixture-manifest/1", "seed": 7,
                "counts": {"zh": {"translation": 1000, "instruction": 50},
                           "ar": {"translation": 250, "instruction": 50}}}
    (tmp_path / "mix.manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path / "results.csv", tmp_path / "mix.manifest.json"


def test_pilots_from_results(tmp_path):
    results, manifest = _results(tmp_path)
    out = tmp_path / "pilots.csv"
    argv = ["pilots", "--results", str(results), "--manifest", str(manifest), "--metric", "comet", "-o", str(out)]
    assert main(argv) == 0
    pilots = pd.read_csv(out).set_index("language")
    assert pilots.loc["zh", "size"] == 1000 and pilots.loc["zh", "score"] == pytest.approx(82.0)
    assert pilots.loc["ar", "size"] == 250 and pilots.loc["ar", "score"] == pytest.approx(70.0)
    assert set(pilots["seed"]) == {7} and set(pilots["metric"]) == {"comet"}
    from budgetlaw.pilots import read_pilots

    assert len(read_pilots(out, min_sizes=1)) == 2  # budgetlaw accepts what we write
    assert main(argv + ["--append", "--task", "flores:en-"]) == 2  # the same run (seed 7) again: refused
    assert main(argv + ["--append", "--task", "flores:en-", "--seed", "8"]) == 0  # another seed's run
    again = pd.read_csv(out)
    assert len(again) == 4
    assert again[again.language == "zh"]["score"].tolist() == pytest.approx([82.0, 80.0])


def test_pilots_bad_input(tmp_path, capsys):
    results, manifest = _results(tmp_path)
    frame = read_results(results)
    with pytest.raises(InputError, match="metric 'chrf'"):
        results_to_pilots(frame, json.loads(manifest.read_text()), "chrf")
    # zh is not in this manifest: skipped, so only ar (whose score the fixture makes 70.0) remains
    only_ar = results_to_pilots(frame, {"counts": {"ar": {"translation": 1}}}, "comet")
    assert only_ar["language"].tolist() == ["ar"] and only_ar["score"].tolist() == pytest.approx([70.0])
    with pytest.raises(InputError, match="none of the evaluated languages"):
        results_to_pilots(frame, {"counts": {"el": {"translation": 1}}}, "comet")
    assert main(["pilots", "--results", str(tmp_path / "nope.csv"), "--manifest", str(manifest),
                 "--metric", "comet", "-o", str(tmp_path / "p.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_jsonl_tasks(tmp_path):
    path = tmp_path / "t.jsonl"
    recs = [
        {"id": "a", "instruction": "Translate to Turkish.", "input": "Open the file.", "reference": "Dosyayı aç.", "language": "tur_Latn", "source": "Open the file."},
        {"id": "b", "prompt": "P: Save", "reference": "保存", "language": "zh"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n\n", encoding="utf-8")
    task = load_task("jsonl:mine", path)
    assert task.prompts[1] == "P: Save" and task.prompts[0].endswith("### Response:\n")
    rows = score_task(task, ["Dosyayı aç.", "Save"])
    by = {(r.language, r.metric): r.score for r in rows}
    assert by[("tr", "chrf")] == pytest.approx(100.0) and by[("tr", "off_target")] == 0.0
    assert by[("zh", "chrf")] == pytest.approx(sacrebleu.corpus_chrf(["Save"], [["保存"]], word_order=2).score)
    assert by[("zh", "off_target")] == 100.0
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"prompt": "Q", "reference": ["Ankara", "ANKARA"], "language": "tr"}) + "\n",
                  encoding="utf-8")
    rows = {r.metric: r.score for r in score_task(load_task("jsonl-qa:q", qa), ["Ankara, Türkiye"])}
    assert rows["qa_em"] == 0.0 and rows["qa_f1"] == pytest.approx(100 * 2 / 3) and rows["qa_contains"] == 100.0
    (tmp_path / "bad.jsonl").write_text('{"prompt": "x", "language": "tr"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="bad.jsonl, line 1: missing key 'reference'"):
        load_task("jsonl:bad", tmp_path / "bad.jsonl")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        load_task("jsonl:e", tmp_path / "empty.jsonl")


def test_generation_settings_signature():
    from tuning.evaluation.settings import GenerationSettings

    plain = GenerationSettings()
    assert plain.signature() == plain.decoding() == "decode:greedy|max_new:256|prompt:alpaca"
    sampled = GenerationSettings(do_sample=True, temperature=0.7, top_p=0.9, seed=3, max_new_tokens=64,
                                 chat_template=True, limit=50)
    assert sampled.decoding() == "decode:sample-t0.7-p0.9-s3|max_new:64|prompt:chat"
    assert sampled.signature() == "decode:sample-t0.7-p0.9-s3|max_new:64|prompt:chat|limit:50"
    assert sampled.generate_kwargs() == dict(batch_size=16, max_new_tokens=64, max_prompt_tokens=None,
                                             do_sample=True, temperature=0.7, top_p=0.9, seed=3,
                                             sort_by_length=True)
    with pytest.raises(InputError, match=r"--top-p 1.5: must be in \(0, 1\]"):
        GenerationSettings(top_p=1.5).check()
    with pytest.raises(InputError, match="--batch-size 0: must be >= 1"):
        GenerationSettings(batch_size=0).check()


def test_cli_eval_does_not_resume_predictions_of_weights_saved_again(tiny_model_dir, flores, tmp_path, capsys):
    """Issue 26: a resume is tied to the model's weights as well as its data and settings: the same
    path with weights saved again (a retrained model) is refused in one line, the same weights resume."""
    import shutil

    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    out = tmp_path / "results.csv"
    argv = ["eval", "--model", str(model), "--task", "flores:en-zh", "--data", str(flores), "-o", str(out),
            "--max-new-tokens", "4", "--device", "cpu"]
    assert main(argv) == 0
    out.unlink()
    assert main(argv) == 0  # the same weights: resumed, nothing regenerated
    capsys.readouterr()
    weights = model / "model.safetensors"
    tensors = load_file(weights)
    first = next(iter(tensors))
    tensors[first] = tensors[first] + 1.0
    save_file(tensors, weights, metadata={"format": "pt"})
    out.unlink()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "as its weights were before they were saved again" in err[0]
    assert not out.exists()
