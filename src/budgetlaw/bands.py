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

The quantiles are numpy's default ("linear") quantiles taken from a full sort
(``quantiles``): numpy 1.26's sort is vectorised and its partition is not, so for 200 draws
the sort is about 4x faster than ``np.quantile``'s partition, for the same numbers.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from budgetlaw.errors import InputError

__all__ = ["intervals", "check_level", "quantiles", "draw_columns"]

# Languages x draws per stacked chunk: bounds the temporary arrays (2 MB of float64 each, so
# they stay in cache: 16 MB chunks made 10,000 languages ~15% slower per language than 1,000).
CHUNK = 250_000


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


def quantiles(values, q, axis: int = -1) -> np.ndarray:
    """``np.quantile(values, q, axis=axis)`` (method "linear"), the same numbers, from a sort.

    q: a sequence of levels in [0, 1]; the result has q's length first, as numpy's. The virtual
    index (n - 1) * q, its bounds, and the interpolation a + (b - a) * t (b - (b - a) * (1 - t)
    for t >= 0.5) are numpy's own steps, so the result agrees to the last bit (tested); a slice
    holding a NaN gives NaN, as in numpy.
    """
    ordered = np.sort(np.asarray(values, dtype=float), axis=axis)
    ordered = np.moveaxis(ordered, axis, 0)
    n = ordered.shape[0]
    virtual = (n - 1) * np.asarray(q, dtype=float)
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = following[above] = -1
    below = virtual < 0
    previous[below] = following[below] = 0
    gamma = (virtual - previous).reshape((-1,) + (1,) * (ordered.ndim - 1))
    a, b = ordered[previous.astype(np.intp)], ordered[following.astype(np.intp)]
    diff = np.subtract(b, a)
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=np.broadcast_to(gamma >= 0.5, out.shape))
    nan = np.isnan(ordered[-1])  # NaN sorts last
    if nan.any():
        out[:, nan] = np.nan
    return out


def draw_columns(draws: Sequence[np.ndarray]) -> np.ndarray:
    """m (D, 3) draw arrays of (K, c, ceiling) rows as one (3, m, D) array: each parameter one
    contiguous (m, D) block, the layout ``_band`` reads (strided views took twice as long)."""
    flat = np.concatenate(draws)  # (m * D, 3): one copy, then a column each
    columns = np.empty((3, len(flat)))
    for k in range(3):
        columns[k] = flat[:, k]
    return columns.reshape(3, len(draws), len(draws[0]))


def _fitted_interval():
    """FittedLaw.interval when its module is loaded (no FittedLaw can exist otherwise); looked up
    instead of imported so that budgetlaw.fitting (scipy) is not loaded for plain PowerLaws."""
    module = sys.modules.get("budgetlaw.fitting.laws")
    return None if module is None else module.FittedLaw.interval


def intervals(items: Sequence, x, level: float = 0.9, *, stacked=None) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (n,): the interval of items[i] at x[i]; NaN where an item has no draws.

    Same numbers as ``items[i].interval(np.array([x[i]]), level)`` for every i. ``stacked``: the
    items' draws already stacked as one (3, n, D) array, the K, c and ceiling of every draw
    (``LawSet.stacked_draws``), which saves stacking thousands of small arrays at every call.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    n = len(items)
    lower, upper = np.full(n, np.nan), np.full(n, np.nan)
    native = _fitted_interval()
    q = [(1 - level) / 2, (1 + level) / 2]
    if stacked is not None and native is not None and stacked.shape[1] == n and n:
        check_level(level, "interval")
        sign = np.array([items[i].law.sign for i in range(n)])[:, None]
        step = max(1, CHUNK // stacked.shape[2])
        for start in range(0, n, step):
            rows = slice(start, start + step)
            lower[rows], upper[rows] = _band(stacked[:, rows], x[rows], sign[rows], q)
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
            draws = draw_columns([items[i].draws for i in rows])  # (3, m, D)
            sign = np.array([items[i].law.sign for i in rows])[:, None]
            lower[rows], upper[rows] = _band(draws, x[rows], sign, q)
    return lower, upper


def _band(draws, x, sign, q):
    """Quantiles q over the draw curves of m laws, each at its own x: draws (3, m, D), x (m,).

    Each parameter is one contiguous (m, D) array: strided (m, D, 3) views took twice as long."""
    K, c, ceil = draws
    # ceil - sign * K * x**-c, written as exp(-c log x) in place: a third of the time of the
    # power and its temporaries at thousands of languages; FittedLaw.interval does the same
    curves = np.multiply(c, -np.log(x)[:, None])
    np.exp(curves, out=curves)
    curves *= K
    curves *= sign
    np.subtract(ceil, curves, out=curves)
    lo, hi = quantiles(curves, q, axis=1)
    return lo, hi
