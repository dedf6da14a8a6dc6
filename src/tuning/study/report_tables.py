"""The study's tables: results.csv (one row per model, language and metric) and summary.md.

results.csv columns::

    run, allocation, seed, language, size, metric, n, measured, predicted, predicted_lower, predicted_upper

``allocation`` is the record's kind (base, pilot, optimized, uniform, proportional,
extrapolation, transfer, repetition, transfer-plan); ``size`` the pairs of that language in the
model's mixture; ``predicted`` (with its 90% bootstrap interval) comes from the laws the plan was
made with (``laws_plan*.json``) for the multilingual models and pilots, and from the laws of
every pilot point (``laws*.json``) for the extrapolation runs. Metrics: nll (nats per reference
token, lower is better), chrf (chrF++), bleu, off_target (%); ``n`` is the number of held-out
messages scored; ``chrf@100`` etc. are scores on the first 100 messages, the pilots' set.
Every function reads plain records and laws, so any study's results folder gives the same
tables (moved here from examples/report_smollm2.py, unchanged in what they compute).
"""

from __future__ import annotations

import math
from pathlib import Path

import budgetlaw as bl
from budgetlaw.fileio import atomic_write  # a temp file beside the target, renamed on success
from tuning.study.records import RecordError as ReportError  # the one record reader's error
from tuning.study.records import read_records as _read_records

METRICS = ("nll", "chrf", "bleu", "off_target")
LAWS = {"nll": ("laws_plan.json", "laws.json"), "chrf": ("laws_plan_chrf.json", "laws_chrf.json")}
ORDER = ["base", "pilot", "optimized", "uniform", "proportional", "extrapolation"]
LABEL = {"nll": "NLL (nats/token, lower is better)", "chrf": "chrF++", "bleu": "BLEU", "off_target": "off-target %"}


def read_records(results: Path, languages=None) -> list[dict]:
    """Every ``runs/*.json`` of ``results``, checked by the study's one record reader
    (tuning.study.records), and the held-out files their NLL counts need; ReportError at the
    first problem, before anything is written."""
    return _read_records(results, languages, require=True, heldout=True)


def _load(results: Path, languages=None):
    records = read_records(Path(results), languages)
    laws = {}
    for metric, names in LAWS.items():
        for which, name in zip(("plan", "all"), names):
            if (results / name).is_file():
                laws[(metric, which)] = bl.load_laws(results / name)
    return records, laws


def results_frame(results: Path, records=None, laws=None):
    """results.csv's rows; ``records`` and ``laws`` as _load gives them (read here when None)."""
    import pandas as pd

    if records is None or laws is None:
        records, laws = _load(results)
    rows = []
    for r in records:
        kind = r["kind"]
        which = "all" if kind == "extrapolation" else "plan"
        for lang, sc in sorted(r["scores"].items()):
            size = r["sizes"].get(lang, 0)
            for metric in [m for m in sc if m in METRICS or m.split("@")[0] in METRICS]:
                pred = lo = hi = float("nan")
                law = laws.get((metric.split("@")[0], which))
                if law is not None and lang in law and size > 0 and kind != "base":
                    pred = float(law[lang].predict(size))
                    lo, hi = (float(v) for v in law[lang].interval(size))
                n = int(metric.split("@")[1]) if "@" in metric else (sc.get("generated") if metric != "nll" else None)
                rows.append({"run": r["run"], "allocation": kind, "seed": r["seed"], "language": lang, "size": size,
                             "metric": metric, "n": n, "measured": sc[metric], "predicted": pred,
                             "predicted_lower": lo, "predicted_upper": hi})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    nll_n = {lang: len(list(open(results / "heldout" / f"{lang}.jsonl", encoding="utf-8"))) for lang in set(frame.language)}
    frame["n"] = [nll_n[l] if m == "nll" else v for l, m, v in zip(frame.language, frame.metric, frame.n)]
    frame["n"] = frame["n"].astype("Int64")
    frame["order"] = frame["allocation"].map({k: i for i, k in enumerate(ORDER)})
    return frame.sort_values(["order", "run", "language", "metric"]).drop(columns="order").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------
def _fmt(v, metric="chrf"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.3f}" if metric == "nll" else f"{v:.1f}"


def _md(frame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row.tolist()) + " |")
    return "\n".join(lines)


def _multi_table(frame, metric: str):
    """Per language and allocation: mean over seeds (and the seeds' range)."""
    import pandas as pd

    sub = frame[(frame.metric == metric) & frame.allocation.isin(["base", "optimized", "uniform", "proportional"])]
    if sub.empty:
        return None
    out = {}
    for (alloc, lang), g in sub.groupby(["allocation", "language"]):
        v = g["measured"]
        cell = _fmt(v.mean(), metric)
        if len(v) > 1:
            cell += f" ({_fmt(v.min(), metric)}-{_fmt(v.max(), metric)})"
        out.setdefault(alloc, {})[lang] = cell
        out[alloc].setdefault("_seeds", str(len(v)))
    means = sub.groupby(["allocation", "seed"])["measured"].mean().groupby("allocation")
    for alloc, g in means:
        cell = _fmt(g.mean(), metric)
        if len(g) > 1:
            cell += f" ({_fmt(g.min(), metric)}-{_fmt(g.max(), metric)})"
        out[alloc]["average"] = cell
    langs = sorted(sub.language.unique())
    table = pd.DataFrame([{"allocation": a, "seeds": out[a]["_seeds"], **{l: out[a].get(l, "") for l in langs},
                           "average": out[a].get("average", "")} for a in ORDER if a in out])
    return table


def _gain_table(frame):
    """optimized - uniform per language, per metric, seed by seed (same seed = same data order)."""
    import pandas as pd

    rows = []
    for metric in ("nll", "chrf"):
        sub = frame[(frame.metric == metric) & frame.allocation.isin(["optimized", "uniform"])]
        piv = sub.pivot_table(index=["seed", "language"], columns="allocation", values="measured")
        if "optimized" not in piv or "uniform" not in piv:
            continue
        diff = (piv["optimized"] - piv["uniform"]).dropna()
        if diff.empty:
            continue
        # what the laws the plan was made with predicted for the same two models
        pred = sub.pivot_table(index="language", columns="allocation", values="predicted")
        pdiff = (pred["optimized"] - pred["uniform"]) if {"optimized", "uniform"} <= set(pred) else None
        flip = -1.0 if metric == "nll" else 1.0  # positive = the optimised plan is better (a lower loss)
        diff = flip * diff
        per_seed_avg = diff.groupby(level="seed").mean()
        for lang, g in diff.groupby(level="language"):
            p = flip * pdiff.get(lang, float("nan")) if pdiff is not None else float("nan")
            rows.append({"metric": metric, "language": lang, "measured gain (per seed)": ", ".join(_fmt(v, metric) for v in g),
                         "mean": _fmt(g.mean(), metric), "predicted gain": _fmt(p, metric)})
        p = flip * pdiff.mean() if pdiff is not None else float("nan")
        rows.append({"metric": metric, "language": "average", "measured gain (per seed)": ", ".join(_fmt(v, metric) for v in per_seed_avg),
                     "mean": _fmt(per_seed_avg.mean(), metric), "predicted gain": _fmt(p, metric)})
    return pd.DataFrame(rows) if rows else None


def _pilot_table(frame):
    import pandas as pd

    sub = frame[frame.allocation.isin(["base", "pilot", "extrapolation"])]
    if sub.empty or not (sub.allocation == "pilot").any():
        return None
    cell = {}
    for (lang, size, seed), g in sub.groupby(["language", "size", "seed"]):
        v = dict(zip(g.metric, g.measured))
        chrf = v.get("chrf@100", v.get("chrf"))
        off = v.get("off_target@100", v.get("off_target"))
        if chrf is None or off is None:  # scored without generation (nll only)
            cell.setdefault((lang, int(size)), []).append(f"{v['nll']:.3f} / - / -")
            continue
        cell.setdefault((lang, int(size)), []).append(f"{v['nll']:.3f} / {chrf:.1f} / {off:.0f}")
    sizes = sorted({s for _, s in cell})
    rows = [{"language": lang, **{("base" if s == 0 else str(s)): "; ".join(cell.get((lang, s), [])) for s in sizes}}
            for lang in sorted({l for l, _ in cell})]
    return pd.DataFrame(rows)


def _laws_table(laws, which):
    import pandas as pd

    rows = []
    for metric in ("nll", "chrf"):
        ls = laws.get((metric, which))
        if ls is None:
            continue
        for lang in ls:
            f = ls[lang]
            rows.append({"metric": metric, "language": lang, "E or ceiling": _fmt(f.law.ceiling, "nll"),
                         "K": f"{f.K:.4g}", "c": f"{f.c:.3f}", "R2": f"{f.r2:.3f}", "RMSE": _fmt(f.rmse, "nll"),
                         "points": f.n_points, "flags": ", ".join(f.flags)})
    return pd.DataFrame(rows) if rows else None


def _first100(frame):
    """Per run and language: NLL (all messages) and chrF++ on the first 100 messages, the pilots' set."""
    sub = frame[frame.metric.isin(["nll", "chrf", "chrf@100"])]
    wide = sub.pivot_table(index=["run", "allocation", "language"], columns="metric", values="measured").reset_index()
    if "chrf@100" in wide:
        wide["chrf100"] = wide["chrf@100"].fillna(wide.get("chrf"))
    else:
        wide["chrf100"] = wide.get("chrf")
    return wide.dropna(subset=["nll", "chrf100"])


def _agreement_table(frame):
    """Does the smooth measure rank models as chrF++ does? Spearman's rho between -NLL and chrF++
    (first 100 messages) over every evaluated model of a language (base, pilots, multilingual)."""
    import pandas as pd
    from scipy.stats import spearmanr

    wide = _first100(frame)
    rows = []
    for lang, g in wide.groupby("language"):
        if len(g) < 3:
            continue
        rho = spearmanr(-g["nll"], g["chrf100"]).statistic
        rows.append({"language": lang, "models": len(g), "Spearman rho (-NLL vs chrF++)": f"{rho:.2f}"})
    return pd.DataFrame(rows) if rows else None


def _prediction_table(frame):
    """How well the laws (fitted on one-language pilots) predict models they were not fitted on:
    measured - predicted, mean and mean absolute, and the share inside the laws' 90% interval."""
    import pandas as pd

    rows = []
    for metric in ("nll", "chrf@100"):
        sub = frame[(frame.metric == metric) & frame.predicted.notna() & (frame.allocation != "pilot")]
        for alloc, g in sub.groupby("allocation", sort=False):
            err = g["measured"] - g["predicted"]
            inside = ((g["measured"] >= g["predicted_lower"]) & (g["measured"] <= g["predicted_upper"])).mean()
            m = metric.split("@")[0]
            rows.append({"metric": metric, "models": alloc, "points": len(g), "mean error": _fmt(err.mean(), m),
                         "mean |error|": _fmt(err.abs().mean(), m), "inside interval": f"{inside:.0%}"})
    return pd.DataFrame(rows) if rows else None


def _timing(records):
    import pandas as pd

    rows = []
    for kind in ORDER:
        rs = [r for r in records if r["kind"] == kind]
        if not rs:
            continue
        train = [r["train"] for r in rs if "train" in r]
        rows.append({"stage": kind, "models": len(rs),
                     "training examples": sum(sum(r["sizes"].values()) for r in rs),
                     "train min": f"{sum(t['wall_s'] for t in train) / 60:.1f}",
                     "eval min": f"{sum(r['eval_s'] for r in rs) / 60:.1f}",
                     "train tokens/s": f"{sum(t['tokens'] for t in train) / max(1e-9, sum(t['step_s'] for t in train)):.0f}" if train else ""})
    return pd.DataFrame(rows) if rows else None


def same_mixture_note(records) -> str | None:
    """One line when the optimised and the uniform model of a seed were trained on the same whole
    pairs (a plan that rounds to uniform's sizes): their measured difference is then no finding."""
    sizes: dict[tuple[str, int], dict] = {}
    for r in records:
        if r.get("kind") in ("optimized", "uniform"):
            sizes[(r["kind"], r.get("seed"))] = r.get("sizes")
    same = sorted(seed for (kind, seed), mix in sizes.items() if kind == "optimized" and sizes.get(("uniform", seed)) == mix)
    if not same:
        return None
    split = ", ".join(f"{k} {v}" for k, v in sorted(sizes[("optimized", same[0])].items()))
    return (f"The optimised plan comes to uniform's whole pairs ({split}; seed {', '.join(map(str, same))}): "
            "both models were trained on the same mixture, so their difference says nothing about the plan.")


def write_summary(results: Path, frame, records, laws, *, title: str, note: str, hardware: str) -> Path:
    """summary.md: the tables above, under ``# title`` and the ``note`` line."""
    parts = [f"# {title}", "", note, ""]
    for metric in ("nll", "chrf", "bleu", "off_target"):
        t = _multi_table(frame, metric)
        if t is not None:
            parts += [f"## Multilingual models: {LABEL[metric]} (mean over seeds, range in brackets)", "", _md(t), ""]
    t = _pilot_table(frame)
    if t is not None:
        parts += ["## Pilots: NLL / chrF++ (first 100 messages) / off-target %, by size (seeds separated by ;)", "",
                  _md(t), ""]
    g = _gain_table(frame)
    if g is not None:
        parts += ["## Optimised minus uniform (positive = optimised better; NLL sign flipped), measured and as the "
                  "plan's laws predicted", "", _md(g), ""]
        same = same_mixture_note(records)
        parts += [same, ""] if same else []
    for which, title in (("plan", "Laws the plan was made with (first seed's pilots)"), ("all", "Laws from every pilot point")):
        t = _laws_table(laws, which)
        if t is not None:
            parts += [f"## {title}", "", _md(t), ""]
    ex = frame[frame.allocation == "extrapolation"]
    if not ex.empty:
        ex = ex[ex.metric.isin(["nll", "chrf"])]
        t = ex.assign(measured=[_fmt(v, m) for v, m in zip(ex.measured, ex.metric)],
                      predicted=[_fmt(v, m) for v, m in zip(ex.predicted, ex.metric)],
                      interval=[f"{_fmt(a, m)}..{_fmt(b, m)}" for a, b, m in zip(ex.predicted_lower, ex.predicted_upper, ex.metric)])
        parts += ["## Extrapolation (laws from every pilot point)", "",
                  _md(t[["language", "size", "metric", "measured", "predicted", "interval"]]), ""]
    pil = frame[(frame.allocation == "pilot") & frame.metric.isin(["nll", "chrf"])]
    if not pil.empty:
        spread = pil.groupby(["metric", "language", "size"])["measured"].agg(["count", "min", "max"])
        spread = spread[spread["count"] > 1].reset_index()
        if not spread.empty:
            spread["seed range"] = [f"{_fmt(a, m)}..{_fmt(b, m)}" for a, b, m in zip(spread["min"], spread["max"], spread.metric)]
            spread["spread"] = [_fmt(b - a, m) for a, b, m in zip(spread["min"], spread["max"], spread.metric)]
            parts += ["## Seed noise at the pilot sizes with two seeds", "",
                      _md(spread[["metric", "language", "size", "seed range", "spread"]]), ""]
    t = _prediction_table(frame)
    if t is not None:
        parts += ["## Laws vs models they were not fitted on (measured - predicted; NLL laws from the first "
                  "seed's pilots for multilingual models, from every pilot for extrapolation)", "", _md(t), ""]
    t = _agreement_table(frame)
    if t is not None:
        parts += ["## Does NLL rank models as chrF++ does? (every evaluated model of a language)", "", _md(t), ""]
    t = _timing(records)
    if t is not None:
        parts += [f"## Time on {hardware}", "", _md(t), ""]
    out = results / "summary.md"
    with atomic_write(out) as fh:
        fh.write("\n".join(parts))
    return out
