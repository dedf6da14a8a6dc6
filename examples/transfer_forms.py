#!/usr/bin/env python
"""Which form of cross-lingual transfer do the SmolLM2 multilingual models ask for?

    OMP_NUM_THREADS=1 python examples/transfer_forms.py docs/results/smollm2-gettext \
        [--out docs/results/smollm2-gettext/transfer_forms.md] [--n-boot 200]

Reads the committed records (``runs/*.json``) exactly as the transfer report does
(tuning.study.report_transfer: the mixed pilots table of tuning.study.steps.pilots_table, the
one-language laws of stage 1 from budgetlaw.fit) and compares forms of language i's effective
data, with own = eff(x_i), other = sum_{j != i} eff(x_j) (eff: repeats at the data-constrained
value, budgetlaw.transfer.law) and loss_i = E_i + K_i d_i^-c_i (K, c, E held from stage 1):

    none        d = own
    pooled      d = own + tau_i other                                      n       (the library's)
    source      d = own + sum_{j != i} s_j eff(x_j)                        n       (the library's)
    full        d = own + sum_{j != i} T_ij eff(x_j)                       n(n-1)  (the library's)
    power       d = own + tau_i R (other / R)^g,  R = 450, 0 < g <= 1      n + 1
    saturating  d = own + tau_i S (1 - exp(-other / S))                    n + 1
    geo         d = own + tau_i other + phi sqrt(own other)                n + 1
    geo-a       d = own + tau_i other + phi own^a other^(1 - a)            n + 2
    geo-lang    d = own + tau_i other + phi_i sqrt(own other)              2n

Every d is concave in the allocation x (a non-negative sum of affine terms, a concave power or
saturation of an affine sum, and a weighted geometric mean of two affine sums), so the loss stays a
convex decreasing function of a concave map and planning stays convex (checked: cvxpy DCP of each
fitted form, written in the report). R* (repetition) is a
shared parameter of every form, fitted as the library does when repetition rows exist.

For every form the script reports
  (a) the selection criterion: leave-one-mixture-out RMSE over the multilingual models the law
      is fitted on (their seed twins left out together; stage 2 refitted on the rest), and AICc
      of the stage-2 fit on all of them. The plan models are not looked at.
  (b) the test: fitted on everything the transfer report fits on, the RMSE on the plan models
      (kinds optimized, uniform, proportional, transfer-plan: never fitted on), per language and
      overall, and the share of their points inside the 90% interval for one model (the
      percentile band over bootstrap draws, widened in quadrature by z times the form's RMSE on
      its fitted multilingual points, as bl.predict(noise_sd=) does). A draw takes stage 1's draw
      of every law (budgetlaw.fit's whole-model bootstrap) and refits stage 2 on multilingual and
      repetition models resampled with replacement.
and the transfer plan's ar case (plan_transfer.json against plan_transfer_uniform.json), each
form's predictions for the study's random splits not recorded yet, and what effective data each
multilingual point implies (its own law inverted). A form *wins* the selection when its per-fold
LOMO mean squared error is below pooled's by more than two standard errors of the per-fold
difference and its AICc is lower too. ``pooled-joint`` (pooled with every K_i and c_i refitted on
the one-language and multilingual points together, plain least squares) is a diagnostic of
stage 1, not a form of d: it has no AICc comparable with the others and no interval. One more
column, not a selection criterion because it looks at the plan models: leave-one-mixture-out over
every multilingual model, fitted and plan models together (what transfer_lomo.csv holds for pooled).

Stage 2 here is scipy least_squares (trf, finite-difference Jacobian) from several starts, the
lowest cost kept; for pooled, source and full it reproduces budgetlaw.transfer.stage2 (checked
at start-up, logged). Nothing in the results folder is changed; ``--out`` is written atomically.
"""

from __future__ import annotations

import argparse
import json
import itertools
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

import budgetlaw as bl
import budgetlaw.fitting  # noqa: F401  (first: budgetlaw.transfer.fit imports back into budgetlaw.fitting)
from budgetlaw.bands import quantiles
from budgetlaw.pilots import read_pilots
from budgetlaw.transfer.fit import folds
from budgetlaw.transfer.law import RSTAR_BOUNDS, T_MAX, repeated
from budgetlaw.transfer.stage2 import fit_stage2
from budgetlaw.transfer.table import Points, split_table
from budgetlaw.fileio import atomic_write
from tuning.study.report_transfer import PLAN_KINDS, _records
from tuning.study.steps import fit_transfer, pilots_table

log = logging.getLogger("transfer_forms")
LEVEL = 0.9
REF = 450.0  # the power form's reference size: tau_i keeps pooled's meaning at other = REF


@dataclass(frozen=True)
class Form:
    """A form of d: ``lang`` per-language blocks (tau_i, then phi_i) and ``shared`` parameters."""

    name: str
    lang: int
    shared: tuple  # (name, lower, upper, starts)

    def size(self, n: int) -> int:
        if self.name == "full":
            return n * (n - 1)
        return self.lang * n + len(self.shared)

    def bounds(self, n: int):
        lo = [0.0] * (self.size(n) - len(self.shared)) + [s[1] for s in self.shared]
        hi = [T_MAX] * (self.size(n) - len(self.shared)) + [s[2] for s in self.shared]
        return np.array(lo), np.array(hi)

    def starts(self, n: int):
        base = self.size(n) - len(self.shared)
        for v, *extra in itertools.product((0.05, 0.3, 1.0), *[s[3] for s in self.shared]):
            yield np.r_[np.full(base, v), extra]

    def effective(self, q, e: np.ndarray, i: np.ndarray) -> np.ndarray:
        """d of every point: e (m, n) effective pairs of every language, i (m,) scored language."""
        m, n = e.shape
        rows = np.arange(m)
        own = e[rows, i]
        other = e.sum(axis=1) - own
        if self.name == "none":
            return own
        if self.name == "source":
            return own + e @ q - q[i] * own
        if self.name == "full":
            T = np.zeros((n, n))
            T[~np.eye(n, dtype=bool)] = q
            return own + (e @ T.T)[rows, i]
        tau = q[:n][i]
        if self.name == "pooled":
            return own + tau * other
        if self.name == "power":
            return own + tau * REF * (other / REF) ** q[n]
        if self.name == "saturating":
            return own - tau * q[n] * np.expm1(-other / q[n])
        if self.name == "geo":
            return own + tau * other + q[n] * np.sqrt(own * other)
        if self.name == "geo-a":
            return own + tau * other + q[n] * own ** q[n + 1] * other ** (1 - q[n + 1])
        if self.name == "geo-lang":
            return own + tau * other + q[n:2 * n][i] * np.sqrt(own * other)
        raise ValueError(self.name)


FORMS = (
    Form("none", 0, ()),
    Form("pooled", 1, ()),
    Form("source", 1, ()),
    Form("full", 1, ()),
    Form("power", 1, (("g", 0.05, 1.0, (0.5, 1.0)),)),
    Form("saturating", 1, (("S", 10.0, 1e5, (300.0, 3000.0)),)),
    Form("geo", 1, (("phi", 0.0, T_MAX, (0.0, 0.2)),)),
    Form("geo-a", 1, (("phi", 0.0, T_MAX, (0.0, 0.2)), ("a", 0.05, 0.95, (0.5,)))),
    Form("geo-lang", 2, ()),
)


def law_values(base, form: Form, q, rstar, pts: Points) -> np.ndarray:
    """E_i + K_i d^-c_i at every point (base = K, c, E arrays in the points' language order)."""
    K, c, E = base
    e = repeated(pts.X, pts.U, rstar)
    d = np.maximum(form.effective(q, e, pts.lang), 1e-9)  # d = 0 only at a pure-transfer point with no transfer
    return E[pts.lang] + K[pts.lang] * d ** (-c[pts.lang])


def fit_form(base, form: Form, pts: Points, start=None):
    """(q, R*, RSS) of ``form`` on ``pts`` by bounded least squares from every start (or ``start``)."""
    n = len(pts.languages)
    fit_rstar = pts.has_repeats
    lo, hi = form.bounds(n)
    if fit_rstar:
        lo, hi = np.r_[lo, RSTAR_BOUNDS[0]], np.r_[hi, RSTAR_BOUNDS[1]]

    def fun(p):
        return pts.y - law_values(base, form, p[:form.size(n)], p[-1] if fit_rstar else 1.0, pts)

    if lo.size == 0:
        r = fun(np.zeros(0))
        return np.zeros(0), 1.0, float(r @ r)
    starts = list(form.starts(n)) if start is None else [start[0]]
    best = None
    for q0 in starts:
        p0 = np.clip(np.r_[q0, [start[1] if start else 1.0] * fit_rstar], lo, hi)
        with np.errstate(all="ignore"):
            res = least_squares(fun, p0, bounds=(lo, hi), method="trf", ftol=1e-10, xtol=1e-10, gtol=1e-10,
                                max_nfev=200 * lo.size)
        if best is None or res.cost < best.cost:
            best = res
    p = best.x
    return p[:form.size(n)], (float(p[-1]) if fit_rstar else 1.0), float(2 * best.cost)


def fit_joint(base, single: tuple, pts: Points):
    """pooled with every language's K_i and c_i refitted on its one-language rows and the
    second-stage points together (E_i from stage 1, R* from the pooled fit; plain least squares,
    from stage 1 and the pooled fit): ((K, c, E), tau, R*, RSS of the second-stage points).
    single = (language index, size, NLL) arrays of the one-language rows."""
    K, c, E = base
    n = len(K)
    s_lang, s_x, s_y = single
    pooled = FORMS[1]
    q0, rstar, _ = fit_form(base, pooled, pts)

    def unpack(p):
        return (np.exp(p[:n]), p[n:2 * n], E), p[2 * n:]

    def fun(p):
        b, tau = unpack(p)
        own = s_y - (E[s_lang] + b[0][s_lang] * s_x ** (-b[1][s_lang]))
        return np.r_[own, pts.y - law_values(b, pooled, tau, rstar, pts)]

    lo = np.r_[np.full(n, -20.0), np.full(n, 0.005), np.zeros(n)]
    hi = np.r_[np.full(n, 20.0), np.full(n, 2.0), np.full(n, T_MAX)]
    p0 = np.clip(np.r_[np.log(K), c, q0], lo, hi)
    with np.errstate(all="ignore"):
        res = least_squares(fun, p0, bounds=(lo, hi), method="trf", ftol=1e-10, xtol=1e-10, gtol=1e-10)
    b, tau = unpack(res.x)
    r = fun(res.x)[len(s_y):]
    return b, tau, rstar, float(r @ r)


def aicc(rss: float, m: int, p: int) -> float:
    return m * math.log(max(rss, 1e-300) / m) + 2 * p + 2 * p * (p + 1) / (m - p - 1) if m - p - 1 > 0 else math.inf


def plan_points(records, languages) -> tuple[Points, list[dict]]:
    """The plan models (never fitted on) as second-stage points, one per scored language."""
    order = {lang: k for k, lang in enumerate(languages)}
    recs = [r for r in records if r["kind"] in PLAN_KINDS]
    run, lang, X, y = [], [], [], []
    for r in recs:
        for name, sc in sorted(r["scores"].items()):
            if name in order:
                run.append(r["run"])
                lang.append(order[name])
                X.append([float(r["sizes"].get(code, 0)) for code in languages])
                y.append(float(sc["nll"]))
    m = len(y)
    return Points(tuple(languages), np.array(run), np.array(lang, dtype=int), np.array(X).reshape(m, len(languages)),
                  np.full((m, len(languages)), np.inf), np.array(y), np.ones(m, dtype=bool)), recs


def lomo(fitter, pts: Points) -> list[np.ndarray]:
    """Per fitted multilingual mixture (seed twins together), its points' residuals under the law
    ``fitter`` (points -> (base, form, q, R*, RSS)) fitted with it left out."""
    out = []
    for rows in folds(pts):
        keep = np.ones(len(pts), dtype=bool)
        keep[rows] = False
        held = pts.take(~keep)
        out.append(held.y - law_values(*fitter(pts.take(keep))[:4], held))
    return out


def bootstrap(laws, languages, form: Form, pts: Points, q, rstar, test: Points, n_boot: int, seed: int = 0):
    """(D, m) values at the test points: draw d of every law (stage 1) with stage 2 refitted on
    multilingual and repetition models resampled with replacement (whole models, two strata)."""
    draws = np.stack([np.asarray(laws[lang].draws, dtype=float) for lang in languages], axis=1)[:n_boot]
    rng = np.random.default_rng(seed)
    groups = [[np.flatnonzero(pts.run == r) for r in pts.models(flag)] for flag in (True, False)]
    out = np.empty((len(draws), len(test)))
    for b, dr in enumerate(draws):
        base_b = (dr[:, 0], dr[:, 1], dr[:, 2])
        pick = np.concatenate([np.concatenate([g[k] for k in rng.integers(0, len(g), len(g))]) for g in groups if g])
        qb, rb, _ = fit_form(base_b, form, pts.take(pick), start=(q, rstar))
        out[b] = law_values(base_b, form, qb, rb, test)
    return out


def implied_table(base, pts: Points, languages) -> pd.DataFrame:
    """What each multilingual point asks of pooled: d from inverting its language's own law, and
    tau = (d - own) / other, averaged over the points of one (language, own, other)."""
    K, c, E = base
    d = ((pts.y - E[pts.lang]) / K[pts.lang]) ** (-1.0 / c[pts.lang])
    own = pts.X[np.arange(len(pts)), pts.lang]
    other = pts.X.sum(axis=1) - own
    frame = pd.DataFrame({"language": np.array(languages)[pts.lang], "own": own.astype(int), "other": other.astype(int),
                          "measured": pts.y, "d": d, "tau": (d - own) / other})
    return frame.groupby(["language", "own", "other"], as_index=False).agg(
        models=("d", "size"), measured=("measured", "mean"), d=("d", "mean"), tau=("tau", "mean"),
        tau_min=("tau", "min"), tau_max=("tau", "max"))


def rmse(e) -> float:
    e = np.asarray(e, dtype=float)
    return float(np.sqrt(np.mean(e**2))) if e.size else math.nan


def evaluate(folder: Path, n_boot: int) -> dict:
    """Every form's selection and test figures (module docstring) on the records of ``folder``."""
    records = _records(folder)
    codes = sorted({lang for r in records if r["kind"] == "transfer" for lang in r["sizes"]})
    frame = pilots_table(records, codes)
    laws = fit_transfer(frame, n_boot, transfer="pooled")  # stage 1 and its whole-model draws
    languages = list(laws)
    base = tuple(np.array([getattr(laws[lang], key) for lang in languages]) for key in ("K", "c", "ceiling"))
    single_rows, pts = split_table(read_pilots(frame, metric="nll", lower_is_better=True), languages)
    single = (single_rows["language"].map({lang: k for k, lang in enumerate(languages)}).to_numpy(),
              single_rows["size"].to_numpy(float), single_rows["score"].to_numpy(float))
    for form in FORMS[1:4]:  # the generic stage 2 against budgetlaw's, same data and laws
        log.info("stage 2 %s: RSS budgetlaw %.6g, here %.6g", form.name,
                 fit_stage2((*base, -1.0), pts, form.name, fit_rstar=pts.has_repeats)[2], fit_form(base, form, pts)[2])
    multi = pts.take(pts.multilingual)
    test, plan_recs = plan_points(records, languages)
    first5 = np.isin(test.run, [r["run"] for r in plan_recs if r["kind"] != "transfer-plan" and r["seed"] in (1, 2)])
    z = float(NormalDist().inv_cdf((1 + LEVEL) / 2))
    fitters = {f.name: (lambda p, f=f: (base, f, *fit_form(base, f, p))) for f in FORMS}
    # a diagnostic, not a form of d: pooled with every K_i, c_i refitted jointly
    fitters["pooled-joint"] = lambda p: (lambda b, t, r, rss: (b, FORMS[1], t, r, rss))(*fit_joint(base, single, p))
    both = Points(pts.languages, *(np.concatenate([getattr(pts, k), getattr(test, k)])
                                   for k in ("run", "lang", "X", "U", "y", "multilingual")))
    rows, per_lang, laws_of, folds_of = [], [], {}, {}
    fold_runs = [str(pts.run[rows_[0]]) for rows_ in folds(pts)]  # the random splits: own and other vary apart
    held = {}
    for rows_, run in zip(folds(pts), fold_runs):
        mask = np.zeros(len(pts), dtype=bool)
        mask[rows_] = True
        held[run] = {"y": pts.y[mask], "lang": pts.lang[mask], "predicted": {}}  # lomo's order: pts.take(~keep)
    for name, fitter in fitters.items():
        log.info("form %s", name)
        law = laws_of[name] = fitter(pts)
        fb, form, q, rstar, rss = law
        folds_of[name] = lomo(fitter, pts)
        for e, run in zip(folds_of[name], fold_runs):
            held[run]["predicted"][name] = held[run]["y"] - e
        sd = rmse(multi.y - law_values(*law[:4], multi))
        pred = law_values(*law[:4], test)
        err = test.y - pred
        inside = np.full(len(test), np.nan)
        joint = name == "pooled-joint"
        if not joint and sd < 10:  # none leaves d = 0 at a pure-transfer point: an infinite loss
            lower, upper = quantiles(bootstrap(laws, languages, form, pts, q, rstar, test, n_boot),
                                     [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
            lower, upper = pred - np.hypot(pred - lower, z * sd), pred + np.hypot(upper - pred, z * sd)
            inside = ((test.y >= lower) & (test.y <= upper)).astype(float)
        p = (3 * len(languages) if joint else form.size(len(languages))) + pts.has_repeats
        by_model = pd.Series(err).groupby(test.run).transform("mean").to_numpy()
        by_lang = pd.Series(err).groupby(test.lang).transform("mean").to_numpy()
        rows.append({"form": name, "parameters": p, "fitted_rmse": sd,
                     "aicc": math.nan if joint else aicc(rss if sd < 10 else math.inf, len(pts), p),
                     "lomo_rmse": rmse(np.concatenate(folds_of[name])), "test_rmse": rmse(err),
                     "lomo_all_rmse": rmse(np.concatenate(lomo(fitter, both))),
                     "lomo_rand_rmse": rmse(np.concatenate([np.zeros(0)] + [e for e, r in zip(folds_of[name], fold_runs)
                                                                         if r.startswith("xfer-rand")])),
                     "test_rmse_first5": rmse(err[first5]), "test_bias": float(err.mean()),
                     "test_within_model": rmse(err - by_model), "test_less_language_bias": rmse(err - by_lang),
                     "test_inside": float(np.mean(inside)), "test_inside_first5": float(np.mean(inside[first5])),
                     "rstar": rstar, "shared": {} if joint else dict(zip([s[0] for s in form.shared],
                                                                         q[len(q) - len(form.shared):]))})
        for k, lang in enumerate(languages):
            at = test.lang == k
            per_lang.append({"form": name, "language": lang, "rmse": rmse(err[at]), "bias": float(err[at].mean()),
                             "inside": float(np.mean(inside[at]))})
    table = pd.DataFrame(rows)
    ref = np.array([np.mean(e**2) for e in folds_of["pooled"]])
    diff = {k: np.array([np.mean(e**2) for e in v]) - ref for k, v in folds_of.items()}
    table["lomo_dmse"] = [diff[f].mean() for f in table["form"]]
    table["lomo_dmse_se"] = [diff[f].std(ddof=1) / math.sqrt(len(ref)) for f in table["form"]]
    largest = single_rows.groupby("language")["size"].max().astype(int).to_dict()
    models = {"largest": largest, "one_language": int(single_rows["run"].nunique()), "multilingual": len(pts.models(True)),
              "repetition": len(pts.models(False)), "plan": len(plan_recs), "first5": int(np.unique(test.run[first5]).size)}
    return dict(held=held, languages=languages, table=table, per_lang=pd.DataFrame(per_lang), laws_of=laws_of, records=records,
                implied=implied_table(base, multi, languages), implied_test=implied_table(base, test, languages),
                models=models)


def ar_case(folder: Path, res: dict) -> tuple[pd.DataFrame, dict, int]:
    """Each form's ar (and mean) prediction for the transfer plan and its gain over uniform, with
    the measured values (transfer-plan and uniform models of the same seeds)."""
    languages = res["languages"]
    plan = json.loads((folder / "plan_transfer.json").read_text(encoding="utf-8"))["sizes"]
    uniform = json.loads((folder / "plan_transfer_uniform.json").read_text(encoding="utf-8"))["sizes"]
    made = [r for r in res["records"] if r["kind"] == "transfer-plan"]
    unif = [r for r in res["records"] if r["kind"] == "uniform" and r["seed"] in {q["seed"] for q in made}]
    meas = {lang: np.mean([r["scores"][lang]["nll"] for r in made]) for lang in languages}
    gain = {lang: np.mean([r["scores"][lang]["nll"] for r in unif]) - meas[lang] for lang in languages}
    n, k = len(languages), languages.index("ar")
    X = np.repeat([[float(s.get(lang, 0)) for lang in languages] for s in (plan, uniform)], n, axis=0)
    pts = Points(tuple(languages), np.array(["p"] * 2 * n), np.tile(np.arange(n), 2), X, np.full((2 * n, n), np.inf),
                 np.zeros(2 * n), np.ones(2 * n, dtype=bool))
    rows = []
    for name, law in res["laws_of"].items():
        v = law_values(*law[:4], pts)
        rows.append({"form": name, "ar_predicted": v[k], "ar_measured": meas["ar"], "ar_gain_predicted": v[n + k] - v[k],
                     "ar_gain_measured": gain["ar"], "mean_gain_predicted": float(np.mean(v[n:] - v[:n])),
                     "mean_gain_measured": float(np.mean(list(gain.values())))})
    frozen = bl.load_laws(folder / "laws_transfer_plan.json")
    fp, fu = (bl.predict(frozen, s).set_index("language")["predicted"] for s in (plan, uniform))
    rows.append({"form": "pooled, frozen (laws_transfer_plan.json)", "ar_predicted": fp["ar"], "ar_measured": meas["ar"],
                 "ar_gain_predicted": fu["ar"] - fp["ar"], "ar_gain_measured": gain["ar"],
                 "mean_gain_predicted": float((fu - fp).mean()), "mean_gain_measured": float(np.mean(list(gain.values())))})
    return pd.DataFrame(rows), plan, len(made)


def random_splits(study_file: str, res: dict) -> list[str]:
    """Markdown: each form's predictions for the random splits of the study's transfer design (they
    vary own and other pairs apart, which the leave-one-out models cannot): a recorded split
    predicted with it left out (its LOMO fold) beside what it measured; a split not recorded yet
    predicted by the fit on everything (a prediction made before the measurement)."""
    from tuning.study.graph import random_split
    from tuning.study.spec import load_study

    study = load_study(study_file)
    languages, n = res["languages"], len(res["languages"])
    held = res["held"]
    rows = []
    for run, sizes in ((f"xfer-rand-{b:05d}-{'' if a == 1 else f'a{a:g}-'}s{s}", random_split(study.codes, b, s, a))
                       for b, s, a in study.transfer.random):
        X = np.repeat([[float(sizes.get(lang, 0)) for lang in languages]], n, axis=0)
        if run in held:  # recorded: measured, and every form's LOMO prediction
            measured, values = held[run]["y"], held[run]["predicted"]
            order = held[run]["lang"]
        else:
            pts = Points(tuple(languages), np.array([run] * n), np.arange(n), X, np.full((n, n), np.inf), np.zeros(n),
                         np.ones(n, dtype=bool))
            measured, order = np.full(n, np.nan), np.arange(n)
            values = {name: law_values(*law[:4], pts) for name, law in res["laws_of"].items()}
        rows += [[run, languages[k], f"{X[k, k]:.0f}", f"{X[k].sum() - X[k, k]:.0f}",
                  "not yet" if np.isnan(measured[i]) else f"{measured[i]:.3f}",
                  *(_num(v[i], ".3f", 10) for v in values.values())] for i, k in enumerate(order)]
    if not rows:
        return []
    return ["## The random splits: predicted before they were fitted on", "",
            "A recorded split: each form fitted without it (its leave-one-mixture-out fold) against what it measured; "
            "a split not recorded yet: each form fitted on everything above.", "",
            *_table(["run", "language", "own", "other", "measured", *res["laws_of"]], rows), ""]


def dcp_check(res: dict) -> dict:
    """Whether each form's loss, written in cvxpy at its fitted parameters (language 0 of the laws,
    the allocation x a variable), is a DCP convex expression: the condition for planning on it."""
    import cvxpy as cp

    n = len(res["languages"])
    x = cp.Variable(n, pos=True)
    own, other = x[0], cp.sum(x[1:])
    pair = cp.hstack([own, other])
    out = {}
    for name, (fb, form, q, _, _) in res["laws_of"].items():
        kind = form.name
        if kind == "none":
            d = own
        elif kind in ("pooled", "source", "full"):  # affine: what language 0 receives from each other language
            d = own + (q[0] * other if kind == "pooled" else q[1:] @ x[1:] if kind == "source" else q[:n - 1] @ x[1:])
        elif kind == "power":
            d = own + q[0] * REF * cp.power(other / REF, q[n])
        elif kind == "saturating":
            d = own + q[0] * q[n] * (1 - cp.exp(-other / q[n]))
        else:  # geo, geo-a, geo-lang: a weighted geometric mean of own and other
            d = own + q[0] * other + q[n] * cp.geo_mean(pair, [q[n + 1], 1 - q[n + 1]] if kind == "geo-a" else None)
        loss = fb[2][0] + fb[0][0] * cp.power(d, -fb[1][0])
        out[name] = bool(d.is_concave() and loss.is_dcp() and loss.is_convex())
    return out


def _num(v: float, fmt: str = ".4f", cap: float = math.inf) -> str:
    """v in ``fmt``; "inf" beyond ``cap`` (an RMSE of a form that leaves d = 0 at a pure-transfer point)."""
    return "n/a" if np.isnan(v) else ("inf" if not abs(v) <= cap else format(v, fmt))


def _pct(v: float) -> str:
    return "n/a" if np.isnan(v) else f"{100 * v:.0f}%"


def verdict(t: pd.DataFrame, res: dict, ar: pd.DataFrame) -> list[str]:
    """The selection read out: a form wins when its LOMO mean squared error is below pooled's by
    more than two standard errors of the per-fold difference and its AICc is lower too."""
    forms = t[(t["form"] != "pooled-joint") & (t["form"] != "none")].set_index("form")
    pooled, lowest = forms.loc["pooled"], forms["lomo_rmse"].idxmin()
    wins = forms[(forms["lomo_dmse"] < -2 * forms["lomo_dmse_se"]) & (forms["aicc"] < pooled["aicc"])].index.tolist()
    rival = forms.drop(index="pooled")["lomo_rmse"].idxmin() if lowest == "pooled" else lowest
    low = forms.loc[rival]
    lines = ["## Verdict", "",
             f"- **Selection (a)**: lowest LOMO RMSE {lowest} {forms.loc[lowest, 'lomo_rmse']:.4f}"
             + (f"; the best other form {rival} {low['lomo_rmse']:.4f}" if lowest == "pooled" else
                f" against pooled {pooled['lomo_rmse']:.4f}")
             + f" (per-fold MSE difference from pooled {1e3 * low['lomo_dmse']:+.2f} +- {1e3 * low['lomo_dmse_se']:.2f} "
             f"x1e-3; AICc {low['aicc']:.1f} against pooled's {pooled['aicc']:.1f}). "
             + (f"**Wins (more than 2 standard errors and a lower AICc): {', '.join(wins)}.**" if wins else
                "**No form wins**: no LOMO improvement over pooled exceeds two standard errors of the per-fold "
                "difference with a lower AICc, so pooled stays.")]
    if lowest != "pooled":
        one_se = -low["lomo_dmse"] > low["lomo_dmse_se"]
        lines.append(f"- By the lowest LOMO RMSE alone (what `transfer=\"auto\"` took before its one-standard-error "
                     f"rule), {lowest} would be chosen; it beats pooled by {'more' if one_se else 'less'} than one "
                     f"standard error, so the library's rule {'would take it, were it a library form' if one_se else 'keeps pooled'}. "
                     f"On the plan models its RMSE would be {low['test_rmse']:.4f} against pooled's "
                     f"{pooled['test_rmse']:.4f} (inside 90%: {_pct(low['test_inside'])} against {_pct(pooled['test_inside'])}).")
    if "pooled-joint" in set(t["form"]):
        j = t.set_index("form").loc["pooled-joint"]
        lines.append(f"- pooled-joint (a change of stage 1, not a form of d): per-fold MSE difference from pooled "
                     f"{1e3 * j['lomo_dmse']:+.2f} +- {1e3 * j['lomo_dmse_se']:.2f} x1e-3 "
                     f"({'beyond' if j['lomo_dmse'] < -2 * j['lomo_dmse_se'] else 'within'} two standard errors), "
                     f"LOMO {j['lomo_rmse']:.4f}, test {j['test_rmse']:.4f} (first five {j['test_rmse_first5']:.4f}).")
    best = forms["test_rmse"].idxmin()
    lines.append(f"- **Test (b)**: lowest plan-model RMSE {best} {forms.loc[best, 'test_rmse']:.4f} (first five "
                 f"{forms.loc[best, 'test_rmse_first5']:.4f}) against pooled {pooled['test_rmse']:.4f} "
                 f"({pooled['test_rmse_first5']:.4f}); LOMO of {best}: {forms.loc[best, 'lomo_rmse']:.4f}.")
    every = t.set_index("form")["lomo_all_rmse"]
    lines.append(f"- With the plan models fitted too (leave-one-mixture-out over every multilingual model; not the "
                 f"selection): lowest {every.idxmin()} {every.min():.4f}, pooled {every['pooled']:.4f}, "
                 + ", ".join(f"{f} {every[f]:.4f}" for f in every.index if f not in ("none", "pooled", every.idxmin())
                             and every[f] < 1) + ".")
    lines.append(f"- pooled's plan-model error: RMSE {pooled['test_rmse']:.4f}, mean error {pooled['test_bias']:+.4f}; "
                 f"{pooled['test_within_model']:.4f} once each model's mean error is removed and "
                 f"{pooled['test_less_language_bias']:.4f} once each language's is (one model's seed noise: ~0.022).")
    mine = res["per_lang"].set_index(["form", "language"]).loc["pooled"]
    lines.append("- pooled's plan-model error by language against its largest one-language model (pairs): "
                 + ", ".join(f"{lang} {mine.loc[lang, 'rmse']:.3f} ({mine.loc[lang, 'bias']:+.3f}; {size})"
                             for lang, size in sorted(res["models"]["largest"].items(), key=lambda kv: -kv[1]))
                 + f". The effective data the plan models imply (the last table) spans {res['implied_test']['d'].min():.0f}-"
                 f"{res['implied_test']['d'].max():.0f} pairs; the fitted multilingual models, "
                 f"{res['implied']['d'].min():.0f}-{res['implied']['d'].max():.0f}.")
    fitted = res["implied"]
    totals = sorted({int(o + x) for o, x in zip(fitted["own"], fitted["other"])})
    lines.append(f"- The fitted multilingual points hold {len(fitted)} (language, own, other) conditions with own + "
                 f"other = {', '.join(map(str, totals))} pairs: " + (
                     "within one total, less own means more other, so a transfer that saturates in the other "
                     "languages' pairs and one that grows with the language's own pairs fit them alike; they part "
                     "only at other totals (the plan models, the random splits below)." if len(totals) == 1 else
                     "own and other pairs vary apart."))
    forms_ar = ar[~ar["form"].isin(["none", "pooled-joint"]) & ~ar["form"].str.contains("frozen")]
    lines.append(f"- ar in the transfer plan: measured gain against uniform {forms_ar['ar_gain_measured'].iloc[0]:+.3f}, "
                 f"predicted {forms_ar['ar_gain_predicted'].max():+.3f} to {forms_ar['ar_gain_predicted'].min():+.3f} "
                 f"across the forms (the closest: {forms_ar.loc[forms_ar['ar_gain_predicted'].idxmin(), 'form']}).")
    return lines + [""]


def _table(header: list[str], rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def markdown(folder: Path, res: dict, n_boot: int, command: str, study_file: str) -> str:
    t, m, languages = res["table"], res["models"], res["languages"]
    ar, plan, seeds = ar_case(folder, res)
    lines = ["# Forms of transfer, compared on the SmolLM2 multilingual models", "",
             f"Generated by `{command}` ({n_boot} bootstrap draws). Fitted on {m['one_language']} one-language, "
             f"{m['multilingual']} multilingual and {m['repetition']} repetition models (what `laws_transfer.json` is "
             f"fitted on); tested on the {m['plan']} plan models never fitted on (the first five: {m['first5']}). NLL per "
             "token; K, c, E of every language from stage 1; the forms are written out in the script's docstring, and "
             "every d is concave in the allocation, so planning on any of them would stay convex (cvxpy DCP, each "
             "language-0 loss at its fitted parameters: "
             + ", ".join(f"{k} {'convex' if v else 'NOT convex'}" for k, v in dcp_check(res).items()) + ").", "",
             "## Selection (fitted multilingual models only) and test (plan models)", "",
             "LOMO: leave-one-mixture-out RMSE over the fitted multilingual models; dMSE: its per-fold mean squared "
             "error minus pooled's, mean +- standard error over the folds. AICc of the stage-2 fit on all fitted "
             "second-stage points (R* counted). Test: fitted on everything, predicted on the plan models; inside: "
             "share of their points in the 90% interval for one model. pooled-joint (pooled with every K_i, c_i "
             "refitted on the one-language and multilingual points together) is a diagnostic, not a form of d. The last "
             "column is not a selection criterion (it looks at the plan models): leave-one-mixture-out over every "
             "multilingual model, fitted and plan models together, as a study that fits its plan models would choose.", ""]
    lines += _table(["form", "params", "AICc", "fitted RMSE", "**LOMO RMSE**", "LOMO dMSE vs pooled (x1e-3)", "LOMO, random splits only",
                     "**test RMSE**", "first five", "mean error", "within-model RMSE", "less language means",
                     "inside 90%", "first five", "LOMO, plan models fitted too"],
                    ([r.form, str(r.parameters), _num(r.aicc, ".1f"), _num(r.fitted_rmse, cap=10),
                      _num(r.lomo_rmse, cap=10),
                      f"{_num(1e3 * r.lomo_dmse, '+.2f', 1e5)} +- {_num(1e3 * r.lomo_dmse_se, '.2f', 1e5)}",
                      _num(r.lomo_rand_rmse, cap=10),
                      _num(r.test_rmse), _num(r.test_rmse_first5), f"{r.test_bias:+.4f}", _num(r.test_within_model),
                      _num(r.test_less_language_bias), _pct(r.test_inside), _pct(r.test_inside_first5),
                      _num(r.lomo_all_rmse, cap=10)]
                     for r in t.itertuples()))
    shared = [f"{r.form}: " + ", ".join(f"{k} = {v:.3g}" for k, v in r.shared.items()) for r in t.itertuples() if r.shared]
    lines += ["", "Fitted shared parameters: " + "; ".join(shared) + f"; R* = {t['rstar'].iloc[1]:.3g} (every form).", "",
              "Test per language: RMSE (mean error measured - predicted) share inside the 90% interval:", ""]
    lines += _table(["form", *languages], ([name, *(f"{_num(r.rmse, '.3f')} ({r.bias:+.3f}) {_pct(r.inside)}" for r in g.itertuples())]
                                           for name, g in res["per_lang"].groupby("form", sort=False)))
    lines += ["", *verdict(t, res, ar),
              f"## The ar case of the transfer plan (ar {plan['ar']:.0f} own pairs, uniform 150; {seeds} seeds)", ""]
    lines += _table(["law", "ar predicted", "ar measured (mean)", "ar gain vs uniform, predicted", "measured",
                     "mean gain per language, predicted", "measured"],
                    ([r.form, f"{r.ar_predicted:.3f}", f"{r.ar_measured:.3f}", f"{r.ar_gain_predicted:+.3f}",
                      f"{r.ar_gain_measured:+.3f}", f"{r.mean_gain_predicted:+.4f}", f"{r.mean_gain_measured:+.4f}"]
                     for r in ar.itertuples()))
    lines += ["", *random_splits(study_file, res), "## What the points ask of pooled", "",
              "d: the effective data that makes each language's own law give the measured NLL; tau = (d - own) / "
              "other, what a pair of another language would have been worth (mean, min-max over the models).", ""]
    lines += _table(["language", "own", "other", "models", "measured", "d", "tau (min-max)", "set"],
                    ([r.language, str(r.own), str(r.other), str(r.models), f"{r.measured:.3f}", f"{r.d:.0f}",
                      f"{r.tau:.3f} ({r.tau_min:.3f}-{r.tau_max:.3f})", which]
                     for which, frame in (("fitted", res["implied"]), ("plan", res["implied_test"]))
                     for r in frame.itertuples()))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", default="docs/results/smollm2-gettext")
    parser.add_argument("--out", default=None, help="markdown to write (default: FOLDER/transfer_forms.md)")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--study", default="examples/smollm2_six_languages.yaml",
                        help="the study file whose random splits not yet recorded are predicted")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("budgetlaw").setLevel(logging.ERROR)  # stage 1's flags, the same as the report's
    folder = Path(args.folder)
    res = evaluate(folder, args.n_boot)
    text = markdown(folder, res, args.n_boot, f"python examples/transfer_forms.py {args.folder} --n-boot {args.n_boot}",
                    args.study)
    with atomic_write(Path(args.out) if args.out else folder / "transfer_forms.md") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
