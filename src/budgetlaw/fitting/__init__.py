"""Stage 1 of the pipeline, pilots.csv -> laws.json: one saturating power law per language.

    options.py   FitOptions: every setting of a fit, checked once
    engine.py    the robust batch curve fitter (grid + IRLS + Levenberg-Marquardt, scipy polish)
    flags.py     diagnostics of a fit and the one wording of their advice
    laws.py      FittedLaw, LawSet and the laws.json format (load_laws)
    fitter.py    the one-language fit: pilots -> LawSet, with holdout refits and bootstrap draws

``fit`` is budgetlaw.transfer.fit.fit: the one-language fit for a table of one-language pilots
(exactly fitter.fit), and the transfer-aware law for a table with multilingual rows.
"""

from budgetlaw.fitting.laws import DRAW_COLUMNS, LAWS_FORMAT, FittedLaw, LawSet, load_laws
from budgetlaw.fitting.options import C_BOUNDS, LOSSES, FitOptions

__all__ = ["fit", "FittedLaw", "LawSet", "load_laws", "LAWS_FORMAT", "DRAW_COLUMNS", "FitOptions", "LOSSES",
           "C_BOUNDS"]


def __getattr__(name: str):
    # fit lives in budgetlaw.transfer.fit, which imports this package's engine: a lazy name keeps
    # `import budgetlaw.transfer.fit` (or the spec's import of its choices) from a circular import
    if name == "fit":
        from budgetlaw.transfer.fit import fit

        return fit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
