from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from gradcheck import numeric
from gradcheck.parser import parse
from gradcheck.shapes import infer
from gradcheck.strategies import expressions, matrices, points


def _est(text, wrt, env):
    typed = infer(parse(text), {n: np.shape(v) for n, v in env.items()})
    return numeric.jacobian(typed.tree, wrt, env)


def test_evaluates_the_seed_expression_directly():
    env = {"x": np.ones((3, 2)), "y": np.full((2, 2), 0.5), "z": np.full((3, 2), 0.25),
           "A": np.array([[1.0, 0], [2, 1], [0, 1]])}
    typed = infer(parse("(x·y+z)·A+z"), {n: v.shape for n, v in env.items()})
    out = numeric.evaluate(typed.tree, env)
    np.testing.assert_array_equal(out, (env["x"] @ env["y"] + env["z"]) * env["A"] + env["z"])


def test_quadratic_gradient_and_its_error_bound():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    est = _est("sum(x * x * x)", "x", {"x": x})
    true = 3 * x**2
    assert np.all(np.abs(est.value - true) <= est.error)
    assert est.error.max() < 1e-7
    assert est.evaluations == 1 + 4 * 4  # the base point, then h and 2h on both sides


def test_jacobian_layout():
    est = _est("A @ x", "x", {"A": np.array([[1.0, 2.0]]), "x": np.ones((2, 3))})
    assert est.value.shape == (1, 3, 2, 3)
    assert est.value[0, 1, 1, 1] == pytest.approx(2.0, abs=1e-9)
    assert est.value[0, 1, 1, 0] == pytest.approx(0.0, abs=1e-9)


def test_stencil_goes_one_sided_next_to_a_kink():
    # relu's argument is 1e-9 from the kink: a central step of ~6e-6 would cross it.
    est = _est("sum(relu(x))", "x", {"x": np.array([[1e-9, -1e-9]])})
    assert est.stencils.tolist() == [["forward", "backward"]]
    np.testing.assert_allclose(est.value, [[1.0, 0.0]], atol=1e-8)


def test_step_shrinks_to_stay_inside_the_domain():
    # x - 2h must stay positive. The shrunken step is still large next to x, so
    # the estimate is rough, but its error bound says so honestly.
    est = _est("sum(log(x))", "x", {"x": np.array([[1e-6]])})
    assert 2 * est.steps[0, 0] < 1e-6
    assert abs(est.value[0, 0] - 1e6) <= est.error[0, 0]


def test_point_outside_the_domain_raises():
    typed = infer(parse("log(x)"), {"x": (1, 2)})
    with pytest.raises(numeric.OutOfDomain) as info:
        numeric.evaluate(typed.tree, {"x": np.array([[1.0, -0.5]])})
    assert info.value.index == (0, 1) and info.value.value == -0.5


def test_overflow_is_reported_not_returned():
    typed = infer(parse("exp(x)"), {"x": (1, 1)})
    with pytest.raises(numeric.OutOfDomain, match="overflow"):
        numeric.evaluate(typed.tree, {"x": np.array([[1000.0]])})


@given(expressions(ops=("add", "sub", "matmul", "transpose", "neg", "sum", "trace"),
                   max_depth=3).flatmap(lambda e: points(e).map(lambda p: (e, p))))
def test_linear_expressions_match_to_rounding(case):
    expr, at = case
    typed = infer(parse(expr.text), expr.shapes)
    for name in expr.shapes:
        est = numeric.jacobian(typed.tree, name, at)
        # Linear in each variable: D(h) and D(2h) differ only by rounding.
        assert est.error.max() < 1e-7


@given(matrices((2, 3)))
def test_error_bound_holds_for_a_smooth_function(x):
    est = _est("sin(x) * exp(x)", "x", {"x": x})
    true = np.zeros((2, 3, 2, 3))
    for i in range(2):
        for j in range(3):
            true[i, j, i, j] = np.cos(x[i, j]) * np.exp(x[i, j]) + np.sin(x[i, j]) * np.exp(x[i, j])
    assert np.all(np.abs(est.value - true) <= est.error)
