"""PowerLaw: the published law by hand, derivatives by finite differences, round trips."""

import dataclasses
import math

import numpy as np
import pytest

from budgetlaw.errors import InputError
from budgetlaw.law import PowerLaw

EN_AR = PowerLaw(a=42.5, b=0.04, c=0.11)  # published En-Ar COMET law


def test_published_law_by_hand():
    # 0.04 * 1e5 = 4000; 4000**-0.11 = exp(-0.11 * ln 4000) = exp(-0.912346) = 0.401607...
    expected = 100 - 42.5 * math.exp(-0.11 * math.log(4000.0))
    assert EN_AR.predict(1e5) == pytest.approx(expected, rel=1e-14)
    assert EN_AR.predict(1e5) == pytest.approx(82.9328, abs=1e-4)
    # at x = 1/b = 25 the gap to the ceiling is exactly a
    assert EN_AR.predict(25.0) == pytest.approx(100 - 42.5, rel=1e-14)
    assert EN_AR.K == pytest.approx(42.5 * 0.04 ** -0.11, rel=1e-14)
    assert EN_AR.x_ref == pytest.approx(25.0)


def test_identifiable_form_predicts_the_same_numbers():
    x = np.geomspace(10, 1e7, 25)
    by_k = 100 - EN_AR.K * x ** -0.11
    np.testing.assert_allclose(EN_AR.predict(x), by_k, rtol=1e-13)
    for b in (1.0, 1e-3, 0.04, 7.0):
        other = PowerLaw.from_identifiable(EN_AR.K, 0.11, b=b)
        assert other.b == b
        assert other.a == pytest.approx(EN_AR.K * b**0.11, rel=1e-14)
        np.testing.assert_allclose(other.predict(x), EN_AR.predict(x), rtol=1e-13)


def test_vectorised_shapes_and_scalars():
    assert isinstance(EN_AR.predict(1000), float)
    out = EN_AR.predict(np.ones((2, 3)) * 1e4)
    assert out.shape == (2, 3)
    assert EN_AR.predict([1e3, 1e4]).shape == (2,)
    assert EN_AR(1e5) == EN_AR.predict(1e5)


def test_marginal_matches_finite_difference():
    law = PowerLaw(a=30.0, b=1e-3, c=0.35, ceiling=95.0)
    for x in (1e3, 5e4, 2e6):
        h = x * 1e-6
        numeric = (law.predict(x + h) - law.predict(x - h)) / (2 * h)
        assert law.marginal(x) == pytest.approx(numeric, rel=1e-6)
    # closed form: c * K * x**(-c-1)
    assert law.marginal(1e4) == pytest.approx(0.35 * law.K * 1e4 ** -1.35, rel=1e-13)
    # diminishing returns
    m = law.marginal(np.array([1e3, 1e4, 1e5]))
    assert np.all(np.diff(m) < 0)


def test_inverse_undoes_predict():
    law = PowerLaw(a=30.0, b=1e-3, c=0.35, ceiling=95.0)
    x = np.geomspace(100, 1e8, 30)
    np.testing.assert_allclose(law.inverse(law.predict(x)), x, rtol=1e-9)
    # by hand: score 80 -> gap 15 = 30 * (x/1000)**-0.35 -> x = 1000 * 2**(1/0.35)
    assert law.inverse(80.0) == pytest.approx(1000 * 2 ** (1 / 0.35), rel=1e-12)
    assert law.inverse(95.0) == math.inf
    assert law.inverse(99.0) == math.inf
    assert law.inverse([80.0, 96.0])[1] == math.inf


@pytest.mark.parametrize("kwargs", [
    dict(a=0, b=1, c=0.1), dict(a=-1, b=1, c=0.1), dict(a=1, b=0, c=0.1), dict(a=1, b=1, c=0),
    dict(a=1, b=1, c=-0.2), dict(a=float("nan"), b=1, c=0.1), dict(a=1, b=float("inf"), c=0.1),
    dict(a=1, b=1, c=0.1, ceiling=float("inf")), dict(a=1, b=1, c=0.1, ceiling=float("nan")),
    dict(a="x", b=1, c=0.1), dict(a=1, b=1, c=0.1, ceiling="top"),
])
def test_validation(kwargs):
    with pytest.raises(InputError):
        PowerLaw(**kwargs)


def test_from_identifiable_validation():
    with pytest.raises(InputError, match="K"):
        PowerLaw.from_identifiable(0.0, 0.2)
    with pytest.raises(InputError, match="b"):
        PowerLaw.from_identifiable(3.0, 0.2, b=-1)


def test_frozen_and_dict_round_trip():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EN_AR.a = 1.0
    data = EN_AR.to_dict()
    assert data["a"] == 42.5 and data["b"] == 0.04 and data["c"] == 0.11 and data["ceiling"] == 100.0
    assert PowerLaw.from_dict(data) == EN_AR
    by_k = PowerLaw.from_dict({"K": EN_AR.K, "c": 0.11, "ceiling": 100.0, "x_ref": 25.0})
    assert by_k.predict(1e5) == pytest.approx(EN_AR.predict(1e5), rel=1e-13)
    with pytest.raises(InputError, match="a, b, c"):
        PowerLaw.from_dict({"c": 0.1})
