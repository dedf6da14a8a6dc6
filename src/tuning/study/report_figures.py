"""The study's figures (figures/*.png): laws with pilots and extrapolation, pilots by size,
measured vs predicted, the plans side by side, gains per language with seeds, alignment.

Drawn from results.csv's frame (tuning.study.report_tables.results_frame) and the laws; moved
here from examples/report_smollm2.py.
"""

from __future__ import annotations

import math
from pathlib import Path

from budgetlaw.fileio import atomic_write
from tuning.study.report_tables import LABEL


def _save(fig, path: Path):
    import matplotlib.pyplot as plt

    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, dpi=110, format="png")
    plt.close(fig)


def plot_laws(frame, laws, metric: str, out: Path):
    import matplotlib.pyplot as plt
    import numpy as np

    ls = laws.get((metric, "all")) or laws.get((metric, "plan"))
    if ls is None:
        return
    langs = list(ls)
    cols = min(3, len(langs))
    rows = math.ceil(len(langs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False, constrained_layout=True)
    for ax, lang in zip(axes.flat, langs):
        f = ls[lang]
        sub = frame[(frame.language == lang) & (frame.metric == metric)]
        ext = sub[sub.allocation == "extrapolation"]
        xmax = max([f.max_pilot_size] + ext["size"].tolist()) * 1.3
        xs = np.geomspace(min(f.sizes) * 0.8, xmax, 100)
        lo, hi = f.interval(xs)
        ax.fill_between(xs, lo, hi, alpha=0.2, label="90% interval")
        ax.plot(xs, f.predict(xs), label="law (all pilots)")
        plan = laws.get((metric, "plan"))
        if plan is not None and lang in plan and plan is not ls:
            ax.plot(xs, plan[lang].predict(xs), "--", lw=1, label="law the plan used")
        p = sub[sub.allocation == "pilot"]
        ax.scatter(p["size"], p["measured"], s=14, color="k", label="pilots", zorder=3)
        msub = frame[(frame.language == lang) & (frame.metric == (metric + "@100" if metric != "nll" else metric))]
        ext = msub[msub.allocation == "extrapolation"] if metric != "nll" else ext
        if not ext.empty:
            ax.scatter(ext["size"], ext["measured"], marker="*", s=90, color="C3", label="extrapolation", zorder=3)
        m = msub[msub.allocation.isin(["optimized", "uniform", "proportional"])]
        if not m.empty:
            ax.scatter(m["size"], m["measured"], marker="^", s=22, color="C2", label="in multilingual models", zorder=3)
        base = sub[sub.allocation == "base"]["measured"]
        if not base.empty:
            ax.axhline(float(base.iloc[0]), color="grey", ls=":", label="base model")
        ax.set_xscale("log")
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=lang, xlabel="pairs of this language")
        ax.set_ylabel(LABEL[metric])
    for ax in list(axes.flat)[len(langs):]:
        ax.axis("off")
    # one legend with every kind of mark, wherever it was drawn (extrapolation only on some panels)
    entries = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    axes.flat[0].legend(entries.values(), entries.keys(), fontsize=7)
    _save(fig, out)


def plot_pilots(frame, out: Path):
    """Pilot measurements by size, one line per language (seed means; dots: each seed); base dotted."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    pil = frame[frame.allocation == "pilot"]
    if pil.empty:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, metric in zip(axes, ("nll", "chrf")):
        for i, (lang, g) in enumerate(pil[pil.metric == metric].groupby("language")):
            mean = g.groupby("size")["measured"].mean()
            ax.plot(mean.index, mean.values, "-o", color=f"C{i}", ms=4, label=lang)
            ax.scatter(g["size"], g["measured"], s=8, color=f"C{i}", alpha=0.5)
            base = frame[(frame.allocation == "base") & (frame.language == lang)
                         & (frame.metric == (metric if metric == "nll" else "chrf@100"))]["measured"]
            if not base.empty:
                ax.axhline(float(base.iloc[0]), color=f"C{i}", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xticks(sorted(pil["size"].unique()))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        name = LABEL[metric] + ("" if metric == "nll" else " (first 100 messages)")
        ax.set(xlabel="pairs of the language (one model per point)", ylabel=name,
               title=f"pilots: {name}; dotted = base model")
    axes[0].legend(fontsize=7)
    _save(fig, out)


def plot_measured_vs_predicted(frame, out: Path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), constrained_layout=True)
    for ax, metric in zip(axes, ("nll", "chrf@100")):
        sub = frame[(frame.metric == metric) & frame.predicted.notna() & (frame.allocation != "pilot")]
        for i, (alloc, g) in enumerate(sub.groupby("allocation")):
            ax.errorbar(g["predicted"], g["measured"],
                        xerr=[g["predicted"] - g["predicted_lower"], g["predicted_upper"] - g["predicted"]],
                        fmt="o", ms=4, alpha=0.8, label=alloc, color=f"C{i}")
        if not sub.empty:
            lim = [min(sub.predicted.min(), sub.measured.min()), max(sub.predicted.max(), sub.measured.max())]
            ax.plot(lim, lim, color="grey", lw=1)
        name = LABEL[metric.split("@")[0]] + (" (first 100 messages, as the pilots)" if "@" in metric else "")
        ax.set(xlabel=f"predicted {name}", ylabel=f"measured {name}", title=metric)
        ax.legend(fontsize=7)
    _save(fig, out)


def plot_optimized_vs_uniform(frame, out: Path):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, metric in zip(axes, ("nll", "chrf")):
        sub = frame[(frame.metric == metric) & frame.allocation.isin(["optimized", "uniform", "proportional", "base"])]
        langs = sorted(sub.language.unique())
        allocs = [a for a in ("base", "uniform", "proportional", "optimized") if a in set(sub.allocation)]
        width = 0.8 / max(1, len(allocs))
        for i, alloc in enumerate(allocs):
            g = sub[sub.allocation == alloc].groupby("language")["measured"]
            mean, lo, hi = g.mean().reindex(langs), g.min().reindex(langs), g.max().reindex(langs)
            xs = np.arange(len(langs)) + (i - (len(allocs) - 1) / 2) * width
            ax.bar(xs, mean, width, label=alloc, yerr=[mean - lo, hi - mean], capsize=2)
        ax.set_xticks(np.arange(len(langs)), langs)
        ax.set(ylabel=LABEL[metric], title=f"{metric}: bars = mean over seeds, whiskers = seed range")
        ax.legend(fontsize=7)
    _save(fig, out)


def plot_gains(frame, out: Path, budget: int | None = None):
    """Optimised minus uniform per language (NLL sign flipped: up = the optimised plan is better),
    measured seed by seed (dots; bar = mean) beside what the plan's laws predicted (hatched)."""
    import matplotlib.pyplot as plt
    import numpy as np

    sub = frame[(frame.metric == "nll") & frame.allocation.isin(["optimized", "uniform"])]
    meas = sub.pivot_table(index=["seed", "language"], columns="allocation", values="measured")
    pred = sub.pivot_table(index="language", columns="allocation", values="predicted")
    if "optimized" not in meas or "uniform" not in meas:
        return
    gain = -(meas["optimized"] - meas["uniform"]).dropna()
    if gain.empty:
        return
    langs = sorted(gain.index.get_level_values("language").unique())
    pgain = -(pred["optimized"] - pred["uniform"]).reindex(langs)
    mean = gain.groupby(level="language").mean().reindex(langs)
    xs = np.arange(len(langs))
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    ax.bar(xs - 0.2, pgain, 0.4, label="predicted by the plan's laws", color="white", edgecolor="C0", hatch="//")
    ax.bar(xs + 0.2, mean, 0.4, label="measured (mean over seeds)", color="C1")
    for (seed, lang), v in gain.items():
        ax.plot(langs.index(lang) + 0.2, v, "k.", ms=6)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xticks(xs, langs)
    seeds = sorted(gain.index.get_level_values("seed").unique())
    ax.set(ylabel="NLL(uniform) - NLL(optimised), nats/token",
           title=f"optimised vs uniform plan, {budget or '?'} pairs (seeds {', '.join(map(str, seeds))}; dots = seeds)")
    ax.legend(fontsize=8)
    _save(fig, out)


def plot_alignment(results: Path, out: Path):
    import matplotlib.pyplot as plt
    import pandas as pd

    path = results / "alignment.csv"
    if not path.is_file():
        return
    frame = pd.read_csv(path)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, col in zip(axes, ("retrieval", "gap")):
        for i, (lang, g) in enumerate(frame.groupby("language")):
            for model, style in (("base", ":"), ("optimized", "-")):
                h = g[g.model == model]
                ax.plot(h["layer"], h[col], style, color=f"C{i}", label=f"{lang} {model}" if col == "retrieval" else None)
        ax.set(xlabel="layer (0 = embeddings)", ylabel=col,
               title="translation retrieval accuracy" if col == "retrieval" else "cos(translation) - cos(other)")
    axes[0].legend(fontsize=6, ncol=2)
    _save(fig, out)
