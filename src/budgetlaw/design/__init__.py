"""Choosing the pilots: the plan's expected regret and which pilot to run next (docs/pilot-design.md).

    regret.py      expected_regret: the plan's shortfall against the best plan per bootstrap draw
    transfer_regret.py  plan_regret: the same for any law the report reads (transfer, repeats);
                   what bl.worth and report.md's answer say
    refit.py       simulated outcomes of one pilot and the cheap batched refit of its language
    candidates.py  which pilots could run next (defaults, checks) and what each costs
    next.py        next_pilots / rank_pilots: candidates by expected regret cut per unit of cost,
                   the stop rule and its verdict

    import budgetlaw as bl
    bl.expected_regret(laws, plan).to_dict()
    table = bl.next_pilots("pilots.csv", budget=900, available={...})
    print(table.attrs["verdict"])
"""

from budgetlaw.design.next import COLUMNS, STOP_SHARE, next_pilots, rank_pilots
from budgetlaw.design.regret import ExpectedRegret, best_sizes, expected_regret

__all__ = ["next_pilots", "rank_pilots", "expected_regret", "ExpectedRegret", "best_sizes", "STOP_SHARE", "COLUMNS"]
