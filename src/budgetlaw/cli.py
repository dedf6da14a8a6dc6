"""`budgetlaw` command line: a thin layer over the Python API (docs/cli.md).

    budgetlaw fit PILOTS.csv -o laws.json [--lower-is-better]     (a loss such as nll: lower is better)
                                        [--transfer auto|none|pooled|source|full]
                                        [--stage1 separate|joint|auto]
    budgetlaw allocate laws.json --budget 1.2M [--languages LANGS.csv] -o plan.json
    budgetlaw report laws.json plan.json -o DIR
    budgetlaw demo -o DIR [--transfer auto|none|...] [--synthetic]

Bad input (budgetlaw.InputError) and a solver failure (budgetlaw.SolverError) are printed as one
line on stderr, without a traceback, and the command exits with status 2; outputs are written to
a temporary name and renamed, so a failed command leaves no output behind. Heavy modules (scipy,
cvxpy, matplotlib) are imported inside the commands so that ``budgetlaw --help`` is fast; the
choices of the options come from the modules that define them (budgetlaw.allocation).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from budgetlaw import __version__
from budgetlaw.allocation.baselines import NAMES as BASELINES
from budgetlaw.allocation.problem import OBJECTIVES, SOLVERS
from budgetlaw.cli_demo import cmd_demo
from budgetlaw.cli_next import add_next_parser
from budgetlaw.cli_output import _input_file, _load_constraints
from budgetlaw.cli_output import MAX_N_BOOT, check_budget_pays_one_each, parse_budget, print_plan, print_transfer
from budgetlaw.errors import BudgetlawError, InputError
from budgetlaw.extrapolation import extrapolation_warning
from budgetlaw.fileio import add_global_options, check_output, log_level, run_command, sigterm_as_interrupt
from budgetlaw.limits import parse_size
from budgetlaw.transfer.law import FORMS as TRANSFER_FORMS
from budgetlaw.transfer.law import STAGE1_CHOICES

__all__ = ["main", "build_parser"]
TRANSFER_CHOICES = ("auto", *TRANSFER_FORMS)
# the files `budgetlaw report` and `budgetlaw demo` write into their folder
REPORT_NAMES = ("report.md", "plans.csv", "frontier.csv", "laws.png", "allocation.png", "gains.png", "frontier.png",
                "transfer.png")


def _print_laws(laws, stream=None) -> None:
    """A short table of fitted laws: K, c with its 90% bootstrap interval, R^2, RMSE, flags
    (and the floor E for loss laws)."""
    import numpy as np

    stream = stream or sys.stdout
    lower = bool(getattr(laws, "lower_is_better", False))
    if lower:
        print(f"loss laws (lower is better): {getattr(laws, 'metric', None) or 'loss'} = E + K * x^-c", file=stream)
    e_head = f"{'E':>8}" if lower else ""
    print(f"{'language':<10}{'K':>9}{'c':>8}{'c 90% interval':>20}{'R^2':>7}{'RMSE':>7}{e_head}  flags", file=stream)
    for language, item in laws.items():
        draws = getattr(item, "draws", None)
        band = "-"
        if draws is not None and len(draws):
            low, high = np.quantile(np.asarray(draws)[:, 1], [0.05, 0.95])
            band = f"[{low:.4f}, {high:.4f}]"
        floor = f"{item.ceiling:>8.4f}" if lower else ""
        print(f"{language:<10}{item.K:>9.4g}{item.c:>8.4f}{band:>20}{getattr(item, 'r2', float('nan')):>7.3f}"
              f"{getattr(item, 'rmse', float('nan')):>7.3f}{floor}  {', '.join(getattr(item, 'flags', ()) or ()) or '-'}",
              file=stream)


# -- sub-commands ------------------------------------------------------------------------------
def cmd_fit(args) -> int:
    from budgetlaw.fitting import fit

    pilots = _input_file(args.pilots, "pilots file")
    check_output(args.output, [pilots])
    if not 0 <= args.n_boot <= MAX_N_BOOT:
        raise InputError(f"--n-boot {args.n_boot}: give a number of bootstrap refits from 0 to {MAX_N_BOOT:,} "
                         "(1000, the default, gives 90% intervals to about two digits)")
    laws = fit(
        pilots, args.ceiling, free_ceiling=args.free_ceiling, max_score=args.max_score,
        n_boot=args.n_boot, seed=args.seed, metric=args.metric, lower_is_better=args.lower_is_better,
        transfer=args.transfer, stage1=args.stage1,
    )
    path = laws.save(args.output)
    _print_laws(laws)
    print_transfer(laws)
    print(f"wrote {path}")
    return 0


def cmd_allocate(args) -> int:
    from budgetlaw.allocation import allocate
    from budgetlaw.fitting import load_laws

    budget = parse_budget(args.budget)
    laws_path = _input_file(args.laws, "laws file")
    check_output(args.output, [laws_path, args.languages])
    laws = load_laws(laws_path)
    kwargs = _load_constraints(laws, args.languages, args.max_epochs)
    check_budget_pays_one_each(budget, args.budget, laws, kwargs)
    plan = allocate(laws, budget, objective=args.objective, solver=args.solver, level=args.level, **kwargs)
    path = plan.save(args.output)
    print_plan(plan)
    warning = extrapolation_warning(laws, plan)
    if warning:
        print(f"budgetlaw allocate: warning: {warning}", file=sys.stderr)
    print(f"wrote {path}")
    return 0


def cmd_report(args) -> int:
    from budgetlaw.fitting import load_laws
    from budgetlaw.plan import check_made_from, load_plan
    from budgetlaw.reporting import report
    from budgetlaw.reporting.worth import parse_seed_sd

    seed_sd = None if args.seed_sd is None else parse_seed_sd(args.seed_sd)
    laws_path, plan_path = _input_file(args.laws, "laws file"), _input_file(args.plan, "plan file")
    check_output(args.output, [laws_path, plan_path, args.languages, args.pilots], kind="dir", names=REPORT_NAMES)
    laws = load_laws(laws_path)
    plan = load_plan(plan_path)
    check_made_from(plan, laws, plan_name=str(plan_path), laws_name=str(laws_path))
    constraints = None
    if args.languages is not None:
        constraints = _load_constraints(laws, args.languages, plan.constraints.get("max_epochs"))
    pilots = None if args.pilots is None else _input_file(args.pilots, "pilots file (--pilots)")
    budgets = None if args.budgets is None else _report_budgets(args.budgets, laws, constraints or plan.constraints or {})
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()] if args.baselines != "none" else []
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise InputError(f"--baselines: unknown {unknown}; choose from {','.join(BASELINES)} (or 'none')")
    paths = report(laws, plan, baselines, out=args.output, budgets=budgets, pilots=pilots, constraints=constraints,
                   seed_sd=seed_sd)
    print(f"wrote {paths['summary']} and {sum(k.endswith('_plot') for k in paths)} figures")
    return 0


def _report_budgets(text: str, laws, constraints: dict) -> list[float]:
    """--budgets of `report`: sizes (or 'none'), each able to pay one pair of every language, as
    `allocate` requires of --budget (a frontier point below that evaluates fractions of a pair)."""
    if text.strip() == "none":
        return []
    budgets = []
    for item in (b.strip() for b in text.split(",")):
        if not item:
            continue
        try:
            value = parse_size(item)
        except InputError as exc:
            raise InputError(f"--budgets: {exc}") from None
        cost = constraints.get("cost") or {}
        need = sum(float(cost.get(lang, 1.0)) for lang in laws)
        if not value >= need:
            raise InputError(f"--budgets {item!r} cannot pay one pair of each of the {len(laws)} languages (that "
                             f"needs {need:g}); give frontier budgets such as 300k,600k,1.2M, or 'none'")
        budgets.append(value)
    return budgets


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="budgetlaw",
        description="Fit scaling laws to pilot runs and allocate a data budget across languages.",
        epilog="Sizes may be written 600k, 1.2M, 2e6 or 1,200,000. See docs/cli.md.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("fit", help="fit one law per language to pilot runs -> laws.json")
    p.add_argument("pilots", metavar="PILOTS.csv", help="pilot runs: language,size,score[,seed,metric]")
    p.add_argument("-o", "--output", required=True, metavar="laws.json")
    p.add_argument("--ceiling", type=float, default=None, help="best possible score (default 100, COMET x 100; 1 for 0-1 COMET scores)")
    p.add_argument("--lower-is-better", action="store_true",
                   help="the score column is a loss (e.g. nll): fit loss = E + K*x^-c, E fitted in [0, smallest median loss]")
    p.add_argument("--free-ceiling", action="store_true", help="fit the ceiling too (at most --max-score)")
    p.add_argument("--max-score", type=float, default=None, help="upper bound of a free ceiling")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap refits for intervals (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--metric", default=None, help="which metric to fit when the file holds several")
    p.add_argument("--transfer", choices=TRANSFER_CHOICES, default="auto",
                   help="form of the transfer matrix fitted from multilingual rows (run, mixture columns): auto "
                        "(default: by leave-one-mixture-out error; none without multilingual rows), none, pooled, "
                        "source or full")
    p.add_argument("--stage1", choices=STAGE1_CHOICES, default="separate",
                   help="each language's own law with a transfer fit: separate (default: from its one-language "
                        "pilots alone), joint (K and c refitted together with T on every row, floors kept) or auto "
                        "(joint only when it predicts left-out mixtures better by more than one standard error)")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("allocate", help="spend a budget across languages -> plan.json")
    p.add_argument("laws", metavar="laws.json")
    p.add_argument("--budget", required=True, help="total pairs to spend, e.g. 1.2M")
    p.add_argument("-o", "--output", required=True, metavar="plan.json")
    p.add_argument("--languages", metavar="LANGS.csv", help="per-language available/floor/cost/weight")
    p.add_argument("--objective", choices=OBJECTIVES, default="sum", help="default sum")
    p.add_argument("--max-epochs", type=int, default=None, help="times a pair may be repeated (default 1); repeats count less than new pairs (R* = 5)")
    p.add_argument("--solver", choices=SOLVERS, default="auto",
                   help="auto (default: exact unless extra constraints need cvxpy), exact or cvxpy")
    p.add_argument("--level", type=float, default=0.9, help="interval level of the predictions (default 0.9)")
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser("report", help="figures and a Markdown summary of a plan -> DIR")
    p.add_argument("laws", metavar="laws.json")
    p.add_argument("plan", metavar="plan.json")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--languages", metavar="LANGS.csv", help="limits for the baselines (default: the plan's own)")
    p.add_argument("--baselines", default=",".join(BASELINES), help="comma list, or 'none' (default: all four)")
    p.add_argument("--pilots", metavar="PILOTS.csv", help="draw the pilot points on the law panels")
    p.add_argument("--budgets", help="frontier budgets, e.g. 300k,600k,1.2M,2.4M, or 'none' (default: budget/8 to 4x)")
    p.add_argument("--seed-sd", metavar="SD", help="one model's seed standard deviation, e.g. 0.02 or ar=0.03,hi=0.02, "
                   "for the seeds a gain needs (default: the spread of repeated pilots)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="fit, allocate and report on the bundled measured pilots -> DIR")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--synthetic", action="store_true",
                   help="use the synthetic COMET pilots (10k-200k pairs, one-language) instead of the measured "
                        "SmolLM2 NLL pilots (one-language and multilingual models)")
    p.add_argument("--budget", default=None, help="default 900 pairs (measured) or 1.2M (--synthetic)")
    p.add_argument("--transfer", choices=TRANSFER_CHOICES, default="auto",
                   help="form of the transfer matrix, as for `fit`: auto (default: by leave-one-mixture-out error "
                        "on the measured multilingual models), none (the one-language laws of the one-language "
                        "pilots), pooled, source or full")
    p.add_argument("--n-boot", type=int, default=200,
                   help="bootstrap refits (default 200, for speed; `fit` uses 1000): whole models resampled and "
                        "both stages refitted per draw")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=cmd_demo)
    add_next_parser(sub)
    add_global_options(parser, f"budgetlaw {__version__}")  # last: every sub-command takes them too
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return int(exc.code or 0)
    sigterm_as_interrupt()
    logging.basicConfig(level=log_level(args, logging.WARNING), format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return run_command("budgetlaw", args, (BudgetlawError,))  # InputError and SolverError alike


if __name__ == "__main__":
    raise SystemExit(main())
