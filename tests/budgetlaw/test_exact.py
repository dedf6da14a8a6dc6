"""The exact KKT solver against solutions worked out by hand and by a different method.

Hand derivation used below (objective "sum", ceilings drop out of the argmax):
    maximize  sum_i w_i*(C_i - K_i*x_i**(-c_i))  s.t.  sum_i cost_i*x_i = B
Stationarity of the Lagrangian: w_i*c_i*K_i*x_i**(-c_i-1) = lam*cost_i, so
    x_i = (w_i*c_i*K_i / (lam*cost_i)) ** (1/(c_i+1)).
With language 1: K=1, c=1 and language 2: K=2, c=1/2 (w = cost = 1):
    x_1 = lam**(-1/2)   and   x_2 = (0.5*2/lam)**(2/3) = lam**(-2/3).
Pick lam = 1/64: x_1 = 8, x_2 = 16, so the budget B = 24 must give exactly (8, 16) and lam = 1/64.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

from budgetlaw.allocation.exact import pad_draws, solve_maxmin, solve_robust, solve_sum

K2 = np.array([1.0, 2.0])
C2 = np.array([1.0, 0.5])
ONES = np.ones(2)
INF = np.full(2, np.inf)
TINY = np.full(2, 1e-9)


def test_two_languages_by_hand():
    sol = solve_sum(K2, C2, ONES, ONES, TINY, INF, 24.0)
    np.testing.assert_allclose(sol.x[0], [8.0, 16.0], rtol=1e-12)
    np.testing.assert_allclose(sol.lam[0], 1 / 64, rtol=1e-12)


def test_two_languages_cap_binds():
    # Cap x_2 <= 10: x_2 = 10, the rest x_1 = 14 = lam**(-1/2)  =>  lam = 1/196.
    sol = solve_sum(K2, C2, ONES, ONES, TINY, np.array([np.inf, 10.0]), 24.0)
    np.testing.assert_allclose(sol.x[0], [14.0, 10.0], rtol=1e-12)
    np.testing.assert_allclose(sol.lam[0], 1 / 196, rtol=1e-12)


def test_two_languages_floor_binds():
    # Floor x_1 >= 20: x_2 = 4 = lam**(-2/3)  =>  lam = 4**(-3/2) = 1/8.
    sol = solve_sum(K2, C2, ONES, ONES, np.array([20.0, 1e-9]), INF, 24.0)
    np.testing.assert_allclose(sol.x[0], [20.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(sol.lam[0], 1 / 8, rtol=1e-12)


def test_two_languages_with_cost_and_weight():
    # cost_2 = 2: 0.5*2*x_2**(-3/2) = 2*lam.  lam = 1/128 gives x_1 = sqrt(128) = 8*sqrt(2) and
    # x_2 = (1/64)**(-2/3) = 16; B = 8*sqrt(2) + 2*16.
    sol = solve_sum(K2, C2, ONES, np.array([1.0, 2.0]), TINY, INF, 8 * np.sqrt(2) + 32)
    np.testing.assert_allclose(sol.x[0], [8 * np.sqrt(2), 16.0], rtol=1e-12)
    np.testing.assert_allclose(sol.lam[0], 1 / 128, rtol=1e-12)
    # weight_1 = 4: 4*1*x_1**(-2) = lam.  lam = 1/16 gives x_1 = 8, x_2 = 16**(2/3); B = their sum.
    B = 8 + 16 ** (2 / 3)
    sol = solve_sum(K2, C2, np.array([4.0, 1.0]), ONES, TINY, INF, B)
    np.testing.assert_allclose(sol.x[0], [8.0, 16 ** (2 / 3)], rtol=1e-12)
    np.testing.assert_allclose(sol.lam[0], 1 / 16, rtol=1e-12)


def test_all_caps_fit_gives_caps_and_zero_multiplier():
    sol = solve_sum(K2, C2, ONES, ONES, TINY, np.array([3.0, 4.0]), 24.0)
    np.testing.assert_array_equal(sol.x[0], [3.0, 4.0])
    assert sol.lam[0] == 0.0


def test_zero_weight_language_stays_at_floor():
    sol = solve_sum(K2, C2, np.array([0.0, 1.0]), ONES, np.array([2.0, 1.0]), INF, 24.0)
    np.testing.assert_allclose(sol.x[0], [2.0, 22.0], rtol=1e-12)


def test_vectorised_budgets_match_one_by_one_and_root_finding():
    rng = np.random.default_rng(3)
    n = 7
    K, c = rng.uniform(10, 1000, n), rng.uniform(0.1, 1.2, n)
    w, cost = rng.uniform(0.5, 2, n), rng.uniform(0.5, 3, n)
    lo, hi = np.full(n, 1.0), np.where(rng.random(n) < 0.4, rng.uniform(1e3, 1e4, n), np.inf)
    budgets = np.geomspace(1e3, 1e7, 25)
    many = solve_sum(K, c, w, cost, lo, hi, budgets)
    for row, B in enumerate(budgets):
        one = solve_sum(K, c, w, cost, lo, hi, B)
        np.testing.assert_allclose(many.x[row], one.x[0], rtol=1e-13)
        # Independent check: find lam with scipy's brentq on the budget equation.
        def spend(loglam):
            x = np.clip((w * c * K / (np.exp(loglam) * cost)) ** (1 / (c + 1)), lo, hi)
            return (cost * x).sum() - B

        if (cost * hi).sum() <= B:
            np.testing.assert_array_equal(one.x[0], hi)
            continue
        loglam = brentq(spend, -200, 200, xtol=1e-14, rtol=1e-15)
        np.testing.assert_allclose(one.lam[0], np.exp(loglam), rtol=1e-9)
        assert (cost * one.x[0]).sum() <= B * (1 + 1e-14)
        assert (cost * one.x[0]).sum() >= B * (1 - 1e-12)


def test_robust_with_shared_exponent_equals_sum_with_mean_K():
    # mean_d (C - K_d x**-c) = C - mean(K_d) x**-c when every draw has the same c, so the robust
    # optimum is the plain optimum of the law with K = mean(K_d).
    rng = np.random.default_rng(4)
    n, D = 5, 40
    c = rng.uniform(0.2, 0.9, n)
    Kd = rng.uniform(20, 400, (n, D))
    draws = [np.column_stack([Kd[i], np.full(D, c[i]), np.full(D, 100.0)]) for i in range(n)]
    Kp, cp_, counts = pad_draws(draws)
    lo, hi = np.full(n, 1.0), np.full(n, np.inf)
    robust = solve_robust(Kp, cp_, counts, np.ones(n), np.ones(n), lo, hi, 1e5)
    plain = solve_sum(Kd.mean(axis=1), c, np.ones(n), np.ones(n), lo, hi, 1e5)
    np.testing.assert_allclose(robust.x, plain.x, rtol=1e-10)
    np.testing.assert_allclose(robust.lam, plain.lam, rtol=1e-10)


def test_robust_two_draws_stationarity():
    # One language with two draws of different exponents: at the optimum the mean marginal
    # equals lam * cost for every free language; check against a direct root solve per language.
    draws = [np.array([[50.0, 0.3, 100], [80.0, 0.6, 100]]), np.array([[200.0, 0.5, 100]] * 3)]
    Kd, cd, counts = pad_draws(draws)
    assert counts.tolist() == [2, 3]
    sol = solve_robust(Kd, cd, counts, np.ones(2), np.array([1.0, 2.0]), TINY, INF, 5000.0)
    x, lam = sol.x[0], sol.lam[0]
    for i, d in enumerate(draws):
        def excess(logx, d=d, target=lam * [1.0, 2.0][i]):
            return np.mean(d[:, 1] * d[:, 0] * np.exp(logx) ** (-d[:, 1] - 1)) - target

        np.testing.assert_allclose(x[i], np.exp(brentq(excess, -10, 30, xtol=1e-14)), rtol=1e-10)
    assert x[0] + 2 * x[1] == pytest.approx(5000.0, rel=1e-13)


def test_per_budget_floors():
    lo = np.array([[1e-9, 1e-9], [20.0, 1e-9]])
    sol = solve_sum(K2, C2, ONES, ONES, lo, INF, np.array([24.0, 24.0]))
    np.testing.assert_allclose(sol.x, [[8.0, 16.0], [20.0, 4.0]], rtol=1e-12)


def test_maxmin_by_hand():
    # score_a = 100 - 1/x_a, score_b = 100 - 4/x_b. Equal scores need x_b = 4*x_a; with B = 10:
    # x = (2, 8), t = 99.5. As t(B) = 100 - 5/B, the marginal value is dt/dB = 5/B**2 = 0.05.
    K, c, C = np.array([1.0, 4.0]), np.array([1.0, 1.0]), np.array([100.0, 100.0])
    sol = solve_maxmin(K, c, C, ONES, TINY, INF, 10.0)
    np.testing.assert_allclose(sol.x[0], [2.0, 8.0], rtol=1e-12)
    np.testing.assert_allclose(sol.lam[0], 0.05, rtol=1e-9)
    # Cap x_b <= 4: b cannot pass 100 - 4/4 = 99, so t* = 99 and a needs only x_a >= 1; the
    # tie-break (plain sum) gives a the rest: x = (6, 4), and more budget cannot lift the worst.
    sol = solve_maxmin(K, c, C, ONES, TINY, np.array([np.inf, 4.0]), 10.0)
    np.testing.assert_allclose(sol.x[0], [6.0, 4.0], rtol=1e-12)
    assert sol.lam[0] == 0.0
