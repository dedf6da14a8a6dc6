"""The baselines a plan is compared with, built at the plan's budget under the plan's constraints.

Used by the report (build.py) and by ``worth`` (worth.py), so that both judge the same plans.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from budgetlaw.allocation import baselines as baseline_module
from budgetlaw.errors import InputError

__all__ = ["DEFAULT_BASELINES", "constraint_kwargs", "resolve_baselines"]

log = logging.getLogger(__name__)

DEFAULT_BASELINES = baseline_module.NAMES


def constraint_kwargs(plan) -> dict:
    """The plan's constraints as allocate()/baselines keyword arguments (None entries dropped)."""
    constraints = dict(getattr(plan, "constraints", None) or {})
    if constraints.get("floor_default"):  # floors the allocator chose itself, not the user's
        constraints.pop("floor", None)
    kwargs = {}
    for key in ("available", "max_epochs", "floor", "cost", "weights"):
        value = constraints.get(key)
        if value is not None:
            kwargs[key] = value
    return kwargs


def resolve_baselines(laws, plan, baselines, constraints: Mapping | None = None) -> tuple[list, list[str]]:
    """Turn ``baselines`` (None = all four, names, or Plan objects) into Plans at the plan's budget.

    Returns (plans, notes); a baseline that cannot be built under the constraints becomes a note.
    """
    if baselines is None:
        baselines = DEFAULT_BASELINES
    if isinstance(baselines, str):
        baselines = [b.strip() for b in baselines.split(",") if b.strip()]
    kwargs = constraint_kwargs(plan) if constraints is None else dict(constraints)
    plans, notes = [], []
    for item in baselines:
        if not isinstance(item, str):
            plans.append(item)
            continue
        function = getattr(baseline_module, item, None) if item in DEFAULT_BASELINES else None
        if function is None:
            raise InputError(f"unknown baseline {item!r}; choose from {', '.join(DEFAULT_BASELINES)}")
        try:
            plans.append(function(laws, plan.budget, **kwargs))
        except InputError as exc:
            notes.append(f"baseline {item} could not be built: {exc}")
            log.warning("baseline %s skipped: %s", item, exc)
    return plans, notes
