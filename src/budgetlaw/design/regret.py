"""The plan's expected regret: how much the plan falls short of the best plan, over the laws' draws.

For the separable objective J(x) = sum_i w_i * value_i(x_i) (``sum``, and ``robust``, whose
per-draw objective is the same sum), under bootstrap draw d of every law (the laws' draws are
indexed alike) the best plan x*_d is the exact optimum under draw d with the plan's own budget,
floors, caps (available * max_epochs), costs and weights, and

    regret_d = sign * (J_d(x*_d) - J_d(plan)) = sum_i w_i * K_di * (plan_i**(-c_di) - x*_di**(-c_di)) >= 0

in the objective's units (nats for a sum of losses, COMET points for a sum of scores); the
ceilings (floors E of a loss) cancel. ``expected`` is the mean of regret_d over the draws, the
interval its ``level`` quantiles. The share is expected / optimum_gain with

    optimum_gain = mean_d sign * (J_d(x*_d) - J_d(uniform))

what planning could gain over the uniform split (water-filled under the same caps), so a share
of 0.1 means the plan misses a tenth of what the best plan would gain over uniform.

``best_sizes`` is the exact solver of budgetlaw.allocation.exact (x_i(lam) = clip((w_i c_i K_i
/ (lam cost_i))**(1/(c_i+1)), lo_i, hi_i), lam found by bisection in log space) vectorised over
any leading axes of K and c, so that thousands of draws are re-planned in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from budgetlaw.allocation.baselines import water_fill
from budgetlaw.allocation.problem import DEFAULT_FLOOR_SHARE
from budgetlaw.direction import direction_of
from budgetlaw.errors import InputError

__all__ = ["ExpectedRegret", "expected_regret", "best_sizes", "regret_of", "plan_arrays", "draw_arrays", "regret_summary"]

_BISECTIONS = 80  # the log-multiplier bracket is < 1e3 wide: 2**-80 of it is below float64's step


def best_sizes(K, c, w, cost, lo, hi, budget) -> np.ndarray:
    """argmax_x sum_i w_i * (C_i - K_i * x_i**(-c_i)) s.t. sum_i cost_i x_i <= budget, lo <= x <= hi.

    K, c: (..., n) (any leading axes: draws, outcomes); w, cost, lo, hi: (n,), hi may be inf,
    budget a number with sum(cost * lo) <= budget. Returns x of K's shape. Every cap fitting the
    budget gives the caps.
    """
    K, c = np.broadcast_arrays(np.asarray(K, dtype=float), np.asarray(c, dtype=float))
    w, cost, lo, hi = (np.asarray(v, dtype=float) for v in (w, cost, lo, hi))
    if float((cost * hi).sum()) <= budget:
        return np.broadcast_to(hi, K.shape).copy()
    with np.errstate(divide="ignore"):
        log_a = np.log(w * c * K) - np.log(cost)
    top = np.minimum(hi, budget / cost)
    left = (log_a - (c + 1.0) * np.log(top)).min(axis=-1)   # spend(left) >= budget
    right = (log_a - (c + 1.0) * np.log(lo)).max(axis=-1)   # spend(right) <= budget
    left = np.minimum(left, right)

    def sizes(loglam):
        with np.errstate(over="ignore", under="ignore"):
            return np.clip(np.exp((log_a - loglam[..., None]) / (c + 1.0)), lo, hi)

    for _ in range(_BISECTIONS):
        mid = 0.5 * (left + right)
        over = (sizes(mid) * cost).sum(axis=-1) > budget
        left = np.where(over, mid, left)
        right = np.where(over, right, mid)
    return sizes(right)  # the right end never overspends


def regret_of(x_plan, x_best, K, c, w) -> np.ndarray:
    """sum_i w_i K_i (x_plan_i**(-c_i) - x_best_i**(-c_i)) over the last axis (>= 0 up to roundoff)."""
    return (w * K * (np.asarray(x_plan, dtype=float) ** (-c) - np.asarray(x_best, dtype=float) ** (-c))).sum(axis=-1)


def draw_arrays(laws, languages) -> tuple[np.ndarray, np.ndarray]:
    """(K, c) of every law's bootstrap draws as (D, n) arrays, D the fewest draws of any law."""
    draws = [np.asarray(getattr(laws[lang], "draws", np.empty((0, 3))), dtype=float).reshape(-1, 3) for lang in languages]
    if any(len(d) == 0 for d in draws):
        empty = [lang for lang, d in zip(languages, draws) if len(d) == 0]
        raise InputError(f"expected_regret: laws[{empty[0]}] has no bootstrap draws; fit the laws with n_boot > 0 "
                         "(e.g. budgetlaw.fit(pilots, n_boot=200))")
    D = min(len(d) for d in draws)
    return np.stack([d[:D, 0] for d in draws], axis=1), np.stack([d[:D, 1] for d in draws], axis=1)


def plan_arrays(plan) -> dict:
    """The plan's own constraints as arrays in its language order: w, cost, lo (floors), hi (caps)."""
    languages = [str(k) for k in plan.sizes.index]
    cons = plan.constraints or {}
    get = lambda key, default: np.array([float((cons.get(key) or {}).get(lang, default))  # noqa: E731
                                         for lang in languages])
    available = get("available", math.inf)
    epochs = float(cons.get("max_epochs") or 1)
    x = plan.sizes.to_numpy(dtype=float)
    cost, budget = get("cost", 1.0), float(plan.budget)
    # the allocator's default floor (it never binds) where the plan records none: x = 0 has no law
    floor = np.maximum(get("floor", 0.0), DEFAULT_FLOOR_SHARE * budget / (len(languages) * cost))
    return {"languages": languages, "x": x, "w": get("weights", 1.0), "cost": cost,
            "lo": np.minimum(floor, x), "hi": available * epochs, "budget": budget}


@dataclass(frozen=True)
class ExpectedRegret:
    """The plan's expected regret over the laws' draws (module docstring), in the objective's units.

    expected: mean of regret_d; lower, upper: its ``level`` quantiles; share: expected /
    optimum_gain (NaN when the best plan gains nothing over uniform); optimum_gain: mean over the
    draws of the best plan's gain over uniform; plan_gain: the plan's gain over uniform under the
    point laws; draws: how many draws; worst_language: the language whose planned size moves most
    between draws (relative spread of x*_d), the one whose law most decides the plan.
    """

    objective: str
    lower_is_better: bool
    level: float
    expected: float
    lower: float
    upper: float
    share: float
    optimum_gain: float
    plan_gain: float
    draws: int
    budget: float
    worst_language: str

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict) -> "ExpectedRegret":
        return cls(**{k: (math.nan if v is None and k not in ("objective", "worst_language") else v)
                      for k, v in data.items() if k in cls.__dataclass_fields__})

    def sentence(self, digits: int = 3) -> str:
        """One line: the regret, its interval and its share of what planning could gain."""
        share = "" if not math.isfinite(self.share) else f", {100 * self.share:.0f}% of the best plan's gain over uniform"
        return (f"the plan's expected regret is {self.expected:.{digits}f} [{self.lower:.{digits}f}, "
                f"{self.upper:.{digits}f}]{share}")


def expected_regret(laws, plan, *, level: float = 0.9) -> ExpectedRegret:
    """The expected shortfall of ``plan`` against the best plan per bootstrap draw of ``laws``.

    laws: a LawSet (or dict language -> FittedLaw) whose laws carry bootstrap draws; plan: a Plan
    (budgetlaw.allocate or a baseline) whose budget, floors, caps, costs and weights define the
    best plan of each draw. Objectives "sum" and "robust"; one-language laws (no transfer).
    """
    if plan.objective not in ("sum", "robust"):
        raise InputError(f"expected_regret: plan objective {plan.objective!r} is not separable; the regret is "
                         "defined for objective 'sum' or 'robust' (allocate(..., objective='sum'))")
    if getattr(laws, "transfer", None) is not None:
        raise InputError("expected_regret: the laws carry a transfer matrix; the regret is computed for "
                         "one-language laws only so far (fit with transfer='none')")
    if not 0 < float(level) < 1:
        raise InputError(f"expected_regret: level={level!r} must lie strictly between 0 and 1, e.g. 0.9")
    p = plan_arrays(plan)
    languages = p["languages"]
    missing = [lang for lang in languages if lang not in laws]
    if missing:
        raise InputError(f"expected_regret: the plan's language {missing[0]!r} has no law; pass the laws the plan "
                         "was made from")
    lower = direction_of({lang: laws[lang] for lang in languages})
    K, c = draw_arrays(laws, languages)
    point = np.array([[float(laws[lang].K), float(laws[lang].c)] for lang in languages]).T
    return regret_summary(K, c, p["x"], point[0], point[1], p["w"], p["cost"], p["lo"], p["hi"], p["budget"],
                          languages=languages, lower_is_better=bool(lower), objective=plan.objective, level=level)


def regret_summary(K, c, x, K_point, c_point, w, cost, lo, hi, budget, *, languages, lower_is_better: bool,
                   objective: str = "sum", level: float = 0.9) -> ExpectedRegret:
    """ExpectedRegret of sizes ``x`` (n,) under draws K, c (D, n); the point law (n,) gives plan_gain."""
    best = best_sizes(K, c, w, cost, lo, hi, budget)
    regret = np.maximum(regret_of(x, best, K, c, w), 0.0)
    uniform, _ = water_fill(np.ones(len(languages)), lo, hi, cost, budget)
    optimum_gain = float(np.mean(regret_of(uniform, best, K, c, w)))
    plan_gain = float(regret_of(uniform, x, K_point, c_point, w))
    q = [(1 - level) / 2, (1 + level) / 2]
    low, high = (float(v) for v in np.quantile(regret, q))
    expected = float(regret.mean())
    spread = np.std(np.log(best), axis=0)
    return ExpectedRegret(objective=objective, lower_is_better=bool(lower_is_better), level=float(level),
                          expected=expected, lower=low, upper=high,
                          share=expected / optimum_gain if optimum_gain > 0 else math.nan,
                          optimum_gain=optimum_gain, plan_gain=plan_gain, draws=int(len(K)), budget=float(budget),
                          worst_language=str(languages[int(np.argmax(spread))]))
