"""`budgetlaw next PILOTS.csv --budget B [--languages LANGS.csv]`: which pilot to run next, or stop.

A thin layer over budgetlaw.next_pilots (docs/pilot-design.md): prints the candidates best first
(expected cut in the plan's regret per unit of pilot cost) and the stop verdict in plain words.
Bad input is one line on stderr and exit status 2, as for every command (budgetlaw.cli).
"""

from __future__ import annotations

import argparse

from budgetlaw.errors import InputError

__all__ = ["add_next_parser", "cmd_next", "parse_candidates"]


def parse_candidates(text: str | None):
    """``ar:200,hi:400`` -> [("ar", 200.0), ("hi", 400.0)]; None -> None (the defaults)."""
    if text is None:
        return None
    from budgetlaw.limits import parse_size

    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        lang, sep, size = item.partition(":")
        if not sep or not lang.strip():
            raise InputError(f"--candidates: {item!r} is not LANGUAGE:SIZE; write them like ar:200,hi:400")
        try:
            value = parse_size(size.strip())
        except InputError as exc:
            raise InputError(f"--candidates {item!r}: {exc}") from None
        out.append((lang.strip(), value))
    if not out:
        raise InputError("--candidates is empty; write them like ar:200,hi:400, or leave the option out")
    return out


def cmd_next(args) -> int:
    import pandas as pd

    from budgetlaw.cli_output import _input_file, _load_constraints, parse_budget
    from budgetlaw.design import next_pilots
    from budgetlaw.limits import parse_size
    from budgetlaw.reporting.noise import parse_seed_sd

    budget = parse_budget(args.budget)
    pilots = _input_file(args.pilots, "pilots file")
    cost = {k: parse_size(v) for k, v in (("pair", args.pair_cost), ("run", args.run_cost)) if v is not None} or None
    kwargs = {}
    if args.languages is not None:
        languages = sorted(set(pd.read_csv(pilots, usecols=lambda c: c.strip().lower() == "language",
                                           dtype=str).iloc[:, 0].str.strip()))
        kwargs = _load_constraints(dict.fromkeys(languages), args.languages)
    table = next_pilots(pilots, budget=budget, available=kwargs.get("available"), max_epochs=args.max_epochs,
                        weights=kwargs.get("weights"), candidates=parse_candidates(args.candidates), cost=cost,
                        n=args.n, metric=args.metric, lower_is_better=True if args.lower_is_better else None,
                        seed_sd=None if args.seed_sd is None else parse_seed_sd(args.seed_sd),
                        stop_at=args.stop_at, price=args.price,
                        pilot_budget=None if args.pilot_budget is None else parse_size(args.pilot_budget),
                        n_boot=args.n_boot, seed=args.seed)
    d = 3 if table.attrs["regret"]["lower_is_better"] else 2
    print(f"{'language':<10}{'size':>9}  {'kind':<13}{'cost':>9}{'regret now':>12}{'after':>9}{'value/cost':>12}  worth it")
    for r in table.itertuples():
        print(f"{r.language:<10}{r.size:>9g}  {r.kind:<13}{r.cost:>9g}{r.regret_now:>12.{d}f}{r.regret_after:>9.{d}f}"
              f"{r.value_per_cost:>12.3g}  {'yes' if r.worth_it else 'no'}")
    print(f"cost: {table.attrs['cost']}; seed noise: {table.attrs['noise']}")
    print(table.attrs["verdict"])
    print(table.attrs["planning"])
    return 0


def add_next_parser(sub) -> argparse.ArgumentParser:
    """Register `budgetlaw next` on the sub-command parsers of budgetlaw.cli.build_parser."""
    p = sub.add_parser("next", help="which pilot to run next (or stop), by its value to the plan")
    p.add_argument("pilots", metavar="PILOTS.csv", help="pilot runs: language,size,score[,seed,metric]")
    p.add_argument("--budget", required=True, help="the plan's total pairs, e.g. 900 or 1.2M")
    p.add_argument("--languages", metavar="LANGS.csv", help="per-language available/floor/cost/weight of the plan")
    p.add_argument("--max-epochs", type=int, default=1, help="times a pair may be repeated in the plan (default 1)")
    p.add_argument("--candidates", metavar="L:SIZE,...", help="pilots to weigh, e.g. ar:200,hi:400 (default: another "
                   "seed at each size, 2x and 4x the largest and the planned size)")
    p.add_argument("--pair-cost", default=None, help="pilot cost per pair trained (default 1)")
    p.add_argument("--run-cost", default=None, help="pilot cost per run (default: the smallest pilot size)")
    p.add_argument("--pilot-budget", default=None, help="pilot cost left to spend (default: no limit)")
    p.add_argument("--stop-at", type=float, default=None, help="regret worth removing, in the objective's units "
                   "(default: 0.5 x one model's seed sd of the objective)")
    p.add_argument("--price", type=float, default=None, help="regret a unit of pilot cost must buy "
                   "(default: stop-at / the cheapest candidate's cost)")
    p.add_argument("--seed-sd", metavar="SD", help="one model's seed sd, e.g. 0.02 or ar=0.03,hi=0.02 "
                   "(default: the spread of repeated pilots)")
    p.add_argument("--metric", default=None, help="which metric when the file holds several")
    p.add_argument("--lower-is-better", action="store_true", help="the scores are a loss (read from nll/loss names "
                   "otherwise)")
    p.add_argument("-n", type=int, default=5, help="rows to print (default 5)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap draws of the fit (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the simulated outcomes (default 0)")
    p.set_defaults(func=cmd_next)
    return p
