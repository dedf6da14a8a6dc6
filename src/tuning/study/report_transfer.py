"""The transfer-aware law of a study, measured on multilingual models it never saw.

Reads ``runs/*.json`` and ``laws.json`` (the one-language NLL laws of every pilot point) and writes:

    pilots_transfer.csv   the mixed pilots table the law is fitted on (docs/formats/pilots.md):
                          one-language pilots and extrapolation models, the transfer pilots (one row per scored language,
                          with the model's mixture) and the repetition pilots (with ``unique``)
    laws_transfer.json    budgetlaw.fit(pilots_transfer.csv, transfer="auto", stage1=the study's
                          transfer.stage1, default separate): NLL, lower is better
    heldout_mixtures.csv  per multilingual model and language: measured NLL, the prediction of the
                          one-language laws at the language's own pairs (predicted_independent),
                          of the transfer-aware law at the whole mixture (predicted_transfer) with
                          its 90% prediction interval for one model (lower, upper: the bootstrap
                          band widened by the RMSE of the fitted multilingual points, in
                          quadrature; bl.predict's noise_sd), and fitted_on (no: never fitted on)
    transfer_lomo.csv     leave-one-model-out over every multilingual model (transfer pilots and
                          plan models alike): each left out in turn with its seed twins (models of
                          the same mixture), the law refitted without them (point fit, no
                          bootstrap, the form and stage 1 of the full fit), its languages predicted
    transfer_plan_gain.csv  once the plan made on the transfer-aware law is trained: per seed and
                          language, its NLL and uniform's and the gain (tuning.study.plan_gain)
    transfer.md           the figures of these tables in words, the plan's measured gain and, with
                          predicted_before_training.csv (tuning.study.predict), each recorded
                          model's measured NLL beside what was predicted before it trained
    figures/transfer.png  the transfer matrix;  figures/heldout_mixtures.png  measured vs predicted

The multilingual models trained on plans (optimized, uniform, proportional, transfer) are never
in pilots_transfer.csv: they are the clean test. Nothing is written when there is no transfer
pilot yet. ``examples/report_transfer.py`` runs it on a results folder.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

import budgetlaw as bl
from budgetlaw.fileio import atomic_write
from tuning.study.plan_gain import gain_lines, paired_gain
from tuning.study.predict import model_noise, report_lines as predicted_lines
from tuning.study.records import read_records
from tuning.study.steps import _mixture, fit_transfer, pilots_table

#: kinds of run whose models are trained on a plan: never fitted on
PLAN_KINDS = ("optimized", "uniform", "proportional", "transfer-plan")
LEVEL = 0.9
N_BOOT = 400


def _records(results: Path) -> list[dict]:
    return read_records(results)  # every record checked (one line naming a damaged one)


def heldout_table(records, independent, laws, languages, fitted_runs) -> pd.DataFrame:
    """heldout_mixtures.csv: every multilingual model (plan models and transfer pilots)."""
    rows = []
    for r in records:
        if r["kind"] not in PLAN_KINDS and r["kind"] != "transfer":
            continue
        pred = bl.predict(laws, {k: float(v) for k, v in r["sizes"].items()}, level=LEVEL,
                          noise_sd=model_noise(laws)).set_index("language")
        for lang in languages:
            if lang not in r["scores"]:
                continue
            own = float(r["sizes"].get(lang, 0))
            rows.append({
                "run": r["run"], "kind": r["kind"], "seed": r["seed"], "language": lang, "size": int(own),
                "others": int(sum(v for k, v in r["sizes"].items() if k != lang)),
                "measured": r["scores"][lang]["nll"],
                "predicted_independent": float(independent[lang].predict(own)) if own > 0 else math.nan,
                "predicted_transfer": float(pred.loc[lang, "predicted"]),
                "lower": float(pred.loc[lang, "lower"]), "upper": float(pred.loc[lang, "upper"]),
                "fitted_on": "yes" if r["run"] in fitted_runs else "no",
            })
    return pd.DataFrame(rows)


def lomo_table(records, frame: pd.DataFrame, languages, form: str, stage1: str = "separate") -> pd.DataFrame:
    """Leave-one-model-out over every multilingual model, the form held at ``form`` (and stage 1 at
    ``stage1``, budgetlaw.fit's): the pilots
    table plus every plan model (as multilingual rows), one model left out per refit."""
    plan_rows = []
    for r in records:
        if r["kind"] in PLAN_KINDS:
            for lang, sc in sorted(r["scores"].items()):
                plan_rows.append({"language": lang, "size": int(r["sizes"].get(lang, 0)), "score": round(sc["nll"], 6),
                                  "seed": r["seed"], "metric": "nll", "run": r["run"],
                                  "mixture": _mixture(r["sizes"], languages), "unique": ""})
    pool = pd.concat([frame, pd.DataFrame(plan_rows, columns=frame.columns)], ignore_index=True)
    multi = [r for r in records if r["kind"] in PLAN_KINDS or r["kind"] == "transfer"]
    # a model's seed twins (the same mixture) are left out with it: left in, they predict it
    twins = {r["run"]: {q["run"] for q in multi if q["sizes"] == r["sizes"]} for r in multi}
    rows = []
    quiet = logging.getLogger("budgetlaw")
    level, quiet.level = quiet.level, logging.ERROR  # the same flags as the full fit, once per refit
    try:
        laws_left_out = [fit_transfer(pool[~pool["run"].isin(twins[r["run"]])], n_boot=0, transfer=form, stage1=stage1)
                         for r in multi]
    finally:
        quiet.setLevel(level)
    for r, laws in zip(multi, laws_left_out):
        pred = bl.predict(laws, {k: float(v) for k, v in r["sizes"].items()}).set_index("language")
        for lang in languages:
            if lang in r["scores"]:
                rows.append({"run": r["run"], "kind": r["kind"], "language": lang, "size": int(r["sizes"].get(lang, 0)),
                             "measured": r["scores"][lang]["nll"], "predicted": float(pred.loc[lang, "predicted"])})
    return pd.DataFrame(rows)


def _rmse(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _errors(g: pd.DataFrame) -> tuple[float, float, float, float]:
    """Of heldout_mixtures rows ``g``: RMSE of the one-language laws and of the transfer law, the
    transfer law's mean error (measured - predicted) and the share inside its interval."""
    inside = float(((g["measured"] >= g["lower"]) & (g["measured"] <= g["upper"])).mean())
    return (_rmse(g["measured"], g["predicted_independent"]), _rmse(g["measured"], g["predicted_transfer"]),
            float((g["measured"] - g["predicted_transfer"]).mean()), inside)


def summary_lines(held: pd.DataFrame, lomo: pd.DataFrame, laws) -> list[str]:
    test = held[held["fitted_on"] == "no"]
    t = laws.transfer
    lines = ["# The law across languages: measured on multilingual models it never saw", ""]
    if t is None:
        return lines + ["No transfer fitted yet (no multilingual pilot)."]
    models = (t.fitted_on or {}).get("models", {})
    # which stage 1 the law used and what was asked for (auto)
    used = t.stage1
    asked = (((t.fitted_on or {}).get("selection") or {}).get("stage1") or {}).get("requested", used)
    lines += [f"Transfer form chosen: **{t.form}**, stage 1 **{used}**{f' (asked for: {asked})' if asked != used else ''} "
              f"(R* {t.rstar:.3g}, {'fitted' if t.rstar_fitted else 'default'}), "
              f"fitted on {models.get('one_language', 0)} one-language, {models.get('multilingual', 0)} multilingual "
              f"and {models.get('repetition', 0)} repetition models; one model's scatter around the law (RMSE of "
              f"the fitted multilingual points) {model_noise(laws):.3f} nats/token, which widens the 90% interval.", ""]
    lines += ["## The plan models (never fitted on)", "",
              "| language | models | RMSE one-language laws | RMSE transfer law | inside the 90% interval |",
              "|---|---|---|---|---|"]
    for lang, g in list(test.groupby("language")) + [("all", test)]:
        independent, transfer, _, inside = _errors(g)
        lines.append(f"| {lang} | {g['run'].nunique()} | {independent:.3f} | {transfer:.3f} | {100 * inside:.0f}% |")
    lines += ["", "Per model (RMSE over its languages; measured - predicted: its mean error):", "",
              "| model | RMSE one-language laws | RMSE transfer law | mean error, transfer law | inside the 90% interval |",
              "|---|---|---|---|---|"]
    for run, g in test.groupby("run", sort=True):
        independent, transfer, bias, inside = _errors(g)
        lines.append(f"| {run} | {independent:.3f} | {transfer:.3f} | {bias:+.3f} | {100 * inside:.0f}% |")
    if len(lomo):
        lines += ["", "## Leave one model out (every multilingual model, with its seed twins)", "",
                  f"RMSE over {lomo['run'].nunique()} models ({len(lomo)} points): "
                  f"{_rmse(lomo['measured'], lomo['predicted']):.3f} nats/token."]
    lines += ["", "## The transfer matrix (rows receive, columns give)", "", "| | " + " | ".join(t.languages) + " |",
              "|---" * (len(t.languages) + 1) + "|"]
    for i, a in enumerate(t.languages):
        lines.append(f"| {a} | " + " | ".join("" if i == j else f"{t.T[i, j]:.3f}" for j in range(len(t.languages))) + " |")
    return lines


def plot_heldout(held: pd.DataFrame, out: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6), dpi=120)
    for name, col, mark in (("one-language laws", "predicted_independent", "x"), ("transfer law", "predicted_transfer", "o")):
        for fitted, alpha in (("no", 1.0), ("yes", 0.35)):
            g = held[held["fitted_on"] == fitted]
            ax.scatter(g[col], g["measured"], marker=mark, alpha=alpha,
                       label=f"{name} ({'never fitted on' if fitted == 'no' else 'fitted on'})")
    lo, hi = held[["measured", "predicted_transfer"]].min().min() - 0.1, held[["measured", "predicted_transfer"]].max().max() + 0.1
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel="predicted NLL (nats/token)", ylabel="measured NLL", title="multilingual models: measured vs predicted")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(out, "wb") as fh:
        fig.savefig(fh, format="png", metadata={"Software": None})
    plt.close(fig)


def write_transfer_report(results, n_boot: int = N_BOOT, stage1: str = "separate") -> bool:
    """Every file of the module docstring; False (nothing written) without a transfer pilot.
    stage1: budgetlaw.fit's (the study's transfer.stage1)."""
    from budgetlaw import plot_transfer

    results = Path(results)
    records = _records(results)
    if not any(r["kind"] == "transfer" for r in records):
        return False
    languages = sorted({lang for r in records if r["kind"] == "transfer" for lang in r["sizes"]})
    frame = pilots_table(records, languages)
    laws = fit_transfer(frame, n_boot, stage1=stage1)
    independent = bl.load_laws(results / "laws.json")
    held = heldout_table(records, independent, laws, languages, set(frame["run"]))
    # the left-out refits take the stage 1 the full fit used (auto's choice, made once on all the data)
    t = laws.transfer
    lomo = lomo_table(records, frame, languages, t.form if t is not None else "none",
                      t.stage1 if t is not None else "separate")
    with atomic_write(results / "pilots_transfer.csv") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
    laws.save(results / "laws_transfer.json")
    for name, table in (("heldout_mixtures.csv", held), ("transfer_lomo.csv", lomo)):
        with atomic_write(results / name) as fh:
            table.to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")
    pairs = paired_gain(records, "transfer-plan", "uniform")
    if len(pairs):
        with atomic_write(results / "transfer_plan_gain.csv") as fh:
            pairs.to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")
    with atomic_write(results / "transfer.md") as fh:
        fh.write("\n".join(summary_lines(held, lomo, laws) + gain_lines(results, pairs)
                            + predicted_lines(results, records)) + "\n")
    figs = results / "figures"
    figs.mkdir(exist_ok=True)
    if laws.transfer is not None:
        plot_transfer(laws.transfer.T, laws.transfer.languages, figs / "transfer.png",
                      title="transfer: worth of one pair of the column's language to the row's")
    plot_heldout(held, figs / "heldout_mixtures.png")
    return True
