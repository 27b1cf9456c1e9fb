"""Exact rational evaluation of typed trees with Python's fractions, for the closed form where
every operation and value is rational (+ − * /, integer powers, @, transpose, sum, mean, trace,
det, inv, abs, relu, sign, step), within a budget of fraction operations.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> tree = infer(parse("inv(X)"), {"X": (2, 2)}).tree
>>> X = np.array([[Fraction(2), Fraction(1)], [Fraction(1), Fraction(1)]], dtype=object)
>>> Exact({"X": X}, None).value(tree).tolist()
[[Fraction(1, 1), Fraction(-1, 1)], [Fraction(-1, 1), Fraction(2, 1)]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from gradcheck.language import ops
from gradcheck.language.tree import Call, Evaluator, Matrix, Node, Num, Var, distinct
from gradcheck.values.bounded import required
from gradcheck.values.value import Value

__all__ = ["EXACT_WORK", "RATIONAL", "Exact", "each", "fractions_of", "survey", "work"]


EXACT_WORK = 300_000  # fraction operations an exact evaluation may take


RATIONAL = {"add", "sub", "mul", "div", "neg", "matmul", "transpose", "sum", "mean", "trace",
            "det", "inv", "abs", "relu", "sign", "step", "ones", "zeros", "eye"}


def survey(tree: Node, values: Mapping[str, Value],
            cotangent: str | None = None) -> tuple[list[Call], set[str], bool]:
    """The operations of an expression, the variables it reads, and whether
    exact fractions can evaluate it (every operation and value rational)."""
    nodes = distinct(tree)
    calls = [n for n in nodes if isinstance(n, Call)]
    rational = all(c.op in RATIONAL or (c.op == "pow" and _integer_exponent(c)) for c in calls)
    rational = rational and not any(isinstance(n, Matrix) for n in nodes)
    names = {n.name for n in nodes if isinstance(n, Var)} - {cotangent}
    return calls, names, rational and all(values[n].rational for n in names)


def _integer_exponent(c: Call) -> bool:
    b = c.args[1]
    return isinstance(b, Num) and b.value.denominator == 1


def work(calls: list[Call]) -> int:
    """A count of the scalar operations an evaluation takes."""
    total = 0
    for c in calls:
        rows, cols = c.shape or (1, 1)
        inner = (c.args[0].shape or (1, 1))[1] if c.op == "matmul" else 1
        cube = (c.args[0].shape or (1, 1))[0] ** 2 if c.op in ("det", "inv") else 1
        total += rows * cols * inner * cube
    return total


def fractions_of(v: Value) -> np.ndarray:
    """The value's entries as fractions (a float is exactly a fraction)."""
    if v.fractions is not None:
        return v.fractions
    if v.given is None:
        out: np.ndarray = np.vectorize(Fraction, otypes=[object])(v.array)
        return out
    m = v.given
    return np.array([[Fraction(int(e.p), int(e.q)) for e in m.row(i)] for i in range(m.rows)],
                    dtype=object).reshape(m.shape)


class Exact(Evaluator[np.ndarray]):
    """Evaluation with fractions (object arrays); G is a stack or absent."""

    def __init__(self, env: Mapping[str, np.ndarray], g: np.ndarray | None) -> None:
        super().__init__()
        self.env, self.g = env, g

    def _value(self, node: Node) -> np.ndarray:
        if isinstance(node, Num):
            return np.array([[node.value]], dtype=object)
        if isinstance(node, Var):
            return self.env[node.name] if node.name in self.env else required(self.g)
        assert isinstance(node, Call)
        if ops.OPS[node.op].kind == "constructor":
            sizes = (int(a.value) for a in node.args)  # type: ignore[union-attr]
            return each(Fraction)(np.asarray(ops.OPS[node.op].num(*sizes), dtype=np.int64))
        a = [self.value(x) for x in node.args]
        out: np.ndarray = _EXACT[node.op](*a)
        return out


def _gauss(a: np.ndarray) -> tuple[Fraction, np.ndarray]:
    """Determinant and inverse of a square matrix of fractions (Gauss-Jordan)."""
    n = a.shape[0]
    m = [[Fraction(x) for x in row] + [Fraction(int(i == j)) for j in range(n)]
         for i, row in enumerate(a.tolist())]
    det = Fraction(1)
    for col in range(n):
        pivot = next((r for r in range(col, n) if m[r][col] != 0), None)
        if pivot is None:
            return Fraction(0), np.full((n, n), Fraction(0), dtype=object)
        if pivot != col:
            m[col], m[pivot] = m[pivot], m[col]
            det = -det
        p = m[col][col]
        det *= p
        m[col] = [x / p for x in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return det, np.array([row[n:] for row in m], dtype=object)


def each(fn: Callable[[Fraction], Fraction]) -> Callable[[np.ndarray], np.ndarray]:
    vectorized = np.frompyfunc(fn, 1, 1)
    return lambda a: np.asarray(vectorized(a), dtype=object)


def _whole(x: Any) -> np.ndarray:
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = x
    return out


_EXACT: dict[str, Callable[..., np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "matmul": np.matmul,
    "pow": lambda a, b: each(lambda x: x ** int(b[0, 0]))(a),
    "transpose": lambda a: np.swapaxes(a, -1, -2),
    "sum": lambda a: np.sum(a, axis=(-2, -1), keepdims=True),
    "mean": lambda a: np.sum(a, axis=(-2, -1), keepdims=True) / Fraction(a.shape[-2]
                                                                         * a.shape[-1]),
    "trace": lambda a: _whole(sum(np.diagonal(a), Fraction(0))),
    "det": lambda a: _whole(_gauss(a)[0]),
    "inv": lambda a: _gauss(a)[1],
    "abs": each(abs),
    "relu": each(lambda x: x if x > 0 else Fraction(0)),
    "sign": each(lambda x: Fraction((x > 0) - (x < 0))),
    "step": each(lambda x: Fraction(1) if x > 0 else Fraction(0 if x < 0 else 1, 2)),
}
