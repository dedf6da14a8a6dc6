"""transfer.png: a transfer matrix as a labelled heat map (re-exported by reporting.plots).

T[i, j] = how much one pair of source language j is worth to receiving language i, in pairs of
i's own (effective data d_i = x_i + sum_j T_ij x_j). Rows receive, columns give.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from budgetlaw.errors import InputError

__all__ = ["plot_transfer", "TRANSFER_SIZE", "TRANSFER_DPI", "ANNOTATE_MAX"]

#: The figure's size in inches and its resolution: transfer.png is always 770 x 660 pixels
#: (saved without tight cropping, so the size does not depend on the labels).
TRANSFER_SIZE = (7.0, 6.0)
TRANSFER_DPI = 110
#: Above this many languages the cells are too small for their numbers: colours only.
ANNOTATE_MAX = 16
#: Above this many languages only every k-th name is written on the axes.
LABELS_MAX = 40


def plot_transfer(matrix, languages: Sequence[str], path: str | Path, *, title: str | None = None) -> Path:
    """Draw ``matrix`` (n x n, rows = receiving language, columns = source language) with every
    cell's value written in it (up to ANNOTATE_MAX languages) and a colour bar; write ``path``.

    Colours: white to blue for weights >= 0; a matrix with negative weights (interference) is
    drawn red-white-blue around 0. A zero diagonal (a transfer law's: own pairs count through
    x_i, not through T) is marked "-"."""
    values = np.asarray(matrix, dtype=float)
    languages = [str(lang) for lang in languages]
    n = len(languages)
    if values.ndim != 2 or values.shape != (n, n) or n == 0:
        raise InputError(f"transfer matrix: shape {values.shape} for {n} languages; give an n x n matrix "
                         "(rows = receiving language, columns = source) and its n language names")
    if not np.isfinite(values).all():
        raise InputError("transfer matrix: holds NaN or infinite weights; refit the transfer law")
    fig = Figure(figsize=TRANSFER_SIZE, layout="constrained")
    ax = fig.subplots()
    low, high = float(values.min()), float(values.max())
    if low < 0:
        norm = TwoSlopeNorm(vcenter=0.0, vmin=low, vmax=max(high, 1e-12))
        image = ax.imshow(values, cmap="RdBu", norm=norm)
    else:
        image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=max(high, 1e-12))
    ticks = list(range(0, n, max(1, math.ceil(n / LABELS_MAX))))  # every k-th name above LABELS_MAX
    names, font = [languages[k] for k in ticks], 10 if len(ticks) <= 20 else 7
    ax.set_xticks(ticks, labels=names, rotation=90 if n > 10 else 0, fontsize=font)
    ax.set_yticks(ticks, labels=names, fontsize=font)
    ax.set_xlabel("source language j (its pairs)")
    ax.set_ylabel("receiving language i")
    ax.set_title(title or "Transfer: one pair of j is worth T[i, j] pairs of i")
    if n <= ANNOTATE_MAX:
        size = 9 if n <= 8 else 7
        own = not np.diag(values).any()  # T_ii = 0: a language's own pairs count through x_i, not T
        for i in range(n):
            for j in range(n):
                shade = image.cmap(image.norm(values[i, j]))
                dark = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5  # white text on dark cells
                ax.text(j, i, "-" if own and i == j else f"{values[i, j]:.2f}", ha="center", va="center",
                        fontsize=size, color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="T[i, j] (pairs of i per pair of j)", shrink=0.85)
    path = Path(path)
    fig.savefig(path, dpi=TRANSFER_DPI)  # no bbox_inches="tight": a fixed pixel size
    return path
