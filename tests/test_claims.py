from __future__ import annotations

import numpy as np
import pytest

from gradcheck import ClaimError
from gradcheck.checking.claims import evaluate, layout
from gradcheck.checking.points import to_value


def test_gradient_form_and_broadcasting():
    out, form = layout(np.array([[1.0]]), f_shape=(1, 1), w_shape=(3, 2), elementwise=False)
    assert form == "gradient" and out.tolist() == np.ones((3, 2)).tolist()


def test_full_and_flattened_jacobians():
    j = np.arange(24.0).reshape(2, 3, 2, 2)
    out, form = layout(j, f_shape=(2, 3), w_shape=(2, 2), elementwise=False)
    assert form == "jacobian" and (out == j).all()
    out, form = layout(j.reshape(6, 4), f_shape=(2, 3), w_shape=(2, 2), elementwise=False)
    assert form == "jacobian" and (out == j).all()


def test_elementwise_claim_becomes_the_diagonal():
    out, form = layout(np.array([[2.0, 3.0]]), f_shape=(1, 2), w_shape=(1, 2), elementwise=True)
    assert form == "elementwise"
    assert out[0, 0, 0, 0] == 2 and out[0, 1, 0, 1] == 3 and out[0, 0, 0, 1] == 0


def test_a_w_shaped_claim_where_f_is_not_elementwise_is_refused():
    with pytest.raises(ClaimError, match="not elementwise in 'x'") as info:
        layout(np.ones((2, 2)), f_shape=(2, 2), w_shape=(2, 2), elementwise=False, name="x")
    assert "4×4" in info.value.hint


def test_a_claim_of_no_known_shape_lists_the_shapes_accepted():
    with pytest.raises(ClaimError) as info:
        layout(np.ones((5, 5)), f_shape=(2, 3), w_shape=(2, 2), elementwise=False)
    assert "6×4" in info.value.hint


def test_string_claims_are_evaluated_exactly_then_rounded_once():
    values = {"x": to_value([[1, 2]]), "A": to_value("[[1, 3]] / 3")}
    assert evaluate("A + x/3", values).tolist() == [[2 / 3, 5 / 3]]


def test_claim_errors_say_they_are_in_the_claim():
    with pytest.raises(Exception, match="in the claimed derivative: unknown name 'q'"):
        evaluate("q + 1", {"x": to_value([[1.0]])})


def test_claims_on_large_matrices_are_evaluated_with_numpy():
    """Beyond 256 entries a matrix is slow even in symengine: exact fractions
    where the operations are rational (correctly rounded), float64 otherwise;
    up to 256, certified floats (symengine and ball arithmetic)."""
    from fractions import Fraction

    import sympy

    rng = np.random.default_rng(0)
    for n in (12, 17):
        x = rng.standard_normal((n, n))
        values = {"x": to_value(x)}
        exact = evaluate("x.T@x/3", values)
        fx = [[Fraction(float(v)) for v in row] for row in x]
        want = [[float(sum(fx[k][i] * fx[k][j] for k in range(n)) / 3) for j in range(n)]
                for i in range(n)]
        assert exact.tolist() == want
        smooth = evaluate("1 - tanh(x)**2", values)
        assert np.allclose(smooth, 1 - np.tanh(x) ** 2, rtol=1e-12, atol=0)
    x = rng.standard_normal((2, 2))
    truth = [[float(sympy.N(1 - sympy.tanh(sympy.Rational(Fraction(float(v)))) ** 2, 40))
              for v in row] for row in x]
    assert evaluate("1 - tanh(x)**2", {"x": to_value(x)}).tolist() == truth


def test_a_claim_in_the_other_layout_is_told_to_transpose():
    import gradcheck

    with pytest.raises(gradcheck.ClaimError) as info:
        gradcheck.check("w_1 w_0", wrt="w_0", shapes={"w_1": (1, 2), "w_0": (2, 1)},
                        expect="w_1")
    assert "the gradient transposed (numerator layout" in info.value.hint
    with pytest.raises(gradcheck.ClaimError) as info:
        gradcheck.check("A@x", wrt="x", shapes={"A": (2, 3), "x": (3, 1)}, expect="A.T")
    assert "the Jacobian in denominator layout" in info.value.hint
    assert "transpose the claim" in info.value.hint
