"""The bundled demo data: synthetic pilot scores drawn from known laws, and a limits file.

The demo pilots are NOT measurements. They are drawn from six saturating power laws, one per
language of the published En-X work (ar, el, hi, tr, vi, zh), at the pilot sizes a user would
afford (10k to 200k pairs) with three training seeds each::

    score = ceiling - a * (b * x) ** (-c) + noise,  noise ~ Normal(0, sd(x))
    sd(x) = 0.3 + 0.3 * sqrt(10_000 / x)           (COMET points; seed noise shrinks with data)

En-Ar is the published law 100 - 42.5 * (0.04 x) ** (-0.11); the other five are plausible
variations (lower c = flatter curve, smaller a = closer to the ceiling). Every row carries
``source = synthetic`` so that a report made from them says so.

``python -m budgetlaw.synthetic OUT.csv`` regenerates ``data/demo_pilots.csv`` exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetlaw.demo_data import SYNTHETIC
from budgetlaw.law import PowerLaw

__all__ = [
    "DEMO_LAWS",
    "DEMO_SIZES",
    "DEMO_SEEDS",
    "DEMO_BUDGET",
    "DEMO_METRIC",
    "SYNTHETIC_SOURCE",
    "demo_laws",
    "noise_sd",
    "generate_pilots",
    "demo_pilots_path",
    "demo_limits_path",
]

#: (a, b, c) of the generating laws, ceiling 100 (COMET x 100).
DEMO_LAWS: dict[str, tuple[float, float, float]] = {
    "ar": (42.5, 0.04, 0.11),  # the published En-Ar law
    "el": (30.0, 0.05, 0.10),  # close to the ceiling already: little left to gain
    "hi": (52.0, 0.03, 0.14),  # far from the ceiling and steep: the best use of data
    "tr": (46.0, 0.04, 0.12),
    "vi": (34.0, 0.05, 0.10),
    "zh": (40.0, 0.04, 0.085),  # flattest curve
}
DEMO_SIZES: tuple[int, ...] = (10_000, 20_000, 50_000, 100_000, 200_000)
DEMO_SEEDS = 3
DEMO_BUDGET = 1_200_000.0
DEMO_METRIC = "comet"
SYNTHETIC_SOURCE = "synthetic"
_GENERATOR_SEED = 20240611


def demo_laws() -> dict[str, PowerLaw]:
    """The generating laws as PowerLaw objects (ceiling 100)."""
    return {lang: PowerLaw(a, b, c) for lang, (a, b, c) in DEMO_LAWS.items()}


def noise_sd(size) -> np.ndarray:
    """Seed-to-seed standard deviation of the score at ``size``: 0.3 + 0.3 * sqrt(10k / size)."""
    return 0.3 + 0.3 * np.sqrt(10_000.0 / np.asarray(size, dtype=float))


def generate_pilots(
    laws: dict[str, PowerLaw] | None = None,
    sizes=DEMO_SIZES,
    n_seeds: int = DEMO_SEEDS,
    seed: int = _GENERATOR_SEED,
    metric: str = DEMO_METRIC,
) -> pd.DataFrame:
    """Draw a pilots table (language, size, score, seed, metric, source) from ``laws``.

    Scores are rounded to 2 decimals like a results sheet; the draw is fixed by ``seed``.
    """
    laws = demo_laws() if laws is None else laws
    rng = np.random.default_rng(seed)
    rows = []
    for language in sorted(laws):
        law = laws[language]
        for size in sizes:
            mean = law.predict(float(size))
            for run in range(n_seeds):
                score = mean + rng.normal(0.0, float(noise_sd(size)))
                rows.append((language, int(size), round(float(score), 2), run, metric, SYNTHETIC_SOURCE))
    return pd.DataFrame(rows, columns=["language", "size", "score", "seed", "metric", "source"])


def demo_pilots_path() -> Path:
    """Path of the bundled synthetic pilots, ``budgetlaw/data/demo_pilots.csv``."""
    return SYNTHETIC.pilots_path


def demo_limits_path() -> Path:
    """Path of the bundled demo limits, ``budgetlaw/data/demo_limits.csv`` (LANGS.csv format)."""
    return SYNTHETIC.limits_path


if __name__ == "__main__":  # pragma: no cover - regeneration helper
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else demo_pilots_path()
    generate_pilots().to_csv(target, index=False, lineterminator="\n")
