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

Second part, scale: the public calls end to end as a user makes them - a dict of FittedLaws
(with bootstrap draws) and a per-language ``available`` dict - at 100 / 1,000 / 10,000
languages, next to the named baseline "solver alone" (budgetlaw.allocation.exact.solve_sum on arrays
prepared beforehand): allocate, sweep (13 budgets), each baseline, Plan.to_frame / compare /
to_dict / save, the report's tables (its summary part, no figures), the whole report with its
figures (up to ``--report-max`` languages; the figures' pixel sizes are printed) and fit on
synthetic pilots with a small n_boot. Also allocate's first call on a new LawSet (which stacks
its draws once) and allocate on a plain dict of PowerLaws (no draws). For each call it prints the time at every size and the growth
t(largest) / t(previous size): linear growth is ~10x per factor 10 of languages.

    .venv/bin/python benchmarks/allocation.py            # 6, 60, 600 languages + a 100-budget sweep, then scale
    .venv/bin/python benchmarks/allocation.py --quick    # fewer repeats
    .venv/bin/python benchmarks/allocation.py --no-cvxpy --sizes 100,1000   # scale part only, small sizes
"""

from __future__ import annotations

import argparse
import os
import platform
import struct
import tempfile
import time
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd

from budgetlaw.allocation import baselines, exact
from budgetlaw.allocation import allocate, prepare, sweep
from budgetlaw.fitting import FittedLaw, LawSet, fit
from budgetlaw.law import PowerLaw
from budgetlaw.reporting import report
from budgetlaw.reporting.summary import comparison_rows, gain_rows, law_rows, plan_rows, plan_warnings


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


def fitted_problem(n: int, draws: int = 200, seed: int = 0):
    """n FittedLaws with `draws` bootstrap draws each, `available` for every language, and a
    budget that binds (2e4 per language against caps of 1e3..1e5)."""
    rng = np.random.default_rng(seed)
    x = np.repeat([1e3, 1e4, 1e5], 3).astype(float)
    laws = {}
    for i in range(n):
        K, c = rng.uniform(50, 500), rng.uniform(0.1, 0.7)
        law = PowerLaw.from_identifiable(K, c, 100.0, b=1e-3)
        d = np.column_stack([K * np.exp(rng.normal(0, 0.05, draws)), c + rng.normal(0, 0.01, draws),
                             np.full(draws, 100.0)])
        laws[f"l{i:05d}"] = FittedLaw(f"l{i:05d}", law, x, law.predict(x) + rng.normal(0, 0.3, x.size), d)
    available = {k: float(rng.uniform(1e3, 1e5)) for k in laws}
    return LawSet(laws, metric="comet"), 2e4 * n, available


def pilots_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic pilots: n languages x 4 sizes x 2 seeds from known laws plus N(0, 0.5) noise
    (kept below the ceiling of 100)."""
    rng = np.random.default_rng(seed)
    sizes = np.repeat([1e3, 1e4, 3e4, 1e5], 2)
    K, c = rng.uniform(100, 300, n), rng.uniform(0.2, 0.5, n)
    scores = 100 - K[:, None] * sizes[None] ** (-c[:, None]) + rng.normal(0, 0.5, (n, sizes.size))
    scores = np.minimum(scores, 99.9)  # read_pilots refuses scores above the ceiling
    return pd.DataFrame({"language": np.repeat([f"l{i:05d}" for i in range(n)], sizes.size),
                         "size": np.tile(sizes, n), "seed": np.tile([0, 1] * 4, n), "score": scores.ravel()})


def report_tables(laws, plan, others):
    """The summary part of budgetlaw.report (its tables and warnings), without the figures."""
    caps = plan.constraints.get("available") or {}
    largest = {lang: float(f.max_pilot_size) for lang, f in laws.items()}
    flags = {lang: f.flags for lang, f in laws.items()}
    return (plan_rows(plan, caps, largest), comparison_rows([plan, *others], laws), gain_rows(plan, others),
            law_rows(laws), plan_warnings(laws, plan, flags, largest))


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header."""
    head = path.read_bytes()[:24]
    return struct.unpack(">II", head[16:24])


def scale(sizes, fit_max: int, repeats: int, report_max: int = 1000) -> None:
    """Public calls at each size against the solver alone; prints times and growth ratios."""
    folder = Path(tempfile.mkdtemp(prefix="budgetlaw-bench-"))
    times: dict[str, list[float]] = {}
    figures: dict[int, str] = {}
    for n in sizes:
        laws, budget, available = fitted_problem(n)
        problem = prepare(laws, budget, available=available)
        args = (problem.K, problem.c, problem.weights, problem.cost, problem.floor, problem.cap, problem.budget)
        plan = allocate(laws, budget, available=available)
        other = baselines.uniform(laws, budget, available=available)
        others = [other, baselines.unimax(laws, budget, available=available)]
        budgets = np.geomspace(budget / 8, budget * 4, 13)
        calls = {
            "solver alone (baseline)": lambda: exact.solve_sum(*args),
            "allocate": lambda: allocate(laws, budget, available=available),
            "sweep, 13 budgets": lambda: sweep(laws, budgets, available=available),
            "uniform": lambda: baselines.uniform(laws, budget, available=available),
            "proportional": lambda: baselines.proportional(laws, budget, available=available),
            "temperature": lambda: baselines.temperature(laws, budget, available=available),
            "unimax": lambda: baselines.unimax(laws, budget, available=available),
            "Plan.to_frame": lambda: plan.to_frame(),
            "Plan.compare": lambda: plan.compare(*others),
            "Plan.to_dict": lambda: plan.to_dict(),
            "Plan.save": lambda: plan.save(folder / "plan.json"),
            "report tables (no figures)": lambda: report_tables(laws, plan, others),
        }
        for name, call in calls.items():
            times.setdefault(name, []).append(best_time(call, repeats)[0])
        # the first call on a LawSet pays for stacking its draws and reading its parameters once
        # (LawSet.stacked_draws, LawSet.law_parameters); each repeat gets a new set of the same laws
        fresh = []
        for _ in range(repeats):
            new_set = LawSet(dict(laws.items()), metric=laws.metric)
            fresh.append(best_time(lambda: allocate(new_set, budget, available=available), 1)[0])
        times.setdefault("allocate, first call on a new LawSet", []).append(min(fresh))
        # the call as issue 9 made it: a plain dict of PowerLaws (no draws, so no intervals)
        plain = {lang: fitted.law for lang, fitted in laws.items()}
        times.setdefault("allocate, dict of PowerLaws", []).append(
            best_time(lambda: allocate(plain, budget, available=available), repeats)[0])
        # the whole report as a user makes it: default baselines, frontier, every table and figure
        name = "report, with figures"
        if n <= report_max:
            seconds, paths = best_time(lambda: report(laws, plan, out=folder / f"report-{n}"), 1)
            times.setdefault(name, []).append(seconds)
            pngs = sorted(v for v in paths.values() if str(v).endswith(".png"))
            figures[n] = ", ".join(f"{v.stem} {'x'.join(map(str, _png_size(v)))} px {v.stat().st_size // 1024} KB"
                                   for v in pngs)
        else:
            times.setdefault(name, []).append(float("nan"))
        name = "fit, n_boot=20"
        if n <= fit_max:
            pilots = pilots_frame(n)
            times.setdefault(name, []).append(best_time(lambda: fit(pilots, n_boot=20), 1)[0])
        else:
            times.setdefault(name, []).append(float("nan"))
    head = "".join(f"{f'{n:,} langs':>14}" for n in sizes)
    growth = f"{f'x{sizes[-1] // sizes[-2]} languages':>16}" if len(sizes) > 1 else ""
    print(f"\nscale: FittedLaws with 200 draws, available for every language; best of {repeats}")
    print(f"{'call':<28}{head}{growth}")
    for name, row in times.items():
        cells = "".join(f"{t * 1e3:>12.1f}ms" if np.isfinite(t) else f"{'-':>14}" for t in row)
        ratio = f"{row[-1] / row[-2]:>15.1f}x" if len(row) > 1 and np.isfinite(row[-1]) else ""
        print(f"{name:<28}{cells}{ratio}")
    print("growth = time at the largest size / time at the size before it (linear: the factor in languages)")
    for n, text in figures.items():
        print(f"report figures at {n:,} languages: {text}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of the slow baseline runs")
    parser.add_argument("--sizes", default="100,1000,10000", help="numbers of languages for the scale part")
    parser.add_argument("--fit-max", type=int, default=10_000, help="largest size at which fit is timed")
    parser.add_argument("--report-max", type=int, default=1000, help="largest size at which the whole report is timed")
    parser.add_argument("--no-cvxpy", action="store_true", help="skip the comparison with cvxpy")
    args = parser.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
    warnings.filterwarnings("ignore")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, numpy {np.__version__}, cvxpy {cp.__version__}")
    if not args.no_cvxpy:
        cvxpy_part(args.quick)
    if sizes:
        scale(sizes, args.fit_max, 1 if args.quick else 3, args.report_max)
    return 0


def cvxpy_part(quick: bool) -> None:
    print(f"{'case':<24}{'allocate':>11}{'alloc.cvxpy':>13}{'plain cvxpy':>13}{'speed-up':>10}{'gap plain':>11}{'gap cvxpy':>11}")
    for n in (6, 60, 600):
        laws, budget, available = problem(n)
        plan_t, plan = best_time(lambda: allocate(laws, budget, available=available), 20)
        ours_cvx_t, ours_cvx = best_time(lambda: allocate(laws, budget, available=available, solver="cvxpy"), 3)
        floor = plan.to_frame()["floor"].to_numpy()
        reps = 1 if (quick or n >= 600) else 3
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


if __name__ == "__main__":
    raise SystemExit(main())
