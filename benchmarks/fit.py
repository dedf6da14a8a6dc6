"""Benchmark: budgetlaw.fit (vectorised bootstrap) against the naive bootstrap, in one run.

Data: 6 languages x 5 pilot sizes x 3 seeds from known laws with N(0, 0.5) noise.
Ours: ``budgetlaw.fit(pilots, n_boot=1000)``: point fit, holdout refit and 1000 residual-bootstrap
refits per language (the draws solved all at once in numpy).
Baseline (naive bootstrap): the same resampled data sets refitted one by one in a Python loop of
``scipy.optimize.least_squares`` (same soft_l1 loss, f_scale and bounds, started from the point
estimate). It is run on ``--naive-draws`` draws per language and extrapolated per draw to 1000.

    .venv/bin/python benchmarks/fit.py [--repeats 3] [--naive-draws 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import zlib

import numpy as np
import pandas as pd
import scipy
from scipy.optimize import least_squares

from budgetlaw.fitting.engine import resample
from budgetlaw.fitting import fit

LANGUAGES = ("ar", "el", "hi", "tr", "vi", "zh")
SIZES = (1e3, 3e3, 1e4, 3e4, 1e5)
N_BOOT = 1000


def make_pilots(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for lang in LANGUAGES:
        c = rng.uniform(0.1, 0.5)
        K = rng.uniform(20, 45) * SIZES[0] ** c
        for size in SIZES:
            for run in range(3):
                rows.append((lang, size, 100 - K * size ** (-c) + rng.normal(0, 0.5), run))
    return pd.DataFrame(rows, columns=["language", "size", "score", "seed"])


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def naive_bootstrap(law, n_draws: int, seed: int):
    """The same draws as fit() makes, refitted one at a time with scipy. Returns (K, c) array, seconds."""
    x, y = law.x, law.y
    pred = law.predict(x)
    rng = np.random.default_rng([seed, zlib.crc32(law.language.encode("utf-8"))])
    ystar = resample(pred, y - pred, 2, N_BOOT, rng)[:n_draws]
    t = np.log(x / law.law.x_ref)
    start = np.array([np.log(law.a), law.c])
    lower, upper = [np.log(1e-9 * 100), 0.005], [np.inf, 2.0]
    out = []
    began = time.perf_counter()
    for row in ystar:
        res = least_squares(lambda q, row=row: row - (100.0 - np.exp(q[0] - q[1] * t)), start, loss="soft_l1",
                            f_scale=law.f_scale, bounds=(lower, upper), method="trf")
        out.append((np.exp(res.x[0]) * law.law.x_ref ** res.x[1], res.x[1]))
    return np.array(out), time.perf_counter() - began


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours (best is reported)")
    parser.add_argument("--naive-draws", type=int, default=100, help="draws per language for the naive loop")
    args = parser.parse_args(argv)

    pilots = make_pilots()
    fit(pilots, n_boot=10)  # warm up imports and caches
    times = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        laws = fit(pilots, n_boot=N_BOOT, seed=0)
        times.append(time.perf_counter() - began)
    ours = min(times)
    began = time.perf_counter()
    fit(pilots, n_boot=0, seed=0)
    no_boot = time.perf_counter() - began
    ours_boot = max(ours - no_boot, 1e-9)

    naive_time, dc = 0.0, []
    for lang in LANGUAGES:
        draws, seconds = naive_bootstrap(laws[lang], args.naive_draws, seed=0)
        naive_time += seconds
        dc.append(np.abs(draws[:, 1] - laws[lang].draws[: args.naive_draws, 1]))
    per_draw = naive_time / (len(LANGUAGES) * args.naive_draws)
    naive_boot = per_draw * N_BOOT * len(LANGUAGES)
    naive_total = no_boot + naive_boot
    dc = np.concatenate(dc)

    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"data: {len(LANGUAGES)} languages x {len(SIZES)} sizes x 3 seeds, {N_BOOT} bootstrap draws per language")
    print(f"ours  fit(n_boot={N_BOOT}) whole call, best of {args.repeats}: {ours:.3f} s "
          f"(point fits + holdouts {no_boot:.3f} s, bootstrap {ours_boot:.3f} s)")
    print(f"naive bootstrap loop: {per_draw * 1e3:.2f} ms per draw, measured on {args.naive_draws} draws x "
          f"{len(LANGUAGES)} languages; extrapolated to {N_BOOT} x {len(LANGUAGES)}: {naive_boot:.1f} s "
          f"(whole fit {naive_total:.1f} s)")
    print(f"ratio bootstrap naive/ours: {naive_boot / ours_boot:.1f}x; whole fit: {naive_total / ours:.1f}x")
    print(f"agreement on the same draws: |c_ours - c_naive| median {np.median(dc):.1e}, "
          f"95th percentile {np.quantile(dc, 0.95):.1e}, max {dc.max():.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
