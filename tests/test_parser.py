from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given

from gradcheck import ParseError
from gradcheck.language.parser import MAX_DEPTH, MAX_LENGTH, parse
from gradcheck.language.tree import Call, Matrix, Num, Var, render, variables
from gradcheck.strategies import expressions

# text, canonical rendering
RENDER = [
    ("(x·y+z)·A+z", "(x·y+z)·A+z"),
    ("x × y ⊙ z", "x·y*z"),
    ("x.T @ W", "x.T@W"),
    ("xᵀ", "x.T"),
    ("transpose(x)", "x.T"),
    ("2x", "2·x"),
    ("w_1(w_0 x + b_0) + b_1", "w_1·(w_0·x+b_0)+b_1"),
    ("σ(z)", "sigmoid(z)"),
    ("ln(z) + tr(z)", "log(z)+trace(z)"),
    ("-x**2", "-x**2"),
    ("(-x)**2", "(-x)**2"),
    ("x^2^3", "x**2**3"),
    ("(x^2)^3", "(x**2)**3"),
    ("x**-1", "x**-1"),
    ("a - (b - c)", "a-(b-c)"),
    ("a - b - c", "a-b-c"),
    ("a / (b * c)", "a/(b*c)"),
    ("+x", "x"),
    ("x − y", "x-y"),
    ("[[1, 0], [2, 1]]", "[[1, 0], [2, 1]]"),
    ("[1, 2.5]", "[1, 2.5]"),
    ("0.5*ones(2, 2)", "0.5*ones(2, 2)"),
    (".25 + 1e-3", "0.25+0.001"),
    ("y₁ + z_k1", "y₁+z_k1"),
]


@pytest.mark.parametrize(("text", "expected"), RENDER, ids=[t for t, _ in RENDER])
def test_render(text, expected):
    tree = parse(text)
    assert render(tree) == expected
    assert parse(render(tree)) == tree


def test_tree_of_the_seed_expression():
    assert parse("(x·y+z)·A+z") == Call("add", (
        Call("dot", (Call("add", (Call("dot", (Var("x"), Var("y"))), Var("z"))), Var("A"))),
        Var("z")))


def test_numbers_are_exact():
    assert parse("0.1") == Num(Fraction(1, 10))
    assert parse("2.5e-3") == Num(Fraction(1, 400))


def test_matrix_literal_rows_stack():
    m = parse("[[1, -2], [3, 4/5]]")
    assert isinstance(m, Matrix) and len(m.rows) == 2 and len(m.rows[0]) == 2


def test_variables_in_order_of_appearance():
    assert variables(parse("A@x + sin(b) + x")) == ["A", "x", "b"]


# text, message start, column
ERRORS = [
    ("x +* y", "unexpected '*'", 4),
    ("(x", "the expression ends too early", 3),
    ("x)", "unexpected ')'", 2),
    ("sin(x, y)", "sin() takes 1 argument, got 2", 1),
    ("ones(3)", "ones() takes 2 arguments, got 1", 1),
    ("w(a, b)", "unknown function 'w'", 1),
    ("x = 3", "unexpected character '='", 3),
    ("__import__('os').system('touch pwned')", "unexpected character \"'\"", 12),
    ("lambda: 0", "unexpected character ':'", 7),
    ("x.__class__", "unexpected character '.'", 2),
    ("1e999999", "number out of range", 1),
    ("[[1, 2], [3]]", "matrix rows have different lengths", 1),
    ("[[1, 2], 3]", "a matrix literal mixes rows and entries", 1),
    ("x $ y", "unexpected character '$'", 3),
]


@pytest.mark.parametrize(("text", "message", "column"), ERRORS, ids=[t for t, *_ in ERRORS])
def test_errors_name_the_problem_and_the_column(text, message, column):
    with pytest.raises(ParseError) as info:
        parse(text)
    e = info.value
    assert e.message.startswith(message)
    assert e.column == column
    lines = str(e).splitlines()
    assert lines[0].startswith(message) and f"at column {column}" in lines[0]
    assert lines[2].index("^") - 2 == column - 1  # the caret sits under the column


def test_hint_suggests_a_close_function():
    with pytest.raises(ParseError) as info:
        parse("sinn(x, y)")
    assert info.value.hint == "did you mean 'sin' or 'sinh'?" or "'sin'" in info.value.hint


def test_empty_and_blank_input():
    for text in ("", "   ", "\n"):
        with pytest.raises(ParseError, match="empty expression"):
            parse(text)


def test_limits_reject_instead_of_recursing():
    with pytest.raises(ParseError, match="characters long"):
        parse("x" * (MAX_LENGTH + 1))
    with pytest.raises(ParseError, match="nested more than"):
        parse("+".join(["x"] * (MAX_DEPTH + 2)))
    with pytest.raises(ParseError, match="nested more than"):
        parse("sin(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    assert parse("(" * 4000 + "x" + ")" * 4000) == Var("x")  # parentheses alone are free


def test_not_a_string():
    with pytest.raises(ParseError, match="must be a string"):
        parse(3)  # type: ignore[arg-type]


@given(expressions(max_depth=4))
def test_render_then_parse_is_the_identity(expr):
    tree = parse(expr.text)
    assert parse(render(tree)) == tree


def test_a_comparison_points_to_step():
    with pytest.raises(ParseError) as info:
        parse("a > 0")
    assert "step(a)" in info.value.hint
