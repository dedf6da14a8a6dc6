"""Transfer between languages and the value of repeated pairs: the effective data of a law.

Language i's own law (score C_i - K_i d^-c_i, or loss E_i + K_i d^-c_i) is evaluated at its
effective data

    d_i = eff_i(x_i) + sum_{j != i} T_ij * eff_j(x_j),        T_ij >= 0

where x_j is the number of pairs of language j in the model and eff_j counts repeated pairs at
a diminishing value (data-constrained scaling, Muennighoff et al. 2023), with U_j the distinct
pairs of language j and R* the repetition constant:

    eff(x) = x                                          x <= U
           = U + U R* (1 - exp(-(x / U - 1) / R*))      x > U

eff is concave, continuous with slope 1 at U, and tends to U (1 + R*) as x grows: repeating a
catalogue of U pairs is worth at most R* more catalogues. No U (unique=None) means eff(x) = x.
T >= 0 keeps d_i >= eff_i(x_i) > 0 and the allocation convex; interference (T_ij < 0) is not
modelled. The forms of T and their parameters theta:

    none     T = 0                                     0 parameters (the one-language law)
    pooled   T_ij = theta_i  (j != i)                  n: one weight per receiving language
    source   T_ij = theta_j  (j != i)                  n: one weight per giving language
    full     T_ij = theta_(i,j)                        n (n - 1): every ordered pair
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from budgetlaw.errors import InputError

__all__ = ["FORMS", "DEFAULT_RSTAR", "T_MAX", "RSTAR_BOUNDS", "Transfer", "repeated", "n_params", "matrix",
           "parameter_names", "effective", "STAGE1_CHOICES"]

FORMS = ("none", "pooled", "source", "full")
#: how stage 1 (each language's own law) is fitted with a transfer fit (budgetlaw.transfer.fit);
#: here, beside FORMS, so the CLI and the study spec read it without loading the fitting code
STAGE1_CHOICES = ("separate", "joint", "auto")
#: R* used when no repetition rows pin it. Muennighoff et al. (2023) fitted R* = 15.4 for
#: repeated pretraining tokens; fine-tuning on a few thousand pairs overfits sooner, so the
#: default is the cautious 5: four epochs count as 3.26 epochs of fresh pairs (15.4 would say
#: 3.72), and a plan leans on repetition only as far as that allows. Fit it from repetition rows.
DEFAULT_RSTAR = 5.0
#: Upper bound of a transfer weight: a pair of another language worth ten of one's own is
#: beyond anything reported; the bound keeps the fit away from runaway solutions.
T_MAX = 10.0
RSTAR_BOUNDS = (0.1, 1000.0)


def repeated(x, unique=None, rstar=DEFAULT_RSTAR) -> np.ndarray:
    """eff(x) of the module docstring, element-wise; ``unique`` None or inf: eff(x) = x."""
    x = np.asarray(x, dtype=float)
    if unique is None:
        return x
    U = np.broadcast_to(np.asarray(unique, dtype=float), x.shape)
    over = np.isfinite(U) & (x > U)
    if not over.any():
        return x
    R = np.broadcast_to(np.asarray(rstar, dtype=float), x.shape)
    Us = np.where(over, U, 1.0)
    Rs = np.where(over, R, 1.0)
    beyond = Us + Us * Rs * -np.expm1(-(x - Us) / (Us * Rs))
    return np.where(over, beyond, x)


def n_params(form: str, n: int) -> int:
    """Number of transfer parameters of ``form`` over n languages."""
    return {"none": 0, "pooled": n, "source": n, "full": n * (n - 1)}[form]


def parameter_names(form: str, languages: Sequence[str]) -> list[str]:
    """``tau:ar`` (pooled: what ar receives), ``s:ar`` (source: what ar gives), ``T:ar<el`` (full:
    what ar receives from el)."""
    if form == "pooled":
        return [f"tau:{lang}" for lang in languages]
    if form == "source":
        return [f"s:{lang}" for lang in languages]
    if form == "full":
        return [f"T:{a}<{b}" for a in languages for b in languages if a != b]
    return []


def matrix(form: str, theta, n: int) -> np.ndarray:
    """T of shape (..., n, n) from parameters theta (..., p); zero diagonal."""
    theta = np.asarray(theta, dtype=float)
    lead = theta.shape[:-1]
    off = ~np.eye(n, dtype=bool)
    if form == "none":
        return np.zeros(lead + (n, n))
    if form == "pooled":
        T = np.broadcast_to(theta[..., :, None], lead + (n, n))
    elif form == "source":
        T = np.broadcast_to(theta[..., None, :], lead + (n, n))
    elif form == "full":
        T = np.zeros(lead + (n, n))
        T[..., off] = theta
        return T
    else:
        raise InputError(f"transfer form {form!r} is unknown; choose one of {', '.join(FORMS)}")
    return np.where(off, T, 0.0)


def effective(x, T, unique=None, rstar=DEFAULT_RSTAR) -> np.ndarray:
    """d = eff(x) + T eff(x) (T with zero diagonal), broadcast: x (..., n), T (..., n, n),
    unique (n,) or None, rstar scalar or (...,)."""
    r = np.asarray(rstar, dtype=float)[..., None] if np.ndim(rstar) else rstar
    e = repeated(x, unique, r)
    return e + np.einsum("...ij,...j->...i", T, e)


def _floats(values, where: str) -> np.ndarray:
    if isinstance(values, (str, bool)) or (isinstance(values, list) and any(isinstance(v, (str, bool)) for v in values)):
        raise InputError(f"{where}: not a list of numbers; regenerate the file with `budgetlaw fit`")
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{where}: not a list of numbers; regenerate the file with `budgetlaw fit`") from None
    if not np.isfinite(out).all():
        raise InputError(f"{where}: holds a value that is not a finite number; regenerate the file with `budgetlaw fit`")
    return out


@dataclass(frozen=True, eq=False)
class Transfer:
    """T (from ``form`` and ``params``), R* and their bootstrap draws over ``languages``.

    draws: (D, p + 1) rows of (params..., R*), index-aligned with the draws of the languages'
    own laws (draw d of every law and of T comes from one bootstrap refit). fitted_on: what the
    fit saw (models, points, the form selection), for reading.
    """

    form: str
    languages: tuple
    params: np.ndarray
    rstar: float = DEFAULT_RSTAR
    rstar_fitted: bool = False
    draws: np.ndarray = field(default_factory=lambda: np.empty((0, 1)))
    fitted_on: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise InputError(f"transfer: form {self.form!r} is unknown; choose one of {', '.join(FORMS)}")
        langs = tuple(str(lang) for lang in self.languages)
        object.__setattr__(self, "languages", langs)
        p = n_params(self.form, len(langs))
        params = np.asarray(self.params, dtype=float).reshape(-1)
        if params.size != p or not np.isfinite(params).all() or (params < 0).any():
            raise InputError(f"transfer: form {self.form!r} over {len(langs)} languages needs {p} finite parameters "
                             f">= 0, got {params.tolist()}")
        object.__setattr__(self, "params", params)
        if not (math.isfinite(float(self.rstar)) and float(self.rstar) > 0):
            raise InputError(f"transfer: rstar={self.rstar!r} must be a finite number > 0")
        object.__setattr__(self, "rstar", float(self.rstar))
        draws = np.asarray(self.draws, dtype=float).reshape(-1, p + 1)
        if not np.isfinite(draws).all() or (draws < 0).any() or (len(draws) and (draws[:, -1] <= 0).any()):
            raise InputError("transfer: draws must be finite, parameters >= 0 and R* > 0; regenerate with `budgetlaw fit`")
        object.__setattr__(self, "draws", draws)

    @property
    def stage1(self) -> str:
        """How each language's own law was fitted: "separate" or "joint" (what auto chose); a
        separate fit records no stage 1 (budgetlaw.transfer.fit)."""
        return ((self.fitted_on.get("selection") or {}).get("stage1") or {}).get("chosen", "separate")

    # -- the matrix and its draws ------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.languages)

    @property
    def T(self) -> np.ndarray:  # noqa: N802 - the name of the docs
        return matrix(self.form, self.params, self.n)

    @property
    def draw_T(self) -> np.ndarray:
        """(D, n, n) transfer matrices of the draws."""
        return matrix(self.form, self.draws[:, :-1], self.n)

    @property
    def draw_rstar(self) -> np.ndarray:
        return self.draws[:, -1]

    @property
    def is_zero(self) -> bool:
        """T = 0 in the fit and in every draw: only repetition can make it differ from today's law."""
        return not (self.params.any() or self.draws[:, :-1].any())

    def frame(self):
        """T as a DataFrame: rows receive (language i), columns give (language j)."""
        import pandas as pd

        return pd.DataFrame(self.T, index=pd.Index(self.languages, name="receives"),
                            columns=pd.Index(self.languages, name="gives"))

    def unique_array(self, unique: Mapping | None, languages: Sequence[str] | None = None) -> np.ndarray | None:
        """Distinct pairs per language (inf where not given) in ``languages`` order, or None."""
        if unique is None:
            return None
        langs = list(languages or self.languages)
        return np.array([float(unique.get(lang, math.inf)) for lang in langs])

    def effective(self, x, unique=None) -> np.ndarray:
        """d of the point fit at sizes x (..., n) in the transfer's language order."""
        return effective(x, self.T, unique, self.rstar)

    def effective_draws(self, x, unique=None) -> np.ndarray:
        """d under every draw: x (n,) -> (D, n); x (D, n) pairs each draw with its own sizes."""
        x = np.asarray(x, dtype=float)
        return effective(np.broadcast_to(x, (len(self.draws), self.n)), self.draw_T, unique, self.draw_rstar)

    def reorder(self, languages: Sequence[str], where: str = "laws") -> "Transfer":
        """The same transfer over ``languages`` (a permutation of its own); InputError otherwise."""
        langs = [str(lang) for lang in languages]
        if langs == list(self.languages):
            return self
        missing = [lang for lang in langs if lang not in self.languages]
        if missing or len(langs) != self.n:
            raise InputError(f"{where}: the transfer law covers {', '.join(self.languages)} but the laws cover "
                             f"{', '.join(langs)}; {', '.join(missing) or 'some language'} was never scored in its "
                             f"fit: refit on pilots that score every planned language")
        perm = [self.languages.index(lang) for lang in langs]
        T = self.T[np.ix_(perm, perm)]
        draw_T = self.draw_T[:, perm][:, :, perm]
        params, draws = _params_of(self.form, T), np.column_stack(
            [_params_of(self.form, draw_T), self.draw_rstar]) if len(self.draws) else self.draws
        return Transfer(self.form, tuple(langs), params, self.rstar, self.rstar_fitted, draws, self.fitted_on)

    # -- serialisation -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        names = parameter_names(self.form, self.languages)
        return {
            "form": self.form,
            "languages": list(self.languages),
            "parameters": dict(zip(names, self.params.tolist())),
            "T": self.T.tolist(),
            "rstar": self.rstar,
            "rstar_fitted": self.rstar_fitted,
            "fitted_on": self.fitted_on,
            "draws": {"columns": [*names, "rstar"], "values": self.draws.tolist()},
        }

    @classmethod
    def from_dict(cls, data, *, name: str = "laws") -> "Transfer":
        """Inverse of to_dict; ``T`` is for reading only (the parameters define it)."""
        where = f"{name}: transfer"
        if not isinstance(data, dict) or "form" not in data or "languages" not in data:
            raise InputError(f"{where}: expected an object with form, languages, parameters; regenerate with `budgetlaw fit`")
        form, langs = data["form"], data["languages"]
        if form not in FORMS or not isinstance(langs, list):
            raise InputError(f"{where}: form {form!r} / languages {langs!r} not understood; regenerate with `budgetlaw fit`")
        names = parameter_names(form, langs)
        given = data.get("parameters") or {}
        if not isinstance(given, dict) or sorted(given) != sorted(names):
            raise InputError(f"{where}: parameters must be {names}; regenerate with `budgetlaw fit`")
        params = _floats([given[k] for k in names], f"{where}.parameters")
        draws = data.get("draws") or {"values": []}
        values = _floats(draws.get("values", []) if isinstance(draws, dict) else draws, f"{where}.draws")
        if values.size and (values.ndim != 2 or values.shape[1] != len(names) + 1):
            raise InputError(f"{where}.draws: rows must hold {len(names) + 1} numbers ({', '.join(names)}, rstar); "
                             "regenerate the file with `budgetlaw fit`")
        rstar = _floats([data.get("rstar", DEFAULT_RSTAR)], f"{where}.rstar")[0]
        fitted_on = data.get("fitted_on") or {}
        if not isinstance(fitted_on, dict):
            raise InputError(f"{where}.fitted_on: expected an object; regenerate the file with `budgetlaw fit`")
        return cls(form, tuple(langs), params, rstar, bool(data.get("rstar_fitted", False)),
                   values.reshape(-1, len(names) + 1), dict(fitted_on))

    def __repr__(self) -> str:
        fitted = "fitted" if self.rstar_fitted else "default"
        return (f"Transfer(form={self.form!r}, languages={list(self.languages)}, params={np.round(self.params, 4).tolist()}, "
                f"rstar={self.rstar:.4g} ({fitted}), draws={len(self.draws)})")


def _params_of(form: str, T: np.ndarray) -> np.ndarray:
    """Parameters of ``form`` read back from T (..., n, n) (the inverse of ``matrix``)."""
    n = T.shape[-1]
    off = ~np.eye(n, dtype=bool)
    if form == "none":
        return np.zeros(T.shape[:-2] + (0,))
    if form == "full":
        return T[..., off]
    if n < 2:
        return np.zeros(T.shape[:-1])
    return np.where(off, T, 0.0).max(axis=-1 if form == "pooled" else -2)
