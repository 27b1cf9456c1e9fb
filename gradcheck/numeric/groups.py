"""Groups of columns whose rows share nothing (CPR): one evaluation per group, confirmed along
a random direction before it is believed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck import progress
from gradcheck.language import structure
from gradcheck.language.structure import Groups
from gradcheck.language.tree import Node
from gradcheck.numeric.complex_step import complex_column, points_along, stacked, step_sizes
from gradcheck.numeric.estimate import Estimate
from gradcheck.numeric.ladder import real_column
from gradcheck.numeric.probe import Probe, chunk_size
from gradcheck.numeric.stencils import EPS, STENCILS, Stencil
from gradcheck.values.sparse import Sparse

__all__ = ["grouped"]


def grouped(probe: Probe, tree: Node, wrt: str, method: str,
            sparse: bool = False) -> Estimate | None:
    """The Jacobian by groups of entries of w perturbed together, where no
    entry of f depends on two of a group, confirmed along a random
    direction; None where the structure allows no groups or the values
    contradict it (then one entry at a time)."""
    groups = structure.columns(tree, wrt)
    if groups is None:
        return None
    found = (_complex_grouped(probe, chunk_size(probe, tree), groups) if method == "complex"
             else _real_grouped(probe, groups, STENCILS[method]))
    if found is None or not _confirmed(probe, found, method):
        return None
    return found.estimate(sparse)


def _confirmed(probe: Probe, found: _Assembly, method: str = "complex") -> bool:
    """Whether the Jacobian assembled from groups agrees with the derivative
    along a random direction v by the same method: J·v within the bounds of
    both. A group whose members the structure wrongly kept apart fails this.
    Real stencils' bounds are estimates, so for them a relative 1e-6 of
    |J|·|v| is allowed too: a missed dependence shows as a disagreement with
    the exact engine (whose own check is strict), never as agreement."""
    v = np.random.default_rng(0).standard_normal(probe.w0.shape).ravel()
    along, bound, _, _ = complex_column(probe, v.reshape(probe.w0.shape)) if method == "complex" \
        else real_column(probe, v.reshape(probe.w0.shape), STENCILS[method])
    g, a, m = found.groups, np.abs(v), probe.f0.size
    out, group, entry = g.pattern
    value = found.value[out, group]
    jv = np.bincount(out, value * v[entry], m)
    size = np.bincount(out, np.abs(value) * a[entry], m)
    relative = 4 * v.size * EPS if method == "complex" else 1e-6
    slack = found.bounds @ np.bincount(g.color, a, g.count) + relative * size
    return bool(np.all(np.abs(jv - along.ravel()) <= bound.ravel() + slack))


def _complex_grouped(probe: Probe, chunk: int, groups: Groups) -> _Assembly | None:
    """The complex step for a group of entries of w at a time (see
    :func:`grouped`), a chunk of groups stacked per evaluation."""
    x = np.abs(probe.w0.ravel())
    assembly = _Assembly(probe, groups)
    for start in range(0, groups.count, chunk):
        cs = np.arange(start, min(groups.count, start + chunk))
        moved = groups.color[None, :] == cs[:, None]
        h = np.where(moved, step_sizes(x), np.inf).min(axis=1)  # small beside every member
        v1, bound = stacked(probe, h, points_along(probe, moved.astype(np.float64)))
        if not assembly.add(cs, moved, v1, bound, h, "complex"):
            return None
        progress.advance("numeric", int(cs[-1]) + 1, groups.count)
    return assembly


def _real_grouped(probe: Probe, groups: Groups, stencil: Stencil) -> _Assembly | None:
    """A stencil on its ladder of steps (:func:`real_column`) along a group of
    entries of w at a time (see :func:`grouped`). The ladder's steps scale
    with the largest entry moved and the curvature often with the entries,
    so a group is split by magnitude: entries 2^10 apart go in different
    directions."""
    size = np.abs(probe.w0.ravel())
    scale = np.floor(np.log2(np.where(size > 0, size, 2.0**-1100)) / 10)
    assembly = _Assembly(probe, groups)
    for c in range(groups.count):
        for s in np.unique(scale[groups.color == c]):
            moved = (groups.color == c) & (scale == s)
            d = moved.reshape(probe.w0.shape).astype(float)
            value, error, step, name = real_column(probe, d, stencil)
            if not assembly.add(np.array([c]), moved[None], value[None], error[None],
                                np.array([step]), name):
                return None
        progress.advance("numeric", c + 1, groups.count)
    return assembly


class _Assembly:
    """A numeric Jacobian from derivatives along directions that each move
    entries of one group of w, where no entry of f depends on two entries
    of a group (:mod:`gradcheck.language.structure`): each direction's derivative
    gives each entry of f the derivative by the one member it depends on.
    Both are kept per entry of f and group (``value`` the derivative, the
    bound the largest over the group's directions); the Jacobian is made
    from them: stored on the pattern (:mod:`gradcheck.values.sparse`), or dense
    with the bound spread over the group's entries (a read-only view)."""

    def __init__(self, probe: Probe, groups: Groups) -> None:
        self.probe, self.groups = probe, groups
        m, n = probe.f0.size, probe.w0.size
        self.value = np.zeros((m, groups.count))
        self.bounds = np.zeros((m, groups.count))
        self.steps = np.zeros(n)
        self.methods = np.full(n, "", dtype=object)

    def add(self, cs: np.ndarray, moved: np.ndarray, value: np.ndarray, bound: np.ndarray,
            steps: np.ndarray, method: str) -> bool:
        """Derivatives (K × f's shape) along K directions, direction k moving
        the entries ``moved[k]`` of group ``cs[k]``. False where they
        contradict the structure: an entry of f moved that depends on no
        entry moved."""
        g = self.groups
        value = value.reshape(len(cs), -1)
        member = g.depends[:, cs]  # (entries of f, directions)
        source = g.entry[cs, np.maximum(member, 0)]  # the entry of w each depends on
        found = (member >= 0) & moved[np.arange(len(cs)), source]
        if (value.T[~found] != 0).any():
            return False
        out, k = np.nonzero(found)
        self.value[out, cs[k]] = value[k, out]
        self.bounds[:, cs] = np.maximum(self.bounds[:, cs], bound.reshape(len(cs), -1).T)
        for row, step in zip(moved, steps, strict=True):
            self.steps[row] = step
            self.methods[row] = method
        return True

    def estimate(self, sparse: bool = False) -> Estimate:
        w0, f0, g = self.probe.w0, self.probe.f0, self.groups
        shape = (*f0.shape, *w0.shape)
        out, group, entry = g.pattern
        value: Any = Sparse(shape, out, entry, self.value[out, group])
        if sparse:
            error: Any = value.like(self.bounds[out, group])
        else:
            value = value.dense()
            error = np.broadcast_to(self.bounds.reshape(*f0.shape, *g.layout), shape)
        return Estimate(value, error, self.steps.reshape(w0.shape),
                        self.methods.reshape(w0.shape), self.probe.calls)
