"""The public Hypothesis strategies: what they generate, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis.errors import InvalidArgument

import gradcheck
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.strategies import expressions, matrices, points, shapes
from gradcheck.values.evaluate import kinks


@given(shapes(min_side=2, max_side=4))
def test_shapes_stay_in_bounds(shape):
    assert all(2 <= s <= 4 for s in shape)


@given(matrices((3, 3), spd=True))
def test_spd_matrices(a):
    assert (a == a.T).all() and np.linalg.eigvalsh(a).min() > 0


@given(matrices((4, 4), invertible=True))
def test_invertible_matrices_are_well_conditioned(a):
    assert np.linalg.cond(a) < 10


@given(matrices((2, 5), positive=True))
def test_positive_well_scaled_matrices(a):
    assert a.shape == (2, 5) and (a >= 1 / 8).all() and (a <= 1).all()
    assert ((a * 1024) % 1 == 0).all()  # exactly representable, exactly rational


@given(points("sum(log(x) @ relu(y - 1/2))", {"x": (2, 3), "y": (3, 2)}, positive=True,
              away_from_kinks=0.05))
def test_points_are_in_the_domain_and_away_from_kinks(p):
    tree = infer(parse("sum(log(x) @ relu(y - 1/2))"), {"x": (2, 3), "y": (3, 2)}).tree
    assert (p["x"] > 0).all()
    assert all(np.abs(k.offset).min() >= 0.05 for k in kinks(tree, p))
    assert gradcheck.check("sum(log(x) @ relu(y - 1/2))", at=p).passed


@given(expressions({"W": (2, 3), "b": (1, 3), "x": (4, 2)}, max_depth=3))
def test_expressions_use_only_the_given_variables(e):
    assert set(e.shapes) <= {"W", "b", "x"} and e.shapes
    assert all(e.shapes[n] == s for n, s in {"W": (2, 3), "b": (1, 3), "x": (4, 2)}.items()
               if n in e.shapes)
    assert infer(parse(e.text), e.shapes).shape == e.shape


@given(expressions(ops=("matmul", "transpose", "sum"), max_depth=3, shape=(1, 1)))
def test_expressions_use_only_the_operators_asked_for(e):
    used = {"@", "·", ".T", "sum(", "+"}  # + joins a variable when none was drawn
    text = e.text
    for token in used:
        text = text.replace(token, " ")
    assert not any(f in text for f in ("exp", "sin", "tanh", "*", "-("))


# call, fragment of the error
BAD = [
    (lambda: shapes(min_side=0), "min_side must be an integer >= 1, got 0"),
    (lambda: shapes(min_side=3, max_side=2), "max_side must be an integer >= 3, got 2"),
    (lambda: matrices((2, 3), spd=True), "spd and invertible matrices are square"),
    (lambda: matrices((2, 2), spd=True, positive=True), "spd excludes positive"),
    (lambda: matrices([2, 2]), "shape must be a (rows, cols) tuple"),
    (lambda: matrices((0, 2)), "rows must be an integer >= 1"),
    (lambda: expressions(ops=("exp", "frobnicate")), "unknown operators ['frobnicate']"),
    (lambda: expressions(max_depth=-1), "max_depth must be an integer >= 0"),
    (lambda: expressions({}), "variables is empty"),
    (lambda: expressions({"W": (2,)}), "the shape of 'W' must be (rows, cols)"),
    (lambda: points("x @ y", {"x": (2, 2)}), "unknown name 'y'"),
    (lambda: points("x", {"x": (2, 2)}, away_from_kinks=-1), "away_from_kinks must be >= 0"),
    (lambda: points(3), "expr must be an Expression or a string"),
]


@pytest.mark.parametrize(("call", "fragment"), BAD, ids=[f for _, f in BAD])
def test_bad_arguments_raise_invalid_argument_quoting_the_value(call, fragment):
    with pytest.raises(InvalidArgument) as info:
        call().validate()  # arguments are checked at once, or at the latest on validation
    assert fragment in str(info.value)
