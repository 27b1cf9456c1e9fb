"""Expressions of the language evaluated in ball arithmetic (:mod:`gradcheck.exact.balls`).

The closed-form engine computes in float64 with a running error bound; where
that bound is too wide to tell a right claim from a wrong one (an
ill-conditioned inverse, a sum that cancels), it evaluates again here, with
balls at rising precision, until every entry is certified or the precision
runs out. Values are object arrays of ``arb`` (stacks of matrices on the
leading axes, as for the other evaluators); G, the cotangent of a
vector-Jacobian product, is given as an array of numbers.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> from gradcheck.checking.points import to_value
>>> tree = infer(parse("inv(W)"), {"W": (2, 2)}).tree
>>> with balls.precision(128):
...     out = Ball({"W": to_value([[1, 2], [3, 4]])}, None).value(tree)
>>> balls.to_floats(out.flat)[0].tolist(), all(balls.finished(b) for b in out.flat)
([-2.0, 1.0, 1.5, -0.5], True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np
from flint import arb, arb_mat

from gradcheck.exact import balls
from gradcheck.exact.rational import fractions_of
from gradcheck.language import ops
from gradcheck.language.tree import Call, Evaluator, Matrix, Node, Num, Var
from gradcheck.values.value import Value

__all__ = ["COVERED", "Ball", "balls_of", "balls_of_any"]


def _each(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    vectorized = np.frompyfunc(fn, 1, 1)
    return lambda a: np.asarray(vectorized(a), dtype=object)


def balls_of(a: np.ndarray) -> np.ndarray:
    """An array of numbers (floats, ints, fractions) as exact balls."""
    return _each(lambda x: balls.exact(Fraction(x)))(np.asarray(a, dtype=object))


def balls_of_any(a: np.ndarray) -> np.ndarray:
    """An object array whose entries are balls or numbers (the zeros an
    assembly starts from), as balls."""
    return _each(lambda x: x if isinstance(x, arb) else balls.exact(Fraction(x)))(a)


def _value_balls(v: Value) -> np.ndarray:
    if v.rational:
        return balls_of(fractions_of(v))
    out = np.empty(v.shape, dtype=object)
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            out[i, j] = balls.ball(v.exact[i, j])
    return out


def _matrices(fn: Callable[[arb_mat], Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A function of square matrices applied to each matrix of a stack."""
    def f(a: np.ndarray) -> np.ndarray:
        lead = a.shape[:-2]
        out = np.empty(lead, dtype=object) if lead else None
        results = []
        for idx in np.ndindex(*lead):
            r = fn(arb_mat(a[idx].tolist()))
            results.append(r)
        if out is None:
            return _matrix(results[0])
        shaped = [_matrix(r) for r in results]
        return np.stack(shaped).reshape(*lead, *shaped[0].shape)
    return f


def _matrix(r: Any) -> np.ndarray:
    if isinstance(r, arb_mat):
        return np.array(r.tolist(), dtype=object).reshape(r.nrows(), r.ncols())
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = r
    return out


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def one(x: arb, y: arb) -> arb:
        if y.is_exact() and y.is_integer():
            k = int(str(y.unique_fmpz()))
            return x ** k if k >= 0 else 1 / x ** (-k)
        return x ** y
    return np.asarray(np.frompyfunc(one, 2, 1)(a, b), dtype=object)


def _total(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum(a, axis=(-2, -1), keepdims=True), dtype=object)


def _softmax(a: np.ndarray) -> np.ndarray:
    e = _each(lambda x: x.exp())(a)
    return np.asarray(e / np.sum(e, axis=-1, keepdims=True), dtype=object)


def _logdet(m: arb_mat) -> arb:
    return m.det().log()


_BALL: dict[str, Callable[..., np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "matmul": np.matmul, "pow": _pow,
    "transpose": lambda a: np.swapaxes(a, -1, -2),
    "sum": _total,
    "mean": lambda a: _total(a) / balls.exact(a.shape[-2] * a.shape[-1]),
    "trace": lambda a: _matrix(sum(np.diagonal(a), arb(0))),
    "det": _matrices(lambda m: m.det()),
    "logdet": _matrices(_logdet),
    "inv": _matrices(lambda m: m.inv()),
    "norm": lambda a: _each(lambda x: x.sqrt())(_total(a * a)),
    "softmax": _softmax,
    "exp": _each(lambda x: x.exp()),
    "log": _each(lambda x: x.log()),
    "sqrt": _each(lambda x: x.sqrt()),
    "sin": _each(lambda x: x.sin()),
    "cos": _each(lambda x: x.cos()),
    "tanh": _each(lambda x: x.tanh()),
    "sigmoid": _each(lambda x: 1 / (1 + (-x).exp())),
    "softplus": _each(lambda x: x.exp().log1p()),
    "abs": _each(abs),
    "relu": _each(lambda x: x.max(arb(0))),
    "sign": _each(balls.sign),
    "step": _each(lambda x: balls.step(x, balls.exact(Fraction(1, 2)))),
}
# the operations this evaluator knows: its table, and the constant constructors
COVERED = frozenset(_BALL) | {o.name for o in ops.OPS.values() if o.kind == "constructor"}


class Ball(Evaluator[np.ndarray]):
    """Evaluation with balls at flint's current precision; G, where given,
    is a stack of cotangents (numbers, made exact balls here)."""

    def __init__(self, values: Mapping[str, Value], g: np.ndarray | None) -> None:
        super().__init__()
        self.values = values
        self.g = None if g is None else balls_of(g)

    def _value(self, node: Node) -> np.ndarray:
        if isinstance(node, Num):
            return _matrix(balls.exact(node.value))
        if isinstance(node, Var):
            if node.name in self.values:
                return _value_balls(self.values[node.name])
            assert self.g is not None, "the cotangent is needed for a vector-Jacobian product"
            return self.g
        if isinstance(node, Matrix):
            return np.array([[self.value(e)[0, 0] for e in row] for row in node.rows],
                            dtype=object)
        assert isinstance(node, Call)
        op = ops.OPS[node.op]
        if op.kind == "constructor":
            sizes = (int(a.value) for a in node.args)  # type: ignore[union-attr]
            return balls_of(np.asarray(op.num(*sizes), dtype=np.int64))
        args = [self.value(x) for x in node.args]
        return _BALL[node.op](*args)
