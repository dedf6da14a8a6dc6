"""A mixed pilots table (budgetlaw.pilots with the run, mixture and unique columns) as arrays.

Rows fall in three kinds (docs/formats/pilots.md):

    one-language   no other language's pairs, no repeats      pin K, c, E of their language
    repetition     one language, unique < size                 pin R*
    multilingual   another language's pairs in the model       pin T

A *model* is a run: the rows sharing a ``run`` (rows without one: each row its own model, or
for multilingual rows those sharing mixture and seed). Every row of a multilingual or
repetition model is a *point* of the second stage: its scored language i, the pairs X (n,) of
every language in the model, the distinct pairs U (n,) of those languages (inf where no row of
the model says; then no repeats are assumed) and its value y.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from budgetlaw.errors import InputError
from budgetlaw.pilots import one_language, parse_mixture

__all__ = ["Points", "split_table"]


@dataclass(frozen=True)
class Points:
    """Second-stage points over ``languages``: run (m,), lang (m,) index of the scored language,
    X (m, n) pairs, U (m, n) distinct pairs (inf: not known), y (m,) values, multilingual (m,)
    True for a point of a multilingual model (False: a repetition row)."""

    languages: tuple
    run: np.ndarray
    lang: np.ndarray
    X: np.ndarray
    U: np.ndarray
    y: np.ndarray
    multilingual: np.ndarray

    def __len__(self) -> int:
        return int(self.y.size)

    def take(self, mask) -> "Points":
        mask = np.asarray(mask)
        return Points(self.languages, self.run[mask], self.lang[mask], self.X[mask], self.U[mask], self.y[mask],
                      self.multilingual[mask])

    def models(self, multilingual: bool = True) -> list[str]:
        """Runs of the multilingual (or the repetition) points, in table order."""
        keep = self.multilingual if multilingual else ~self.multilingual
        return list(dict.fromkeys(self.run[keep].tolist()))

    @property
    def has_repeats(self) -> bool:
        return bool((self.X > self.U).any())


def split_table(frame: pd.DataFrame, languages: list[str]) -> tuple[pd.DataFrame, Points]:
    """(the one-language rows, the second-stage points) of a pilots frame read by read_pilots."""
    if "mixture" not in frame.columns:
        single = pd.Series(True, index=frame.index)
    else:
        single = one_language(frame)
    order = {lang: k for k, lang in enumerate(languages)}
    rest = frame[~single]
    n, m = len(languages), len(rest)
    X, U = np.zeros((m, n)), np.full((m, n), np.inf)
    lang = np.zeros(m, dtype=int)
    multi = np.zeros(m, dtype=bool)
    for k, (_, row) in enumerate(rest.iterrows()):
        if row["language"] not in order:
            raise InputError(f"pilots: language {row['language']!r} is scored only in multilingual or repetition rows; "
                             "its own law needs one-language pilots at 3 or more sizes")
        lang[k] = order[row["language"]]
        mix = parse_mixture(row["mixture"]) if row["mixture"] else {row["language"]: row["size"]}
        for name, pairs in mix.items():
            X[k, order[name]] = pairs
        multi[k] = any(v > 0 for name, v in mix.items() if name != row["language"])
    # distinct pairs: each language's own row of the same model says how many of its pairs were distinct
    runs = rest["run"].to_numpy(str) if m else np.array([], dtype=str)
    for run in dict.fromkeys(runs.tolist()):
        members = np.flatnonzero(runs == run)
        for k in members:
            j = lang[k]
            U[members, j] = float(rest["unique"].iloc[k]) if float(rest["size"].iloc[k]) > 0 else np.inf
    return frame[single], Points(tuple(languages), runs, lang, X, U, rest["score"].to_numpy(float), multi)
