"""Exact derivatives with SymPy, over explicit element symbols.

Each matrix variable becomes a matrix of real symbols ``z[0,0], z[0,1], …``
and each entry of the result is an ordinary SymPy expression in them, so
differentiation is SymPy's scalar ``diff``: the closed-form matrix calculus
of ``MatrixSymbol.diff`` is not used (in SymPy 1.14 it recurses forever on
``HadamardProduct(x*y+z, A) + z`` and returns 0 for ``(z.T*z)[0,0]``).
Values at a rational point stay exact until :func:`to_float` is asked.

Every matrix :func:`build` makes is measured as it is made: the operations
in its entries' expressions, counted as trees (a shared subexpression
counts each time it occurs, as SymPy's differentiation and substitution
visit it), may be at most ``current().terms`` (:mod:`gradcheck.limits`).
``inv`` is estimated before it is computed, from the determinant.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("sum(z * z)"), {"z": (1, 2)})
>>> z = symbols("z", (1, 2))
>>> jacobian(build(typed.tree, {"z": z}), z)
Matrix([[2*z[0,0], 2*z[0,1]]])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gradcheck.errors import LimitError
from gradcheck.exact import balls
from gradcheck.language import ops
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, render, tree_size
from gradcheck.lazy import sympy
from gradcheck.limits import current, hint

__all__ = ["MAX_EXACT_EXPONENT", "SYMPY_MATRIX", "Terms", "build", "entries", "evaluate",
           "certified", "from_fractions", "is_elementwise", "jacobian", "symbols", "to_float"]

SYMPY_MATRIX = 64  # beyond this many entries in a matrix, SymPy's arithmetic is slow
MAX_EXACT_EXPONENT = 2**16


def symbols(name: str, shape: Shape) -> sympy.ImmutableMatrix:
    """The matrix of real element symbols ``name[i,j]``."""
    rows, cols = shape
    return sympy.ImmutableMatrix(
        rows, cols, lambda i, j: sympy.Symbol(f"{name}[{i},{j}]", real=True))


class Terms:
    """Counts the operations (nodes that are not atoms) of SymPy expressions
    as trees, remembering every node it has seen, so that counting a matrix
    built from counted ones visits only its new nodes.

    >>> x = sympy.Symbol("x")
    >>> e = sympy.sin(x) * sympy.cos(x) + sympy.sin(x)
    >>> Terms(100).of(e), sympy.count_ops(e)
    (5, 5)
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[int, tuple[Any, int]] = {}  # id -> (node, count): keeps ids valid

    def of(self, expr: Any) -> int:
        """Operations in one expression, counted as a tree (without recursion)."""
        if not expr.args:  # a symbol or a number: most entries, counted fast
            return 0
        return tree_size(expr, lambda e: e.args, lambda e: 1 if e.args else 0, self._seen)

    def check(self, m: sympy.MatrixBase, node: Node) -> sympy.MatrixBase:
        """``m``, the matrix of ``node``, if its entries have at most ``limit`` terms."""
        self.refuse(sum(self.of(e) for e in m.values()), node)  # values(): nonzero entries
        return m

    def refuse(self, terms: int, node: Node, estimated: bool = False) -> None:
        """Raise a LimitError if ``terms`` is over the limit."""
        if terms <= self.limit:
            return
        text = render(node)
        if len(text) > 40:
            text = text[:39] + "…"
        raise LimitError(
            f"the symbolic expression of '{text}' {'would have' if estimated else 'has'} "
            f"{terms} terms, more than {self.limit}",
            detail="terms are the operations in the SymPy expressions of its entries; the "
                   "SymPy engine writes out every entry, and inv, det and long products of "
                   "symbolic matrices grow very fast with their size",
            hint=hint("--max-terms", "max_terms",
                      "check smaller matrices, use the closed-form engine (--engine closed, "
                      "engine='closed' in Python)"))


def build(tree: Node, env: Mapping[str, sympy.MatrixBase]) -> sympy.ImmutableMatrix:
    """The SymPy matrix of a typed tree, with ``env`` giving each variable.

    Raises:
        LimitError: a matrix would have more than ``current().terms`` terms.
    """
    return sympy.ImmutableMatrix(_build(tree, env, Terms(current().terms)))


def _build(node: Node, env: Mapping[str, sympy.MatrixBase], terms: Terms) -> sympy.MatrixBase:
    if isinstance(node, Num):
        return sympy.Matrix([[sympy.Rational(node.value.numerator, node.value.denominator)]])
    if isinstance(node, Var):
        return terms.check(sympy.Matrix(env[node.name]), node)
    if isinstance(node, Matrix):
        return terms.check(sympy.Matrix([[_build(e, env, terms)[0, 0] for e in row]
                                         for row in node.rows]), node)
    assert isinstance(node, Call)
    constructor = ops.OPS[node.op].kind == "constructor"
    args = [] if constructor else [_build(a, env, terms) for a in node.args]
    return terms.check(_call(node, args, terms), node)


def _call(node: Call, args: list[sympy.MatrixBase], terms: Terms) -> sympy.MatrixBase:
    op = ops.OPS[node.op]
    if op.kind == "constructor":
        return sympy.Matrix(op.sym(*(int(a.value) for a in node.args)))  # type: ignore[union-attr]
    if op.name == "inv" and args[0].free_symbols:
        # The adjugate's entries are cofactors over the determinant, and
        # computing them is slow: estimate from the determinant first.
        det = terms.of(ops.OPS["det"].sym(args[0])[0, 0])
        terms.refuse(args[0].rows ** 2 * det, node, estimated=True)
    if op.kind == "elementwise":
        return args[0].applyfunc(op.sym)
    if op.kind == "binary":
        assert node.shape is not None
        a, b = (_spread(m, node.shape) for m in args)
        if op.name == "pow" and any(e.is_Number and abs(e) > MAX_EXACT_EXPONENT for e in b):
            raise LimitError("an exponent too large for exact arithmetic",
                             detail=f"exponents beyond ±{MAX_EXACT_EXPONENT} of numbers would "
                                    "build numbers with millions of digits",
                             hint="rewrite the expression with a smaller exponent")
        return sympy.Matrix(*node.shape, lambda i, j: op.sym(a[i, j], b[i, j]))
    return sympy.Matrix(op.sym(*args))


def _spread(m: sympy.MatrixBase, shape: Shape) -> sympy.MatrixBase:
    """Broadcast a 1×1, 1×n or m×1 matrix to ``shape``."""
    if m.shape == shape:
        return m
    return sympy.Matrix(*shape, lambda i, j: m[i % m.rows, j % m.cols])


def jacobian(f: sympy.MatrixBase, w: sympy.MatrixBase) -> Any:
    """``J[i,j,k,l] = ∂f[i,j]/∂w[k,l]``; for a 1×1 ``f``, the gradient (w's shape).

    Returns a SymPy Matrix (gradient) or a rank-4 immutable Array.
    """
    if f.shape == (1, 1):
        f0 = f[0, 0]
        return sympy.ImmutableMatrix(w.rows, w.cols, lambda k, l: sympy.diff(f0, w[k, l]))
    entries = [sympy.diff(f[i, j], w[k, l]) for i in range(f.rows) for j in range(f.cols)
               for k in range(w.rows) for l in range(w.cols)]
    return sympy.ImmutableDenseNDimArray(entries, (*f.shape, *w.shape))


def is_elementwise(jac: Any, f_shape: Shape, w_shape: Shape) -> bool:
    """Whether f is elementwise in w: same shape, and every ∂f[i,j]/∂w[k,l]
    with (i,j) != (k,l) is identically zero (as an expression, not only at a point)."""
    if f_shape != w_shape or f_shape == (1, 1) or getattr(jac, "rank", lambda: 2)() != 4:
        return False
    r, c = f_shape
    return all(jac[i, j, k, l] == 0 for i in range(r) for j in range(c)
               for k in range(r) for l in range(c) if (i, j) != (k, l))


def evaluate(expr: Any, values: Mapping[sympy.Symbol, sympy.Expr]) -> Any:
    """Substitute exact values: rationals stay rationals, ``exp(1/4)`` stays symbolic."""
    return expr.xreplace(dict(values))


def entries(expr: Any) -> list[Any]:
    """The entries of a SymPy Matrix or rank-4 Array, in row-major order."""
    return list(expr) if not hasattr(expr, "rank") else list(np.array(expr.tolist()).flat)


def to_float(expr: Any) -> np.ndarray:
    """Floats from exact SymPy values, certified (:func:`certified`)."""
    return certified(expr)[0]


def certified(expr: Any) -> tuple[np.ndarray, np.ndarray]:
    """Floats from exact SymPy values, each computed in ball arithmetic at
    rising precision until it is right to its last digit
    (:mod:`gradcheck.exact.balls`), and a bound on each one's error: 0 where it
    converged. NaN where a value is not a number (``DiracDelta(0)``: the
    derivative of sign or step at its jump)."""
    flat = entries(expr)
    shape = tuple(expr.shape)
    try:
        values, errors = balls.certify(flat)
    except balls.Unsupported:  # a function without ball arithmetic: 30 digits, uncertified
        values = np.array([float(v) if (v := sympy.N(e, 30)).is_Number else np.nan
                           for e in flat], dtype=np.float64)
        errors = np.full(len(flat), np.nan)
    return values.reshape(shape), errors.reshape(shape)


def from_fractions(a: np.ndarray) -> Any:
    """Exact SymPy values from an array of fractions: a Matrix for 2-D, else
    a rank-4 Array (the layouts :func:`jacobian` gives)."""
    values = [sympy.Rational(x.numerator, x.denominator) for x in a.flat]
    if a.ndim == 2:
        return sympy.ImmutableMatrix(*a.shape, values)
    return sympy.ImmutableDenseNDimArray(values, a.shape)
