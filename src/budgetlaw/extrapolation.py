"""Whether a plan reads its laws far outside the pilot sizes they were fitted on.

A law fitted on pilots at 10k-200k pairs says little about 100M pairs (or 10): the power law is
an extrapolation there. ``extrapolation_warning(laws, plan)`` gives one line naming every
language whose planned size is more than EXTRAPOLATION_WARN times beyond its largest pilot size
(or below its smallest), or None. The size compared is what the law is read at: the effective
data (budgetlaw.transfer.prediction.predict), so repeated pairs beyond a language's available
distinct pairs and pairs of other languages under a transfer law count as the law counts them.
`budgetlaw allocate` prints it; a report can list it among its warnings.
"""

from __future__ import annotations

__all__ = ["EXTRAPOLATION_WARN", "extrapolation_warning"]

#: warn when a planned size is this far beyond (or below) the pilot sizes
EXTRAPOLATION_WARN = 100.0


def extrapolation_warning(laws, plan) -> str | None:
    """One line naming the languages whose planned (effective) size lies more than
    EXTRAPOLATION_WARN times outside their pilot sizes, or None. Laws without pilot sizes (a
    PowerLaw typed in) are not judged, nor laws whose transfer is a plain matrix (bl.predict reads
    only a budgetlaw.transfer Transfer)."""
    transfer = getattr(laws, "transfer", None)
    if transfer is not None and not hasattr(transfer, "reorder"):
        return None
    sizes_of = plan.sizes
    constraints = plan.constraints or {}
    available = constraints.get("available")
    repeats = bool(available) and float(constraints.get("max_epochs", 1) or 1) > 1
    if transfer is not None or repeats:
        from budgetlaw.transfer.prediction import predict

        table = predict(laws, plan.sizes.to_dict(), unique=available)
        sizes_of = table.set_index("language")["effective"].reindex(plan.sizes.index)
    far = []
    for lang, size in sizes_of.items():
        sizes = getattr(laws[lang], "sizes", None)
        if sizes is None or not len(sizes):
            continue
        low, high = float(min(sizes)), float(max(sizes))
        if size > EXTRAPOLATION_WARN * high:
            far.append(f"{lang} {size:.3g} pairs = {size / high:.3g}x its largest pilot size {high:g}")
        elif size < low / EXTRAPOLATION_WARN:
            far.append(f"{lang} {size:.3g} pairs = 1/{low / max(size, 1e-300):.3g} of its smallest pilot size {low:g}")
    if not far:
        return None
    return ("the plan extrapolates the laws far beyond the pilot data (" + "; ".join(far) +
            "); its predictions there are not supported by measurements, check the --budget")
