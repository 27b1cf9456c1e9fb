"""Derived operators (logsumexp, log_softmax, maximum, minimum, diag, kron, sum and
mean along an axis): each is one row of the operator table, defined in the
language, and every engine and report handles it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck.cli import main

X = [[1.0, -2.0], [3.0, 0.5], [-1.5, 2.5]]
CASES = [  # expression, point, wrt, right claim, wrong claim
    ("sum(maximum(x, y))", {"x": [[1.0, -2.0], [3.0, 0.5]], "y": [[0.5, 1.0], [2.0, 1.0]]},
     "x", "step(x - y)", "step(y - x)"),
    ("sum(minimum(x, 0.25))", {"x": [[1.0, -2.0], [3.0, 0.5]]}, "x", "step(0.25 - x)",
     "step(x)"),
    ("logsumexp(x)", {"x": [[1.0, 2.0, 3.0]]}, "x", "softmax(x)", "exp(x)"),
    ("sum(log_softmax(x) * y)", {"x": [[1.0, 2.0, 3.0]], "y": [[0.0, 1.0, 0.0]]}, "x",
     "y - softmax(x)*sum(y)", "y + softmax(x)"),
    ("sum(sum(X, 0) * c)", {"X": X, "c": [[1.0, 2.0]]}, "X", "ones(3,1) @ c", "ones(3,1) @ (2*c)"),
    ("sum(sum(X, 1) * r)", {"X": X, "r": [[1.0], [2.0], [3.0]]}, "X", "r @ ones(1,2)",
     "r @ ones(1,2) / 2"),
    ("sum(mean(X, 0) ** 2)", {"X": X}, "X", "2 * ones(3,1) @ mean(X, 0) / 3",
     "2 * ones(3,1) @ mean(X, 0)"),
    ("sum(diag(v) @ A)", {"v": [[1.0], [2.0]], "A": [[1.0, 2.0], [3.0, 4.0]]}, "v",
     "A @ ones(2,1)", "A.T @ ones(2,1)"),
    ("sum(diag(A) ** 2)", {"A": [[1.0, 2.0], [3.0, 4.0]]}, "A", "2 * A * eye(2)", "2 * A"),
    ("sum(kron(A, B))", {"A": [[1.0, 2.0]], "B": [[1.0], [3.0]]}, "A", "sum(B) * ones(1,2)",
     "ones(1,2)"),
]


@pytest.mark.parametrize(("expr", "at", "wrt", "right", "wrong"), CASES,
                         ids=[c[0] for c in CASES])
def test_right_claims_pass_and_wrong_ones_fail(expr, at, wrt, right, wrong):
    for engine in ("sympy", "closed"):
        r = gradcheck.check(expr, wrt=wrt, at=at, expect=right, engine=engine)
        assert r.verdict == "pass", str(r)
        assert r.reading == expr.replace(" ", "").replace(",", ", ")  # printed as written
        assert gradcheck.check(expr, wrt=wrt, at=at, expect=wrong,
                               engine=engine).verdict == "fail"


def test_kron_and_diag_jacobians_are_the_definitions():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0]])
    j = gradcheck.jacobian("kron(A, B)", wrt="A", at={"A": a, "B": b})
    assert j.shape == (2, 4, 2, 2)
    # ∂kron(A,B)[i·p+k, j·q+l]/∂A[i,j] = B[k,l], and 0 off the block
    assert j[1, 3, 1, 1] == -1.0 and j[1, 2, 1, 1] == 0.5 and j[0, 3, 1, 1] == 0.0
    d = gradcheck.jacobian("diag(v)", wrt="v", at={"v": [[1.0], [2.0], [3.0]]})
    assert d[2, 2, 2, 0] == 1.0 and d[2, 1, 2, 0] == 0.0 and d.sum() == 3.0


def test_maximum_at_a_tie_is_not_differentiable():
    r = gradcheck.check("sum(maximum(x, y))", wrt="x", at={"x": [[1.0, 2.0]], "y": [[1.0, 0.0]]})
    assert r.verdict == "undecided" or [u.index for u in r["x"].undefined] == [(0, 0)]


def test_errors_name_the_operator_and_the_fix(runner):
    out = runner.invoke(main, ["check", "sum(diag(X))", "--let", "X=2x3"])
    assert out.exit_code == 2
    assert "diag cannot take these shapes" in out.output
    assert "a vector (n×1 or 1×n) or a square matrix, not 2×3" in out.output
    out = runner.invoke(main, ["check", "sum(sum(X, 2))", "--let", "X=2x3"])
    assert out.exit_code == 2 and "the axis is 0 (down the columns) or 1" in out.output
    out = runner.invoke(main, ["check", "sum(maximum(X, Y))", "--let", "X=2x3", "--let",
                               "Y=2x2"])
    assert out.exit_code == 2 and "maximum works entry by entry" in out.output


def test_latex_prints_the_call():
    from gradcheck.language.latex import latex
    from gradcheck.language.parser import parse
    from gradcheck.language.shapes import infer

    t = infer(parse("kron(A, B) + maximum(A, B)"), {"A": (1, 1), "B": (1, 1)}).tree
    assert latex(t) == (r"\operatorname{kron}\left(A, B\right) + "
                        r"\operatorname{maximum}\left(A, B\right)")


_OPS = ("maximum", "minimum", "kron", "diag", "logsumexp", "log_softmax", "sum", "mean", "add",
        "mul", "matmul", "tanh", "transpose", "sigmoid")


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_generated_expressions_with_derived_operators(data: st.DataObject) -> None:
    """Exact and numeric agree, the exact Jacobian passes as a claim, a changed
    entry fails (engines: SymPy and the closed form)."""
    from gradcheck.strategies import expressions, points

    e = data.draw(expressions(ops=_OPS, max_depth=3, max_side=3, max_variables=2))
    point = data.draw(points(e, away_from_kinks=1e-2))
    text = f"sum({e.text})"
    name = sorted(e.shapes)[0]
    engine = data.draw(st.sampled_from(["sympy", "closed"]))
    truth = gradcheck.check(text, wrt=name, at=point, engine=engine)
    assert truth.verdict == "pass", str(truth)
    t = np.asarray(truth.exact, dtype=float)
    assert gradcheck.check(text, wrt=name, at=point, expect=t).verdict == "pass"
    scale = float(np.abs(t).max())
    if scale == 0:
        return
    wrong = t.copy()
    k = data.draw(st.integers(0, t.size - 1))
    wrong.flat[k] += 1e-3 * max(abs(float(t.flat[k])), scale)
    assert gradcheck.check(text, wrt=name, at=point, expect=wrong).verdict == "fail"
