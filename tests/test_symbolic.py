from __future__ import annotations

import numpy as np
import sympy

from gradcheck.exact import symbolic
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer


def _jac(text, shapes, wrt):
    typed = infer(parse(text), shapes)
    env = {n: symbolic.symbols(n, s) for n, s in shapes.items()}
    return symbolic.jacobian(symbolic.build(typed.tree, env), env[wrt]), env


def test_symbols_are_real_and_named_by_index():
    z = symbolic.symbols("z", (2, 1))
    assert [str(s) for s in z] == ["z[0,0]", "z[1,0]"]
    assert all(s.is_real for s in z)


def test_hadamard_case_where_matrixsymbol_diff_recurses_forever():
    shapes = {"x": (3, 2), "y": (2, 2), "z": (3, 2), "A": (3, 2)}
    jac, env = _jac("(x@y+z)*A+z", shapes, "z")
    assert jac.shape == (3, 2, 3, 2)
    assert jac[1, 0, 1, 0] == env["A"][1, 0] + 1
    assert jac[1, 0, 0, 0] == 0


def test_zt_z_where_matrixsymbol_diff_returns_zero():
    jac, env = _jac("z.T @ z", {"z": (2, 2)}, "z")
    z = env["z"]
    assert jac[0, 0, 0, 0] == 2 * z[0, 0]  # SymPy 1.14's MatrixSymbol.diff says 0
    assert jac[0, 1, 1, 0] == z[1, 1]


def test_gradient_of_a_scalar_has_the_shape_of_w():
    jac, env = _jac("sum(x * x)", {"x": (3, 2)}, "x")
    assert isinstance(jac, sympy.MatrixBase) and jac.shape == (3, 2)
    assert jac == 2 * env["x"]


def test_exact_values_stay_rational():
    jac, env = _jac("x.T @ x / 3", {"x": (2, 1)}, "x")
    values = symbolic.evaluate(jac, {env["x"][0]: sympy.Rational(1, 2),
                                     env["x"][1]: sympy.Rational(1, 4)})
    assert values[0] == sympy.Rational(1, 3) and values[1] == sympy.Rational(1, 6)
    assert symbolic.to_float(values).tolist() == [[1 / 3], [1 / 6]]


def test_transcendental_values_are_rounded_from_30_digits():
    jac, env = _jac("sum(exp(x))", {"x": (1, 1)}, "x")
    value = symbolic.evaluate(jac, {env["x"][0]: sympy.Rational(1, 4)})
    assert value[0] == sympy.exp(sympy.Rational(1, 4))
    assert symbolic.to_float(value)[0, 0] == np.exp(0.25)


def test_elementwise_structure_is_decided_symbolically():
    shapes = {"x": (2, 2), "A": (2, 2)}
    assert symbolic.is_elementwise(_jac("sin(x) * A + x", shapes, "x")[0], (2, 2), (2, 2))
    assert not symbolic.is_elementwise(_jac("x @ A", shapes, "x")[0], (2, 2), (2, 2))
    assert not symbolic.is_elementwise(_jac("sum(x) + x", shapes, "x")[0], (2, 2), (2, 2))


def test_broadcasting_in_binary_operations():
    jac, env = _jac("x + b", {"x": (2, 2), "b": (1, 2)}, "b")
    assert jac.shape == (2, 2, 1, 2)
    assert [jac[i, 1, 0, 1] for i in range(2)] == [1, 1]
    assert jac[0, 0, 0, 1] == 0
