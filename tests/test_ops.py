"""The operator table: SymPy and NumPy columns agree, and known values hold."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import sympy
from hypothesis import assume, given
from hypothesis import strategies as st

from gradcheck.language import ops
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import render, variables
from gradcheck.strategies import matrices
from gradcheck.values.evaluate import evaluate

ELEMENTWISE = [op for op in ops.OPS.values() if op.kind == "elementwise"]
BINARY = [op for op in ops.OPS.values() if op.kind == "binary"]
MATRIX = [op for op in ops.OPS.values() if op.kind in ("reduce", "matrix", "matmul")]


def _sym(op, *arrays):
    """The SymPy column on exact inputs, rounded once."""
    exact = [sympy.Matrix(a.shape[0], a.shape[1], [sympy.Rational(int(v * 1024), 1024)
                                                    for v in a.flat]) for a in arrays]
    if op.kind in ("elementwise", "binary"):
        out = [op.sym(*vals) for vals in zip(*[list(m) for m in exact], strict=True)]
        return np.array([float(sympy.N(v, 30)) for v in out]).reshape(arrays[0].shape)
    return np.array(sympy.Matrix(op.sym(*exact)).evalf(30).tolist(), dtype=float)


def _domain_ok(op, *arrays):
    return op.domain is None or bool(np.all(op.domain(*arrays)))


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda op: op.name)
@given(data=st.data())
def test_elementwise_columns_agree(op, data):
    a = data.draw(matrices((2, 3), positive=op.domain is not None))
    np.testing.assert_allclose(op.num(a), _sym(op, a), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.name)
@given(data=st.data())
def test_binary_columns_agree(op, data):
    a = data.draw(matrices((2, 2), positive=op.name == "pow"))
    b = data.draw(matrices((2, 2)))
    np.testing.assert_allclose(op.num(a, b), _sym(op, a, b), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("op", MATRIX, ids=lambda op: op.name)
@given(data=st.data())
def test_matrix_columns_agree(op, data):
    a = data.draw(matrices((3, 3)))
    if op.name in ("inv", "logdet"):
        a = a + 3 * np.eye(3)  # diagonally dominant: invertible, positive determinant
    args = (a, data.draw(matrices((3, 2)))) if op.arity == 2 else (a,)
    assert _domain_ok(op, *args)
    np.testing.assert_allclose(op.num(*args), _sym(op, *args), rtol=1e-12, atol=1e-14)


# op name, argument, value
PINNED = [
    ("sigmoid", 0.0, 0.5),
    ("sigmoid", -800.0, 0.0),  # no overflow warning, no NaN
    ("relu", -0.5, 0.0),
    ("relu", 0.75, 0.75),
    ("softplus", 0.0, math.log(2)),
    ("abs", -2.0, 2.0),
    ("tanh", 0.0, 0.0),
    ("log", 1.0, 0.0),
]


@pytest.mark.parametrize(("name", "arg", "value"), PINNED)
def test_known_values(name, arg, value):
    op = ops.OPS[name]
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is right
        assert op.num(np.array([[arg]]))[0, 0] == pytest.approx(value, abs=1e-300)
    assert float(op.sym(sympy.Float(arg))) == pytest.approx(value, abs=1e-300)


def test_sigmoid_keeps_relative_accuracy_in_the_tail():
    assert ops.OPS["sigmoid"].num(np.array([[-30.0]]))[0, 0] == pytest.approx(
        1 / (1 + math.exp(30)), rel=1e-15)


def test_softmax_rows_sum_to_one():
    out = ops.OPS["softmax"].num(np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(out.sum(axis=1), [1, 1], rtol=1e-15)


def test_domains_and_kinks_are_declared():
    assert ops.OPS["relu"].kink == 0 and ops.OPS["abs"].kink == 0
    assert not ops.OPS["log"].domain(np.array([[0.0]])).any()
    assert ops.OPS["pow"].domain(np.array([[-2.0]]), np.array([[3.0]])).all()
    assert not ops.OPS["pow"].domain(np.array([[-2.0]]), np.array([[0.5]])).any()
    assert not ops.OPS["inv"].domain(np.ones((2, 2))).any()


def test_every_function_has_a_unique_spelling():
    assert set(ops.FUNCTIONS.values()) <= set(ops.OPS)
    assert ops.lookup_function("σ") is ops.OPS["sigmoid"]
    assert ops.lookup_function("nope") is None


# ----- every operator has every rule it needs (docs/contributing.md) -----

CORE = [op for op in ops.OPS.values() if op.expand is None or op.options]
DERIVED = [op for op in ops.OPS.values() if op.expand is not None]


@pytest.mark.parametrize("op", [o for o in CORE if o.kind not in ("dot", "constructor")],
                         ids=lambda op: op.name)
def test_every_operator_has_its_rules(op):
    from gradcheck.exact import ball_eval, closed_form, rational
    from gradcheck.values import bounded

    assert callable(closed_form.rule(op.name))  # the vjp column or closed_form.RULES
    assert op.name in bounded._BOUNDED, "a rounding rule in gradcheck.values.bounded"
    if op.vjp is not None:
        assert len(op.vjp) == op.arity
        for text in op.vjp:  # each parses, in the names a rule may use
            assert not text or set(variables(parse(text))) <= {"g", "a", "b", "out"}
    constructors = {o.name for o in ops.OPS.values() if o.kind == "constructor"}
    assert rational.RATIONAL - constructors <= set(rational._EXACT) | {"pow"}
    assert ball_eval.COVERED <= set(ops.OPS)


def test_a_missing_rule_names_the_operator(monkeypatch):
    from gradcheck.exact import closed_form

    monkeypatch.setitem(ops.OPS, "tanh", dataclasses.replace(ops.OPS["tanh"], vjp=None))
    with pytest.raises(closed_form.MissingRule, match="'tanh' has no closed-form rule"):
        closed_form.rule("tanh")


@pytest.mark.parametrize("op", DERIVED, ids=lambda op: op.name)
@given(data=st.data())
def test_derived_operators_agree_with_their_reference(op, data):
    """The definition in the language, typed and evaluated, against the row's
    own NumPy reference, for argument shapes the row says it takes."""
    out = data.draw(st.sampled_from([(1, 1), (2, 2), (1, 3), (3, 1), (2, 3), (4, 2), (6, 2)]))
    if op.arguments is not None:
        forms = op.arguments(out, 3)
        assume(forms)
    else:
        forms = [(((2, 3),) * op.arity, ())]
    arg_shapes, options = data.draw(st.sampled_from(forms))
    args = [data.draw(matrices(s)) for s in arg_shapes]
    names = "ab"[:op.arity]
    text = f"{op.name}(" + ", ".join([*names, *map(str, options)]) + ")"
    typed = infer(parse(text), dict(zip(names, arg_shapes, strict=True)))
    got = evaluate(typed.tree, dict(zip(names, args, strict=True)))
    if options:
        want = (np.sum if op.name == "sum" else np.mean)(args[0], axis=options[0], keepdims=True)
    else:
        want = np.asarray(op.num(*args)).reshape(typed.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert render(typed.tree) == text  # printed as written
