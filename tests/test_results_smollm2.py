"""The committed SmolLM2 result (docs/results/smollm2-gettext) checks out from its own files.

Independently of the code that wrote it: every score is recomputed from the committed
predictions with sacrebleu (and the per-item NLL sums), the pilots are refitted and must give the
committed laws, and the committed plan is checked for optimality from the laws' formula (equal
marginal improvement across languages, the whole budget spent, no feasible move better).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "smollm2-gettext"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_scores(results: Path) -> int:
    """Recompute chrF++, BLEU and NLL of every prediction file; returns the number checked."""
    import sacrebleu

    checked = 0
    for rec_path in sorted((results / "runs").glob("*.json")):
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
        for lang, scores in rec["scores"].items():
            preds = _jsonl(results / "predictions" / f"{rec['run']}.{lang}.jsonl")
            held = _jsonl(results / "heldout" / f"{lang}.jsonl")
            assert [p["id"] for p in preds] == [h["id"] for h in held], f"{rec['run']} {lang}: not the held-out set"
            assert [p["reference"] for p in preds] == [h["reference"] for h in held]
            generated = [p for p in preds if p["prediction"] is not None]
            # generation covers the first `generated` messages (pilots: the first 100)
            assert len(generated) == scores["generated"] and generated == preds[: len(generated)]
            if not generated:  # a transfer or repetition pilot: scored by NLL only
                assert not {"chrf", "bleu", "off_target"} & set(scores), f"{rec['run']} {lang}: scores without predictions"
            tok = "13a" if not generated else dict(kv.split(":", 1) for kv in scores["signatures"]["bleu"].split("|") if ":" in kv)["tok"]
            parts = {"": generated}
            parts.update({f"@{k}": generated[:k] for k in (int(m.split("@")[1]) for m in scores if m.startswith("chrf@"))})
            for suffix, part in parts.items() if generated else ():
                hyps, refs = [p["prediction"] for p in part], [[p["reference"] for p in part]]
                chrf = sacrebleu.CHRF(word_order=2).corpus_score(hyps, refs).score
                assert scores["chrf" + suffix] == pytest.approx(chrf, abs=1e-9), f"{rec['run']} {lang} chrF++{suffix}"
                bleu = min(100.0, sacrebleu.BLEU(tokenize=tok).corpus_score(hyps, refs).score)
                assert scores["bleu" + suffix] == pytest.approx(bleu, abs=1e-9), f"{rec['run']} {lang} BLEU{suffix}"
            nll = sum(p["nll"] for p in preds) / sum(p["ref_tokens"] for p in preds)
            # per-item sums are stored to 4 decimals: the mean agrees to well under 1e-3
            assert scores["nll"] == pytest.approx(nll, abs=1e-3), f"{rec['run']} {lang} NLL"
            checked += 1
    return checked


def check_results_csv(results: Path) -> None:
    frame = pd.read_csv(results / "results.csv")
    assert {"language", "allocation", "seed", "metric", "predicted", "measured"} <= set(frame.columns)
    assert set(frame["allocation"]) <= {"base", "pilot", "optimized", "uniform", "proportional", "extrapolation",
                                          "transfer", "repetition", "transfer-plan"}
    for rec_path in sorted((results / "runs").glob("*.json")):
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
        for lang, scores in rec["scores"].items():
            for metric in [m for m in scores if m.split("@")[0] in ("nll", "chrf", "bleu", "off_target")]:
                row = frame[(frame.run == rec["run"]) & (frame.language == lang) & (frame.metric == metric)]
                assert len(row) == 1 and row["measured"].iloc[0] == pytest.approx(scores[metric], rel=1e-5)


def check_laws_refit(results: Path) -> None:
    import budgetlaw as bl

    pilots = pd.read_csv(results / "pilots_plan.csv")
    committed = bl.load_laws(results / "laws_plan.json")
    refit = bl.fit(pilots, metric="nll", lower_is_better=True, seed=0)
    for lang in committed:
        xs = np.array([10.0, 100.0, 1000.0])
        assert refit[lang].predict(xs) == pytest.approx(committed[lang].predict(xs), rel=1e-6), lang


def check_plan_optimal(results: Path) -> None:
    """KKT conditions of  min sum_i E_i + K_i x_i^-c_i  s.t. sum x = B, lo_i <= x_i <= cap_i."""
    import budgetlaw as bl

    laws = bl.load_laws(results / "laws_plan.json")
    plan = json.loads((results / "plan.json").read_text(encoding="utf-8"))
    sizes, budget = plan["sizes"], plan["budget"]
    caps = plan["constraints"]["available"]
    assert sum(sizes.values()) == pytest.approx(budget, rel=1e-6)
    K = {l: laws[l].K for l in sizes}
    c = {l: laws[l].c for l in sizes}
    gain = {l: c[l] * K[l] * sizes[l] ** (-c[l] - 1) for l in sizes}  # loss shed per extra pair
    interior = [l for l in sizes if sizes[l] < caps[l] * (1 - 1e-6) and sizes[l] > 1e-3]
    top = max(gain[l] for l in interior)
    for l in interior:
        assert gain[l] == pytest.approx(top, rel=1e-3), f"{l}: marginal {gain[l]} vs {top}"
    for l in sizes:
        if l not in interior and sizes[l] >= caps[l] * (1 - 1e-6):
            assert gain[l] >= top * (1 - 1e-3)  # a capped language would take more if it could

    def total(x):
        return sum(laws[l].ceiling + K[l] * x[l] ** (-c[l]) for l in x)

    rng = np.random.default_rng(0)
    best = total(sizes)
    langs = list(sizes)
    for _ in range(200):  # moving pairs between two languages never lowers the summed loss
        a, b = rng.choice(len(langs), 2, replace=False)
        delta = rng.uniform(0.01, 0.2) * sizes[langs[a]]
        moved = dict(sizes)
        moved[langs[a]] -= delta
        moved[langs[b]] = min(caps[langs[b]], moved[langs[b]] + delta)
        assert total(moved) >= best - 1e-9


def test_committed_result_checks_out():
    assert RESULTS.is_dir(), f"{RESULTS}: the committed result of examples/smollm2_six_languages.py is missing"
    assert check_scores(RESULTS) > 0
    check_results_csv(RESULTS)
    if (RESULTS / "plan.json").is_file():
        check_laws_refit(RESULTS)
        check_plan_optimal(RESULTS)


def test_bundled_demo_is_the_committed_mixed_pilots_table(tmp_path):
    """`budgetlaw demo` ships the mixed pilots table (pilots_transfer_plan.csv, the rows the
    transfer plan was frozen from, once the study wrote it; else pilots_transfer.csv) and the real
    caps; with the frozen table it plans exactly what the study planned on the transfer law."""
    from budgetlaw.cli import main
    from budgetlaw.demo_data import MEASURED

    name = next((n for n in ("pilots_transfer_plan.csv", "pilots_transfer.csv") if (RESULTS / n).is_file()), None)
    if name is None:
        pytest.skip("no mixed pilots table in the results folder yet")
    rebundle = ("re-bundle: python examples/report_smollm2.py docs/results/smollm2-gettext --bundle-demo "
                "src/budgetlaw/data")
    table = pd.read_csv(RESULTS / name, dtype=str, keep_default_na=False)
    table = table[table["metric"] == "nll"].reset_index(drop=True)
    shipped = pd.read_csv(MEASURED.pilots_path, dtype=str, keep_default_na=False)
    assert set(shipped["source"]) == {f"smollm2-gettext/{name}"}, rebundle
    assert shipped.drop(columns="source").equals(table[list(shipped.columns[:-1])]), rebundle
    limits = pd.read_csv(MEASURED.limits_path, comment="#")
    assert dict(zip(limits["language"], limits["available"])) == json.loads((RESULTS / "available.json").read_text())
    frozen = RESULTS / "plan_transfer.json"
    if name != "pilots_transfer_plan.csv" or not frozen.is_file():
        return
    assert main(["demo", "-o", str(tmp_path / "demo"), "--n-boot", "0"]) == 0
    demo_plan = json.loads((tmp_path / "demo" / "plan.json").read_text())
    committed = json.loads(frozen.read_text())
    assert demo_plan["budget"] == committed["budget"]
    for lang, size in committed["sizes"].items():
        assert demo_plan["sizes"][lang] == pytest.approx(size, rel=1e-3, abs=0.05), lang
