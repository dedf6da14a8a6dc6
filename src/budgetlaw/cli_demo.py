"""`budgetlaw demo -o DIR`: fit, plan and report on the bundled pilots (budgetlaw.demo_data):
the measured SmolLM2 pilots (a mixed table: transfer-aware laws by default) or synthetic ones."""

from __future__ import annotations

import shutil

from budgetlaw.cli_output import (MAX_N_BOOT, check_budget_pays_one_each, parse_budget, print_plan, print_selection,
                                  print_transfer)
from budgetlaw.demo_data import MEASURED, SYNTHETIC
from budgetlaw.errors import InputError
from budgetlaw.fileio import check_output, staged_folder

__all__ = ["cmd_demo", "DEMO_NAMES"]
DEMO_NAMES = ("pilots.csv", "limits.csv", "laws.json", "plan.json", "report")


def _demo_rows(laws, pilots) -> str:
    """What the demo's pilots table holds: rows, and its models by kind under a transfer fit."""
    transfer = getattr(laws, "transfer", None)
    if transfer is None:
        return f"{len(pilots)} runs, {len(laws)} languages"
    models = transfer.fitted_on.get("models", {})
    return (f"{len(pilots)} rows: {models.get('one_language', 0)} one-language pilots, {models.get('multilingual', 0)} "
            f"multilingual and {models.get('repetition', 0)} repetition models; {len(laws)} languages")


def cmd_demo(args) -> int:
    import pandas as pd

    from budgetlaw.allocation import allocate
    from budgetlaw.fitting import fit
    from budgetlaw.limits import limits_to_constraints, read_limits
    from budgetlaw.plan import load_plan
    from budgetlaw.reporting import build_report, write_report

    demo = SYNTHETIC if args.synthetic else MEASURED
    budget_text = args.budget or demo.budget
    budget = parse_budget(budget_text)
    out = check_output(args.output, kind="dir", names=DEMO_NAMES)
    if not 0 <= args.n_boot <= MAX_N_BOOT:
        raise InputError(f"--n-boot {args.n_boot}: give a number of bootstrap refits from 0 to {MAX_N_BOOT:,}")
    if args.synthetic and args.transfer not in ("auto", "none"):
        raise InputError(f"--transfer {args.transfer}: the synthetic pilots are one-language pilots only (no "
                         "multilingual models to fit a transfer matrix on); use --transfer auto or none, or drop "
                         "--synthetic")
    held = [name for name in DEMO_NAMES if (out / name).exists()]
    if held:  # the demo never replaces a file it did not make in this run (they may be the user's own)
        raise InputError(f"-o {out}: already holds {', '.join(held)}, which the demo would replace; give a new "
                         "folder (or delete those files first)")
    languages = sorted(set(pd.read_csv(demo.pilots_path)["language"].astype(str)))
    check_budget_pays_one_each(budget, budget_text, languages, limits_to_constraints(
        read_limits(demo.limits_path), languages, source="limits.csv"))  # as `allocate` checks it
    origin = demo.bundled_from()
    with staged_folder(out) as tmp:  # every file lands at once, or none does
        shutil.copyfile(demo.pilots_path, tmp / "pilots.csv")
        shutil.copyfile(demo.limits_path, tmp / "limits.csv")
        # the bundled path, so that laws.json is byte for byte `budgetlaw fit` of the bundled file
        laws = fit(demo.pilots_path, metric=demo.metric, lower_is_better=demo.lower_is_better,
                   n_boot=args.n_boot, seed=args.seed, transfer=args.transfer)
        laws.save(tmp / "laws.json")
        constraints = limits_to_constraints(read_limits(tmp / "limits.csv"), list(laws), source="limits.csv")
        plan = allocate(laws, budget, **constraints)  # on a transfer law: the cvxpy program of allocation/transfer.py
        plan.save(tmp / "plan.json")
        plan = load_plan(tmp / "plan.json")  # as `report` reads it: no solver timings in report.md
        title = f"Data budget report (demo: {demo.label}; pilots from {origin})" if origin != demo.name else \
            f"Data budget report (demo: {demo.label})"
        content = build_report(laws, plan, None, None, tmp / "pilots.csv", title=title)
        write_report(content, tmp / "report")
    transfer = getattr(laws, "transfer", None)
    kind = "transfer-aware laws" if transfer is not None and transfer.form != "none" else "one-language laws"
    print(f"budgetlaw demo: {demo.what} pilots ({_demo_rows(laws, pd.read_csv(out / 'pilots.csv'))}) -> {kind} -> "
          f"plan at budget {budget_text} -> report")
    print(f"  pilots: {demo.label}")
    if origin and origin != demo.name:
        print(f"  bundled from: {origin} (the results folder docs/results/{origin.split('/')[0]})")
    for name, what in (("pilots.csv", f"{demo.name} pilots table"), ("limits.csv", "per-language limits"),
                       ("laws.json", f"fitted {kind}"), ("plan.json", "optimised plan"),
                       ("report/report.md", "report (open this), figures beside it")):
        print(f"  {str(out / name):<40} {what}")
    print()
    print_selection(laws)
    if kind == "transfer-aware laws":
        print_transfer(laws)
    print_plan(plan)
    d = 3 if demo.lower_is_better else 2
    band = lambda w: f" [{w.lower:+.{d}f}, {w.upper:+.{d}f}]" if w.lower == w.lower else ""  # noqa: E731 (NaN: no draws)
    gains = ", ".join(f"{w.baseline} {w.gain:+.{d}f}{band(w)}" for w in content.worth)
    if gains:
        what = "reduction in the summed loss" if demo.lower_is_better else "gain in the sum of scores"
        print(f"predicted {what}{f' ({content.level:.0%} interval)' if args.n_boot else ''} over: {gains}")
    for w in content.worth:
        if w.baseline == "uniform":
            print(f"is the plan worth it? vs uniform: {w.verdict} (report.md: 'Is the plan worth it?')")
            if getattr(w, "regret_note", ""):
                print(w.regret_note)  # the answer block's words, as report.md has them
    return 0
