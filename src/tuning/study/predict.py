"""Predictions made before training: ``tuning study predict STUDY.yaml``, and the report's check.

Before a model trains, the current transfer-aware law (``R/laws_transfer.json``, written by
``tuning study report``) says what NLL it will measure; once it is recorded, the report
(``transfer.md``, "Predicted before training") sets what it measured beside what was said.

``R/predicted_before_training.csv``, one row per model and language it will be scored on::

    run         the job id; its record will be R/runs/<run>.json
    language    a language of the job's eval_langs
    size        pairs of the language the model sees in training, repeats included (sizes x
                epochs): what its record's sizes and pilots_transfer.csv's size will hold
    effective   the law's effective pairs of the language (budgetlaw.predict)
    predicted   the NLL the law predicts for the whole mixture, and
    lower, upper  its 90% interval for one trained model (budgetlaw.predict(laws, sizes,
                unique=distinct pairs when the pairs are repeated, noise_sd=one model's scatter
                around the law, model_noise): the law's bootstrap draws and one
                model's seed noise in quadrature, as heldout_mixtures.csv's interval)
    law         which law: "laws_transfer.json sha256:<first 12 hex of the file> (form F, stage1 S)"

Numbers are rounded to 4 decimals. Rows are only ever added: a row for a (run, language) already
in the file is kept as it is, byte for byte (a prediction made before training is never
revised), and a row is made only for a model not recorded yet.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
from pathlib import Path

import budgetlaw as bl
from budgetlaw.fileio import atomic_write
from tuning.errors import InputError
from tuning.study.graph import build_jobs, is_done
from tuning.study.runs import sizes_of

log = logging.getLogger("tuning.study")

FILE = "predicted_before_training.csv"
LAWS = "laws_transfer.json"
COLUMNS = ("run", "language", "size", "effective", "predicted", "lower", "upper", "law")
LEVEL = 0.9


def read_predictions(path: Path):
    """The file as strings (rows untouched), or InputError naming the file and what is wrong."""
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                         f"fix or remove it (columns {', '.join(COLUMNS)})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)} (needs {', '.join(COLUMNS)}); "
                         "fix the header or move the file away")
    return _whole_and_unique(path, table)


def _whole_and_unique(path: Path, table):
    """Every row whole (all its fields, numbers where numbers go) and one row per (run, language):
    a torn row (the file cut mid-row) or two different rows for one model are refused naming the
    row; a row repeated byte for byte (a copy appended twice) is kept once, with a warning."""
    with open(path, encoding="utf-8", newline="") as fh:
        widths = [len(row) for row in csv.reader(fh)]
    for i, width in enumerate(widths[1:]):
        if width != widths[0] and width:
            raise InputError(f"{path}: row {i + 2} has {width} of the {widths[0]} fields (a torn row: the file "
                             "was cut); delete that row and run `tuning study predict` again")
    for i, row in table.iterrows():
        for col in ("size", "effective", "predicted", "lower", "upper"):
            try:
                value = float(row[col]) if row[col] != "" or col in ("size", "predicted") else 0.0
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise InputError(f"{path}: row {i + 2} ({row['run']}, {row['language']}): {col} is {row[col]!r}, not "
                                 "a number (a torn or edited row); delete that row and run `tuning study predict` "
                                 "again")
    first: dict[tuple, int] = {}
    keep = []
    for i, row in table.iterrows():
        key = (row["run"], row["language"])
        if key in first:
            j = first[key]
            if not table.iloc[j][list(COLUMNS)].equals(row[list(COLUMNS)]):
                raise InputError(f"{path}: rows {j + 2} and {i + 2} both predict {key[0]} on {key[1]}, differently; "
                                 "a prediction is made once: keep the first (the earlier one) and delete the other")
            log.warning("%s: row %d repeats row %d (%s, %s) byte for byte; counted once", path, i + 2, j + 2, *key)
            continue
        first[key] = i
        keep.append(i)
    return table.loc[keep].reset_index(drop=True)


def law_label(path: Path, laws) -> str:
    """``laws_transfer.json sha256:<12 hex> (form F, stage1 S)``: the same file, the same text."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    t = getattr(laws, "transfer", None)
    form = t.form if t is not None else (laws.signature.get("transfer") or {}).get("form", "none")
    # files written before stage 1 was a choice were all fitted the separate way (Transfer.stage1)
    return f"{LAWS} sha256:{digest} (form {form}, stage1 {t.stage1 if t is not None else 'separate'})"


def _number(value: float) -> str:
    return repr(round(float(value), 4)) if math.isfinite(value) else ""


def model_noise(laws) -> float:
    """One multilingual model's scatter around the law: the RMSE of the fitted multilingual points
    (stage 2; not the repetition points), which holds seed noise and misfit alike; 0 without a
    transfer fit."""
    fitted = (laws.transfer.fitted_on or {}) if laws.transfer is not None else {}
    rmse = fitted.get("rmse_multilingual", fitted.get("rmse"))
    return float(rmse) if rmse is not None and math.isfinite(rmse) else 0.0


def _mixture(study, job, jobs) -> tuple[dict, dict | None] | None:
    """(pairs seen, distinct pairs or None) of a model job, as its record will hold them; None
    when its sizes come from a plan not made yet."""
    p = job.params
    if "sizes_from" in p and not all(is_done(study, jobs[n]) for n in job.needs if jobs[n].kind == "plan"):
        return None
    sizes = sizes_of(study, p)  # the worker's own reading of the job's sizes
    epochs = int(p.get("epochs", 1))
    seen = {lang: n * epochs for lang, n in sizes.items()}
    return seen, ({lang: n for lang, n in sizes.items() if n > 0} if epochs != 1 else None)


def predict_study(study) -> dict:
    """Append the predictions of every model of ``study`` not recorded yet (module docstring).

    Returns {"path", "added", "kept", "waiting"} (waiting: jobs whose plan is not made yet).
    InputError, nothing written, without laws_transfer.json or with a file lacking columns.
    """
    laws_path, out = study.results / LAWS, study.results / FILE
    if not laws_path.is_file():
        raise InputError(f"{laws_path}: no transfer-aware law to predict with; run `tuning study report "
                         f"{study.path}` first (it needs the transfer pilots recorded)")
    known = set()
    if out.is_file():
        table = read_predictions(out)
        known = set(zip(table["run"], table["language"]))
    laws = bl.load_laws(laws_path)

    noise = model_noise(laws)
    label = law_label(laws_path, laws)
    jobs = {j.id: j for j in build_jobs(study)}
    rows, kept, waiting = [], 0, []
    for job in jobs.values():
        p = job.params
        if not (job.output or "").startswith("results:runs/") or ("sizes" not in p and "sizes_from" not in p):
            continue  # not a trained model (the base model has no mixture)
        if is_done(study, job):
            continue
        mixture = _mixture(study, job, jobs)
        if mixture is None:
            waiting.append(job.id)
            continue
        seen, unique = mixture
        unknown = sorted(lang for lang, n in seen.items() if n > 0 and lang not in laws)
        if unknown:
            log.warning("%s: no law for %s in %s; not predicted", job.id, ", ".join(unknown), laws_path)
            continue
        pred = bl.predict(laws, {k: v for k, v in seen.items() if k in laws}, unique=unique, level=LEVEL,
                          noise_sd=noise).set_index("language")
        for lang in p["eval_langs"]:
            if (job.id, lang) in known:
                kept += 1
                continue
            if lang not in pred.index:
                log.warning("%s: no law for %s in %s; not predicted", job.id, lang, laws_path)
                continue
            row = pred.loc[lang]
            rows.append({"run": job.id, "language": lang, "law": label,
                         **{c: _number(row[c]) for c in ("size", "effective", "predicted", "lower", "upper")}})
    if rows:
        _append(out, rows)
    log.info("%s: %d predictions added, %d kept (a prediction made before training is never revised)",
             out, len(rows), kept)
    if waiting:
        log.info("%d model(s) wait for their plan before they can be predicted: %s", len(waiting), ", ".join(waiting))
    return {"path": out, "added": len(rows), "kept": kept, "waiting": waiting}


def _append(path: Path, rows: list[dict]) -> None:
    """The file's bytes as they are, then ``rows`` in its header's order (new: COLUMNS)."""
    old = path.read_bytes() if path.is_file() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    header = next(csv.reader([old.decode("utf-8").split("\n", 1)[0]])) if old else list(COLUMNS)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if not old:
        writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    with atomic_write(path, "wb") as fh:
        fh.write(old + buf.getvalue().encode("utf-8"))


def report_lines(results, records) -> list[str]:
    """transfer.md's "Predicted before training": per recorded model and language, own pairs,
    measured NLL, predicted and its interval, inside or not; per model RMSE, mean error
    (measured - predicted) and share inside; the models still pending in one line. [] without
    the file."""
    path = Path(results) / FILE
    if not path.is_file():
        return []
    table = read_predictions(path)
    by_run = {r["run"]: r for r in records}
    points: dict[str, list] = {}
    laws: dict[str, set] = {}
    for i, row in table.iterrows():
        r = by_run.get(row["run"])
        if r is None or row["language"] not in r.get("scores", {}):
            continue
        try:
            predicted, lower, upper = (float(row[c]) if row[c] != "" else math.nan
                                       for c in ("predicted", "lower", "upper"))
        except ValueError:
            raise InputError(f"{path}: row {i + 2} ({row['run']}, {row['language']}): predicted, lower and upper "
                             "must be numbers; fix the row") from None
        measured = float(r["scores"][row["language"]]["nll"])
        inside = lower <= measured <= upper if math.isfinite(lower) and math.isfinite(upper) else None
        points.setdefault(row["run"], []).append(
            (row["language"], int(r["sizes"].get(row["language"], 0)), measured, predicted, lower, upper, inside))
        laws.setdefault(row["run"], set()).add(row["law"])
    pending = sorted(set(table["run"]) - set(by_run))
    lines = ["", "## Predicted before training", "",
             f"Each model's NLL as the law of the time predicted it before the model trained "
             f"(`{FILE}`, made by `tuning study predict`; the interval is that law's 90% interval for one "
             "model, seed noise included), beside what it measured.", ""]
    if points:
        lines += ["| model | language | own pairs | measured | predicted | 90% interval | inside |",
                  "|---|---|---|---|---|---|---|"]
        for run in sorted(points):
            for lang, own, m, pr, lo, up, inside in points[run]:
                lines.append(f"| {run} | {lang} | {own} | {m:.3f} | {pr:.3f} | {lo:.3f}-{up:.3f} | "
                             f"{'-' if inside is None else 'yes' if inside else 'no'} |")
        lines += ["", "| model | languages | RMSE | mean error (measured - predicted) | inside the interval | law |",
                  "|---|---|---|---|---|---|"]
        every = [pt for run in sorted(points) for pt in points[run]]
        for run, pts in [(run, points[run]) for run in sorted(points)] + ([("all", every)] if len(points) > 1 else []):
            rmse, bias, share = _errors(pts)
            law = "; ".join(sorted(laws[run])) if run != "all" else ""
            lines.append(f"| {run} | {len(pts)} | {rmse:.3f} | {bias:+.3f} | {share} | {law} |")
    else:
        lines.append("No model with a prediction is recorded yet.")
    if pending:
        lines += ["", f"Pending (predicted, not recorded yet): {', '.join(pending)}."]
    return lines


def _errors(pts) -> tuple[float, float, str]:
    """RMSE and mean of measured - predicted, and the share inside the interval (of the points
    that have one)."""
    err = [m - pr for _, _, m, pr, *_ in pts]
    judged = [pt[-1] for pt in pts if pt[-1] is not None]
    share = f"{100 * sum(judged) / len(judged):.0f}%" if judged else "-"
    return math.sqrt(sum(e * e for e in err) / len(err)), sum(err) / len(err), share
