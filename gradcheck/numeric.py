"""Finite differences on a direct NumPy evaluation of the tree.

This engine shares nothing with :mod:`gradcheck.symbolic` but the tree and
the operator table's NumPy column: that independence is what makes the two
engines' agreement mean something.

Each Jacobian column comes from central differences at steps h and 2h,
combined by Richardson extrapolation. The error estimate is
``|D(h) - D(2h)|`` (three times the estimated truncation error of D(h),
and larger than that of the extrapolated value) plus a bound on rounding.
A stencil that would cross a kink (relu, abs at 0) goes one-sided; one that
would leave an operation's domain shrinks.

>>> import numpy as np
>>> from gradcheck.parser import parse
>>> from gradcheck.shapes import infer
>>> typed = infer(parse("sum(z * z)"), {"z": (1, 2)})
>>> est = jacobian(typed.tree, "z", {"z": np.array([[1.0, 2.0]])})
>>> np.round(est.value, 8).tolist(), bool(est.error.max() < 1e-8)
([[2.0, 4.0]], True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import ops
from .tree import Call, Matrix, Node, Num, Var

__all__ = ["Estimate", "OutOfDomain", "evaluate", "jacobian", "kink_arguments"]

EPS = float(np.finfo(np.float64).eps)
STEP = EPS ** (1 / 3)  # balances truncation (h²) and rounding (eps/h) of central differences


class OutOfDomain(Exception):
    """An operation met an argument outside its domain (internal; the API
    turns it into a :class:`gradcheck.DomainError` that names the place)."""

    def __init__(self, node: Call, index: tuple[int, int], value: float, reason: str) -> None:
        super().__init__(reason)
        self.node, self.index, self.value, self.reason = node, index, value, reason


@dataclass
class _Trace:
    kinks: list[tuple[Call, np.ndarray]] = field(default_factory=list)


def evaluate(tree: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate a typed tree in float64.

    Raises:
        OutOfDomain: an operation's argument is outside its domain, or a
            value overflows to inf or NaN.
    """
    return _eval(tree, env, None)


def kink_arguments(tree: Node, env: Mapping[str, np.ndarray]) -> list[tuple[Call, np.ndarray]]:
    """For each relu/abs node, its argument minus the kink location."""
    trace = _Trace()
    _eval(tree, env, trace)
    return trace.kinks


def _eval(node: Node, env: Mapping[str, np.ndarray], trace: _Trace | None) -> np.ndarray:
    if isinstance(node, Num):
        return np.array([[float(node.value)]])
    if isinstance(node, Var):
        return np.asarray(env[node.name], dtype=np.float64)
    if isinstance(node, Matrix):
        return np.array([[_eval(e, env, trace)[0, 0] for e in row] for row in node.rows])
    assert isinstance(node, Call)
    op = ops.OPS[node.op]
    shape = node.shape or (1, 1)
    if op.kind == "constructor":
        return np.asarray(op.num(*(int(a.value) for a in node.args)), dtype=np.float64)  # type: ignore[union-attr]
    args = [_eval(a, env, trace) for a in node.args]
    if op.domain is not None:
        with np.errstate(all="ignore"):
            mask = op.domain(*args)
        if not np.all(mask):
            i, j = (int(v) for v in np.argwhere(~np.broadcast_to(mask, shape))[0])
            arg = args[1] if op.name == "div" else args[0]
            whole = np.shape(mask) == (1, 1) and arg.shape != (1, 1)  # a whole-matrix condition
            value = np.nan if whole else float(np.broadcast_to(arg, shape)[i, j])
            raise OutOfDomain(node, (i, j), value, op.domain_text)
    if trace is not None and op.kink is not None:
        trace.kinks.append((node, args[0] - op.kink))
    with np.errstate(all="ignore"):
        out = np.asarray(op.num(*args), dtype=np.float64)
    if not np.isfinite(out).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(out))[0])
        raise OutOfDomain(node, (i, j), np.nan,
                          f"{op.name} gives {out[i, j]} at entry [{i},{j}] (overflow)")
    return out


@dataclass(frozen=True)
class Estimate:
    """A finite-difference Jacobian in gradcheck's layout.

    ``value[..., k, l]`` estimates ∂f/∂w[k,l]; ``error`` bounds its error
    entry by entry; ``steps`` is the step used for each entry of w and
    ``stencils`` the stencil (``central``, ``forward`` or ``backward``).
    """

    value: np.ndarray
    error: np.ndarray
    steps: np.ndarray
    stencils: np.ndarray
    evaluations: int


def jacobian(tree: Node, wrt: str, env: Mapping[str, np.ndarray]) -> Estimate:
    """Estimate ∂f/∂wrt at the point ``env`` (f.shape + w.shape; w.shape for 1×1 f).

    Raises:
        OutOfDomain: the point itself is outside the domain, or every
            stencil tried leaves it.
    """
    base = dict(env)
    w0 = np.asarray(env[wrt], dtype=np.float64)
    f0 = evaluate(tree, base)
    signs0 = _signs(tree, base)
    value = np.zeros(f0.shape + w0.shape)
    error = np.zeros_like(value)
    steps = np.zeros(w0.shape)
    stencils = np.empty(w0.shape, dtype=object)
    calls = 1
    for k in range(w0.shape[0]):
        for l in range(w0.shape[1]):
            col = _column(tree, base, wrt, w0, (k, l), f0, signs0)
            value[..., k, l], error[..., k, l], steps[k, l], stencils[k, l], n = col
            calls += n
    if f0.shape == (1, 1):
        value, error = value[0, 0], error[0, 0]
    return Estimate(value, error, steps, stencils, calls)


def _signs(tree: Node, env: Mapping[str, np.ndarray]) -> bytes:
    return b"".join(np.signbit(a).tobytes() for _, a in kink_arguments(tree, env))


def _column(tree: Node, env: dict[str, np.ndarray], wrt: str, w0: np.ndarray,
            kl: tuple[int, int], f0: np.ndarray,
            signs0: bytes) -> tuple[np.ndarray, np.ndarray, float, str, int]:
    """Derivative of every entry of f with respect to w[k,l]."""
    h = STEP * max(1.0, abs(w0[kl]))
    calls = 0

    def f(t: float) -> tuple[np.ndarray, bool]:
        nonlocal calls
        w = w0.copy()
        w[kl] += t
        calls += 1
        out = evaluate(tree, {**env, wrt: w})
        same_side = _signs(tree, {**env, wrt: w}) == signs0 if signs0 else True
        return out, same_side

    last: OutOfDomain | None = None
    for _ in range(4):  # shrink the step when the stencil leaves the domain
        try:
            return (*_stencil(f, f0, h), calls)
        except OutOfDomain as e:
            last = e
            h /= 16
    assert last is not None
    raise last


def _stencil(f, f0: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray, float, str]:  # type: ignore[no-untyped-def]
    plus1, ok_p1 = f(h)
    minus1, ok_m1 = f(-h)
    if ok_p1 and ok_m1:
        plus2, ok_p2 = f(2 * h)
        minus2, ok_m2 = f(-2 * h)
        if ok_p2 and ok_m2:
            d1 = (plus1 - minus1) / (2 * h)
            d2 = (plus2 - minus2) / (4 * h)
            value = (4 * d1 - d2) / 3
            size = np.maximum.reduce([abs(f0), abs(plus2), abs(minus2)])
            return value, abs(d1 - d2) + _rounding(size, h), h, "central"
    # The central stencil crosses a kink: use the side that stays smooth,
    # with second-order one-sided differences at h/2 and h.
    for sign, name in ((1.0, "forward"), (-1.0, "backward")):
        t = sign * h / 2
        a1, ok1 = f(t)
        a2, ok2 = f(2 * t)
        a4, ok4 = f(4 * t)
        if ok1 and ok2 and ok4:
            d1 = (-3 * f0 + 4 * a1 - a2) / (2 * t)
            d2 = (-3 * f0 + 4 * a2 - a4) / (4 * t)
            value = (4 * d1 - d2) / 3
            size = np.maximum.reduce([abs(f0), abs(a2), abs(a4)])
            return value, abs(d1 - d2) + _rounding(size, h / 2), h / 2, name
    h /= 64
    return _stencil(f, f0, h) if h > 1e-14 else (np.zeros_like(f0), np.full_like(f0, np.inf),
                                                  h, "none")


def _rounding(size: np.ndarray, h: float) -> np.ndarray:
    # Each evaluation carries a relative rounding error of a few eps; the
    # stencil weights sum to about 3/h in absolute value.
    return 16 * EPS * (size + 1.0) / h
