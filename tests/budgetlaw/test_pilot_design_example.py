"""examples/pilot_design.py --report-only: the summary's numbers against ones worked out by hand, the
unfittable studies left out, the stored studies file byte-stable, and the committed summary.json
consistent with the committed studies.jsonl.gz."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results" / "pilot-design"


@pytest.fixture(scope="module")
def pd_example():
    spec = importlib.util.spec_from_file_location("pilot_design_under_test", ROOT / "examples" / "pilot_design.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(k, kind, ladder_half, adaptive_half, ladder_full, adaptive_full, fittable=True):
    """One study row: shares at the seven checkpoints (0.3 ... 1.0); only 0.5 and 1.0 vary."""
    if not fittable:
        ladder = adaptive = random = [1.0] * 7
    else:
        ladder = [1.0, 0.9, ladder_half, 0.5, 0.4, 0.3, ladder_full]
        adaptive = [1.0, 0.8, adaptive_half, 0.5, 0.4, 0.3, adaptive_full]
        random = [1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 1.5]
    return {"k": k, "kind": kind, "diverse": False, "capped": False, "big": False, "true_gain": 1.0, "true_sd": 2.0,
            "planning_true": False, "ladder_cost": 100.0, "start_cost": 30.0, "ladder": ladder, "adaptive": adaptive,
            "random": random, "reach": {"ladder": 1.0, "adaptive": 0.75 if fittable else None, "random": None},
            "stop_cost": 0.5 if fittable else None, "stop_share": 0.2 if fittable else None,
            "planning_said": False if fittable else None,
            "chosen": [{"round": 1, "language": "ar", "size": 50.0, "value_per_cost": 0.1, "kind": "seed"}]
            if fittable else [],
            "seconds": 2.5}


def test_report_on_a_tiny_file(pd_example, tmp_path):
    rows = [row(0, "nll", 0.6, 0.1, 0.20, 0.05), row(1, "comet", 0.5, 0.4, 0.10, 0.30),
            row(2, "nll", 0.7, 0.2, 0.40, 0.40), row(3, "comet", 0.3, 0.9, 0.05, 0.01),
            row(4, "nll", 1.0, 1.0, 1.0, 1.0, fittable=False)]
    pd_example.write_studies(tmp_path, {r["k"]: r for r in rows})
    assert pd_example.main(["--report-only", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["studies"] == 4 and summary["unfittable"] == [4]
    assert summary["study_seconds_total"] == pytest.approx(4 * 2.5)
    everything = summary["groups"]["all"]
    half = summary["fractions"].index(0.5)
    # by hand: adaptive at half (0.1, 0.4, 0.2, 0.9) -> median (0.2 + 0.4) / 2; ladder (0.6, 0.5, 0.7, 0.3) -> 0.55
    assert everything["median_share"]["adaptive"][half] == pytest.approx(0.3)
    assert everything["median_share"]["ladder"][half] == pytest.approx(0.55)
    # at full cost adaptive is below the ladder in studies 0 and 3, above in 1, tied in 2
    assert everything["adaptive_beats_ladder_at_full"] == pytest.approx(0.5)
    assert everything["adaptive_worse_than_ladder_at_full"] == pytest.approx(0.25)
    assert everything["worse_than_uniform_at_full"] == {"ladder": 0.0, "adaptive": 0.0, "random": 1.0}
    assert summary["groups"]["kind=nll"]["n"] == 2  # study 4 (nll, unfittable) is not counted
    assert summary["groups"]["kind=nll"]["median_share"]["adaptive"][-1] == pytest.approx((0.05 + 0.40) / 2)
    assert (tmp_path / "regret_vs_cost.png").stat().st_size > 0


def test_studies_file_is_byte_stable(pd_example, tmp_path):
    done = {k: row(k, "comet", 0.5, 0.4, 0.1, 0.05) for k in (3, 1, 2)}
    pd_example.write_studies(tmp_path, done)
    first = (tmp_path / "studies.jsonl.gz").read_bytes()
    pd_example.write_studies(tmp_path, dict(reversed(list(done.items()))))
    assert (tmp_path / "studies.jsonl.gz").read_bytes() == first
    assert [json.loads(line)["k"] for line in gzip.decompress(first).decode().splitlines()] == [1, 2, 3]
    (tmp_path / "studies.jsonl").write_text(json.dumps(row(0, "nll", 0.5, 0.4, 0.1, 0.05)) + "\n")
    assert sorted(pd_example.read_studies(tmp_path)) == [0, 1, 2, 3]  # a running simulation's rows are read too


def test_committed_summary_matches_committed_studies():
    text = gzip.decompress((RESULTS / "studies.jsonl.gz").read_bytes()).decode()
    rows = [json.loads(line) for line in text.splitlines()]
    summary = json.loads((RESULTS / "summary.json").read_text())
    kept = [r for r in rows if r["k"] not in set(summary["unfittable"])]
    assert summary["studies"] == len(kept) and len(rows) == 500
    # a study left out as unfittable never got a plan: uniform (share 1) at every checkpoint, nothing chosen
    assert all(not r["chosen"] and set(r["ladder"] + r["adaptive"]) == {1.0} for r in rows if r not in kept)
    half = summary["fractions"].index(0.5)
    for name in ("ladder", "adaptive", "random"):
        by_hand = np.median([r[name][half] for r in kept])
        assert summary["groups"]["all"]["median_share"][name][half] == pytest.approx(by_hand)
    beats = np.mean([r["adaptive"][-1] < r["ladder"][-1] for r in kept])
    assert summary["groups"]["all"]["adaptive_beats_ladder_at_full"] == pytest.approx(beats)
