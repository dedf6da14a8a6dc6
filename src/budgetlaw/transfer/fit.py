"""Fit a transfer-aware law from a mixed pilots table: two stages, a form choice, a model bootstrap.

Stage 1: the one-language pilots of each language pin its own law (K_i, c_i and C_i or E_i) by
the ordinary fit (budgetlaw.fitting.fitter). Stage 2: with those held fixed, the multilingual
points pin T and the repetition points pin R* (budgetlaw.transfer.law), by bounded least squares
(budgetlaw.transfer.stage2: scipy least_squares, trf, analytic Jacobian) on

    r_k = y_k - value_i(d_i(X_k; T, R*)),      0 <= theta <= T_MAX,  R* in RSTAR_BOUNDS

from three starts (every theta 0.05, 0.3, 1), keeping the lowest cost. A parameter no point
informs (pooled tau_i when i is never scored beside other languages' pairs; full T_ij when j
never has pairs where i is scored) is held at 0 and listed as unidentified. R* is fitted only
when some point repeats pairs; otherwise it stays at DEFAULT_RSTAR.

The form (transfer="auto") is chosen on leave-one-mixture-out errors over the multilingual
models (each mixture's models - seeds of one mixture together - left out in turn, stage 2 refitted
on the rest, their points predicted), by the one-standard-error rule: the form with the fewest free
parameters whose held-out MSE is within one standard error (of its per-fold difference) of the
lowest. A richer form must beat a simpler one by more than the folds' scatter; the lowest error
alone would pick whichever form one lucky mixture favours. With a single mixture: the lowest AICc
(m points, p free parameters: m log(RSS/m) + 2p + 2p(p+1)/(m-p-1)). Ties go to fewer parameters. A form with more free parameters than
multilingual points is never fitted: asked for by name it is refused, naming a form that fits.

Bootstrap (n_boot draws): each draw resamples whole models with replacement within three
strata (each language's one-language models; the multilingual models; the repetition models),
refits stage 1 (the batch engine of the one-language bootstrap, all draws of a language at once,
each resample a fit with its draw counts as weights, the robust scale kept from the point fit; a
resample with too few distinct sizes is drawn again, up to 100 times) and then stage 2 of the chosen form, started at the point estimate. Draw
d of every language's law and of T come from the same resample.

Stage 1 (``stage1``): "separate" is the above. "joint" refits every K_i, c_i together with the
chosen form's theta (and R* when fitted) on the one-language rows and the stage-2 points at once,
asymptotes held at stage 1's (budgetlaw.transfer.joint), after stage 2; each bootstrap draw then
adds the same refit after its two stages, started at the point estimate, with the draw's counts as
weights on the one-language rows. "auto" compares the two by leave-one-mixture-out errors of the
chosen form with the one-standard-error rule above: the joint refit has 2n more free parameters,
so it is kept only when its held-out MSE is lower by more than one standard error. With fewer than
two mixtures "auto" keeps "separate". A "separate" fit records nothing new (laws.json as before);
the others record ``fitted_on["selection"]["stage1"]`` and the signature's ``transfer.stage1``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import zlib

import numpy as np
from tqdm.auto import tqdm

from budgetlaw.errors import InputError
from budgetlaw.fitting.engine import FitProblem, fit_batch, make_problem, rho, top_median
from budgetlaw.fitting.fitter import fit as fit_one_language
from budgetlaw.fitting.laws import LawSet
from budgetlaw.fitting.options import C_BOUNDS, FitOptions
from budgetlaw.pilots import read_pilots
from budgetlaw.law import PowerLaw
from budgetlaw.transfer.joint import METHOD as JOINT_METHOD
from budgetlaw.transfer.joint import OneLanguageRows, fit_joint
from budgetlaw.transfer.law import (DEFAULT_RSTAR, FORMS, RSTAR_BOUNDS, STAGE1_CHOICES, T_MAX, Transfer, matrix,
                                    n_params, parameter_names)
from budgetlaw.transfer.stage2 import fit_stage2, free_parameters, values
from budgetlaw.transfer.table import Points, split_table

__all__ = ["fit", "choose_form", "choose_stage1", "folds", "one_se_choice", "TRANSFER_CHOICES", "STAGE1_CHOICES"]

log = logging.getLogger(__name__)

TRANSFER_CHOICES = ("auto", *FORMS)


def folds(pts: Points) -> list[np.ndarray]:
    """The multilingual points grouped by their model's mixture: models that differ only in seed
    are left out together, or a fold would be predicted from its own mixture's twin."""
    keys = [tuple(row) for row in np.where(pts.multilingual[:, None], pts.X, np.nan)]
    groups: dict = {}
    for k, key in enumerate(keys):
        if pts.multilingual[k]:
            groups.setdefault(key, []).append(k)
    return [np.array(rows) for rows in groups.values()]


def _fold_sse(pts: Points, groups, form: str, refit) -> np.ndarray:
    """Leave-one-mixture-out squared errors, one sum per fold of ``groups`` (arrays of point
    indices): ``refit(rest)`` fits the law without the fold and gives (base, theta, R*), or None
    when it cannot (the fold counts inf, as does a fold predicted non-finite)."""
    n = len(pts.languages)
    sums = []
    for rows in groups:
        out = np.zeros(len(pts), dtype=bool)
        out[rows] = True
        fitted = refit(pts.take(~out))
        if fitted is None:
            sums.append(math.inf)
            continue
        base, theta, rstar = fitted
        held = pts.take(out)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            e = held.y - values(base, held, matrix(form, theta, n), rstar)
        sums.append(float(np.sum(e**2)) if np.isfinite(e).all() else math.inf)
    return np.array(sums)


def _lomo_folds(base, pts: Points, form: str, fit_rstar: bool) -> np.ndarray:
    """Leave-one-mixture-out squared-error sums (see ``folds``), stage 2 refitted without the fold."""
    return _fold_sse(pts, folds(pts), form, lambda rest: (base, *fit_stage2(base, rest, form, fit_rstar=fit_rstar)[:2]))


def _joint_folds(base, rows: OneLanguageRows, pts: Points, groups, form: str, fit_rstar: bool, c_bounds) -> np.ndarray:
    """The same sums for the joint refit: stage 2 without the fold (its three starts), then the
    joint refit on every one-language row and the remaining points; a parameter the remaining
    points do not inform is held, as in stage 2."""
    def refit(rest):
        theta, rstar, rss = fit_stage2(base, rest, form, fit_rstar=fit_rstar)
        if not math.isfinite(rss):
            return None
        joint = fit_joint(base, rows, rest, form, free_parameters(form, rest), theta, rstar, fit_rstar=fit_rstar,
                          c_bounds=c_bounds)
        return ((joint.K, joint.c, base[2], base[3]), joint.theta, joint.rstar) if joint.ok else None

    return _fold_sse(pts, groups, form, refit)


def one_se_choice(fold_sse: dict, sizes: dict, n_points: int) -> tuple[str, str, dict]:
    """(chosen, best, standard errors) by the one-standard-error rule on leave-one-mixture-out
    errors: ``best`` has the lowest MSE (sum over folds / n_points); the chosen form is the one
    with the fewest free parameters (then the lower MSE) whose MSE exceeds best's by at most one
    standard error of the difference, SE = sqrt(F var(d_f)) / n_points over the F per-fold
    differences d_f of squared-error sums (folds as independent draws). A form with an infinite
    fold is never within the margin."""
    mse = {f: float(np.sum(v)) / n_points for f, v in fold_sse.items()}
    best = min(mse, key=lambda f: (round(mse[f], 12), sizes[f]))
    se = {}
    for f, v in fold_sse.items():
        d = np.asarray(v, float) - np.asarray(fold_sse[best], float)
        se[f] = (math.sqrt(d.size * np.var(d, ddof=1)) / n_points if d.size > 1 and np.isfinite(d).all()
                 else (0.0 if f == best else math.inf))
    within = [f for f in mse if math.isfinite(mse[f]) and mse[f] - mse[best] <= se[f]]
    chosen = min(within, key=lambda f: (sizes[f], round(mse[f], 12))) if within else best
    return chosen, best, se


def _rmse_of(base, pts: Points, form: str, theta, rstar, n: int) -> float | None:
    """RMSE of the law at ``pts`` (None without points or when not finite)."""
    if len(pts) == 0:
        return None
    e = pts.y - values(base, pts, matrix(form, theta, n), rstar)
    value = float(np.sqrt(np.mean(e**2)))
    return value if math.isfinite(value) else None


def _aicc(rss: float, m: int, p: int) -> float:
    if m - p - 1 <= 0:
        return math.inf
    return m * math.log(max(rss, 1e-300) / m) + 2 * p + 2 * p * (p + 1) / (m - p - 1)


def choose_form(base, pts: Points, requested: str, fit_rstar: bool) -> tuple[str, dict]:
    """The form to fit and how it was chosen: {"criterion", "scores", "parameters"}."""
    multi = pts.take(pts.multilingual)
    m = len(multi)
    sizes = {form: int(free_parameters(form, multi).sum()) if m else 0 for form in FORMS}
    fits = [form for form in FORMS if sizes[form] <= m and (form == "none" or sizes[form] > 0)]
    if requested != "auto":
        if requested not in fits:
            best = max(fits, key=lambda f: sizes[f])
            raise InputError(f"pilots: transfer={requested!r} has {sizes[requested]} free parameters but the table "
                             f"has {m} multilingual point(s) ({len(multi.models())} model(s)); use transfer={best!r} "
                             f"({sizes[best]} parameters) or add multilingual models")
        return requested, {"criterion": "requested", "scores": {}, "parameters": sizes}
    if not multi.models():
        return "none", {"criterion": "no multilingual models", "scores": {}, "parameters": sizes}
    if len(folds(pts)) >= 2:
        criterion = "leave-one-mixture-out RMSE, one-standard-error rule"
        sse = {form: _lomo_folds(base, pts, form, fit_rstar) for form in fits}
        chosen, best, se = one_se_choice(sse, sizes, m)
        scores = {form: math.sqrt(float(np.sum(v)) / m) for form, v in sse.items()}
        extra = {"lowest": best, "mse_se": {f: (v if math.isfinite(v) else None) for f, v in se.items()}}
    else:
        criterion = "AICc"
        scores = {form: _aicc(fit_stage2(base, pts, form, fit_rstar=fit_rstar)[2], m, sizes[form] + fit_rstar)
                  for form in fits}
        chosen = min(fits, key=lambda f: (round(scores[f], 12), sizes[f]))
        extra = {}
    log.info("transfer form %s chosen by %s: %s", chosen, criterion,
             ", ".join(f"{f} {v:.4g}" for f, v in scores.items()))
    return chosen, {"criterion": criterion, "scores": scores, "parameters": sizes, **extra}


def choose_stage1(base, rows: OneLanguageRows, pts: Points, form: str, fit_rstar: bool, c_bounds,
                  requested: str) -> tuple[str, dict]:
    """"separate" or "joint" for ``form`` and how it was chosen: {"requested", "chosen",
    "criterion"} and, for "auto" with 2+ mixtures, each one's leave-one-mixture-out RMSE
    ("scores"), "lowest", "mse_se" and "parameters" (free parameters of the whole fit)."""
    if requested != "auto":
        return requested, {"requested": requested, "chosen": requested, "criterion": "requested"}
    groups = folds(pts)
    if len(groups) < 2:
        return "separate", {"requested": "auto", "chosen": "separate",
                            "criterion": "fewer than two multilingual mixtures: separate kept"}
    m = int(pts.multilingual.sum())
    p = int(free_parameters(form, pts).sum()) + int(fit_rstar)
    sizes = {"separate": p, "joint": p + 2 * len(pts.languages)}  # + every K_i and c_i
    sse = {"separate": _lomo_folds(base, pts, form, fit_rstar),
           "joint": _joint_folds(base, rows, pts, groups, form, fit_rstar, c_bounds)}
    chosen, best, se = one_se_choice(sse, sizes, m)
    scores = {k: math.sqrt(float(np.sum(v)) / m) for k, v in sse.items()}
    log.info("stage 1 %s chosen by leave-one-mixture-out RMSE (one-standard-error rule): separate %.4g, joint %.4g",
             chosen, scores["separate"], scores["joint"])
    finite = lambda v: v if math.isfinite(v) else None  # noqa: E731 - JSON has no inf
    return chosen, {"requested": "auto", "chosen": chosen, "criterion": "leave-one-mixture-out RMSE, one-standard-error rule",
                    "scores": {k: finite(v) for k, v in scores.items()}, "lowest": best,
                    "mse_se": {k: finite(v) for k, v in se.items()}, "parameters": sizes}


@dataclasses.dataclass(frozen=True)
class _CaseWeights(FitProblem):
    """The batch problem with each row's points counted by how often a resample drew them (a
    whole-model resample is a fit with integer weights on the original points): cost and IRLS
    weights times the counts (B, n); the engine's first grid solve is unweighted and only picks
    the start."""

    counts: np.ndarray = None

    def _per_row(self, r):
        return self.counts[:, None, :] if r.ndim == 3 else self.counts

    def cost(self, r):
        f = self.f_scale
        return 0.5 * f * f * (self._per_row(r) * rho((r / f) ** 2, self.loss)[0]).sum(axis=-1)

    def weights(self, r):
        return self._per_row(r) * rho((r / self.f_scale) ** 2, self.loss)[1]


def _counts(groups: list[np.ndarray], n_rows: int, x: np.ndarray, need: int, rng, n_boot: int) -> np.ndarray:
    """(n_boot, n_rows) counts of each row in resamples of whole models (groups of rows) with
    replacement; a resample with fewer than ``need`` distinct sizes is drawn again (up to 100
    times, then the original rows count once each)."""
    out = np.zeros((n_boot, n_rows))
    for b in range(n_boot):
        for _ in range(100):
            pick = rng.integers(0, len(groups), size=len(groups))
            count = np.zeros(n_rows)
            for k in pick:
                count[groups[k]] += 1
            if np.unique(x[count > 0]).size >= need:
                break
        else:
            count = np.ones(n_rows)
        out[b] = count
    return out


def _refit_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray, opts: FitOptions) -> np.ndarray:
    """(B, 3) of (K, c, ceiling) for every resample at once: the batch engine (grid + IRLS +
    Levenberg-Marquardt, the one-language bootstrap's) with the counts as weights, robust scale
    fixed; the free ceiling's lower bound is each resample's largest per-size median."""
    x_ref = float(x.min())
    t = np.log(x / x_ref)
    lower = np.array([top_median(x[c > 0], y[None, c > 0])[0] for c in counts])
    prob = make_problem(opts, t, lower, opts.f_scale)
    prob = _CaseWeights(**{f.name: getattr(prob, f.name) for f in dataclasses.fields(FitProblem)}, counts=counts)
    theta = fit_batch(prob, np.broadcast_to(y, counts.shape).copy())[0]
    return np.column_stack([np.exp(theta[:, 0]) * x_ref ** theta[:, 1], theta[:, 1], theta[:, 2]])


def _bootstrap(single, pts: Points, laws: LawSet, s: FitOptions, form: str, theta, rstar, fit_rstar: bool,
               n_boot: int, seed: int, joint=None, one_rows: OneLanguageRows | None = None):
    """Draws (D, 3) per language (K, c, ceiling or floor E) and (D, p + 1) of (theta, R*).

    joint: None, or the joint point estimate (a JointFit), with ``one_rows`` the one-language rows
    it was fitted on (in ``single``'s order): each draw then ends with the joint refit from it, the
    draw's counts weighting the one-language rows and the draw's stage-1 asymptotes held (the
    draw's two stages stand where that refit has no finite start)."""
    langs = list(laws)
    n = len(langs)
    rng = np.random.default_rng([seed, zlib.crc32(b"transfer")])
    sign = -1.0 if s.lower_is_better else 1.0
    law_draws = {}
    weights = np.zeros((n_boot, len(single)))  # each one-language row's count in each draw
    for lang in langs:  # stage 1, every draw of a language at once
        rows = single[single["language"] == lang]
        runs = rows["run"].to_numpy(str) if "run" in rows.columns else np.arange(len(rows)).astype(str)
        groups = [np.flatnonzero(runs == r) for r in dict.fromkeys(runs.tolist())]
        opts = dataclasses.replace(s, f_scale=laws[lang].f_scale, n_boot=0)
        x, y = rows["size"].to_numpy(float), rows["score"].to_numpy(float)
        counts = _counts(groups, len(rows), x, opts.n_params, rng, n_boot)
        drawn = _refit_counts(x, sign * y, counts, opts)  # a loss as the score law of -y
        drawn[:, 2] *= sign
        law_draws[lang] = drawn
        weights[:, np.flatnonzero(single["language"].to_numpy() == lang)] = counts
    model_groups = [[np.flatnonzero(pts.run == r) for r in pts.models(flag)] for flag in (True, False)]
    t_draws = np.empty((n_boot, n_params(form, n) + 1))
    for b in tqdm(range(n_boot), desc="bootstrap (whole models)", unit="draw", disable=None):
        K, c, top = (np.array([law_draws[lang][b, k] for lang in langs]) for k in range(3))
        picks = [np.concatenate([g[i] for i in rng.integers(0, len(g), len(g))]) if g else np.zeros(0, int)
                 for g in model_groups]
        drawn = pts.take(np.concatenate(picks).astype(int))
        th, rs, _ = fit_stage2((K, c, top, sign), drawn, form, fit_rstar=fit_rstar, start=(theta, rstar),
                               rstar0=rstar)
        if joint is not None:
            refit = fit_joint((joint.K, joint.c, top, sign), one_rows.weighted(weights[b]), drawn, form,
                              free_parameters(form, drawn), joint.theta, joint.rstar, fit_rstar=fit_rstar,
                              c_bounds=s.c_bounds)
            if refit.ok:
                th, rs = refit.theta, refit.rstar
                for i, lang in enumerate(langs):
                    law_draws[lang][b, :2] = refit.K[i], refit.c[i]
        t_draws[b] = np.r_[th, rs]
    return law_draws, t_draws


def fit(pilots, ceiling: float | None = None, *, transfer: str = "auto", free_ceiling: bool = False,
        max_score: float | None = None, loss: str = "soft_l1", n_boot: int = 1000, seed: int = 0,
        metric: str | None = None, f_scale: float | None = None, c_bounds: tuple[float, float] = C_BOUNDS,
        lower_is_better: bool = False, stage1: str = "separate") -> LawSet:
    """Fit every language's law and, from multilingual and repetition rows, how languages share data.

    pilots: CSV path or DataFrame (docs/formats/pilots.md). transfer: "auto" (chosen by
    leave-one-mixture-out error; "none" when the table has no multilingual rows), "none",
    "pooled", "source" or "full" (budgetlaw.transfer.law). A table without multilingual or
    repetition rows gives exactly the one-language fit (budgetlaw.fitting.fitter.fit, whose
    arguments these are); otherwise the LawSet carries ``transfer`` (a Transfer) and its laws'
    draws come from the bootstrap over whole models. stage1: "separate" (each language's law from
    its one-language pilots alone), "joint" (K_i, c_i refitted with T on every row) or "auto"
    (joint only when it beats separate on held-out mixtures by more than one standard error);
    see the module docstring. It has no effect on a table without multilingual or repetition rows.
    """
    if transfer not in TRANSFER_CHOICES:
        raise InputError(f"fit: transfer={transfer!r} is unknown; choose one of {', '.join(TRANSFER_CHOICES)}")
    if stage1 not in STAGE1_CHOICES:
        raise InputError(f"fit: stage1={stage1!r} is unknown; choose one of {', '.join(STAGE1_CHOICES)}")
    settings = dict(free_ceiling=free_ceiling, max_score=max_score, loss=loss, seed=seed, metric=metric,
                    f_scale=f_scale, c_bounds=c_bounds, lower_is_better=lower_is_better)
    s = FitOptions(ceiling=ceiling, free_ceiling=free_ceiling, max_score=max_score, loss=loss, n_boot=n_boot,
                   seed=seed, f_scale=f_scale, c_bounds=c_bounds, lower_is_better=lower_is_better)
    top = s.fit_max_score if s.free else min(s.fit_ceiling, s.fit_max_score)
    frame = read_pilots(pilots, metric=metric, max_score=top, min_sizes=4 if s.free else 3,
                        lower_is_better=s.lower_is_better)
    languages = list(dict.fromkeys(frame["language"]))
    single, pts = split_table(frame, languages)
    if len(pts) == 0:
        if transfer not in ("auto", "none"):
            raise InputError(f"pilots: transfer={transfer!r} needs multilingual rows (run, mixture columns: "
                             "docs/formats/pilots.md) and the table has none; use transfer='none'")
        return fit_one_language(pilots, ceiling, n_boot=n_boot, **settings)
    plain = single[[col for col in ("language", "size", "score", "seed", "metric") if col in single.columns]]
    laws = fit_one_language(plain.reset_index(drop=True), ceiling, n_boot=0, **settings)
    sign = -1.0 if s.lower_is_better else 1.0
    K, c, asym = (np.array([getattr(laws[lang], key) for lang in languages]) for key in ("K", "c", "ceiling"))
    base = (K, c, asym, sign)
    fit_rstar = pts.has_repeats
    form, selection = choose_form(base, pts, transfer, fit_rstar)
    theta, rstar, rss = fit_stage2(base, pts, form, fit_rstar=fit_rstar)
    joint, stage1_record, rows = _stage1(stage1, base, single, languages, pts, form, theta, rstar, fit_rstar, s.c_bounds)
    if joint is not None:
        base = (joint.K, joint.c, asym, sign)
        theta, rstar, rss = joint.theta, joint.rstar, joint.rss_points
        laws = _joint_laws(laws, joint, asym, languages, s.lower_is_better)
    names = parameter_names(form, languages)
    draws = {lang: np.empty((0, 3)) for lang in languages}
    t_draws = np.empty((0, len(names) + 1))
    if s.n_boot > 0:
        draws, t_draws = _bootstrap(single, pts, laws, s, form, theta, rstar, fit_rstar, s.n_boot, s.seed, joint, rows)
    fitted_on = _fitted_on(single, pts, languages, base, form, theta, rstar, rss, transfer, selection, stage1_record,
                           joint is not None)
    result = Transfer(form, tuple(languages), theta, rstar, fit_rstar, t_draws, fitted_on)
    fitted = {lang: dataclasses.replace(laws[lang], draws=draws[lang]) for lang in languages}
    signature = _signature(laws.signature, s.n_boot, frame.attrs.get("source") or None, form, transfer, selection,
                           fit_rstar, joint is not None, stage1_record)
    return LawSet(fitted, metric=laws.metric, signature=signature, transfer=result)


def _signature(one_language: dict, n_boot: int, source, form: str, transfer: str, selection: dict, fit_rstar: bool,
               joint: bool, stage1_record) -> dict:
    """The LawSet's signature: the one-language fit's, with the bootstrap and the transfer's settings."""
    return {**one_language, "n_boot": n_boot, "source": source,
            "bootstrap": "whole models (strata: each language's one-language models, multilingual, repetition)",
            "transfer": {"form": form, "requested": transfer, "criterion": selection["criterion"],
                         "rstar": "fitted" if fit_rstar else f"default={DEFAULT_RSTAR:g}",
                         "stage2": ("least squares, K c E fixed from the one-language fit" if not joint
                                    else "least squares, then K and c refitted jointly with it, E fixed"),
                         **({"stage1": stage1_record["chosen"]} if stage1_record else {})}}


def _joint_laws(laws: LawSet, joint, asym, languages, lower_is_better: bool) -> LawSet:
    """``laws`` with each language's K and c from the joint refit (its ceiling and b kept)."""
    return LawSet({lang: dataclasses.replace(laws[lang], law=PowerLaw.from_identifiable(
        joint.K[i], joint.c[i], asym[i], b=laws[lang].law.b, lower_is_better=lower_is_better))
        for i, lang in enumerate(languages)}, metric=laws.metric, signature=laws.signature)


def _stage1(stage1: str, base, single, languages, pts: Points, form: str, theta, rstar, fit_rstar: bool, c_bounds):
    """(the joint refit or None when the separate fit is kept, the stage-1 record or None, the
    one-language rows or None) for ``stage1`` "separate", "joint" or "auto"."""
    if stage1 == "separate":
        return None, None, None
    rows = OneLanguageRows.from_frame(single, languages)
    chosen, record = choose_stage1(base, rows, pts, form, fit_rstar, c_bounds, stage1)
    if chosen != "joint":
        return None, record, rows
    joint = fit_joint(base, rows, pts, form, free_parameters(form, pts), theta, rstar, fit_rstar=fit_rstar,
                      c_bounds=c_bounds)
    if not joint.ok:  # e.g. form none with a pure-transfer row: stage 2 has no finite fit either
        log.warning("stage 1: the joint refit of form %s has no finite start; the separate fit is kept", form)
        return None, {**record, "chosen": "separate", "criterion": record["criterion"] + "; joint not finite"}, rows
    return joint, record, rows


def _fitted_on(single, pts: Points, languages, base, form: str, theta, rstar, rss: float, transfer: str,
               selection: dict, stage1_record, joint: bool) -> dict:
    """The Transfer's ``fitted_on`` record: the models and points fitted, the form's selection,
    the parameters the data leave free, and the fit's error."""
    free = free_parameters(form, pts.take(pts.multilingual))
    names = parameter_names(form, languages)
    return {
        "models": {"one_language": int(single["run"].nunique()) if "run" in single.columns else len(single),
                   "multilingual": len(pts.models(True)), "repetition": len(pts.models(False))},
        "points": {"multilingual": int(pts.multilingual.sum()), "repetition": int((~pts.multilingual).sum())},
        "selection": {"requested": transfer, "chosen": form, **selection,
                      "scores": {f: (v if math.isfinite(v) else None) for f, v in selection["scores"].items()},
                      **({"stage1": stage1_record} if stage1_record else {})},
        "unidentified": [name for name, f in zip(names, free) if not f],
        "rmse": math.sqrt(rss / len(pts)) if math.isfinite(rss) else None,
        # of the multilingual points alone: one multilingual model's scatter around the law, which
        # a misfit of the repetition points (over-training is not in the form) must not widen
        "rmse_multilingual": _rmse_of(base, pts.take(pts.multilingual), form, theta, rstar, len(languages)),
        "stage2": "scipy least_squares (trf), bounds 0 <= theta <= %g, R* in [%g, %g]" % (T_MAX, *RSTAR_BOUNDS),
        **({"joint": JOINT_METHOD} if joint else {}),
    }
