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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from gradcheck.errors import GradcheckError
from gradcheck.language import ops
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import Shape
from gradcheck.language.tree import variables as names_in
from gradcheck.values.evaluate import OutOfDomain, evaluate, kinks

__all__ = ["SMOOTH_OPS", "Expression", "expressions", "matrices", "points", "shapes"]

# Operators defined and smooth everywhere (the table's ``smooth`` column): any
# generated point is a good one.
SMOOTH_OPS = tuple(name for name, op in ops.OPS.items() if op.smooth)


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


def matrices(shape: Shape, *, positive: bool = False, spd: bool = False,
             invertible: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Well-scaled matrices: entries ±k/1024 with k in [128, 1024] (|v| in [1/8, 1]).

    Args:
        positive: every entry positive.
        spd: symmetric positive definite (B·Bᵀ + n·I for a drawn B).
        invertible: strictly diagonally dominant, so invertible and well
            conditioned (a drawn B with n added to each |diagonal entry|).

    >>> from hypothesis import find
    >>> find(matrices((1, 3), positive=True), lambda m: m.sum() > 1).tolist()
    [[0.125, 0.125, 0.7509765625]]
    >>> a = find(matrices((3, 3), spd=True), lambda m: True)
    >>> bool((a == a.T).all() and (np.linalg.eigvalsh(a) > 0).all())
    True
    """
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise InvalidArgument(f"shape must be a (rows, cols) tuple, got {shape!r}")
    rows, cols = shape
    _check_int("rows", rows, 1)
    _check_int("cols", cols, 1)
    if (spd or invertible) and rows != cols:
        raise InvalidArgument(f"spd and invertible matrices are square, not {rows}×{cols}")
    if spd and (positive or invertible):
        raise InvalidArgument("spd excludes positive and invertible (it is both invertible "
                              "and its own kind)")
    k = st.integers(128, 1024)
    entry = k if positive else st.tuples(k, st.sampled_from([-1, 1])).map(lambda t: t[0] * t[1])
    base = st.lists(entry, min_size=rows * cols, max_size=rows * cols).map(
        lambda v: np.array(v, dtype=np.float64).reshape(rows, cols) / 1024)
    if spd:
        return base.map(lambda b: b @ b.T + rows * np.eye(rows))
    if invertible:
        # |b_ij| <= 1, so each |diagonal entry| >= n exceeds the rest of its row.
        return base.map(lambda b: b + rows * np.diag(np.sign(np.diag(b))))
    return base


def points(expr: Expression | str, shapes: Mapping[str, Shape] | None = None, *,
           positive: bool = False, away_from_kinks: float = 0.0
           ) -> st.SearchStrategy[dict[str, Any]]:
    """A value for every variable of an expression, inside its domain.

    Args:
        expr: a generated :class:`Expression`, or an expression string with
            ``shapes`` giving each variable's shape.
        positive: positive entries (for log, sqrt and the like).
        away_from_kinks: every relu/abs argument at least this far from 0.

    >>> from hypothesis import find
    >>> p = find(points("log(x) @ relu(y)", {"x": (2, 2), "y": (2, 1)}, positive=True,
    ...                 away_from_kinks=0.1), lambda p: True)
    >>> sorted(p), p["y"].shape
    (['x', 'y'], (2, 1))
    """
    if isinstance(expr, Expression):
        text, given = expr.text, dict(expr.shapes)
    elif isinstance(expr, str):
        text, given = expr, dict(shapes or {})
    else:
        raise InvalidArgument(f"expr must be an Expression or a string, got {expr!r}")
    if away_from_kinks < 0:
        raise InvalidArgument(f"away_from_kinks must be >= 0, got {away_from_kinks!r}")
    try:
        tree = infer(parse(text), given, text=text).tree
    except GradcheckError as e:
        raise InvalidArgument(f"points({text!r}): {e.format_message()}") from None
    names = names_in(tree)

    def usable(point: dict[str, Any]) -> bool:
        try:
            evaluate(tree, point)
        except OutOfDomain:
            return False
        return all(np.abs(k.offset).min() >= away_from_kinks for k in kinks(tree, point))

    return st.fixed_dictionaries(
        {n: matrices(given[n], positive=positive) for n in names}).filter(usable)


def expressions(variables: Mapping[str, Shape] | None = None, *,
                ops: Iterable[str] | None = None, max_depth: int = 3,
                shape: Shape | None = None, max_side: int = 3,
                max_variables: int = 4) -> st.SearchStrategy[Expression]:
    """Expressions whose shapes fit, built from the rows of the operator table.

    Args:
        variables: names and shapes to build from (default: new names
            ``x0, x1, …`` with drawn shapes). Where no given variable has the
            shape needed, a constant (``ones(r, c)``) stands in.
        ops: operator names to use (default :data:`SMOOTH_OPS`).
        max_depth: the deepest nesting of operators.
        shape: the expression's shape (default: drawn).
        max_side: the largest side of any matrix involved.
        max_variables: at most this many distinct variables.

    >>> from hypothesis import find
    >>> e = find(expressions({"W": (2, 3)}, shape=(2, 3)), lambda e: "W" in e.text)
    >>> e.text, e.shapes
    ('W', {'W': (2, 3)})
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
    given: dict[str, Shape] | None = None
    if variables is not None:
        given = {}
        for n, s in variables.items():
            if not isinstance(s, tuple) or len(s) != 2:
                raise InvalidArgument(f"the shape of {n!r} must be (rows, cols), got {s!r}")
            _check_int(f"{n} rows", s[0], 1)
            _check_int(f"{n} cols", s[1], 1)
            given[str(n)] = (s[0], s[1])
        if not given:
            raise InvalidArgument("variables is empty; leave it out to draw new names")
    target = st.just(shape) if shape is not None else (
        st.sampled_from(sorted(set(given.values()))) if given else shapes(max_side=max_side))
    return target.flatmap(lambda s: _expression(s, names, max_depth, max_side, max_variables,
                                                given))


_OPS = {n: op for n, op in ops.OPS.items() if op.kind not in ("dot", "constructor")}


@st.composite
def _expression(draw: Any, shape: Shape, names: tuple[str, ...], depth: int, max_side: int,
                max_variables: int, given: dict[str, Shape] | None) -> Expression:
    pool: dict[str, Shape] = {}
    text = _node(draw, shape, names, depth, max_side, max_variables, pool, given)
    if not pool:  # make sure there is something to differentiate by
        name = next((n for n, s in (given or {}).items() if s == shape), None)
        if name is None and given:
            name = next(iter(given))
            text = f"({text}) + sum({name})" if shape == (1, 1) else \
                f"({text}) + sum({name}) * ones({shape[0]}, {shape[1]})"
        else:
            name = name or "x0"
            text = f"({text}) + {name}"
        pool[name] = (given or {}).get(name, shape)
    return Expression(text, dict(pool), shape)


def _node(draw: Any, shape: Shape, names: tuple[str, ...], depth: int, max_side: int,
          max_variables: int, pool: dict[str, Shape], given: dict[str, Shape] | None) -> str:
    def sub(s: Shape, d: int = depth - 1) -> str:
        return _node(draw, s, names, d, max_side, max_variables, pool, given)

    r, c = shape
    side = st.integers(1, max_side)
    choices = [n for n in names if _fits(_OPS[n], shape, max_side)]
    # Hypothesis leans toward small draws; make the small draw mean "an operator".
    if depth <= 0 or not choices or draw(st.integers(0, 3)) == 3:
        return _leaf(draw, shape, max_variables, pool, given)
    op = _OPS[draw(st.sampled_from(choices))]
    forms = op.arguments(shape, max_side) if op.arguments is not None else []
    if forms and (not _fits_kind(op, shape) or draw(st.booleans())):
        args, options = draw(st.sampled_from(forms))
        return f"{op.name}(" + ", ".join([*(sub(s) for s in args), *map(str, options)]) + ")"
    if op.kind == "binary":
        other = draw(st.sampled_from([shape, (1, 1), (1, c), (r, 1)]))
        left, right = draw(st.permutations([sub(shape), sub(other)]))
        if op.infix is None:
            return f"{op.name}({left}, {right})"
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


def _fits(op: ops.Op, shape: Shape, max_side: int) -> bool:
    if op.arguments is not None and op.arguments(shape, max_side):
        return True
    return _fits_kind(op, shape)


def _fits_kind(op: ops.Op, shape: Shape) -> bool:
    """Whether the operator's kind alone gives this shape (without ``arguments``)."""
    if op.arguments is not None and op.options == 0:
        return False  # only the shapes its arguments give
    if op.kind == "reduce":
        return shape == (1, 1)
    if op.square and op.kind == "matrix":
        return shape[0] == shape[1]
    return True


def _leaf(draw: Any, shape: Shape, max_variables: int, pool: dict[str, Shape],
          given: dict[str, Shape] | None) -> str:
    if given is not None:
        fits = sorted(n for n, s in given.items() if s == shape)
        if fits and draw(st.integers(0, 4)) != 4:
            name = draw(st.sampled_from(fits))
            pool[name] = shape
            return str(name)
        return str(draw(st.integers(1, 9))) if shape == (1, 1) else \
            f"ones({shape[0]}, {shape[1]})"
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
