"""Bootstrap bands of many laws at once: ``FittedLaw.interval`` for every language in one pass.

A plan's predicted interval for language i is the percentile band of its draw curves at its own
size x_i (``FittedLaw.interval``):

    curves_id = ceiling_id - sign_i * K_id * x_i ** (-c_id)      d = 1..D_i
    (lower_i, upper_i) = quantiles of curves_i. at (1 - level)/2 and (1 + level)/2

Calling ``interval`` once per language costs a numpy quantile call each (about 0.1 ms), which
at thousands of languages dominated `allocate` and the baselines. Here the languages that use
FittedLaw's own ``interval`` are grouped by their number of draws, stacked, and their quantiles
taken along one axis: the same element-wise arithmetic, so the same numbers. Any other object
with ``draws`` and ``interval`` is asked one at a time, as before.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from budgetlaw.errors import InputError

__all__ = ["intervals", "check_level"]

# Languages x draws per stacked chunk: bounds the temporary arrays (~16 MB of float64 each).
CHUNK = 2_000_000


def check_level(level, who: str = "level") -> float:
    """The interval coverage ``level`` as a float in (0, 1), or InputError naming ``who``.

    The one check of ``level`` for allocate, sweep, the baselines and FittedLaw.interval.
    """
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value < 1:  # NaN fails too
        raise InputError(f"{who}: level is {level!r}; give the interval coverage as a number in (0, 1), e.g. 0.9")
    return value


def _fitted_interval():
    """FittedLaw.interval when its module is loaded (no FittedLaw can exist otherwise); looked up
    instead of imported so that budgetlaw.fitting (scipy) is not loaded for plain PowerLaws."""
    module = sys.modules.get("budgetlaw.fitting.laws")
    return None if module is None else module.FittedLaw.interval


def intervals(items: Sequence, x, level: float = 0.9, *, stacked=None) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (n,): the interval of items[i] at x[i]; NaN where an item has no draws.

    Same numbers as ``items[i].interval(np.array([x[i]]), level)`` for every i. ``stacked``: the
    items' draws already stacked as one (n, D, 3) array (``LawSet.stacked_draws``), which saves
    stacking thousands of small arrays at every call.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    n = len(items)
    lower, upper = np.full(n, np.nan), np.full(n, np.nan)
    native = _fitted_interval()
    q = [(1 - level) / 2, (1 + level) / 2]
    if stacked is not None and native is not None and len(stacked) == n and n:
        check_level(level, "interval")
        sign = np.array([items[i].law.sign for i in range(n)])[:, None]
        step = max(1, CHUNK // stacked.shape[1])
        for start in range(0, n, step):
            rows = slice(start, start + step)
            lower[rows], upper[rows] = _band(stacked[rows], x[rows], sign[rows], q)
        return lower, upper
    groups: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        draws = getattr(item, "draws", None)
        if draws is None or not hasattr(item, "interval"):
            continue
        if native is not None and getattr(type(item), "interval", None) is native and getattr(draws, "ndim", 0) == 2:
            if len(draws):  # no draws: NaN, as FittedLaw.interval gives
                groups.setdefault(len(draws), []).append(i)
            continue
        lo, hi = item.interval(np.array([x[i]]), level=level)
        lower[i], upper[i] = np.ravel(lo)[0], np.ravel(hi)[0]
    if groups:
        check_level(level, "interval")
    for width, members in groups.items():
        step = max(1, CHUNK // width)
        for start in range(0, len(members), step):
            rows = members[start:start + step]
            draws = np.stack([items[i].draws for i in rows])  # (m, D, 3)
            sign = np.array([items[i].law.sign for i in rows])[:, None]
            lower[rows], upper[rows] = _band(draws, x[rows], sign, q)
    return lower, upper


def _band(draws, x, sign, q):
    """Quantiles q over the draw curves of m laws, each at its own x: draws (m, D, 3), x (m,)."""
    K, c, ceil = draws[..., 0], draws[..., 1], draws[..., 2]
    # ceil - sign * K * x**-c, written as exp(-c log x) in place: a third of the time of the
    # power and its temporaries at thousands of languages; FittedLaw.interval does the same
    curves = np.multiply(c, -np.log(x)[:, None])
    np.exp(curves, out=curves)
    curves *= K
    curves *= sign
    np.subtract(ceil, curves, out=curves)
    lo, hi = np.quantile(curves, q, axis=1)
    return lo, hi
