"""Plan: plan.json round trip, validation on load, to_frame, compare (numbers by hand)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from budgetlaw.allocation import allocate
from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw
from budgetlaw.plan import FORMAT, Plan, load_plan


def make(name, sizes, scores, *, weights=None, available=None, lower=None):
    langs = list(sizes)
    idx = pd.Index(langs, name="language")
    lower = lower or {k: math.nan for k in langs}
    predicted = pd.DataFrame(
        {"score": [scores[k] for k in langs], "lower": [lower[k] for k in langs], "upper": [math.nan] * len(langs)},
        index=idx,
    )
    total = float(sum(sizes.values()))
    return Plan(
        name=name,
        sizes=pd.Series(sizes, index=idx, dtype=float),
        predicted=predicted,
        objective="sum",
        objective_value=float(sum(scores.values())),
        budget=total + 5.0,
        used_budget=total,
        unused_budget=5.0,
        marginal_value=math.nan,
        constraints={"available": available, "max_epochs": 2, "floor": {k: 1.0 for k in langs},
                     "cost": {k: 1.0 for k in langs}, "weights": weights or {k: 1.0 for k in langs}, "extra": 0},
        solver={"method": "hand", "status": "optimal", "time_s": 0.0, "iterations": 0},
        signature={"made_by": "test"},
    )


P = make("mine", {"a": 10.0, "b": 30.0}, {"a": 80.0, "b": 90.0}, available={"a": 5.0}, lower={"a": 79.0, "b": math.nan})
Q = make("theirs", {"a": 20.0, "b": 20.0}, {"a": 85.0, "b": 87.0})


def test_round_trip_through_json_and_disk(tmp_path):
    data = json.loads(json.dumps(P.to_dict()))  # strict JSON survives (NaN became null)
    assert data["format"] == FORMAT == "budgetlaw-plan/1"
    assert data["sizes"] == {"a": 10.0, "b": 30.0}
    assert data["marginal_value"] is None and data["predicted"]["b"]["lower"] is None
    assert data["constraints"]["max_epochs"] == 2 and data["constraints"]["available"] == {"a": 5.0}
    back = Plan.from_dict(data)
    pd.testing.assert_series_equal(back.sizes, P.sizes, check_names=False)
    pd.testing.assert_frame_equal(back.predicted, P.predicted, check_names=False)
    assert math.isnan(back.marginal_value) and back.unused_budget == 5.0
    assert back.constraints == P.constraints and back.signature == P.signature
    # timings are left out of plan.json (same inputs, same bytes); everything else round-trips
    assert "time_s" not in data["solver"]
    assert back.solver == {k: v for k, v in P.solver.items() if k != "time_s"}

    path = P.save(tmp_path / "sub" / "plan.json")
    again = load_plan(path)
    assert again.to_dict() == P.to_dict()
    Q.save(path)  # overwrite in place
    assert load_plan(path).name == "theirs"
    assert sorted(p.name for p in path.parent.iterdir()) == ["plan.json"]  # no temporary left


def test_allocated_plan_round_trip(tmp_path):
    laws = {"ar": PowerLaw(a=42.5, b=0.04, c=0.11), "tr": PowerLaw.from_identifiable(200.0, 0.4)}
    plan = allocate(laws, 1e5, available={"ar": 3e4}, max_epochs=3)
    data = json.loads(plan.save(tmp_path / "plan.json").read_text())
    assert data["constraints"]["max_epochs"] == 3 and isinstance(data["constraints"]["max_epochs"], int)
    assert data["constraints"]["available"] == {"ar": 3e4}
    assert data["solver"]["method"] == "exact" and data["objective"] == "sum"
    back = load_plan(tmp_path / "plan.json")
    np.testing.assert_allclose(back.sizes.to_numpy(), plan.sizes.to_numpy(), rtol=0)
    assert back.objective_value == plan.objective_value and back.marginal_value == plan.marginal_value


def test_to_frame():
    frame = P.to_frame()
    assert list(frame.index) == ["a", "b"]
    assert frame.loc["a", "share"] == pytest.approx(0.25) and frame.loc["b", "share"] == pytest.approx(0.75)
    assert frame.loc["a", "cap"] == 10.0 and math.isnan(frame.loc["b", "cap"])  # available 5 * 2 epochs
    assert frame["at_cap"].tolist() == [True, False]
    assert frame["at_floor"].tolist() == [False, False]
    assert frame.loc["a", "lower"] == 79.0
    # a: 10 pairs of 5 distinct ones, 2 passes; b has no available: all distinct
    assert frame.loc["a", "distinct"] == 5.0 and frame.loc["a", "passes"] == 2.0
    assert frame.loc["b", "distinct"] == 30.0 and frame.loc["b", "passes"] == 1.0


def test_compare_by_hand():
    table = P.compare(Q)
    assert list(table.columns) == ["size:mine", "score:mine", "size:theirs", "score:theirs", "gain:theirs"]
    assert list(table.index) == ["a", "b", "total", "mean", "min"]
    assert table["gain:theirs"].tolist() == [-5.0, 3.0, -2.0, -1.0, -5.0]  # 80-85, 90-87, 170-172, 85-86, 80-85
    assert table.loc["total", "size:mine"] == 40.0 and table.loc["min", "size:theirs"] == 20.0
    weighted = make("w", {"a": 10.0, "b": 30.0}, {"a": 80.0, "b": 90.0}, weights={"a": 2.0, "b": 1.0})
    # total uses self's weights: 2*80 + 90 = 250 against 2*85 + 87 = 257
    assert weighted.compare(Q).loc["total", "gain:theirs"] == -7.0


def test_compare_names_and_mismatch():
    table = P.compare(Q, Q)
    assert "gain:theirs" in table and "gain:theirs#2" in table
    other = make("x", {"a": 1.0, "c": 2.0}, {"a": 1.0, "c": 2.0})
    with pytest.raises(InputError, match="same laws"):
        P.compare(other)


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda d: d.pop("sizes"), "sizes"),
        (lambda d: d.update(format="budgetlaw-plan/9"), "format"),
        (lambda d: d["sizes"].update(a=-1), "sizes.a"),
        (lambda d: d["sizes"].update(a="many"), "sizes.a"),
        (lambda d: d["predicted"].pop("b"), "predicted"),
        (lambda d: d.update(budget="lots"), "budget"),
        (lambda d: d["constraints"].pop("max_epochs"), "constraints"),
        (lambda d: d["constraints"].update(available=[1, 2]), "constraints.available"),
    ],
)
def test_load_plan_names_file_and_key(tmp_path, mutate, key):
    data = P.to_dict()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_plan(path)
    assert str(path) in str(err.value) and key in str(err.value)


def test_load_plan_missing_and_broken_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_plan(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="broken.json.*not valid JSON"):
        load_plan(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(InputError, match="list.json"):
        load_plan(listed)
