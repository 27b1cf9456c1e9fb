"""Hypothesis strategies for expressions of the language, shapes and points.

Generated from the operator table, so a new operator is generated as soon
as it has a row. Every value drawn is a multiple of 1/1024, so the float the
numeric engine sees is exactly the rational the symbolic engine uses.

>>> from hypothesis import given
>>> import gradcheck
>>> @given(expressions(max_depth=2).flatmap(lambda e: points(e).map(lambda p: (e, p))))
... def test_engines_agree(case):
...     expr, at = case
...     assert gradcheck.check(expr.text, at=at).passed
>>> test_engines_agree()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from . import ops
from .tree import Shape

__all__ = ["SMOOTH_OPS", "Expression", "expressions", "matrices", "points", "shapes"]

# Operators defined and smooth everywhere: any generated point is a good one.
SMOOTH_OPS = ("add", "sub", "mul", "matmul", "neg", "transpose", "exp", "sin", "cos", "tanh",
              "sigmoid", "softplus", "sum", "mean", "trace", "softmax")


@dataclass(frozen=True)
class Expression:
    """A generated expression: its text, its variables' shapes and its own shape."""

    text: str
    shapes: dict[str, Shape]
    shape: Shape


def shapes(*, min_side: int = 1, max_side: int = 3) -> st.SearchStrategy[Shape]:
    """2-D shapes with sides in [min_side, max_side].

    >>> from hypothesis import find
    >>> find(shapes(max_side=2), lambda s: s[0] > s[1])
    (2, 1)
    """
    _check_int("min_side", min_side, 1)
    _check_int("max_side", max_side, min_side)
    side = st.integers(min_side, max_side)
    return st.tuples(side, side)


def matrices(shape: Shape, *, positive: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Well-scaled matrices: entries ±k/1024 with k in [128, 1024] (|v| in [1/8, 1]).

    >>> from hypothesis import find
    >>> find(matrices((1, 3), positive=True), lambda m: m.sum() > 1).tolist()
    [[0.125, 0.125, 0.7509765625]]
    """
    rows, cols = shape
    _check_int("rows", rows, 1)
    _check_int("cols", cols, 1)
    k = st.integers(128, 1024)
    entry = k if positive else st.tuples(k, st.sampled_from([-1, 1])).map(lambda t: t[0] * t[1])
    return st.lists(entry, min_size=rows * cols, max_size=rows * cols).map(
        lambda v: np.array(v, dtype=np.float64).reshape(rows, cols) / 1024)


def points(expr: Expression, *, positive: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """A value for every variable of a generated expression."""
    return st.fixed_dictionaries(
        {name: matrices(shape, positive=positive) for name, shape in expr.shapes.items()})


def expressions(*, ops: Iterable[str] | None = None, max_depth: int = 3,
                shape: Shape | None = None, max_side: int = 3,
                max_variables: int = 4) -> st.SearchStrategy[Expression]:
    """Expressions whose shapes fit, built from the rows of the operator table.

    Args:
        ops: operator names to use (default :data:`SMOOTH_OPS`).
        max_depth: the deepest nesting of operators.
        shape: the expression's shape (default: drawn).
        max_side: the largest side of any matrix involved.
        max_variables: at most this many distinct variables.
    """
    names = tuple(SMOOTH_OPS if ops is None else ops)
    unknown = [n for n in names if n not in _OPS]
    if unknown:
        raise InvalidArgument(f"unknown operators {unknown!r}; choose from {sorted(_OPS)}")
    _check_int("max_depth", max_depth, 0)
    _check_int("max_side", max_side, 1)
    _check_int("max_variables", max_variables, 1)
    if shape is not None:
        _check_int("shape[0]", shape[0], 1)
        _check_int("shape[1]", shape[1], 1)
    target = st.just(shape) if shape is not None else shapes(max_side=max_side)
    return target.flatmap(lambda s: _expression(s, names, max_depth, max_side, max_variables))


_OPS = {n: op for n, op in ops.OPS.items() if op.kind not in ("dot", "constructor")}


@st.composite
def _expression(draw: Any, shape: Shape, names: tuple[str, ...], depth: int, max_side: int,
                max_variables: int) -> Expression:
    pool: dict[str, Shape] = {}
    text = _node(draw, shape, names, depth, max_side, max_variables, pool)
    if not pool:  # make sure there is something to differentiate by
        pool["x0"] = shape
        text = f"({text}) + x0"
    return Expression(text, dict(pool), shape)


def _node(draw: Any, shape: Shape, names: tuple[str, ...], depth: int, max_side: int,
          max_variables: int, pool: dict[str, Shape]) -> str:
    def sub(s: Shape, d: int = depth - 1) -> str:
        return _node(draw, s, names, d, max_side, max_variables, pool)

    r, c = shape
    side = st.integers(1, max_side)
    choices = [n for n in names if _fits(_OPS[n], shape)]
    # Hypothesis leans toward small draws; make the small draw mean "an operator".
    if depth <= 0 or not choices or draw(st.integers(0, 3)) == 3:
        return _leaf(draw, shape, max_variables, pool)
    op = _OPS[draw(st.sampled_from(choices))]
    if op.kind == "binary":
        other = draw(st.sampled_from([shape, (1, 1), (1, c), (r, 1)]))
        left, right = draw(st.permutations([sub(shape), sub(other)]))
        return f"({left}) {op.infix} ({right})"
    if op.kind == "matmul":
        k = draw(side)
        symbol = draw(st.sampled_from(["@", "·"]))  # · reads as @ when inner dims agree
        return f"({sub((r, k))}) {symbol} ({sub((k, c))})"
    if op.name == "neg":
        return f"-({sub(shape)})"
    if op.name == "transpose":
        return f"({sub((c, r))}).T"
    if op.kind == "reduce":
        n = draw(side)
        inner = (n, n) if op.square else draw(shapes(max_side=max_side))
        return f"{op.name}({sub(inner)})"
    return f"{op.name}({sub(shape)})"  # elementwise functions, softmax, inv


def _fits(op: ops.Op, shape: Shape) -> bool:
    if op.kind == "reduce":
        return shape == (1, 1)
    if op.square and op.kind == "matrix":
        return shape[0] == shape[1]
    return True


def _leaf(draw: Any, shape: Shape, max_variables: int, pool: dict[str, Shape]) -> str:
    same = [n for n, s in pool.items() if s == shape]
    if shape == (1, 1) and draw(st.integers(0, 4)) == 4:
        return str(draw(st.integers(1, 9)))
    if same and (len(pool) >= max_variables or draw(st.booleans())):
        return str(draw(st.sampled_from(same)))
    if len(pool) >= max_variables:  # no room for a new name: a constant of the right shape
        return f"ones({shape[0]}, {shape[1]})"
    name = f"x{len(pool)}"
    pool[name] = shape
    return name


def _check_int(label: str, value: Any, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise InvalidArgument(f"{label} must be an integer >= {least}, got {value!r}")
