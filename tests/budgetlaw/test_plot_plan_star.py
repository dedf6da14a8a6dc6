"""The laws figure marks the plan on each language's panel: on the own-pairs curve for
one-language laws, at the plan's own prediction for a transfer law (which the other languages'
pairs move off that curve)."""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from budgetlaw.reporting.plots import plot_laws


def _stars(monkeypatch):
    seen = []
    original = Axes.scatter

    def spy(self, x, y, *args, **kwargs):
        if kwargs.get("marker") == "*":
            seen.append((float(np.asarray(x)[0]), float(np.asarray(y)[0]), kwargs.get("label")))
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "scatter", spy)
    return seen


def _curves():
    x = np.array([10.0, 100.0, 1000.0])
    return pd.DataFrame({"language": ["ar"] * 3, "size": x, "score": [3.0, 2.0, 1.0]})


def test_star_sits_on_the_curve_without_transfer(tmp_path, monkeypatch):
    seen = _stars(monkeypatch)
    plot_laws(_curves(), tmp_path / "laws.png", planned={"ar": 10.0 ** 2.5})
    # log-linear interpolation halfway between 100 (2.0) and 1000 (1.0) in log size: 1.5
    assert len(seen) == 1 and seen[0][2] == "optimised plan"
    assert np.allclose(seen[0][:2], (10.0 ** 2.5, 1.5))


def test_star_sits_at_the_plans_prediction_with_transfer(tmp_path, monkeypatch):
    seen = _stars(monkeypatch)
    plot_laws(_curves(), tmp_path / "laws.png", planned={"ar": 1000.0}, planned_scores={"ar": 0.8})
    assert seen == [(1000.0, 0.8, "optimised plan (with transfer from the others)")]
