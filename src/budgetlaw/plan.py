"""A data plan: how much of each language to train on, and what the laws predict it gives.

A Plan is what `budgetlaw.allocate` and every baseline return. On disk it is plan.json (format
"budgetlaw-plan/1", described in docs/formats/plan.md); `Plan.save` writes it atomically and
`load_plan` reads it back with validation.

A plan made from loss laws (``lower_is_better``) keeps every value in the loss's own units:
``predicted["score"]`` is the predicted loss, lower and upper its interval, the objective a
loss to minimise. "Gain" and "improvement" are always positive when a plan is better: for a
loss, the other plan's loss minus this plan's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from budgetlaw.errors import InputError
from budgetlaw.fileio import read_json, write_text_atomic

__all__ = ["FORMAT", "Plan", "load_plan", "check_made_from"]

FORMAT = "budgetlaw-plan/1"
_NUMBERS = ("objective_value", "budget", "used_budget", "unused_budget", "marginal_value")
_REQUIRED = ("format", "name", "objective", "sizes", "predicted", "constraints", *_NUMBERS)
# How long a solver took differs from run to run; plan.json keeps only what the inputs decide,
# so the same inputs give the same bytes. The timings stay on the Plan object (plan.solver).
_TIMINGS = ("time_s", "solve_time_s")


def _num(value: Any) -> float | None:
    """float for JSON, None for NaN/inf (JSON has neither)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """Turn numpy/pandas scalars and containers into JSON-ready Python values."""
    if type(value) is float:  # the common case, first: plans carry several floats per language
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, pd.Series):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value)
    return value


@dataclass(frozen=True, eq=False)
class Plan:
    """One allocation of a budget across languages.

    sizes:          pd.Series language -> x_i (examples, or whatever unit the laws were fitted in)
    predicted:      pd.DataFrame index language, columns score, lower, upper (the law's predicted
                    value at x_i - a score, or a loss for loss laws - and its bootstrap interval;
                    NaN bounds when the laws have no draws)
    objective:      "sum", "maxmin" or "robust"
    objective_value: sum_i w_i*score_i ("sum"), min_i score_i ("maxmin"), or the mean over
                    bootstrap draws of sum_i w_i*score_i ("robust"); for loss laws the same sums
                    of losses, and max_i loss_i for "maxmin" (all to be minimised)
    budget, used_budget = sum_i cost_i*x_i, unused_budget = budget - used_budget (0 when the
                    budget binds; positive only when every language is at its cap)
    marginal_value: objective improvement per extra unit of budget (the budget constraint's
                    multiplier, >= 0: score gained, or loss shed for loss laws; 0 when the budget
                    does not bind; NaN for baselines)
    constraints:    {"available", "max_epochs", "floor", "cost", "weights", "extra"} as plain values
    solver:         {"method", "status", "time_s", "iterations", ...} (time_s and solve_time_s
                    are not saved: plan.json holds only what the inputs decide)
    signature:      how the plan was made (versions, settings, the laws' signature)
    lower_is_better: the laws are losses (lower is better); False for score laws
    """

    name: str
    sizes: pd.Series
    predicted: pd.DataFrame
    objective: str
    objective_value: float
    budget: float
    used_budget: float
    unused_budget: float
    marginal_value: float
    constraints: dict = field(default_factory=dict)
    solver: dict = field(default_factory=dict)
    signature: dict = field(default_factory=dict)
    lower_is_better: bool = False

    @property
    def languages(self) -> list[str]:
        return [str(k) for k in self.sizes.index]

    def to_frame(self) -> pd.DataFrame:
        """One row per language: size, share (of used budget), score, lower, upper, cost, floor,
        cap (available*max_epochs, NaN for none), distinct (the distinct pairs in the plan:
        min(size, available)), passes (size / distinct: above 1 the plan repeats pairs, which the
        laws value at the data-constrained rate, docs/formats/plan.md), weight, at_cap, at_floor."""
        langs = self.languages
        cons = self.constraints or {}
        cost = pd.Series(cons.get("cost") or {}, dtype=float).reindex(langs).fillna(1.0)
        floor = pd.Series(cons.get("floor") or {}, dtype=float).reindex(langs)
        weights = pd.Series(cons.get("weights") or {}, dtype=float).reindex(langs).fillna(1.0)
        available = cons.get("available")
        epochs = cons.get("max_epochs", 1)
        cap = pd.Series(available or {}, dtype=float).reindex(langs) * float(epochs)
        sizes = self.sizes.astype(float)
        spent = sizes * cost
        distinct = np.minimum(sizes, pd.Series(available or {}, dtype=float).reindex(langs).fillna(np.inf))
        frame = pd.DataFrame(
            {
                "size": sizes,
                "share": spent / spent.sum() if spent.sum() > 0 else np.nan,
                "score": self.predicted["score"],
                "lower": self.predicted["lower"],
                "upper": self.predicted["upper"],
                "cost": cost,
                "floor": floor,
                "cap": cap,
                "distinct": distinct,
                "passes": (sizes / distinct).where(distinct > 0, np.nan),
                "weight": weights,
            },
            index=pd.Index(langs, name="language"),
        )
        tol = 1e-9
        frame["at_cap"] = (frame["cap"].notna() & (sizes >= frame["cap"] * (1 - tol))).astype(bool)
        frame["at_floor"] = (frame["floor"].notna() & (sizes <= frame["floor"] * (1 + tol))).astype(bool)
        return frame

    def compare(self, *others: "Plan") -> pd.DataFrame:
        """Side by side: sizes and predicted scores of self and each other plan, and the gain of
        self over each other.

        Columns: "size:<name>", "score:<name>" per plan (self first), then "gain:<name>" =
        score:self - score:<name> for each other plan (repeated names get "#2", "#3", ...).
        Rows: one per language, then "total" (sizes summed; scores summed with self's weights,
        i.e. the "sum" objective), "mean" (plain means) and "min" (the worst language).

        For loss laws (``lower_is_better``) "score:<name>" holds predicted losses, the gain is an
        improvement, gain:<name> = score:<name> - score:self (positive: self has the lower loss),
        and the last row is "max" (the worst language; every column its maximum) instead of "min".
        ``table.attrs["gain"]`` states the convention used.
        """
        plans = (self, *others)
        names: list[str] = []
        for plan in plans:
            name, k = plan.name, 2
            while name in names:
                name, k = f"{plan.name}#{k}", k + 1
            names.append(name)
        langs = self.languages
        for plan, name in zip(others, names[1:]):
            if sorted(plan.languages) != sorted(langs):
                raise InputError(
                    f"Plan.compare: plan {name!r} covers {sorted(plan.languages)} but {names[0]!r} covers "
                    f"{sorted(langs)}; compare plans made from the same laws"
                )
            if plan.lower_is_better != self.lower_is_better:
                raise InputError(f"Plan.compare: plan {name!r} and {names[0]!r} differ in direction (one predicts a "
                                 "loss, the other a score); compare plans made from the same laws")
        lower = self.lower_is_better
        worst = "max" if lower else "min"
        weights = pd.Series((self.constraints or {}).get("weights") or {}, dtype=float).reindex(langs).fillna(1.0)
        columns = {}
        for plan, name in zip(plans, names):
            columns[f"size:{name}"] = plan.sizes.astype(float).reindex(langs)
            columns[f"score:{name}"] = plan.predicted["score"].astype(float).reindex(langs)
        table = pd.DataFrame(columns, index=pd.Index(langs, name="language"))
        summary = {}
        for col, values in table.items():
            is_score = col.startswith("score:")
            summary[col] = [
                float((values * weights).sum()) if is_score else float(values.sum()),
                float(values.mean()),
                float(values.max() if lower else values.min()),
            ]
        table = pd.concat([table, pd.DataFrame(summary, index=["total", "mean", worst])])
        table.index.name = "language"
        for name in names[1:]:
            if lower:  # a lower loss is a gain
                table[f"gain:{name}"] = table[f"score:{name}"] - table[f"score:{names[0]}"]
            else:
                table[f"gain:{name}"] = table[f"score:{names[0]}"] - table[f"score:{name}"]
        table.attrs["gain"] = ("other - self (lower loss is better)" if lower
                               else "self - other (higher score is better)")
        return table

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The plan.json object (see docs/formats/plan.md); NaN becomes null."""
        columns = ("score", "lower", "upper")  # whole columns, not a .loc lookup per cell
        values = zip(*(self.predicted[col].to_numpy(dtype=float).tolist() for col in columns))
        predicted = {str(lang): {col: _plain(v) for col, v in zip(columns, row)}
                     for lang, row in zip(self.predicted.index, values)}
        return {
            "format": FORMAT,
            "name": self.name,
            "objective": self.objective,
            "objective_value": _num(self.objective_value),
            "budget": _num(self.budget),
            "used_budget": _num(self.used_budget),
            "unused_budget": _num(self.unused_budget),
            "marginal_value": _num(self.marginal_value),
            "sizes": dict(zip(map(str, self.sizes.index), self.sizes.to_numpy(dtype=float).tolist())),
            "predicted": predicted,
            "constraints": _plain(self.constraints),
            "solver": _plain({k: v for k, v in self.solver.items() if k not in _TIMINGS}),
            "signature": _plain(self.signature),
            "lower_is_better": bool(self.lower_is_better),
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "plan") -> "Plan":
        """Inverse of to_dict, with validation: errors name `where` (the file) and the key."""
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a JSON object with a 'format' key, got {type(data).__name__}")
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise InputError(f"{where}: missing key(s) {missing}; a plan.json is written by Plan.save / 'budgetlaw allocate'")
        if data["format"] != FORMAT:
            raise InputError(f"{where}: key 'format' is {data['format']!r}; this version reads {FORMAT!r}")
        sizes = data["sizes"]
        if not isinstance(sizes, dict) or not sizes:
            raise InputError(f"{where}: key 'sizes' must be a non-empty object language -> size")
        clean = {}
        for lang, value in sizes.items():
            # a JSON number only: "1e5" in quotes is a hand edit, not what Plan.save writes
            number = float(value) if _is_number(value) else float("nan")
            if not math.isfinite(number) or number < 0:
                raise InputError(f"{where}: key 'sizes.{lang}' is {value!r}; sizes must be finite numbers >= 0")
            clean[str(lang)] = number
        predicted = data["predicted"]
        if not isinstance(predicted, dict) or set(predicted) != set(clean):
            raise InputError(f"{where}: key 'predicted' must have one entry per language in 'sizes' ({sorted(clean)})")
        rows = {}
        for lang in clean:
            entry = predicted[lang]
            if not isinstance(entry, dict) or "score" not in entry:
                raise InputError(f"{where}: key 'predicted.{lang}' must be an object with 'score', 'lower', 'upper'")
            rows[lang] = [_read_float(entry.get(col), where, f"predicted.{lang}.{col}") for col in ("score", "lower", "upper")]
        numbers = {key: _read_float(data[key], where, key) for key in _NUMBERS}
        constraints = data["constraints"]
        if not isinstance(constraints, dict) or "max_epochs" not in constraints:
            raise InputError(f"{where}: key 'constraints' must be an object with at least 'max_epochs'")
        _check_constraints(constraints, where)
        lower = data.get("lower_is_better", False)
        if not isinstance(lower, bool):
            raise InputError(f"{where}: key 'lower_is_better' is {lower!r}; expected true or false")
        for key in ("solver", "signature"):
            if not isinstance(data.get(key) or {}, dict):
                raise InputError(f"{where}: key '{key}' is {type(data[key]).__name__}; expected an object or null")
        recorded = (data.get("signature") or {}).get("laws")
        direction = recorded.get("direction") if isinstance(recorded, dict) else None
        if direction is not None and (direction == "lower_is_better") is not lower:
            raise InputError(f"{where}: key 'lower_is_better' is {str(lower).lower()} but the laws it records were "
                             f"fitted {direction!r}; make the plan again with `budgetlaw allocate`")
        langs = list(clean)
        return cls(
            name=str(data["name"]),
            sizes=pd.Series(clean, name="size", dtype=float).rename_axis("language"),
            predicted=pd.DataFrame.from_dict(rows, orient="index", columns=["score", "lower", "upper"])
            .reindex(langs)
            .rename_axis("language"),
            objective=str(data["objective"]),
            constraints=dict(constraints),
            solver=dict(data.get("solver") or {}),
            signature=dict(data.get("signature") or {}),
            lower_is_better=lower,
            **numbers,
        )

    def save(self, path) -> Path:
        """Write plan.json atomically (temporary file in the same directory, then rename)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_float(value: Any, where: str, key: str) -> float:
    if value is None:
        return float("nan")
    if not _is_number(value):
        raise InputError(f"{where}: key '{key}' is {value!r}; expected a number or null")
    return float(value)


def _check_constraints(constraints: dict, where: str) -> None:
    """max_epochs a number >= 1; available, floor, cost and weights null or objects language ->
    number >= 0 (available may give null: no cap). Checked here so that a hand edit is one line,
    not a traceback in the report."""
    epochs = constraints["max_epochs"]
    if not _is_number(epochs) or not (math.isfinite(epochs) and epochs >= 1):
        raise InputError(f"{where}: key 'constraints.max_epochs' is {epochs!r}; expected a number >= 1 "
                         "(how often a pair may be repeated)")
    for key in ("available", "floor", "cost", "weights"):
        table = constraints.get(key)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise InputError(f"{where}: key 'constraints.{key}' must be null or an object language -> number")
        for lang, value in table.items():
            if value is None and key == "available":
                continue
            if not _is_number(value) or not (math.isfinite(value) and value >= 0):
                raise InputError(f"{where}: key 'constraints.{key}.{lang}' is {value!r}; expected a finite number >= 0")


def load_plan(path) -> Plan:
    """Read and validate a plan.json written by `Plan.save`."""
    data = read_json(path, what="plan file", fix="write one with 'budgetlaw allocate' or Plan.save")
    return Plan.from_dict(data, where=str(path))


def check_made_from(plan: Plan, laws, *, plan_name: str = "plan", laws_name: str = "laws") -> None:
    """Refuse (InputError, one line) a plan that was not made from ``laws``: another direction
    (a loss plan judged under score laws), other languages, or another recorded signature (the
    settings of the fit and the pilots' sha256). A report or a gain computed otherwise would show
    the plan's predictions under laws that did not make them. A hand-made plan (no recorded
    laws) passes; a plan that records laws against laws without a signature does not.

    plan_name, laws_name: what the messages call them (the files on the command line).
    """
    import json

    lower = getattr(laws, "lower_is_better", None)
    if lower is None:  # a dict of PowerLaws
        lower = any(bool(getattr(item, "lower_is_better", False)) for item in laws.values())
    if bool(plan.lower_is_better) is not bool(lower):
        kinds = {True: "losses (lower is better)", False: "scores (higher is better)"}
        raise InputError(f"{plan_name}: predicts {kinds[bool(plan.lower_is_better)]} but {laws_name} holds laws of "
                         f"{kinds[bool(lower)]}; pass the laws the plan was made from, or make a new "
                         f"plan with `budgetlaw allocate {laws_name} ...`")
    if sorted(plan.languages) != sorted(map(str, laws)):
        raise InputError(f"{plan_name}: plans {', '.join(sorted(plan.languages))} but {laws_name} has laws for "
                         f"{', '.join(sorted(map(str, laws)))}; pass the laws the plan was made from")
    recorded = (getattr(plan, "signature", None) or {}).get("laws")
    current = getattr(laws, "signature", None)
    if recorded and not current:
        raise InputError(f"{plan_name}: records the laws it was made from, but {laws_name} has no signature to "
                         "compare (removed or edited?); regenerate the laws with `budgetlaw fit` and the plan with "
                         "`budgetlaw allocate`")
    if not recorded or not current:
        return  # a hand-made plan: nothing to compare
    canon = lambda d: json.dumps(d, sort_keys=True, default=str)  # noqa: E731
    if canon(recorded) != canon(json.loads(json.dumps(current, default=str))):
        src = (recorded.get("source") or {}).get("sha256") if isinstance(recorded.get("source"), dict) else None
        mine = (current.get("source") or {}).get("sha256") if isinstance(current.get("source"), dict) else None
        detail = f" (pilots sha256 {str(src)[:12]} vs {str(mine)[:12]})" if src != mine else ""
        raise InputError(f"{plan_name}: was made from other laws than {laws_name}{detail}; pass the laws.json the "
                         f"plan was made from, or make a new plan with `budgetlaw allocate {laws_name} ...`")
