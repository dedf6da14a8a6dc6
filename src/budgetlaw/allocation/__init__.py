"""Stage 2 of the pipeline, laws.json -> plan.json: spend a data budget across languages so that
the fitted laws predict the best outcome.

    problem.py    AllocationProblem, prepare (every input checked once), the objectives
    exact.py      the exact solver (KKT conditions + bisection), pure numpy
    convex.py     the cvxpy model, for extra linear constraints
    optimise.py   allocate, sweep, make_plan
    baselines.py  uniform, proportional, temperature, UniMax (water-filling)
    effective.py  effective data under a transfer law; whether it changes the program
    transfer.py   the cvxpy model on a transfer law (every objective, repeats)

Per language i, score_i(x) = C_i - K_i * x**(-c_i). The program (convex: every term is concave):

    maximize   sum_i w_i * score_i(x_i)                        objective="sum" (the paper's)
               min_i score_i(x_i)                              objective="maxmin"
               mean over bootstrap draws of sum_i w_i*score_i   objective="robust"
    subject    sum_i cost_i * x_i <= budget
               floor_i <= x_i <= available_i * max_epochs       (no cap where available is absent)
               any extra linear constraints given as callables

(with pairs beyond available_i valued at the repetition rate below).

Loss laws (lower_is_better, L_i(x) = E_i + K_i * x**(-c_i)) turn every objective around:
"sum" minimises sum_i w_i*L_i(x_i), "maxmin" minimises the worst (largest) loss max_i L_i(x_i),
"robust" minimises the mean over draws of sum_i w_i*L_i. Internally each loss law is the score
law of -L_i (ceiling -E_i, budgetlaw.direction): maximising sum_i w_i*(-L_i) is the same program
with the same optimality condition w_i*c_i*K_i*x_i**(-c_i-1) = lambda*cost_i, so the exact and
cvxpy paths serve both. Plans report values in the laws' own units (losses as losses); the
marginal value is the improvement per extra unit of budget (for a loss: the objective's decrease).
A set of laws must not mix the two directions.

Defaults: cost_i = 1, w_i = 1, and floor_i = 1e-6 * budget / (n * cost_i) (the law is undefined
at x = 0; this floor costs one millionth of the budget in all, so it never binds in practice and
never makes a problem infeasible).

"maxmin" breaks ties by the plain sum: once the worst score is as high as it can go, any budget
left (there is some when the worst language is at its cap) goes where it adds most in total.

Repeated pairs: available_i is the number of *distinct* pairs of language i, and max_epochs > 1
lets a plan repeat them (cap = available_i * max_epochs). A repeated pair is worth less than a
fresh one, so every law is read at e_i = eff(x_i), the data-constrained value (Muennighoff et
al. 2023; budgetlaw.transfer.law):

    eff(x) = x                                          x <= U       (U = available_i)
           = U + U R* (1 - exp(-(x - U) / (U R*)))      x > U

with R* = DEFAULT_RSTAR = 5 for one-language laws (a transfer law uses its own, fitted from
repetition rows when it has them): two passes over U pairs are worth 1.906 U fresh pairs, four
3.26 U, and no number of passes more than (1 + R*) U = 6 U. This is the one-language law as the
transfer law with T = 0 (AllocationProblem.repeats_only). The plans' predictions, the objective,
the baselines and bl.predict (given ``unique=``) all read it; the exact path solves it (each
x_i(lam) from the KKT condition in e, budgetlaw.allocation.exact), cvxpy as in
budgetlaw.allocation.transfer. max_epochs = 1, or no available, is the program above unchanged.

Transfer laws (a LawSet with ``transfer``, budgetlaw.transfer): every score_i is taken at the
effective data d_i = eff_i(x_i) + sum_j T_ij eff_j(x_j), with U_i = available_i the distinct
pairs when repeats are possible (available_i * max_epochs > available_i). The program stays
convex (T >= 0, eff concave) and is solved by budgetlaw.allocation.transfer; a transfer law with
T = 0 in the fit and every draw, and no repeats possible, is the program above and takes its
path. Plans, baselines and the objective judge sizes at their effective data.

Solvers: without extra constraints every objective is solved exactly by `budgetlaw.allocation.exact`
(KKT conditions + bisection on one multiplier; "sum" and "robust" are separable, "maxmin" is a
bisection on the worst score followed by a "sum" solve). Extra constraints go through cvxpy
(CLARABEL, falling back to SCS; a solver failure raises budgetlaw.SolverError), written with
exponential cones so the exponents c_i are used exactly (cvxpy's `power` would round them to
fractions). The budget constraint's multiplier is the plan's marginal value.
"""

from budgetlaw.allocation.optimise import ROBUST_CHUNK, allocate, make_plan, sweep
from budgetlaw.allocation.problem import (DEFAULT_FLOOR_SHARE, OBJECTIVES, SOLVERS, AllocationProblem,
                                          objective_values, prepare)

__all__ = ["OBJECTIVES", "SOLVERS", "DEFAULT_FLOOR_SHARE", "ROBUST_CHUNK", "allocate", "sweep", "AllocationProblem",
           "prepare", "make_plan", "objective_values"]
