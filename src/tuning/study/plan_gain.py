"""The gain of a plan over a baseline, measured on trained models paired by seed, beside the gain
its laws predicted: the test of "is the plan worth it?" on real models.

Models of the plan (run kind ``plan_kind``) and of the baseline (``baseline_kind``) trained with
the same seed form a pair; for pair s and language i, with NLL as the loss (lower is better),

    g_si = nll_i(baseline, s) - nll_i(plan, s)          positive: the plan is better
    g_s  = mean_i g_si                                   the gain per language of seed s

and over the n paired seeds the measured gain is mean_s g_s with the two-sided t interval

    mean +- t_{(1 + level) / 2, n - 1} * sd_s(g_s) / sqrt(n)         (level 0.95 by default)

(none with one pair). Pairing removes what a seed does to both plans alike (its data order and
initial shuffling), which is most of the noise between two models. The predicted gain is
``budgetlaw.worth`` of the frozen plan over the frozen baseline under the laws the plan was made
from, divided by the number of languages (the plan's objective is the sum of the languages' NLL),
with its paired bootstrap interval at the same level.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

import budgetlaw as bl

__all__ = ["LEVEL", "paired_gain", "measured_interval", "gain_lines"]

LEVEL = 0.95


def paired_gain(records, plan_kind: str, baseline_kind: str) -> pd.DataFrame:
    """One row per paired seed and language: seed, language, plan_run, baseline_run, plan,
    baseline (their NLL) and gain (baseline - plan). Seeds with only one of the two are left out,
    and so are languages one of the pair was not scored on."""
    by_seed: dict[str, dict[int, dict]] = {plan_kind: {}, baseline_kind: {}}
    for r in records:
        if r["kind"] in by_seed:
            by_seed[r["kind"]][int(r["seed"])] = r
    rows = []
    for seed in sorted(set(by_seed[plan_kind]) & set(by_seed[baseline_kind])):
        p, b = by_seed[plan_kind][seed], by_seed[baseline_kind][seed]
        for lang in sorted(set(p["scores"]) & set(b["scores"])):
            mine, theirs = float(p["scores"][lang]["nll"]), float(b["scores"][lang]["nll"])
            rows.append({"seed": seed, "language": lang, "plan_run": p["run"], "baseline_run": b["run"],
                         "plan": mine, "baseline": theirs, "gain": theirs - mine})
    return pd.DataFrame(rows, columns=["seed", "language", "plan_run", "baseline_run", "plan", "baseline", "gain"])


def measured_interval(pairs: pd.DataFrame, level: float = LEVEL) -> tuple[float, float, float, int]:
    """(mean gain per language, lower, upper, seeds) over the paired seeds of ``paired_gain``;
    the bounds are NaN with fewer than two seeds."""
    from scipy import stats

    per_seed = pairs.groupby("seed")["gain"].mean().to_numpy(dtype=float)
    n = len(per_seed)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(per_seed.mean())
    if n < 2:
        return mean, math.nan, math.nan, 1
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * per_seed.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def _predicted(results: Path, laws_file: str, plan_file: str, baseline_file: str, level: float):
    laws = bl.load_laws(results / laws_file)
    plan, base = bl.load_plan(results / plan_file), bl.load_plan(results / baseline_file)
    w = bl.worth(laws, plan, base, level=level)
    n = len(plan.sizes)
    return w.gain / n, w.lower / n, w.upper / n, plan


def gain_lines(results, pairs: pd.DataFrame, *, plan_kind: str = "transfer-plan", baseline_kind: str = "uniform",
               laws_file: str = "laws_transfer_plan.json", plan_file: str = "plan_transfer.json",
               baseline_file: str = "plan_transfer_uniform.json", level: float = LEVEL) -> list[str]:
    """The Markdown section of the measured gain (``pairs``: :func:`paired_gain` of the two kinds)
    and the predicted one; [] before any pair is trained."""
    results = Path(results)
    if pairs.empty:
        return []
    mean, low, high, n = measured_interval(pairs, level)
    pct = f"{100 * level:.0f}%"
    lines = ["", f"## The plan made on the transfer-aware law, trained ({plan_kind} against {baseline_kind}, paired by seed)", ""]
    if (results / laws_file).exists() and (results / plan_file).exists() and (results / baseline_file).exists():
        p, plo, phi, plan = _predicted(results, laws_file, plan_file, baseline_file, level)
        plan_sizes = ", ".join(f"{k} {int(round(float(v)))}" for k, v in plan.sizes.items())
        lines += [f"Plan ({plan_file}): {plan_sizes}. Predicted gain per language (NLL, nats/token; positive: "
                  f"the plan is better), under {laws_file}: **{p:+.4f}** ({pct} interval {plo:+.4f} to {phi:+.4f}).", ""]
    interval = f"{pct} interval {low:+.4f} to {high:+.4f}" if n >= 2 else "one seed: no interval"
    lines += [f"Measured over {n} seed{'s' if n != 1 else ''}: **{mean:+.4f}** ({interval}; t interval over the "
              "seeds' mean gains).", "",
              "| seed | " + " | ".join(sorted(pairs["language"].unique())) + " | mean |",
              "|---" * (pairs["language"].nunique() + 2) + "|"]
    for seed, g in pairs.groupby("seed"):
        g = g.set_index("language")["gain"].sort_index()
        lines.append(f"| {seed} | " + " | ".join(f"{v:+.3f}" for v in g) + f" | {g.mean():+.4f} |")
    per_lang = pairs.groupby("language")["gain"].mean().sort_index()
    lines.append("| mean | " + " | ".join(f"{v:+.3f}" for v in per_lang) + f" | {mean:+.4f} |")
    return lines
