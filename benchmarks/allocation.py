"""Benchmark: budgetlaw.allocate (exact KKT path) against a plain cvxpy formulation.

Baseline ("plain cvxpy"): the textbook model, one cvxpy power term per language, solved by
CLARABEL with its default settings, in units where the mean size is 1 (y_i = n*x_i/B):

    maximize  sum_i (C_i - K_i*(B/n)**(-c_i) * power(y_i, -c_i))
    subject   sum_i y_i <= n,  n*floor_i/B <= y_i <= n*cap_i/B

(In raw units, x ~ 1e5, CLARABEL stops "optimal_inaccurate" about 1% below the optimum at 6
languages and fails outright at 600, so the scaled model is the fair baseline.) Both solve the
same random problems (a third of the languages capped). Each solution is made feasible (clipped
to its bounds, scaled down if it overspends) and evaluated with the true laws; the gap is
(allocate - plain) / allocate. allocate(solver="cvxpy") (our exponential-cone model, the path
taken with extra constraints) is timed too. Times are wall clock for the whole call (cvxpy's
compile + solve; allocate's validation + solve + Plan), best of a few repeats.

    .venv/bin/python benchmarks/allocation.py            # 6, 60, 600 languages + a 100-budget sweep
    .venv/bin/python benchmarks/allocation.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import cvxpy as cp
import numpy as np

from budgetlaw.allocation import allocate, sweep
from budgetlaw.law import PowerLaw


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    langs = [f"l{i:03d}" for i in range(n)]
    laws = {k: PowerLaw.from_identifiable(rng.uniform(50, 500), rng.uniform(0.1, 0.7), 100.0) for k in langs}
    budget = 1e5 * n
    available = {k: float(rng.uniform(1e3, 1e5)) for k in langs[::3]}
    return laws, budget, available


def plain_cvxpy(laws, budget, available, floor):
    """The baseline model; returns feasible sizes in language order."""
    langs, n = list(laws), len(laws)
    unit = budget / n
    y = cp.Variable(n)
    terms = [laws[k].ceiling - laws[k].K * unit ** (-laws[k].c) * cp.power(y[i], -laws[k].c) for i, k in enumerate(langs)]
    cap = np.array([available.get(k, np.inf) for k in langs])
    capped = np.flatnonzero(np.isfinite(cap))
    cons = [cp.sum(y) <= n, y >= floor / unit, y[capped] <= cap[capped] / unit]
    cp.Problem(cp.Maximize(cp.sum(cp.hstack(terms))), cons).solve(solver="CLARABEL")
    x = np.clip(np.asarray(y.value, dtype=float) * unit, floor, cap)
    return x * min(1.0, budget / x.sum())


def total(laws, x):
    return float(sum(law.predict(v) for law, v in zip(laws.values(), x)))


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of the slow baseline runs")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, numpy {np.__version__}, cvxpy {cp.__version__}")
    print(f"{'case':<24}{'allocate':>11}{'alloc.cvxpy':>13}{'plain cvxpy':>13}{'speed-up':>10}{'gap plain':>11}{'gap cvxpy':>11}")
    for n in (6, 60, 600):
        laws, budget, available = problem(n)
        plan_t, plan = best_time(lambda: allocate(laws, budget, available=available), 20)
        ours_cvx_t, ours_cvx = best_time(lambda: allocate(laws, budget, available=available, solver="cvxpy"), 3)
        floor = plan.to_frame()["floor"].to_numpy()
        reps = 1 if (args.quick or n >= 600) else 3
        base_t, x = best_time(lambda: plain_cvxpy(laws, budget, available, floor), reps)
        ours = plan.objective_value
        gap = (ours - total(laws, x)) / abs(ours)
        gap_cvx = (ours - ours_cvx.objective_value) / abs(ours)
        print(f"{f'{n} languages':<24}{plan_t * 1e3:>9.2f}ms{ours_cvx_t * 1e3:>11.1f}ms{base_t * 1e3:>11.1f}ms"
              f"{base_t / plan_t:>9.0f}x{gap:>11.1e}{gap_cvx:>11.1e}")
    # Frontier: 100 budgets over 6 languages, one vectorised sweep against 100 plain cvxpy solves.
    laws, _, available = problem(6)
    budgets = np.geomspace(1e4, 1e8, 100)
    sweep_t, table = best_time(lambda: sweep(laws, budgets, available=available), 20)
    values = table.groupby("budget", sort=False)["objective_value"].first().to_numpy()
    t0 = time.perf_counter()
    gaps = []
    caps = np.array([available.get(k, np.inf) for k in laws])
    for b, ours in zip(budgets, values):
        x = plain_cvxpy(laws, b, available, np.minimum(1e-6 * b / 6, caps))
        gaps.append((ours - total(laws, x)) / abs(ours))
    base_t = time.perf_counter() - t0
    print(f"{'sweep 100 budgets x 6':<24}{sweep_t * 1e3:>9.2f}ms{'':>13}{base_t * 1e3:>11.1f}ms{base_t / sweep_t:>9.0f}x"
          f"{max(gaps, key=abs):>11.1e}")
    print("gap = (allocate - other) / allocate with the true laws (> 0: allocate is better); the sweep shows the largest |gap|")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
