"""Float64 evaluation with a running bound on every entry's error.

Each operation of a typed tree is evaluated in float64 together with a
bound on its error: rounding of each operation (u = 2⁻⁵³; γₖ = ku/(1−ku)
for sums of k terms), NumPy's elementary functions assumed within
:data:`ULPS` units in the last place, inv/det/logdet within n·u·κ (κ the
condition number) as a backward-stable LU gives, and the inputs' errors
carried through nonlinear functions to first order, doubled for safety.
The exact engine's closed form uses it where fractions cannot be had, and
the numeric engine for the rounding of f itself.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> tree = infer(parse("sum(x * x)"), {"x": (1, 2)}).tree
>>> value, error = Bounded({"x": np.array([[0.1, 0.2]])}, None).value(tree)
>>> bool(abs(value[0, 0] - 0.05) <= error[0, 0])
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction

import numpy as np

from gradcheck.language import ops
from gradcheck.language.tree import Call, Evaluator, Matrix, Node, Num, Var

__all__ = ["LU_OPS", "U", "ULPS", "Bounded", "Pair", "required", "rounding"]

U = 2.0**-53  # unit roundoff of float64
ULPS = 4  # NumPy's exp, log, sin, … are assumed within this many units in the last place


def rounding(tree: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """A bound on the rounding error of evaluating ``tree`` in float64 at
    ``env`` (arrays by name), entry by entry: the running bounds of
    :class:`Bounded` (0 where they are not finite), but with inv, det and
    logdet leaving out their condition number, which the numeric engine
    scales its bounds by itself (its amplification)."""
    try:
        with np.errstate(all="ignore"):
            _, bound = Bounded({n: np.asarray(v, dtype=np.float64) for n, v in env.items()},
                                None, conditioned=False).value(tree)
    except np.linalg.LinAlgError:  # a singular matrix: the evaluation itself says so
        return np.zeros(tree.shape or (1, 1))
    out: np.ndarray = np.where(np.isfinite(bound), bound, 0.0)
    return out


def required(g: np.ndarray | None) -> np.ndarray:
    assert g is not None, "the cotangent is needed for a vector-Jacobian product"
    return g


def _gamma(k: int) -> float:
    return k * U / (1 - k * U)


Pair = tuple[np.ndarray, np.ndarray]  # a value and a bound on its error


class Bounded(Evaluator[Pair]):
    """Evaluation in float64, each value with a bound on its error; with
    ``conditioned`` False, inv, det and logdet leave out their condition
    number (for callers that scale by it themselves)."""

    def __init__(self, env: Mapping[str, np.ndarray], g: np.ndarray | None,
                 conditioned: bool = True) -> None:
        super().__init__()
        self.env, self.g, self.conditioned = env, g, conditioned

    def _value(self, node: Node) -> Pair:
        zero = np.zeros((1, 1))
        if isinstance(node, Num):
            x = float(node.value)
            return np.array([[x]]), zero + (0.0 if Fraction(x) == node.value else U * abs(x))
        if isinstance(node, Var):
            return (self.env[node.name] if node.name in self.env else required(self.g)), zero
        if isinstance(node, Matrix):  # constant literals only reach here
            rows = [[self.value(e) for e in row] for row in node.rows]
            return (np.array([[e[0][0, 0] for e in row] for row in rows]),
                    np.array([[e[1][0, 0] for e in row] for row in rows]))
        assert isinstance(node, Call)
        op = ops.OPS[node.op]
        if op.kind == "constructor":
            sizes = (int(a.value) for a in node.args)  # type: ignore[union-attr]
            return np.asarray(op.num(*sizes), dtype=np.float64), zero
        args = [self.value(x) for x in node.args]
        with np.errstate(all="ignore"):
            if node.op in LU_OPS and not self.conditioned:
                v, e = _lu(node.op, conditioned=False)(*args)
            else:
                v, e = _rule(node.op)(*args)
        # Gradual underflow loses up to half the least subnormal per rounding.
        inner = (node.args[0].shape or (1, 1))[1] if node.op == "matmul" else \
            (node.args[0].shape or (1, 1))[0] ** 2 if node.op in ("sum", "mean", "trace") else 1
        return v, e + (inner + 1) * 2.0**-1074


def _mul(a: Pair, b: Pair) -> Pair:
    (x, ex), (y, ey) = a, b
    v = x * y
    return v, np.abs(x) * ey + ex * np.abs(y) + ex * ey + U * np.abs(v)


def _div(a: Pair, b: Pair) -> Pair:
    (x, ex), (y, ey) = a, b
    v = x / y
    room = np.abs(y) - ey
    e = np.where(room > 0, (ex + np.abs(v) * ey) / np.where(room > 0, room, 1.0), np.inf)
    return v, e + U * np.abs(v)


def _matmul(a: Pair, b: Pair) -> Pair:
    (x, ex), (y, ey) = a, b
    v = x @ y
    e = _gamma(x.shape[-1]) * (np.abs(x) @ np.abs(y))
    if ey.any():
        e = e + np.abs(x) @ np.broadcast_to(ey, y.shape)
    if ex.any():
        e = e + np.broadcast_to(ex, x.shape) @ (np.abs(y) + ey)
    return v, e


def _add(sign: float) -> Callable[[Pair, Pair], Pair]:
    def f(a: Pair, b: Pair) -> Pair:
        v = a[0] + sign * b[0]
        return v, a[1] + b[1] + U * np.abs(v)
    return f


def _total(a: Pair, scale: float = 1.0) -> Pair:
    x, ex = a
    n = x.shape[-2] * x.shape[-1]
    s = np.sum(x, axis=(-2, -1), keepdims=True) * scale
    e = (np.sum(ex, axis=(-2, -1), keepdims=True)
         + _gamma(n) * np.sum(np.abs(x), axis=(-2, -1), keepdims=True)) * scale
    return s, e + (U * np.abs(s) if scale != 1.0 else 0.0)


def _function(name: str, slope: Callable[[np.ndarray, np.ndarray], np.ndarray],
              ulps: float = ULPS) -> Callable[[Pair], Pair]:
    """An elementwise function: NumPy's value within ``ulps``, and the input's
    error carried by twice |f'| (first order)."""
    fn = ops.OPS[name].num

    def f(a: Pair) -> Pair:
        x, ex = a
        v = np.asarray(fn(x), dtype=np.float64)
        return v, 2 * slope(x, v) * ex + ulps * U * np.abs(v)
    return f


def _jump(name: str) -> Callable[[Pair], Pair]:
    """sign and step: exact, unless the input's error could cross 0."""
    fn = ops.OPS[name].num

    def f(a: Pair) -> Pair:
        x, ex = a
        exact = (np.abs(x) > ex) | (ex == 0)  # an exact input gives an exact sign
        return np.asarray(fn(x), dtype=np.float64), np.where(exact, 0.0, np.inf)
    return f


def _power(a: Pair, b: Pair) -> Pair:
    (x, ex), (y, ey) = a, b
    v = np.power(x, y)
    e = 2 * np.abs(y * np.power(x, y - 1)) * ex + ULPS * U * np.abs(v)
    if ey.any():
        e = e + 2 * np.abs(v * np.log(np.abs(x))) * ey
    return v, e


LU_OPS = ("det", "logdet", "inv")


def _lu(name: str, conditioned: bool = True) -> Callable[[Pair], Pair]:
    """det, logdet, inv: a backward-stable LU's n·u·κ, and the input's error
    carried to first order (doubled)."""

    def f(a: Pair) -> Pair:
        x, ex = a[0], np.broadcast_to(a[1], a[0].shape)
        n = x.shape[-1]
        kappa = float(np.linalg.cond(x)) if conditioned else 1.0
        inv = np.linalg.inv(x)
        if name == "inv":
            e = 2 * np.abs(inv) @ ex @ np.abs(inv) + 4 * n * U * kappa * np.abs(inv).max()
            return inv, e + np.zeros_like(inv)
        carried = np.abs(inv).T * ex  # |∂ logdet / ∂x| ⊙ ex
        if name == "logdet":
            v = np.array([[np.linalg.slogdet(x)[1]]])
            return v, 2 * carried.sum(keepdims=True) + 4 * n * U * kappa
        v = np.array([[np.linalg.det(x)]])
        return v, np.abs(v) * (2 * carried.sum(keepdims=True) + 4 * n * U * kappa)
    return f


def _norm(a: Pair) -> Pair:
    x, ex = a
    v = np.asarray(ops.OPS["norm"].num(x))
    n = x.shape[-2] * x.shape[-1]
    return v, 2 * np.sum(np.abs(x) * ex, keepdims=True) / v + (n + 2) * U * v


def _softmax(a: Pair) -> Pair:
    x, ex = a
    s = np.asarray(ops.OPS["softmax"].num(x))
    carried = ex + np.sum(s * ex, axis=-1, keepdims=True)
    return s, 2 * s * carried + (x.shape[-1] + ULPS) * U * s


def _trace(a: Pair) -> Pair:
    x, ex = a
    d, ed = np.diagonal(x), np.diagonal(ex)
    v = np.array([[d.sum()]])
    return v, np.array([[ed.sum()]]) + _gamma(len(d)) * np.abs(d).sum()


_BOUNDED: dict[str, Callable[..., Pair]] = {
    "add": _add(1.0), "sub": _add(-1.0), "mul": _mul, "div": _div, "pow": _power,
    "matmul": _matmul, "neg": lambda a: (-a[0], a[1]),
    "transpose": lambda a: (np.swapaxes(a[0], -1, -2), np.swapaxes(a[1], -1, -2)),
    "sum": _total, "mean": lambda a: _total(a, 1.0 / (a[0].shape[-2] * a[0].shape[-1])),
    "trace": _trace, "norm": _norm, "softmax": _softmax,
    "det": _lu("det"), "logdet": _lu("logdet"), "inv": _lu("inv"),
    "exp": _function("exp", lambda x, v: np.abs(v)),
    "log": _function("log", lambda x, v: 1 / np.abs(x)),
    "sqrt": _function("sqrt", lambda x, v: 0.5 / np.abs(v)),
    "sin": _function("sin", lambda x, v: np.abs(np.cos(x))),
    "cos": _function("cos", lambda x, v: np.abs(np.sin(x))),
    "tanh": _function("tanh", lambda x, v: 1 - v * v),
    "sigmoid": _function("sigmoid", lambda x, v: v * (1 - v)),
    "softplus": _function("softplus", lambda x, v: np.asarray(ops.OPS["sigmoid"].num(x))),
    "abs": _function("abs", lambda x, v: np.ones_like(x), ulps=0),
    "relu": _function("relu", lambda x, v: np.ones_like(x), ulps=0),
    "sign": _jump("sign"), "step": _jump("step"),
}


def _rule(op: str) -> Callable[..., Pair]:
    if op not in _BOUNDED:
        raise LookupError(f"operator {op!r} has no rounding rule in gradcheck.values.bounded "
                          "(see docs/contributing.md)")
    return _BOUNDED[op]
