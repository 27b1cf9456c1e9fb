from __future__ import annotations

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck import OptionError
from gradcheck.checking.points import constant, parse_shape, to_value


@pytest.mark.parametrize(("spec", "shape"), [
    ("3x2", (3, 2)), ("3×2", (3, 2)), (" 3 , 2 ", (3, 2)), ((1, 4), (1, 4)), ([2, 2], (2, 2))])
def test_shapes(spec, shape):
    assert parse_shape(spec) == shape


@pytest.mark.parametrize("spec", ["3", "3x", "0x2", (3,), (2.0, 2), "axb", (True, 2)])
def test_bad_shapes(spec):
    with pytest.raises(OptionError, match="bad shape"):
        parse_shape(spec, "x")


def test_constant_expressions_are_exact():
    v = constant("0.1*ones(1,2) + [[1/3, 0]]")
    assert v.exact == sympy.Matrix([[sympy.Rational(13, 30), sympy.Rational(1, 10)]])
    assert v.array.tolist() == [[13 / 30, 0.1]]


def test_constants_may_not_use_names():
    with pytest.raises(OptionError, match="uses the name 'y'"):
        constant("2*y", "x")


@pytest.mark.parametrize(("value", "shape"), [(2, (1, 1)), ([1, 2, 3], (1, 3)),
                                              (np.ones((2, 3)), (2, 3))])
def test_arrays_become_matrices(value, shape):
    assert to_value(value).shape == shape


def test_floats_are_exact_rationals():
    v = to_value(0.1)
    assert v.exact[0, 0] == sympy.Rational(3602879701896397, 36028797018963968)


@pytest.mark.parametrize("value", [[[1, np.nan]], np.ones((2, 2, 2)), "abc + 1", [1j], "x"])
def test_bad_values(value):
    with pytest.raises(gradcheck.GradcheckError):
        to_value(value, "v")


def test_random_points_are_seeded_per_name_and_exactly_representable():
    a = gradcheck.check("sum(x * y)", shapes={"x": (2, 2), "y": (2, 2)}, seed=7)
    b = gradcheck.check("sum(x * y * w)", shapes={"x": (2, 2), "y": (2, 2), "w": (2, 2)}, seed=7)
    c = gradcheck.check("sum(x * y)", shapes={"x": (2, 2), "y": (2, 2)}, seed=8)
    assert (a.point["x"] == b.point["x"]).all() and (a.point["y"] == b.point["y"]).all()
    assert not (a.point["x"] == c.point["x"]).all()
    assert ((a.point["x"] * 1024) % 1 == 0).all() and (np.abs(a.point["x"]) >= 1 / 8).all()


def test_random_points_respect_domains():
    r = gradcheck.check("sum(log(x)) + logdet(y) + sum(inv(y))",
                        shapes={"x": (2, 2), "y": (3, 3)})
    assert r.passed and (r.point["x"] > 0).all() and np.linalg.det(r.point["y"]) > 0


def test_random_points_keep_away_from_kinks():
    r = gradcheck.check("sum(relu(x - y)) + sum(abs(x))", shapes={"x": (3, 3), "y": (3, 3)})
    assert r.passed
    assert np.abs(r.point["x"] - r.point["y"]).min() >= 1e-3
