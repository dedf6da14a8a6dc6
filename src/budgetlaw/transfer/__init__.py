"""The law across languages: every language learns from every language's pairs.

    law.py      Transfer: the matrix T, the repetition constant R*, their bootstrap draws, and
                effective data d_i = eff_i(x_i) + sum_{j != i} T_ij eff_j(x_j)
    table.py    a mixed pilots table as arrays: one-language rows, multilingual and repetition points
    fit.py      fit(): one-language pilots pin K, c, E; multilingual rows pin T (and R*);
                form choice by leave-one-model-out error; a bootstrap over whole models
    stage2.py   stage 2: T and R* by least squares with every law held fixed
    joint.py    the joint refit of stage 1 (stage1="joint"/"auto"): K, c with T on every row
    prediction.py  predict(laws, sizes): every language's value and interval for any mixture

The allocation on a transfer law (cvxpy) is budgetlaw.allocation.transfer. Nothing is imported
here: budgetlaw.fitting.laws and budgetlaw.allocation read ``law`` without loading the fitting
code (docs/formats/laws.md gives the formulas).
"""
