"""Effective data of an allocation problem under its transfer law (budgetlaw.transfer.law).

A plan's sizes x turn into every language's effective data d = eff(x) + T eff(x), with the
distinct pairs U_i of each language taken from ``available`` (inf where not given: no repeats).
The objective (budgetlaw.allocation.problem), the plan's predictions (optimise.make_plan) and the
cvxpy program (budgetlaw.allocation.transfer) all read d from here. One-language laws whose plan
can repeat pairs carry the zero transfer with the default R* (prepare: AllocationProblem.
repeats_only), so their repeats are read here too, and ``active`` is true for them. Pure numpy; nothing of
budgetlaw.allocation is imported, so every module of it may import this one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["unique_of", "repeats", "active", "effective_sizes"]


def unique_of(problem) -> np.ndarray:
    """Distinct pairs per language: ``available`` (inf where not given)."""
    avail = problem.available or {}
    return np.array([float(avail.get(lang, np.inf)) for lang in problem.languages])


def repeats(problem) -> np.ndarray:
    """Languages whose cap (available * max_epochs) lets a plan repeat pairs."""
    U = unique_of(problem)
    return np.isfinite(U) & (problem.cap > U * (1 + 1e-12))


def active(problem) -> bool:
    """The transfer law changes the program: T != 0 (in the fit or in a draw), or repeats are
    possible. Otherwise d = x and the one-language path (exact or cvxpy) is the same program."""
    tr = getattr(problem, "transfer", None)
    return tr is not None and (not tr.is_zero or bool(repeats(problem).any()))


def effective_sizes(problem, x, *, per_draw: bool = False) -> np.ndarray:
    """d(x) under the point law (x (..., n) -> same shape) or, with per_draw, under every
    draw of T and R* (x (n,) -> (D, n))."""
    U = unique_of(problem)
    tr = problem.transfer
    return tr.effective_draws(x, U) if per_draw else tr.effective(x, U)
