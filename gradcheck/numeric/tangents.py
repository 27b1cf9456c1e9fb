"""The complex step for one entry of w at a time, many entries at once,
carrying only what changes.

For w0 + ih·e_k the real parts of every value are those at w0 (up to
h² ≈ 1e-40 relative, far below rounding), so they are computed once, and
only the imaginary parts are carried for the stack of K points. These stay
local: moving w[i,j] moves entry (i,j), then row i of w@B, then row i of
tanh(w@B); so an imaginary part is kept as one entry, one row or one column
per point while it can be, and as full matrices only when an operation
spreads it (a column times a row, a whole-matrix function). A product then
costs a row times a matrix per point instead of a matrix times a matrix:
checking the gradient of sum(tanh(P@Q)) costs n² rows of work instead of
n² products.

Each operation's imaginary part is Im op(R + iT) taken from the operator
table's own NumPy column on the few entries that move (for @: R_a T_b +
T_a R_b, the imaginary part of the complex product), so the numbers are
those of the full complex step up to rounding, as the tests check.

>>> import numpy as np
>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("sum(tanh(P@Q))"), {"P": (2, 2), "Q": (2, 2)})
>>> env = {"P": np.eye(2), "Q": np.ones((2, 2))}
>>> imag, _ = steps(typed.tree, env, "P", np.array([0, 3]), np.array([1e-20, 1e-20]))
>>> (imag / 1e-20).ravel().round(6).tolist()  # ∂f/∂P[0,0] and ∂f/∂P[1,1]
[0.839949, 0.839949]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from gradcheck.language import ops
from gradcheck.language.tree import Call, Matrix, Node, Num, Var

__all__ = ["footprint", "steps"]


@dataclass(frozen=True)
class _Im:
    """Imaginary parts of a stack of K matrices of ``shape``: ``entry``
    (K,) at (i[k], j[k]); ``row`` (K, cols) in row i[k]; ``col`` (K, rows)
    in column j[k]; or ``dense`` (K, rows, cols)."""

    kind: str
    data: np.ndarray
    shape: tuple[int, int]
    i: np.ndarray | None = None
    j: np.ndarray | None = None

    def dense(self) -> np.ndarray:
        k = np.arange(len(self.data))
        if self.kind == "dense":
            return self.data
        out = np.zeros((len(self.data), *self.shape))
        if self.kind == "entry":
            out[k, self.i, self.j] = self.data
        elif self.kind == "row":
            out[k, self.i, :] = self.data
        else:
            out[k, :, self.j] = self.data
        return out

    def at(self, real: np.ndarray) -> np.ndarray:
        """The real parts (one matrix, broadcast to ``shape``) where this moves."""
        real = np.broadcast_to(real, self.shape)
        if self.kind == "entry":
            return real[self.i, self.j]
        if self.kind == "row":
            return real[self.i, :]
        if self.kind == "col":
            return real[:, self.j].T
        return real[None]

    def same_places(self, other: _Im) -> bool:
        return (self.kind == other.kind and self.shape == other.shape
                and _same(self.i, other.i) and _same(self.j, other.j))

    def largest(self) -> np.ndarray:
        """The largest |imaginary part| of each point."""
        a: np.ndarray = np.abs(self.data).reshape(len(self.data), -1)
        out: np.ndarray = a.max(axis=1, initial=0.0)
        return out


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is b or (a is not None and b is not None and np.array_equal(a, b))


def _dense(data: np.ndarray) -> _Im:
    return _Im("dense", data, (data.shape[1], data.shape[2]))


def steps(tree: Node, env: Mapping[str, np.ndarray], wrt: str, entries: np.ndarray,
          h: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Im f(w0 + ih[k]·e_entries[k]) for each k (K × f's shape), and the
    largest imaginary part of any value on the way, per point (for the
    complex step's bound). None where a value overflows: the caller then
    takes the full complex evaluation, which reports where."""
    rows, cols = np.asarray(env[wrt]).shape
    i, j = np.divmod(entries, cols)
    walker = _Walker(env, wrt, _Im("entry", np.asarray(h, dtype=np.float64), (rows, cols), i, j))
    with np.errstate(all="ignore"):
        _, im = walker.value(tree)
    shape = tree.shape or (1, 1)
    out = np.zeros((len(entries), *shape)) if im is None else np.broadcast_to(
        im.dense(), (len(entries), *shape))
    if not (np.isfinite(out).all() and np.isfinite(walker.largest).all()):
        return None
    return out, walker.largest


def footprint(tree: Node, env: Mapping[str, np.ndarray], wrt: str) -> int:
    """Numbers held per point of a stack (its imaginary parts, over all
    nodes), measured on the first entry of w: sizes chunks of points."""
    walker = _Walker(env, wrt, _Im("entry", np.ones(1), np.asarray(env[wrt]).shape,
                                   np.zeros(1, int), np.zeros(1, int)))
    with np.errstate(all="ignore"):
        walker.value(tree)
    return max(1, sum(im.data.size for _, im in walker.memo.values() if im is not None))


Pair = tuple[np.ndarray, "_Im | None"]


class _Walker:
    def __init__(self, env: Mapping[str, np.ndarray], wrt: str, leaf: _Im) -> None:
        self.env, self.wrt, self.leaf = env, wrt, leaf
        self.largest = leaf.largest()
        self.memo: dict[int, Pair] = {}

    def value(self, node: Node) -> Pair:
        key = id(node)
        if key not in self.memo:
            real, im = self._value(node)
            if im is not None:
                self.largest = np.maximum(self.largest, im.largest())
            self.memo[key] = real, im
        return self.memo[key]

    def _value(self, node: Node) -> Pair:
        if isinstance(node, Num):
            return np.array([[float(node.value)]]), None
        if isinstance(node, Var):
            real = np.asarray(self.env[node.name], dtype=np.float64)
            return real, (self.leaf if node.name == self.wrt else None)
        if isinstance(node, Matrix):
            cells = [[self.value(e) for e in row] for row in node.rows]
            real = np.array([[c[0][0, 0] for c in row] for row in cells])
            if all(c[1] is None for row in cells for c in row):
                return real, None
            stack = np.zeros((len(self.leaf.data), *real.shape))
            for r, row in enumerate(cells):
                for c, (_, cell) in enumerate(row):
                    if cell is not None:
                        stack[:, r, c] = cell.dense()[:, 0, 0]
            return real, _dense(stack)
        assert isinstance(node, Call)
        op = ops.OPS[node.op]
        if op.kind == "constructor":
            sizes = [int(a.value) for a in node.args]  # type: ignore[union-attr]
            return np.asarray(op.num(*sizes), dtype=np.float64), None
        args = [self.value(a) for a in node.args]
        real = np.asarray(op.num(*(a[0] for a in args)), dtype=np.float64)
        moving = [a[1] for a in args]
        if all(m is None for m in moving):
            return real, None
        shape = node.shape or (1, 1)
        if node.op == "matmul":
            return real, _matmul(args[0], args[1])
        if node.op == "transpose":
            return real, _transpose(moving[0])
        if op.kind in ("elementwise", "binary"):
            return real, _entrywise(op, args, shape)
        if node.op in ("sum", "mean") and moving[0] is not None and moving[0].kind != "dense":
            part = moving[0]
            total = part.data if part.kind == "entry" else part.data.sum(axis=1)
            scale = 1.0 if node.op == "sum" else 1.0 / (part.shape[0] * part.shape[1])
            return real, _dense((total * scale)[:, None, None])
        # anything else: the full complex evaluation of the stack
        z = [a[0][None] if m is None else a[0][None] + 1j * m.dense()
             for a, m in zip(args, moving, strict=True)]
        out = np.asarray(op.num(*z))
        return real, _dense(np.broadcast_to(out.imag, (len(out), *shape)).copy())


def _entrywise(op: ops.Op, args: list[Pair], shape: tuple[int, int]) -> _Im:
    """Im op(R + iT) on the entries that move, for unary and binary
    operations entry by entry (with broadcasting)."""
    moving = [m for _, m in args if m is not None]
    places = moving[0]
    spread = any(m.shape != shape for m in moving)
    if spread or not all(places.same_places(m) for m in moving[1:]):
        places = _Im("dense", np.zeros((len(places.data), *shape)), shape)
    z = []
    for real, m in args:
        at = places.at(real)
        if m is None:
            z.append(at)
        elif places.kind == "dense":
            z.append(at + 1j * np.broadcast_to(m.dense(), (len(m.data), *m.shape)))
        else:
            z.append(at + 1j * m.data)
    out = np.asarray(op.num(*z)).imag
    return replace(places, data=np.broadcast_to(out, places.data.shape).copy()
                   if places.kind == "dense" else out)


def _matmul(a: Pair, b: Pair) -> _Im:
    """Im (R_a + iT_a)(R_b + iT_b) = T_a R_b + R_a T_b, keeping rows and
    columns local where they are."""
    (ra, ta), (rb, tb) = a, b
    shape = (ra.shape[0], rb.shape[1])
    parts = []
    if ta is not None:
        if ta.kind == "entry":
            parts.append(_Im("row", ta.data[:, None] * rb[ta.j], shape, i=ta.i))
        elif ta.kind == "row":
            parts.append(_Im("row", ta.data @ rb, shape, i=ta.i))
        else:
            parts.append(_dense(ta.dense() @ rb))
    if tb is not None:
        if tb.kind == "entry":
            parts.append(_Im("col", ra[:, tb.i].T * tb.data[:, None], shape, j=tb.j))
        elif tb.kind == "col":
            parts.append(_Im("col", tb.data @ ra.T, shape, j=tb.j))
        else:
            parts.append(_dense(ra @ tb.dense()))
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    if first.same_places(second):
        return replace(first, data=first.data + second.data)
    return _dense(first.dense() + second.dense())


def _transpose(im: _Im | None) -> _Im:
    assert im is not None
    shape = (im.shape[1], im.shape[0])
    if im.kind == "dense":
        return _dense(np.swapaxes(im.data, 1, 2))
    kind = {"entry": "entry", "row": "col", "col": "row"}[im.kind]
    return _Im(kind, im.data, shape, i=im.j, j=im.i)
