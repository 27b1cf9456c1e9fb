"""Direct NumPy evaluation of a typed tree, real or complex.

This is the numeric engine's forward pass. It shares nothing with
:mod:`gradcheck.exact.symbolic` but the tree and the operator table's NumPy
column. Domains are checked before each operation and kinks recorded, on
real parts, so a complex step sees the same branches as the real point.
A variable may be a stack of matrices (K × rows × cols): every operation
acts on the last two axes, so K points are evaluated in one pass.

>>> import numpy as np
>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("relu(x) @ y"), {"x": (1, 2), "y": (2, 1)})
>>> evaluate(typed.tree, {"x": np.array([[1.0, -2.0]]), "y": np.array([[3.0], [4.0]])})
array([[3.]])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.language import ops
from gradcheck.language.tree import Call, Matrix, Node, Num, Var

__all__ = ["Kink", "OutOfDomain", "Trace", "evaluate", "evaluate_traced", "kinks"]


class OutOfDomain(Exception):
    """An operation met an argument outside its domain, or overflowed
    (internal: the API turns it into a DomainError that names the place)."""

    def __init__(self, node: Call, index: tuple[int, int], value: float, reason: str) -> None:
        super().__init__(reason)
        self.node, self.index, self.value, self.reason = node, index, value, reason


@dataclass(frozen=True)
class Kink:
    """A node with a kink or a pole, and the (real) quantity that is 0 there:
    a relu/abs argument's offset from the kink, a divisor, a determinant.
    A finite-difference stencil must not change its sign."""

    node: Call
    offset: np.ndarray
    is_kink: bool = True  # a kink (f is continuous there) rather than a pole


@dataclass
class Trace:
    """What an evaluation met on its way, for the numeric engine's bounds.

    ``amplification`` is the largest condition number of an ill-conditioned
    operation (inv, det, logdet) on the path, 1 where there is none: rounding
    may grow by that much. ``imag`` is the largest imaginary part of any
    intermediate value (with a complex step: the scale of the intermediate
    derivatives, which sets the rounding of the derivative); one per
    matrix when a stack of points is evaluated at once.
    """

    kinks: list[Kink] = field(default_factory=list)
    amplification: float = 1.0
    imag: Any = 0.0  # a float, or an array with one per point of a stack
    conditioning: bool = False  # measure amplification (an SVD per matrix op: not per probe)


def evaluate(tree: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of a typed tree; complex where ``env`` is.

    Raises:
        OutOfDomain: an argument is outside its operation's domain, or a
            value overflows to inf or NaN.
    """
    return _eval(tree, env, None)


def kinks(tree: Node, env: Mapping[str, np.ndarray]) -> list[Kink]:
    """Every relu/abs node with its argument's offset from the kink."""
    return [k for k in evaluate_traced(tree, env)[1].kinks if k.is_kink]


def evaluate_traced(tree: Node, env: Mapping[str, np.ndarray], *,
                    conditioning: bool = False) -> tuple[np.ndarray, Trace]:
    """The value and what the evaluation met (kinks, and with
    ``conditioning`` the amplification), in one pass."""
    trace = Trace(conditioning=conditioning)
    return _eval(tree, env, trace), trace


def _eval(node: Node, env: Mapping[str, np.ndarray], trace: Trace | None) -> np.ndarray:
    if isinstance(node, Num):
        return np.array([[float(node.value)]])
    if isinstance(node, Var):
        array = np.asarray(env[node.name])
        if trace is not None and np.iscomplexobj(array):
            trace.imag = np.maximum(trace.imag, _largest(array.imag))
        return array
    if isinstance(node, Matrix):
        flat = np.broadcast_arrays(*(_eval(e, env, trace)[..., 0, 0]
                                     for row in node.rows for e in row))
        rows, cols = len(node.rows), len(node.rows[0])
        return np.stack(flat, axis=-1).reshape(*flat[0].shape, rows, cols)
    assert isinstance(node, Call)
    op = ops.OPS[node.op]
    shape = node.shape or (1, 1)
    if op.kind == "constructor":
        sizes = [int(a.value) for a in node.args]  # type: ignore[union-attr]
        return np.asarray(op.num(*sizes), dtype=np.float64)
    args = [_eval(a, env, trace) for a in node.args]
    if op.domain is not None:
        real = [a.real for a in args]
        with np.errstate(all="ignore"):
            mask = op.domain(*real)
        if not np.all(mask):
            arg = real[1] if op.name == "div" else real[0]
            full = np.broadcast_shapes(np.shape(mask), arg.shape[:-2] + shape)
            first = tuple(int(v) for v in np.argwhere(~np.broadcast_to(mask, full))[0])
            whole = np.shape(mask)[-2:] == (1, 1) and arg.shape[-2:] != (1, 1)  # whole-matrix
            value = np.nan if whole else float(np.broadcast_to(arg, full)[first])
            raise OutOfDomain(node, (first[-2], first[-1]), value, op.domain_text)
    if trace is not None and op.kink is not None:
        trace.kinks.append(Kink(node, args[0].real - op.kink))
    if trace is not None and trace.conditioning and op.condition is not None:
        with np.errstate(all="ignore"):
            trace.amplification = max(trace.amplification, op.condition(*args))
    if trace is not None and op.pole is not None:
        with np.errstate(all="ignore"):
            trace.kinks.append(Kink(node, np.asarray(op.pole(*(a.real for a in args))), False))
    with np.errstate(all="ignore"):
        out = np.asarray(op.num(*args))
    if trace is not None and np.iscomplexobj(out):
        trace.imag = np.maximum(trace.imag, _largest(out.imag))
    if not np.isfinite(out).all():
        first = tuple(int(v) for v in np.argwhere(~np.isfinite(out))[0])
        i, j = first[-2:]
        raise OutOfDomain(node, (i, j), np.nan,
                          f"{op.name} gives {out[first]} at entry [{i},{j}] (overflow)")
    return out


def _largest(a: np.ndarray) -> Any:
    """The largest |entry| of a matrix, or of each matrix of a stack."""
    return np.abs(a).max(axis=(-2, -1), initial=0.0) if a.ndim > 2 else float(
        np.abs(a).max(initial=0.0))
