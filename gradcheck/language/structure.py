"""Which entries of f depend on which entries of w, and groups of entries
that can be differentiated together.

Two entries of w whose Jacobian columns have no row in common can be
perturbed at once: every entry of f feels at most one of them, so one
evaluation gives both columns (Curtis, Powell and Reid, 1974). Likewise two
entries of f whose Jacobian rows have no column in common can share one
vector-Jacobian product. For F = X@Y with X, Y n×n, this turns the n²
columns of ∂F/∂X into n groups (the columns of X) and its n² rows into n
(the columns of F).

The dependence is read off the tree's structure, never off values or
derivative rules, and is conservative (a superset): a product depends on a
whole row and a whole column, an inverse or a determinant on every entry.
It is computed for a proposed grouping of w's entries (all together, by
column, by row) as one array per node: for each entry of the node and each
group, the one member of the group the entry depends on, :data:`NONE`, or
:data:`MANY` (the grouping does not work). The engines check the result
too: an entry the structure says is independent must come out exactly 0.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("X@Y"), {"X": (3, 2), "Y": (2, 4)})
>>> g = columns(typed.tree, "X")
>>> g.name, g.count
('by column', 2)
>>> rows(g).count  # rows of the Jacobian: the columns of F share a product
4
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gradcheck.language import ops
from gradcheck.language.tree import Call, Matrix, Node, Num, Var, walk

__all__ = ["MANY", "NONE", "Groups", "OutputGroups", "columns", "rows"]

NONE = -1  # depends on no member of the group
MANY = -2  # depends on more than one member: the grouping fails
MAX_CELLS = 2**26  # entries × groups the propagation may hold per node (int32: 256 MB) ...
MIN_CELLS = 2**16  # ... and no more than the Jacobian's entries, above this


@dataclass(frozen=True, eq=False)
class Groups:
    """A grouping of w's entries and f's dependence on it.

    ``color`` and ``member`` give, for each entry of w (flat), its group and
    its index within the group; ``entry[c, m]`` is the flat entry of w that
    is member m of group c (−1 where there is none). ``depends[o, c]`` is
    the member of group c that f's entry o (flat) depends on, or NONE.
    """

    name: str
    count: int
    color: np.ndarray
    member: np.ndarray
    entry: np.ndarray
    depends: np.ndarray
    f_shape: tuple[int, int]
    layout: tuple[int, int]  # w's shape with one entry per group: (1, cols), (rows, 1), (1, 1)

    @cached_property
    def pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries of the Jacobian that may be nonzero, in one order both
        engines use: f's entry (flat, ascending), the group, w's entry (flat)."""
        out, group = np.nonzero(self.depends >= 0)
        return out, group, self.entry[group, self.depends[out, group]]


@dataclass(frozen=True, eq=False)
class OutputGroups:
    """A grouping of f's entries for vector-Jacobian products: ``color`` of
    each entry of f (flat), and ``source[d, w]``: the entry of f in group d
    whose row of the Jacobian holds w's entry w (flat), or −1."""

    name: str
    count: int
    color: np.ndarray
    source: np.ndarray
    layout: tuple[int, int]  # f's shape with one entry per group


def columns(tree: Node, wrt: str) -> Groups | None:
    """The grouping of w's entries with fewest groups that works, or None
    when only one entry at a time does. Both engines ask for the same tree
    and variable: the last few answers are kept."""
    key = (id(tree), wrt)
    if key not in _found:
        if len(_found) >= 8:
            _found.pop(next(iter(_found)))
        _found[key] = (tree, _columns(tree, wrt))  # the tree kept: its id stays its own
    return _found[key][1]


_found: dict[tuple[int, str], tuple[Node, Groups | None]] = {}


def _columns(tree: Node, wrt: str) -> Groups | None:
    leaf = _find(tree, wrt)
    if leaf is None:
        return None
    shape = _shape(leaf)
    r, c = shape
    jacobian = r * c * _shape(tree)[0] * _shape(tree)[1]
    i, j = np.indices(shape)
    proposals = [("all at once", np.zeros(shape, int), i * c + j, 1, (1, 1)),
                 ("by column", j, i, c, (1, c)), ("by row", i, j, r, (r, 1))]
    for name, color, member, count, layout in sorted(proposals, key=lambda p: p[3]):
        if count >= r * c or _size(tree) * count > min(MAX_CELLS, max(MIN_CELLS, jacobian)):
            continue
        depends = _Propagate(wrt, color, member, count).run(tree)
        if not (depends == MANY).any():
            entry = np.full((count, int(member.max()) + 1), -1)
            entry[color.ravel(), member.ravel()] = np.arange(r * c)
            return Groups(name, count, color.ravel(), member.ravel(), entry,
                          depends.reshape(-1, count), _shape(tree), layout)
    return None


def rows(g: Groups) -> OutputGroups | None:
    """Group f's entries so that no two in a group depend on one entry of w
    (their Jacobian rows are disjoint), using the dependence ``g`` found;
    None when no grouping smaller than one entry per group works."""
    depends = g.depends
    m = depends.shape[0]
    fr, fc = g.f_shape
    i, j = np.indices((fr, fc))
    proposals = [("all at once", np.zeros(m, int), 1, (1, 1)),
                 ("by column", j.ravel(), fc, (1, fc)), ("by row", i.ravel(), fr, (fr, 1))]
    for name, color, count, layout in sorted(proposals, key=lambda p: p[2]):
        if count >= m:
            continue
        source = np.full((count, g.count, g.entry.shape[1]), -1)
        for d in range(count):
            outs = np.flatnonzero(color == d)
            ids = depends[outs]  # members of each w group these outputs depend on
            o, c = np.nonzero(ids >= 0)
            if _repeats(c * g.entry.shape[1] + ids[o, c]):  # two outputs share an entry
                break
            source[d, c, ids[o, c]] = outs[o]
        else:
            flat = source[:, g.color, g.member]  # (groups of f, entries of w)
            return OutputGroups(name, count, color, flat, layout)
    return None


def _repeats(keys: np.ndarray) -> bool:
    return bool(len(np.unique(keys)) < len(keys))


class _Propagate:
    """One array per node: (rows, cols, groups) of members, NONE or MANY."""

    def __init__(self, wrt: str, color: np.ndarray, member: np.ndarray, count: int) -> None:
        self.wrt, self.count = wrt, count
        leaf = np.full((*color.shape, count), NONE, dtype=np.int32)
        r, c = np.indices(color.shape)
        leaf[r, c, color] = member
        self.leaf = leaf
        self.memo: dict[int, np.ndarray | None] = {}

    def run(self, tree: Node) -> np.ndarray:
        out = self.value(tree)
        shape = (*_shape(tree), self.count)
        return np.full(shape, NONE, np.int32) if out is None else np.broadcast_to(out, shape)

    def value(self, node: Node) -> np.ndarray | None:
        """None for a node that does not depend on w at all."""
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._value(node)
        return self.memo[key]

    def _value(self, node: Node) -> np.ndarray | None:
        if isinstance(node, Num):
            return None
        if isinstance(node, Var):
            return self.leaf if node.name == self.wrt else None
        if isinstance(node, Matrix):
            cells = [[self.value(e) for e in row] for row in node.rows]
            if all(x is None for row in cells for x in row):
                return None
            empty = np.full((1, 1, self.count), NONE, np.int32)
            return np.concatenate([np.concatenate([empty if x is None else x for x in row],
                                                  axis=1) for row in cells], axis=0)
        assert isinstance(node, Call)
        args = [self.value(a) for a in node.args]
        present = [a for a in args if a is not None]
        if not present:
            return None
        kind = ops.OPS[node.op].kind
        shape = (*_shape(node), self.count)
        if kind in ("binary", "elementwise"):
            out = present[0]
            for other in present[1:]:
                out = _join(out, other)
            return np.broadcast_to(out, shape)
        if node.op == "matmul":
            left, right = args
            rows = None if left is None else _reduce(left, axis=1)[:, None, :]  # row i of left
            cols = None if right is None else _reduce(right, axis=0)[None, :, :]  # column k
            if rows is None or cols is None:
                only = cols if rows is None else rows
                assert only is not None
                return np.broadcast_to(only, shape)
            return _join(rows, cols)
        if node.op == "transpose":
            return present[0].transpose(1, 0, 2)
        if node.op == "softmax":  # row by row
            return np.broadcast_to(_reduce(present[0], axis=1)[:, None, :], shape)
        # reductions and whole-matrix functions: every entry on every entry
        whole = _reduce(_reduce(present[0], axis=0)[None], axis=1)
        for other in present[1:]:
            whole = _join(whole, _reduce(_reduce(other, axis=0)[None], axis=1))
        return np.broadcast_to(whole[:, None, :], shape)


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Entry by entry: the member both depend on, NONE, or MANY."""
    out: np.ndarray = np.where(a == NONE, b, np.where((b == NONE) | (a == b), a, MANY))
    return out


def _reduce(a: np.ndarray, axis: int) -> np.ndarray:
    """The join along one axis."""
    ids = np.where(a >= 0, a, np.iinfo(np.int32).max)
    low = ids.min(axis=axis)
    high = np.where(a >= 0, a, NONE).max(axis=axis)
    many = (a == MANY).any(axis=axis) | ((high >= 0) & (low != high))
    out: np.ndarray = np.where(many, MANY, high).astype(np.int32)
    return out


def _find(tree: Node, name: str) -> Node | None:
    return next((n for n in walk(tree) if isinstance(n, Var) and n.name == name), None)


def _shape(node: Node) -> tuple[int, int]:
    assert node.shape is not None
    return node.shape


def _size(tree: Node) -> int:
    return max(n.shape[0] * n.shape[1] for n in walk(tree) if n.shape is not None)
