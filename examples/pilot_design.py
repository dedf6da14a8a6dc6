"""Does choosing each next pilot by its value to the plan beat a fixed ladder? (docs/pilot-design.md)

    python examples/pilot_design.py                      # 500 synthetic studies + the SmolLM2 retrospective
    python examples/pilot_design.py --studies 40         # fewer studies (the first 40 of the same list)
    python examples/pilot_design.py --report-only        # tables and figures from what is recorded

Writes docs/results/pilot-design/: studies.jsonl.gz (one line per study, sorted by k, gzip with
mtime 0 so the bytes are stable; while a run is going each study is appended to studies.jsonl as it
finishes, so a run that is stopped resumes where it was, and the plain file is folded into the .gz
at the end), retrospective.json, summary.json, regret_vs_cost.png (three panels: regret vs pilot
cost, one study's chosen pilots, the retrospective). Study k is drawn from seed k alone: the list
is the same for any --studies. Studies whose start design can never be fitted (a capped language
with too few rungs below its cap) are listed as `unfittable` in summary.json and left out of it.

A study: six languages whose true laws are SmolLM2-like NLL laws (E + K x^-c, sizes 25-800 pairs)
or COMET-scale score laws (100 - K x^-c, sizes 10k-320k), exponents 0.05-0.5, alike or far apart,
caps that bind (two languages with little data) or none, a plan budget where planning matters and
one where it matters less, and seed noise that is larger at small sizes. Three designs buy pilots
at equal pilot cost (pairs + one smallest pilot per run):

    ladder    per language sizes s0 * 2^k, k = 0..4, and second seeds at k = 1 and 3 (the SmolLM2
              design), bought rung by rung across the languages
    adaptive  the smallest design that fits (rungs 0..3 for a loss law, 0..2 for a score law), then
              budgetlaw.design.rank_pilots's best candidate of each language per round (6 a round)
    random    the same start, then candidates drawn at random from rungs 0..5 of each language

Each design's plan (the point laws' exact optimum) is judged under the true laws: its true regret
as a share of the true optimum's gain over uniform.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import budgetlaw as bl
from budgetlaw.allocation.baselines import water_fill
from budgetlaw.design import best_sizes, rank_pilots
from budgetlaw.design.regret import regret_of
from budgetlaw.fitting.laws import LawSet

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "pilot-design"
DATA = Path(bl.__file__).resolve().parent / "data"
LANGS = ("ar", "el", "hi", "tr", "vi", "zh")
FRACTIONS = (0.3, 0.4, 0.5, 0.625, 0.75, 0.875, 1.0)  # checkpoints, shares of the ladder's pilot cost
N_BOOT, N_OUTCOMES, BATCH = 60, 8, 6

log = logging.getLogger("pilot_design")


# -- one synthetic study ------------------------------------------------------------------------
def draw_study(k: int) -> dict:
    rng = np.random.default_rng([2026, k])
    kind = "nll" if k % 2 == 0 else "comet"
    diverse = bool((k // 2) % 2)
    capped = bool((k // 4) % 2)
    big = bool((k // 8) % 2)
    c0 = rng.uniform(0.08, 0.4)
    c = np.clip(c0 * np.exp(rng.normal(0, 0.6 if diverse else 0.12, 6)), 0.05, 0.5)
    if kind == "nll":
        s0, floor = 25.0, rng.uniform(1.0, 3.0, 6)
        gap = rng.uniform(0.4, 1.6, 6) if diverse else rng.uniform(0.8, 1.0, 6)
        sd0 = rng.uniform(0.02, 0.07)
        budget = 6 * s0 * (36.0 if big else 6.0)
    else:
        s0, floor = 10_000.0, np.full(6, 100.0)
        gap = rng.uniform(10, 40, 6) if diverse else rng.uniform(20, 25, 6)
        sd0 = rng.uniform(0.3, 0.6)
        budget = 6 * s0 * (60.0 if big else 12.0)
    K = gap * s0 ** c
    available = {}
    if capped:
        for i in rng.choice(6, 2, replace=False):
            available[LANGS[i]] = float(round(0.4 * budget / 6))
    return {"k": k, "kind": kind, "diverse": diverse, "capped": capped, "big": big, "s0": s0, "K": K.tolist(),
            "c": c.tolist(), "floor": floor.tolist(), "sd0": sd0, "budget": budget, "available": available}


def noise_sd(study, size):
    """Seed sd at ``size``: sd0 * (0.5 + 0.5 * sqrt(s0 / size)): twice as large at s0 as far above it."""
    return study["sd0"] * (0.5 + 0.5 * math.sqrt(study["s0"] / size))


def arrays(study):
    n = len(LANGS)
    lo = np.full(n, 1e-6 * study["budget"] / n)
    hi = np.array([study["available"].get(lang, np.inf) for lang in LANGS])
    return np.ones(n), np.ones(n), lo, hi, study["budget"]


def truth(study):
    K, c = np.array(study["K"]), np.array(study["c"])
    w, cost, lo, hi, B = arrays(study)
    best = best_sizes(K, c, w, cost, lo, hi, B)
    uniform, _ = water_fill(np.ones(len(K)), lo, hi, cost, B)
    gain = float(regret_of(uniform, best, K, c, w))
    sd_J = math.sqrt(sum(noise_sd(study, x) ** 2 for x in uniform))
    return best, gain, sd_J


def true_share(study, laws) -> float:
    """True regret of the plan from ``laws`` (None: uniform) as a share of the true optimum's gain."""
    K, c = np.array(study["K"]), np.array(study["c"])
    w, cost, lo, hi, B = arrays(study)
    best, gain, _ = truth(study)
    if laws is None:
        plan, _ = water_fill(np.ones(len(K)), lo, hi, cost, B)
    else:
        plan = best_sizes(np.array([laws[l].K for l in LANGS]), np.array([laws[l].c for l in LANGS]), w, cost, lo, hi, B)
    return float(regret_of(plan, best, K, c, w)) / gain if gain > 0 else 0.0


class Runner:
    """The pilots bought so far in one study, their cost, and the laws fitted to them."""

    def __init__(self, study, rng):
        self.study, self.rng, self.rows, self.cost, self.laws = study, rng, [], 0.0, {}
        self.lower = study["kind"] == "nll"

    def run(self, lang, size):
        s = self.study
        i = LANGS.index(lang)
        mean = s["floor"][i] + s["K"][i] * size ** -s["c"][i] if self.lower else 100 - s["K"][i] * size ** -s["c"][i]
        score = mean + self.rng.normal(0, noise_sd(s, size))
        if not self.lower:
            score = min(score, 100.0)
        seed = sum(1 for r in self.rows if r[0] == lang and r[1] == size)
        self.rows.append((lang, float(size), float(score), seed))
        self.cost += size + s["s0"]
        self.laws.pop(lang, None)

    def fitted(self):
        """LawSet of every language, or None while some language has too few sizes to fit."""
        frame = pd.DataFrame(self.rows, columns=["language", "size", "score", "seed"])
        need = 4 if self.lower else 3
        for lang in LANGS:
            if lang in self.laws:
                continue
            rows = frame[frame["language"] == lang]
            if rows["size"].nunique() < need:
                return None
            self.laws[lang] = bl.fit(rows, n_boot=N_BOOT, seed=0, lower_is_better=self.lower)[lang]
        return LawSet({lang: self.laws[lang] for lang in LANGS})


def rungs(study, top):
    cap = lambda lang: study["available"].get(lang, math.inf)  # noqa: E731
    return {lang: [study["s0"] * 2**k for k in range(top + 1) if study["s0"] * 2**k <= cap(lang)] for lang in LANGS}


def ladder_order(study):
    sizes = rungs(study, 4)
    order = [(lang, sizes[lang][k]) for k in range(5) for lang in LANGS if k < len(sizes[lang])]
    order += [(lang, sizes[lang][k]) for k in (1, 3) for lang in LANGS if k < len(sizes[lang])]
    return order


def cost_of(study, order):
    return sum(size + study["s0"] for _, size in order)


def curve(study, runner_factory, buy, ladder_cost, record=None):
    """Shares at the checkpoints: buy() adds pilots to the runner until it returns False."""
    runner = runner_factory()
    points = []  # (cost, share) after each purchase that could be fitted
    while True:
        laws = runner.fitted()
        points.append((runner.cost, true_share(study, laws), laws))
        if not buy(runner, laws, record) or runner.cost >= ladder_cost:
            break
    return points


def at_checkpoints(points, ladder_cost):
    out = []
    for f in FRACTIONS:
        ok = [share for cost, share, _ in points if cost <= f * ladder_cost + 1e-9]
        out.append(ok[-1] if ok else 1.0)
    return out


def one_study(k: int) -> dict:
    t0 = time.time()
    study = draw_study(k)
    lower = study["kind"] == "nll"
    _, gain, sd_J = truth(study)
    order = ladder_order(study)
    ladder_cost = cost_of(study, order)
    start_top = 3 if lower else 2
    start = [(lang, size) for lang, sizes in rungs(study, start_top).items() for size in sizes]
    w, cost, lo, hi, B = arrays(study)

    def factory(seed):
        def make():
            r = Runner(study, np.random.default_rng([k, seed]))
            for lang, size in start:
                r.run(lang, size)
            return r
        return make

    # ladder: its own order from nothing, judged after every rung
    runner = Runner(study, np.random.default_rng([k, 1]))
    ladder_points = []
    for j, (lang, size) in enumerate(order):
        runner.run(lang, size)
        last_of_round = j + 1 == len(order) or runner.cost + order[j + 1][1] + study["s0"] > ladder_cost or \
            (j + 1) % len(LANGS) == 0
        if last_of_round:
            ladder_points.append((runner.cost, true_share(study, runner.fitted()), None))
    ladder_final = ladder_points[-1][1]

    cache, chosen, verdicts = {}, [], []

    def adaptive(r, laws, _):
        if laws is None:
            return False
        table = rank_pilots(laws, budget=B, available=study["available"] or None, n=None, cost={"pair": 1, "run": study["s0"]},
                            pilots=pd.DataFrame(r.rows, columns=["language", "size", "score", "seed"]),
                            n_outcomes=N_OUTCOMES, cache=cache, pilot_budget=max(ladder_cost - r.cost, 2 * study["s0"]))
        verdicts.append({"cost": r.cost, "stop": bool(table.attrs["stop"]),
                         "planning": bool(table.attrs["planning_worth_it"]), "regret": table.attrs["regret"]["expected"]})
        picked = table.drop_duplicates("language").head(BATCH)
        for row in picked.itertuples():
            if r.cost + row.cost > ladder_cost + 1e-9:
                continue
            chosen.append({"round": len(verdicts), "language": row.language, "size": row.size,
                           "value_per_cost": row.value_per_cost, "kind": row.kind})
            r.run(row.language, row.size)
        return len(picked) > 0 and any(r.cost + c <= ladder_cost for c in picked["cost"])

    pool = [(lang, size) for lang, sizes in rungs(study, 5).items() for size in sizes]
    rng_random = np.random.default_rng([k, 3])

    def random(r, laws, _):
        affordable = [p for p in pool if r.cost + p[1] + study["s0"] <= ladder_cost]
        if not affordable:
            return False
        for _ in range(BATCH):
            affordable = [p for p in pool if r.cost + p[1] + study["s0"] <= ladder_cost]
            if affordable:
                r.run(*affordable[rng_random.integers(len(affordable))])
        return True

    adaptive_points = curve(study, factory(2), adaptive, ladder_cost)
    random_points = curve(study, factory(3), random, ladder_cost)
    # cost at which each design first reaches the ladder's final true regret
    reach = {name: next((c / ladder_cost for c, s, _ in pts if s <= ladder_final + 1e-12), None)
             for name, pts in (("ladder", ladder_points), ("adaptive", adaptive_points), ("random", random_points))}
    stop_at = next((v for v in verdicts if v["stop"]), None)
    final_planning = verdicts[-1]["planning"] if verdicts else None
    return {**{key: study[key] for key in ("k", "kind", "diverse", "capped", "big")},
            "true_gain": gain, "true_sd": sd_J, "planning_true": bool(gain > sd_J), "ladder_cost": ladder_cost,
            "start_cost": float(cost_of(study, start)),
            "ladder": at_checkpoints(ladder_points, ladder_cost), "adaptive": at_checkpoints(adaptive_points, ladder_cost),
            "random": at_checkpoints(random_points, ladder_cost), "reach": reach,
            "stop_cost": None if stop_at is None else stop_at["cost"] / ladder_cost,
            "stop_share": None if stop_at is None else
            next(s for c, s, _ in adaptive_points if c >= stop_at["cost"] - 1e-9),
            "planning_said": final_planning, "chosen": chosen, "seconds": time.time() - t0}


# -- the retrospective on the committed SmolLM2 pilots --------------------------------------------
def retrospective() -> dict:
    pilots = bl.read_pilots(DATA / "smollm2_gettext_pilots.csv", lower_is_better=True, min_sizes=0)
    from budgetlaw.pilots import one_language

    runs = pilots[one_language(pilots)][["language", "size", "score", "seed"]].reset_index(drop=True)
    limits = bl.read_limits(DATA / "smollm2_gettext_limits.csv")
    available = {k: float(v) for k, v in limits["available"].items()}
    langs = sorted(runs["language"].unique())
    budget = 900.0
    n = len(langs)
    w, cost = np.ones(n), np.ones(n)
    lo, hi = np.full(n, 1e-6 * budget / n), np.array([available[l] for l in langs])
    full = bl.fit(runs, n_boot=N_BOOT, lower_is_better=True)
    Kf, cf = np.array([full[l].K for l in langs]), np.array([full[l].c for l in langs])
    best = best_sizes(Kf, cf, w, cost, lo, hi, budget)
    uniform, _ = water_fill(np.ones(n), lo, hi, cost, budget)
    gain = float(regret_of(uniform, best, Kf, cf, w))
    start = runs[(runs["seed"] == 1) & runs["size"].isin([25, 50, 100, 200])]
    rest = runs.drop(start.index)
    run_cost = 25.0

    def judge(frame):
        laws = bl.fit(frame, n_boot=N_BOOT, lower_is_better=True)
        plan = best_sizes(np.array([laws[l].K for l in langs]), np.array([laws[l].c for l in langs]), w, cost, lo, hi, budget)
        return float(regret_of(plan, best, Kf, cf, w)), laws, plan

    ladder = [rest[(rest["seed"] == 2) & (rest["size"] == 50)], rest[(rest["seed"] == 2) & (rest["size"] == 200)],
              rest[rest["size"] == 400], rest[rest["size"] == 800]]
    ladder = pd.concat(ladder).index.tolist()
    out = {"budget": budget, "full_gain_over_uniform": gain, "full_plan": dict(zip(langs, best.round(1).tolist())),
           "start_runs": len(start), "start_cost": float((start["size"] + run_cost).sum()), "ladder": [], "adaptive": []}
    for name in ("ladder", "adaptive"):
        used, left, cache = list(start.index), list(rest.index), {}
        regret, laws, plan = judge(runs.loc[used])
        out[name].append({"k": 0, "cost": float((runs.loc[used, "size"] + run_cost).sum()), "regret": regret,
                          "share": regret / gain, "run": None})
        while left:
            if name == "ladder":
                pick = ladder[len(used) - len(start)]
                verdict = None
            else:
                cands = [(runs.at[j, "language"], runs.at[j, "size"]) for j in left]
                table = rank_pilots(laws, budget=budget, available=available, candidates=cands, n=None,
                                    cost={"pair": 1, "run": run_cost}, pilots=runs.loc[used], n_outcomes=N_OUTCOMES,
                                    cache=cache)
                top = table.iloc[0]
                pick = next(j for j in left if runs.at[j, "language"] == top.language and runs.at[j, "size"] == top["size"])
                verdict = table.attrs["verdict"].split(";")[0]
            used.append(pick)
            left.remove(pick)
            regret, laws, plan = judge(runs.loc[used])
            r = runs.loc[pick]
            out[name].append({"k": len(used) - len(start), "cost": float((runs.loc[used, "size"] + run_cost).sum()),
                              "regret": regret, "share": regret / gain, "verdict_before": verdict,
                              "run": f"{r.language}-{int(r['size'])}-s{int(r.seed)}"})
    return out


# -- summary and figures ------------------------------------------------------------------------------
def fittable(row: dict) -> bool:
    """The start design could be fitted: a language capped below four (three) rungs never can."""
    return bool(row["chosen"]) or any(v < 1.0 for v in row["ladder"] + row["adaptive"])


def summarise(studies: list[dict], retro: dict | None) -> dict:
    skipped = [r["k"] for r in studies if not fittable(r)]
    studies = [r for r in studies if fittable(r)]
    frame = pd.DataFrame(studies)

    def med(rows, name):
        return [float(np.median([r[name][j] for r in rows])) for j in range(len(FRACTIONS))]

    def reach_med(rows, name):
        values = [r["reach"][name] if r["reach"][name] is not None else math.inf for r in rows]
        return float(np.median(values)) if values else math.nan

    groups = {"all": studies}
    for key in ("kind", "diverse", "capped", "big"):
        for value in sorted(frame[key].unique(), key=str):
            groups[f"{key}={value}"] = [r for r in studies if r[key] == value]
    groups["planning matters (true gain > seed sd)"] = [r for r in studies if r["planning_true"]]
    groups["planning does not matter"] = [r for r in studies if not r["planning_true"]]
    out = {"studies": len(studies), "unfittable": skipped, "fractions": list(FRACTIONS),
           "study_seconds_total": float(sum(r["seconds"] for r in studies)), "groups": {}}
    for name, rows in groups.items():
        if not rows:
            continue
        out["groups"][name] = {
            "n": len(rows),
            "median_share": {d: med(rows, d) for d in ("ladder", "adaptive", "random")},
            "median_reach": {d: reach_med(rows, d) for d in ("adaptive", "random")},
            "adaptive_reaches_at_half": float(np.mean([(r["reach"]["adaptive"] or math.inf) <= 0.5 for r in rows])),
            "start_cost_share": float(np.median([r["start_cost"] / r["ladder_cost"] for r in rows])),
            "planning_verdict_right": float(np.mean([r["planning_said"] == r["planning_true"] for r in rows
                                                     if r["planning_said"] is not None])),
            "adaptive_beats_ladder_at_full": float(np.mean([r["adaptive"][-1] < r["ladder"][-1] - 1e-12 for r in rows])),
            "adaptive_worse_than_ladder_at_full": float(np.mean([r["adaptive"][-1] > r["ladder"][-1] + 1e-12 for r in rows])),
            "worse_than_uniform_at_full": {d: float(np.mean([r[d][-1] > 1.0 for r in rows]))
                                           for d in ("ladder", "adaptive", "random")},
            "stopped_early": float(np.mean([r["stop_cost"] is not None for r in rows])),
        }
    if retro:
        out["retrospective"] = {name: [(p["k"], p["cost"], p["share"], p["run"]) for p in retro[name]]
                                for name in ("ladder", "adaptive")}
    return out


def figures(studies: list[dict], retro: dict | None, out: Path = OUT) -> None:
    studies = [r for r in studies if fittable(r)]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 3 if retro else 2, figsize=(15 if retro else 10, 4.2))
    x = np.array(FRACTIONS)
    for name, color in (("ladder", "k"), ("adaptive", "tab:blue"), ("random", "tab:orange")):
        values = np.array([r[name] for r in studies])
        q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75], axis=0)
        axes[0].plot(x, q50, "o-", color=color, label=f"{name} (median)")
        axes[0].fill_between(x, q25, q75, color=color, alpha=0.15)
    axes[0].set_xlabel("pilot cost / the ladder's pilot cost")
    axes[0].set_ylabel("true regret / true optimum's gain over uniform")
    axes[0].set_title(f"{len(studies)} synthetic studies (band: quartiles)")
    axes[0].set_ylim(0, 1.05)
    axes[0].legend()
    study = next((r for r in studies if r["chosen"] and r["kind"] == "nll" and r["diverse"]), studies[0])
    for i, lang in enumerate(LANGS):
        picks = [(c["round"], c["size"]) for c in study["chosen"] if c["language"] == lang]
        if picks:
            axes[1].scatter(*zip(*picks), label=lang, s=50, color=plt.cm.tab10(i))
    axes[1].set_yscale("log")
    axes[1].xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # rounds are whole
    axes[1].set_xlabel("round of the adaptive design (up to 6 pilots a round)")
    axes[1].set_ylabel("pilot size (pairs)")
    axes[1].set_title(f"study {study['k']} ({study['kind']}, diverse={study['diverse']}, capped={study['capped']}): "
                      "the pilots chosen", fontsize=9)
    axes[1].legend(fontsize=8)
    if retro:
        for name, color in (("ladder", "k"), ("adaptive", "tab:blue")):
            pts = retro[name]
            axes[2].plot([p["cost"] for p in pts], [p["share"] for p in pts], "o-", color=color, label=name)
        axes[2].set_xlabel("pilot cost (pairs + 25 per run)")
        axes[2].set_ylabel("regret vs the plan from every record / its gain")
        axes[2].set_title("SmolLM2 retrospective (existing runs only)", fontsize=9)
        axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "regret_vs_cost.png", dpi=110)
    plt.close(fig)


def read_studies(out: Path) -> dict[int, dict]:
    """Rows by k: the committed studies.jsonl.gz, then any studies.jsonl a running simulation appends to."""
    done = {}
    texts = []
    if (out / "studies.jsonl.gz").exists():
        texts.append(gzip.decompress((out / "studies.jsonl.gz").read_bytes()).decode())
    if (out / "studies.jsonl").exists():
        texts.append((out / "studies.jsonl").read_text())
    for text in texts:
        for line in text.splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["k"]] = row
    return done


def write_studies(out: Path, done: dict[int, dict]) -> None:
    """All rows, sorted by k, into studies.jsonl.gz (mtime 0: the same rows give the same bytes)."""
    text = "".join(json.dumps(done[k]) + "\n" for k in sorted(done))
    tmp = out / "studies.jsonl.gz.tmp"
    tmp.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    tmp.replace(out / "studies.jsonl.gz")
    (out / "studies.jsonl").unlink(missing_ok=True)


def report(out: Path, done: dict[int, dict], retro: dict | None) -> dict:
    studies = [done[k] for k in sorted(done)]
    summary = summarise(studies, retro)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    figures(studies, retro, out)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--no-retrospective", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT, help="the results folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("budgetlaw").setLevel(logging.ERROR)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    done = read_studies(out)
    retro_path = out / "retrospective.json"  # first: a minute, where the studies take hours
    if not args.no_retrospective and not args.report_only and not retro_path.exists():
        retro_path.write_text(json.dumps(retrospective(), indent=1))
    if not args.report_only:
        with (out / "studies.jsonl").open("a") as handle:
            for k in range(args.studies):
                if k in done:
                    continue
                row = one_study(k)
                handle.write(json.dumps(row) + "\n")
                handle.flush()
                done[k] = row
                log.info("study %d (%s): ladder %.3f adaptive %.3f random %.3f at full cost, %.1f s", k, row["kind"],
                         row["ladder"][-1], row["adaptive"][-1], row["random"][-1], row["seconds"])
        write_studies(out, done)
    retro = json.loads(retro_path.read_text()) if retro_path.exists() else None
    summary = report(out, done, retro)
    print(json.dumps(summary["groups"]["all"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
