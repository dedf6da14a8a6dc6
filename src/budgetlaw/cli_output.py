"""What the `budgetlaw` commands check at the door and print: the budget, the plan, the
transfer matrix and how its form was chosen (shared by budgetlaw.cli and budgetlaw.cli_demo)."""

from __future__ import annotations

import sys
from pathlib import Path

from budgetlaw.errors import InputError
from budgetlaw.limits import parse_size

MAX_N_BOOT = 100_000  # 1e5 refits already give intervals to the third digit; more only fills memory

__all__ = ["_input_file", "_load_constraints", "MAX_N_BOOT", "parse_budget", "check_budget_pays_one_each", "print_plan", "print_transfer", "print_selection"]


def parse_budget(text: str) -> float:
    """--budget TEXT as a number of pairs (600k, 1.2M, 2e6), > 0 and finite."""
    try:
        value = parse_size(text)
    except InputError as exc:
        raise InputError(f"--budget: {exc}") from None
    if value <= 0:
        raise InputError(f"--budget {text!r} must be > 0; give the total number of pairs to spend, e.g. --budget 1.2M")
    if not value < float("inf"):
        raise InputError(f"--budget {text!r} is not finite; give the total number of pairs to spend, e.g. --budget 1.2M")
    return value


def check_budget_pays_one_each(budget: float, text: str, laws, kwargs: dict) -> None:
    """A budget that cannot buy one pair of every language has no meaningful plan (the laws
    would be evaluated at a fraction of a pair, far below every pilot size)."""
    cost = kwargs.get("cost") or {}
    need = sum(float(cost.get(lang, 1.0)) for lang in laws)
    if budget < need:
        raise InputError(f"--budget {text!r} cannot pay one pair of each of the {len(laws)} languages (that needs "
                         f"{need:g}); give the total number of pairs to spend, e.g. --budget 1.2M")


def print_plan(plan, stream=None) -> None:
    """A short table of the plan on stdout: language, pairs, predicted score [interval]
    (a predicted loss, with 3 decimals, for loss laws)."""
    from budgetlaw.reporting.summary import fmt_score, fmt_size

    stream = stream or sys.stdout
    lower = bool(getattr(plan, "lower_is_better", False))
    d = 3 if lower else 2
    print(f"{'language':<10}{'pairs':>12}{'predicted':>11}{'interval':>18}", file=stream)
    for language, size in plan.sizes.items():
        row = plan.predicted.loc[language]
        interval = f"[{fmt_score(row.get('lower'), digits=d)}, {fmt_score(row.get('upper'), digits=d)}]"
        print(f"{language:<10}{fmt_size(size):>12}{fmt_score(row.get('score'), digits=d):>11}{interval:>18}", file=stream)
    print(
        f"{'total':<10}{fmt_size(plan.sizes.sum()):>12}   objective {plan.objective} = {plan.objective_value:.{d}f}"
        f"{' (a loss: lower is better)' if lower else ''}; unused budget {fmt_size(plan.unused_budget)}",
        file=stream,
    )


def print_transfer(laws, stream=None) -> None:
    """The transfer matrix of a transfer-aware fit (rows receive, columns give) and R*."""
    transfer = getattr(laws, "transfer", None)
    if transfer is None:
        return
    stream = stream or sys.stdout
    fitted = transfer.fitted_on
    selection = fitted.get("selection", {})
    models = fitted.get("models", {})
    print(f"transfer: form {transfer.form}, stage 1 {transfer.stage1} ({selection.get('criterion', '')}) from "
          f"{models.get('multilingual', 0)} multilingual model(s); R* = {transfer.rstar:.3g} "
          f"({'fitted' if transfer.rstar_fitted else 'default'}); "
          f"d_i = x_i + sum_j T_ij x_j", file=stream)
    print(transfer.frame().round(4).to_string(), file=stream)


def print_selection(laws, stream=None) -> None:
    """One line: the transfer form and each candidate's score in the form choice (fit --transfer auto)."""
    transfer = getattr(laws, "transfer", None)
    if transfer is None:
        return
    selection = transfer.fitted_on.get("selection", {})
    scores = selection.get("scores") or {}
    # None: infinite (under T = 0 a language scored with 0 pairs of its own has an infinite loss)
    shown = ", ".join(f"{form} {'inf' if value is None else f'{value:.4g}'}" for form, value in scores.items())
    lowest = selection.get("lowest")
    margin = (f"; {lowest} has the lowest error, {transfer.form} is within one standard error with fewer parameters"
              if lowest and lowest != transfer.form else "")
    print(f"transfer form chosen: {transfer.form} (asked for: {selection.get('requested', '?')}; "
          f"{selection.get('criterion', '')}{': ' + shown if shown else ''}{margin})", file=stream or sys.stdout)


def _input_file(path: str, what: str) -> Path:
    """Check at the door that an input file exists, naming the option and the fix."""
    result = Path(path)
    if not result.is_file():
        raise InputError(f"{result}: {what} not found; check the path (current folder: {Path.cwd()})")
    return result


def _load_constraints(laws, languages_csv: str | None, max_epochs: int | None = None) -> dict:
    from budgetlaw.limits import limits_to_constraints, read_limits

    kwargs = {}
    if languages_csv is not None:
        path = _input_file(languages_csv, "limits file (--languages)")
        kwargs = limits_to_constraints(read_limits(path), list(laws), source=str(path))
    if max_epochs is not None:
        if max_epochs < 1:
            raise InputError(f"--max-epochs {max_epochs} must be >= 1 (how often a pair may be repeated)")
        kwargs["max_epochs"] = max_epochs
    return kwargs
