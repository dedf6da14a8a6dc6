"""Which way is better: score laws (higher is better) and loss laws (lower is better).

A loss law L(x) = E + K * x**(-c) is the mirror image of the score law with ceiling -E:

    -L(x) = (-E) - K * x**(-c)

so a loss is fitted by fitting the negated losses with the score machinery (the free ceiling
C' = -E bounded to [-smallest per-size median loss, 0], i.e. 0 <= E <= smallest median loss) and
mapping back, and allocated by maximising sum_i w_i * (-L_i(x_i)), which has the same optimality
condition, w_i * c_i * K_i * x_i**(-c_i-1) = lambda * cost_i, as a score law. This module holds
that mapping and the one rule that keeps a loss from being fitted as a score by mistake.

Sign conventions used everywhere: ``sign`` = +1 for a score, -1 for a loss; the "utility" that
the allocation maximises is sign * value; an "improvement" or "gain" of plan A over plan B is
sign * (value_A - value_B), positive when A is better (for a loss: B's loss - A's loss).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw

__all__ = ["LOSS_METRICS", "SCORE_METRICS", "check_metric", "direction_of", "mirror_law", "mirror_fitted",
           "improvement", "value_label", "sign_of"]

#: Metric names that are losses: fitting them needs lower_is_better=True (--lower-is-better).
LOSS_METRICS = ("nll", "loss")
#: Metric names that are scores: fitting them with lower_is_better=True is refused.
SCORE_METRICS = ("comet", "chrf", "chrf++", "bleu")


def check_metric(metrics: Iterable[str], lower_is_better: bool, name: str) -> None:
    """Refuse a known loss metric fitted as a score, and a known score metric fitted as a loss."""
    for metric in metrics:
        key = str(metric).strip().lower()
        if key in LOSS_METRICS and not lower_is_better:
            raise InputError(
                f"{name}: metric {metric!r} is a loss (lower is better) but the fit was asked for a score law; "
                f"pass lower_is_better=True (command line: --lower-is-better)"
            )
        if key in SCORE_METRICS and lower_is_better:
            raise InputError(
                f"{name}: metric {metric!r} is a score (higher is better) but lower_is_better=True was given; "
                f"drop --lower-is-better / lower_is_better=True for it"
            )


def sign_of(lower_is_better: bool) -> float:
    """+1 for a score, -1 for a loss."""
    return -1.0 if lower_is_better else 1.0


def direction_of(laws: Mapping, name: str = "laws") -> bool:
    """True when every law is lower-is-better, False when none is; refuse a mix.

    Items may be PowerLaws or anything with a ``law`` attribute or a ``lower_is_better`` flag
    (objects without one are higher-is-better, as before loss laws existed).
    """
    flags = {}
    for lang, item in laws.items():
        flag = getattr(item, "lower_is_better", None)
        if flag is None:
            flag = getattr(getattr(item, "law", None), "lower_is_better", False)
        flags[str(lang)] = bool(flag)
    if len(set(flags.values())) > 1:
        losses = [lang for lang, f in flags.items() if f]
        scores = [lang for lang, f in flags.items() if not f]
        raise InputError(
            f"{name}: mixes loss laws (lower is better: {losses}) with score laws (higher is better: {scores}); "
            f"a sum over languages needs one direction: fit every language on the same metric"
        )
    return bool(flags) and next(iter(flags.values()))


def mirror_law(law: PowerLaw) -> PowerLaw:
    """The law of the negated values: score law with ceiling C <-> loss law with floor E = -C."""
    return PowerLaw(a=law.a, b=law.b, c=law.c, ceiling=-law.ceiling, lower_is_better=not law.lower_is_better)


def mirror_fitted(fitted, y: np.ndarray):
    """A FittedLaw fitted to -y (a score law with ceiling -E <= 0) as the loss law of y.

    Parameters K, c, the robust scale and cost, flags and solver info carry over unchanged; the
    law, the floor column of the draws and the holdout (observed, predicted, error = predicted
    - observed, and its law) change sign.
    """
    draws = np.array(fitted.draws, dtype=float, copy=True)
    if draws.size:
        draws[:, 2] = -draws[:, 2]
    holdout = fitted.holdout
    if holdout is not None:
        holdout = {**holdout, "observed": -holdout["observed"], "predicted": -holdout["predicted"],
                   "error": -holdout["error"], "law": mirror_law(PowerLaw.from_dict(holdout["law"])).to_dict()}
    return dataclasses.replace(fitted, law=mirror_law(fitted.law), y=np.asarray(y, dtype=float), draws=draws,
                               holdout=holdout)


def improvement(mine, theirs, lower_is_better: bool):
    """How much better ``mine`` is than ``theirs``: mine - theirs for a score, theirs - mine for a loss."""
    return sign_of(lower_is_better) * (np.asarray(mine, dtype=float) - np.asarray(theirs, dtype=float))


def value_label(metric: str | None, lower_is_better: bool) -> str:
    """Axis/table label: 'comet', or 'nll (lower is better)' for a loss."""
    name = metric or ("loss" if lower_is_better else "score")
    return f"{name} (lower is better)" if lower_is_better else name
