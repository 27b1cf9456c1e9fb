"""Finite differences and the complex step, on the direct NumPy evaluation.

Methods: ``complex`` (Im f(x + ih)/h: no cancellation, so accurate to
rounding whatever the step), ``richardson`` (central differences at h, h/2,
h/4, extrapolated), ``central``, ``forward`` and ``backward`` (see
:mod:`gradcheck.numeric.stencils`), and ``auto``: the complex step where every
operation on the path allows it, Richardson otherwise.

Every estimate comes with an error bound entry by entry: the difference to
a companion estimate from the same evaluations plus a bound on rounding.
Steps are chosen per direction (an entry of w, or a group of entries) on
a ladder that shrinks until two estimates agree; a stencil that would
leave the domain or cross a kink (relu, abs) or a pole (a divisor, a
singular matrix) shrinks or goes one-sided. At a point *on* a kink the two
one-sided derivatives are compared, entry by entry, and entries where they
differ are reported as not differentiable.

Entries of w that no entry of f feels together are perturbed together
(:mod:`gradcheck.language.structure`); where none are, the complex step carries
only the imaginary parts that move (:mod:`gradcheck.numeric.tangents`).

>>> import numpy as np
>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("sum(z * z)"), {"z": (1, 2)})
>>> est = jacobian(typed.tree, "z", {"z": np.array([[1.0, 2.0]])})
>>> est.value.tolist(), est.methods.tolist(), est.evaluations
([[2.0, 4.0]], [['complex', 'complex']], 5)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradcheck import progress
from gradcheck.language import ops, structure
from gradcheck.language.structure import Groups
from gradcheck.language.tree import Call, Node, render, walk
from gradcheck.numeric import tangents
from gradcheck.numeric.stencils import BACKWARD, EPS, FORWARD, RICHARDSON, STENCILS, Stencil
from gradcheck.values import bounded
from gradcheck.values.evaluate import Kink, OutOfDomain, Trace, evaluate_traced
from gradcheck.values.sparse import Sparse, bound_array, store_bound, zeros

__all__ = ["METHODS", "Estimate", "OutOfDomain", "Undefined", "directional", "jacobian",
           "jacobian_of", "noise_floor", "one_sided", "refine_columns", "resolve_method"]

METHODS = ("auto", "complex", "richardson", "central", "forward", "backward")
COMPLEX_STEP = 1e-20  # relative: far below rounding, far above underflow
SHRINKS = 6  # times a one-sided step at a kink may shrink tenfold to stay in the domain
LADDER = 12  # steps tried, each 16 times smaller than the last (16^12 ≈ 3e14)
CHUNK_BYTES = 64 * 2**20  # memory for the points of one stacked evaluation, at most
MIN_CHUNK_BYTES = 2**20  # ... and at least, however small the Jacobian


@dataclass(frozen=True)
class Undefined:
    """An entry of the Jacobian at a point where f has a kink: the two
    one-sided derivatives differ. ``index`` is in the Jacobian's layout."""

    index: tuple[int, ...]
    left: float
    right: float
    where: str  # e.g. "relu(x@W) at its kink in entry [1,0]"


@dataclass(frozen=True)
class Estimate:
    """A numeric Jacobian in gradcheck's layout (f.shape + w.shape; w.shape
    for 1×1 f). ``error`` bounds |value - true derivative| entry by entry;
    ``steps`` and ``methods`` say what was used for each entry of w.
    ``value`` and ``error`` are :class:`~gradcheck.values.sparse.Sparse` where
    asked for (``sparse=True``) and the entries were found by groups."""

    value: Any
    error: Any
    steps: np.ndarray
    methods: np.ndarray
    evaluations: int
    undefined: tuple[Undefined, ...] = ()


class _Crossed(Exception):
    """The stencil crossed a kink, or a pole (``pole``) (internal)."""

    def __init__(self, pole: bool = False) -> None:
        super().__init__()
        self.pole = pole


def resolve_method(tree: Node, method: str) -> str:
    """The method ``auto`` stands for on this tree."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method != "auto":
        return method
    calls = [n for n in walk(tree) if isinstance(n, Call)]
    return "complex" if all(ops.OPS[c.op].complex_step for c in calls) else "richardson"


def jacobian(tree: Node, wrt: str, env: Mapping[str, np.ndarray],
             method: str = "auto", sparse: bool = False) -> Estimate:
    """Estimate ∂f/∂wrt at the point ``env``; with ``sparse``, found by
    groups of entries of w, as its entries that may be nonzero (a
    :class:`~gradcheck.values.sparse.Sparse`, bounds likewise).

    Raises:
        OutOfDomain: the point is outside the domain, or every step tried
            leaves it.
    """
    method = resolve_method(tree, method)
    est = None
    probe, on_kink = _probe(tree, env, wrt)
    sparse = sparse and probe.f0.size > 1
    if not on_kink:  # at a kink: one entry at a time, both sides (see _at_kink)
        est = (_complex_all(probe, tree, env, wrt, sparse) if method == "complex"
               else _grouped(probe, tree, wrt, method, sparse))
    if est is None:
        est = _entry_by_entry(probe, on_kink, method)
    est = _conditioned(tree, probe, est)
    if est.value.shape[:2] == (1, 1) and est.value.ndim == 4:  # a 1×1 f: the gradient
        undefined = tuple(Undefined(u.index[2:], u.left, u.right, u.where)
                          for u in est.undefined)
        est = Estimate(est.value[0, 0], est.error[0, 0], est.steps, est.methods,
                       est.evaluations, undefined)
    return est


Function = Callable[[np.ndarray], tuple[np.ndarray, Trace]]


def _conditioned(tree: Node, probe: _Probe, est: Estimate) -> Estimate:
    """With inv, det or logdet in f, every entry's bound also allows a few
    eps of the largest entry times the conditioning: LU's rounding is spread
    over the whole result (normwise), so a small entry of an ill-conditioned
    inverse is off by far more than eps·κ of itself."""
    if not any(isinstance(n, Call) and ops.OPS[n.op].condition is not None
               for n in walk(tree)):
        return est
    values = est.value.values if isinstance(est.value, Sparse) else est.value
    spread = 4 * EPS * probe.amplification * float(np.max(np.abs(values), initial=0.0))
    error = est.error.like(est.error.values + spread) if isinstance(est.error, Sparse) \
        else est.error + spread
    return dataclasses.replace(est, error=error)


def _complex_all(probe: _Probe, tree: Node, env: Mapping[str, np.ndarray],
                 wrt: str, sparse: bool = False) -> Estimate:
    """The complex step for every entry of w: by groups of entries where the
    structure allows (:func:`_grouped`), else a stack of single entries
    carrying only what moves (:mod:`gradcheck.numeric.tangents`)."""
    est = _grouped(probe, tree, wrt, "complex", sparse)
    if est is not None:
        return est
    at = {**env, wrt: probe.w0}
    chunk = max(1, _chunk_bytes(probe) // (4 * 16 * tangents.footprint(tree, at, wrt)))
    return _complex_stacked(probe, chunk, lambda entries, h: tangents.steps(
        tree, at, wrt, entries, h))


def _grouped(probe: _Probe, tree: Node, wrt: str, method: str,
             sparse: bool = False) -> Estimate | None:
    """The Jacobian by groups of entries of w perturbed together, where no
    entry of f depends on two of a group, confirmed along a random
    direction; None where the structure allows no groups or the values
    contradict it (then one entry at a time)."""
    groups = structure.columns(tree, wrt)
    if groups is None:
        return None
    found = (_complex_grouped(probe, _chunk(probe, tree), groups) if method == "complex"
             else _real_grouped(probe, groups, STENCILS[method]))
    if found is None or not _confirmed(probe, found, method):
        return None
    return found.estimate(sparse)


def _confirmed(probe: _Probe, found: _Assembly, method: str = "complex") -> bool:
    """Whether the Jacobian assembled from groups agrees with the derivative
    along a random direction v by the same method: J·v within the bounds of
    both. A group whose members the structure wrongly kept apart fails this.
    Real stencils' bounds are estimates, so for them a relative 1e-6 of
    |J|·|v| is allowed too: a missed dependence shows as a disagreement with
    the exact engine (whose own check is strict), never as agreement."""
    v = np.random.default_rng(0).standard_normal(probe.w0.shape).ravel()
    along, bound, _, _ = _complex(probe, v.reshape(probe.w0.shape)) if method == "complex" \
        else _real(probe, v.reshape(probe.w0.shape), STENCILS[method])
    g, a, m = found.groups, np.abs(v), probe.f0.size
    out, group, entry = g.pattern
    value = found.value[out, group]
    jv = np.bincount(out, value * v[entry], m)
    size = np.bincount(out, np.abs(value) * a[entry], m)
    relative = 4 * v.size * EPS if method == "complex" else 1e-6
    slack = found.bounds @ np.bincount(g.color, a, g.count) + relative * size
    return bool(np.all(np.abs(jv - along.ravel()) <= bound.ravel() + slack))


def _probe(tree: Node, env: Mapping[str, np.ndarray], wrt: str) -> tuple[_Probe, list[Kink]]:
    """A probe of f at the point ``env`` along entries of ``wrt``, and the
    kinks that sit exactly there. Its rounding (see :class:`_Probe`) is
    computed when a real stencil first asks for it."""
    return _start(_tree_function(tree, env, wrt), np.asarray(env[wrt], dtype=np.float64), tree,
                  _amplification(tree, env), lambda: bounded.rounding(tree, env))


def _amplification(tree: Node, env: Mapping[str, np.ndarray]) -> float:
    """The conditioning of the evaluation at the point, measured once."""
    return evaluate_traced(tree, env, conditioning=True)[1].amplification


def _start(fn: Function, w0: np.ndarray, tree: Node | None, amplification: float = 1.0,
           rounding: Callable[[], Any] | None = None) -> tuple[_Probe, list[Kink]]:
    """A probe at w0, and the kinks that sit exactly at w0."""
    f0, trace0 = fn(w0)
    on_kink = [k for k in trace0.kinks if k.is_kink and (k.offset == 0).any()]
    return _Probe(fn, w0, f0, trace0, tree, amplification, rounding), on_kink


def _unit(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    d = np.zeros(shape)
    d[index] = 1.0
    return d


def _jumps(right: np.ndarray, err_r: np.ndarray, left: np.ndarray,
           err_l: np.ndarray) -> np.ndarray:
    """Where one-sided derivatives differ beyond their bounds: not differentiable."""
    jump: np.ndarray = np.abs(right - left) > err_r + err_l + 1e-8 * np.maximum(
        np.abs(right), np.abs(left))
    return jump


def _tree_function(tree: Node, env: Mapping[str, np.ndarray], wrt: str) -> Function:
    def f(w: np.ndarray) -> tuple[np.ndarray, Trace]:
        return evaluate_traced(tree, {**env, wrt: w})

    return f


def jacobian_of(fn: Function, w0: np.ndarray, method: str, *, tree: Node | None = None,
                mask: np.ndarray | None = None, amplification: float = 1.0,
                eps: float = EPS) -> Estimate:
    """Estimate the Jacobian of ``fn`` at ``w0`` (any shapes): ``value[..., i]``
    is ∂f/∂w[i]. Entries where ``mask`` is False are fixed: not perturbed,
    their columns 0 with bound 0. ``tree`` names kinks in messages;
    ``amplification`` scales the rounding bounds. ``auto`` (an arbitrary
    function need not accept complex numbers) is Richardson's stencil at one
    step per entry, 6 evaluations, tried at smaller steps only for the
    entries whose bound that leaves wider than :data:`QUICK_ENOUGH` of their
    column (a kink or fast variation within the step). ``eps`` is the
    precision f computes in (float32's for a float32 function): rounding
    bounds scale with it, and steps larger by (eps/eps64)^(1/7) are tried as
    well where they agree with float64's (:func:`_scaled`)."""
    probe, on_kink = _user_probe(fn, w0, tree, amplification, eps)
    if method == "auto" and not on_kink:
        return _quick(probe, mask)
    return _entry_by_entry(probe, on_kink, "richardson" if method == "auto" else method, mask)


def _user_probe(fn: Function, w0: np.ndarray, tree: Node | None,
                amplification: float, eps: float = EPS) -> tuple[_Probe, list[Kink]]:
    # Inside a user's function rounding is out of sight (sin(x@W) near a zero
    # of sin is off by eps·|x@W|, far more than eps·|f|): allow a few eps of
    # each entry of f, and USER_NOISE eps of the largest.
    probe, on_kink = _start(fn, w0, tree, (amplification if tree is not None
                                           else max(amplification, USER_ROUNDING)) * eps / EPS)
    if tree is None:
        probe._rounding = lambda: USER_NOISE * eps * float(np.abs(probe.f0).max(initial=0.0))
    # For a lower precision the one-step stencil also tries steps larger by
    # (ε/ε₆₄)^⅐ (0.1 of the scale in float32), where rounding matters less,
    # and keeps them only where they agree with float64's (see _scaled).
    probe.larger = (eps / EPS) ** (1 / 7)
    # what a one-step bound may be next to its column, at this precision
    probe.enough = min(QUICK_ENOUGH * (eps / EPS) ** (6 / 7), 2.0**-8)
    return probe, on_kink


def _scaled(probe: _Probe, d: np.ndarray, h: float) -> Column:
    """The one-step stencil at h, or, for a function of a lower precision, at
    the larger step where it agrees with the estimate at h within both
    bounds: a larger step is far less noisy, but may step over a kink that
    its own error estimate does not see, which the smaller step then shows."""
    col = _apply(probe, d, QUICK, h)
    if probe.larger <= 1.0:
        return col
    try:
        big = _apply(probe, d, QUICK, h * probe.larger)
    except (_Crossed, OutOfDomain):
        return col
    apart = np.abs(big[0] - col[0])
    if np.all(apart <= big[1] + col[1]):
        # agreement with a looser estimate confirms the larger step's only to
        # their difference (the larger step may have crossed a kink)
        return big[0], np.maximum(big[1], apart), big[2], big[3]
    return col


def noise_floor(est: Estimate, f_largest: float, eps: float = EPS) -> np.ndarray:
    """The part of a user function's finite-difference bounds that is its
    unseen rounding alone (USER_NOISE eps of f's largest entry, ``f_largest``,
    over each entry's step, through the one-step stencil), where the
    estimate is not 0: what no choice of step improves at this precision."""
    weight = float(np.abs(QUICK.value).sum())
    value = np.asarray(est.value)
    steps = np.asarray(est.steps, dtype=np.float64)
    lead = value.ndim - steps.ndim
    with np.errstate(divide="ignore", invalid="ignore"):
        per_entry = np.where(steps > 0, 2 * weight * USER_NOISE * eps * f_largest / steps, 0.0)
    out: np.ndarray = np.where(value != 0, per_entry.reshape((1,) * lead + steps.shape), 0.0)
    return out


def refine_columns(fn: Function, w0: np.ndarray, entries: list[tuple[int, ...]],
                   eps: float = EPS) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """Tighter estimates of ∂f/∂w[i] for a few entries i of w (Richardson's
    stencil at a few steps: see :func:`jacobian_of`), each with its bound,
    and the evaluations spent: for entries whose one-step bound could not
    decide a comparison."""
    probe, _ = _user_probe(fn, w0, None, 1.0, eps)
    scale = float(np.max(np.abs(w0), initial=0.0)) or 1.0
    out = []
    for i in entries:
        col = _refined(probe, _unit(w0.shape, i), max(abs(float(w0[i])), scale))
        out.append((col[0], col[1]))
    return out, probe.calls


QUICK_ENOUGH = 2.0**-26  # a one-step bound this small next to its column needs no refining
QUICK = RICHARDSON  # the stencil of the one step
USER_ROUNDING = 4.0  # a user's f is taken to be within this many times a few eps of it ...
USER_NOISE = 64.0  # ... and within this many eps of its largest entry


def _quick(probe: _Probe, mask: np.ndarray | None) -> Estimate:
    """Entries of w by groups where their effects on f are disjoint
    (:func:`_user_groups`), else one at a time (:func:`_one_step`)."""
    groups = _user_groups(probe, mask)
    if groups is not None:
        est = _grouped_steps(probe, mask, *groups)
        if est is not None:
            return est
    return _one_step(probe, mask)


PATTERN_STEP = 2.0**-4  # the probe that finds which entries of f an entry of w moves


def _user_groups(probe: _Probe, mask: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Which entries of f each entry of w moves (found by one step of
    PATTERN_STEP of its scale, far larger than a difference step), and a
    grouping of w's entries that move disjoint entries of f (greedy,
    Curtis-Powell-Reid): (pattern as w.size × f.size booleans, group of each
    entry, -1 where fixed). None where grouping would not pay: fewer than
    two entries to a group on average, or the probe fails."""
    f0, w0 = probe.f0, probe.w0
    if w0.size < 8 or f0.size < 2:
        return None
    scale = float(np.max(np.abs(w0), initial=0.0)) or 1.0
    active = np.ones(w0.size, bool) if mask is None else np.asarray(mask, bool).ravel()
    pattern = np.zeros((w0.size, f0.size), bool)
    color = np.full(w0.size, -1)
    unions: list[np.ndarray] = []
    try:
        for k in np.flatnonzero(active):
            i = tuple(int(v) for v in np.unravel_index(k, w0.shape))
            out, _, _ = probe(_unit(w0.shape, i), PATTERN_STEP * max(abs(float(w0[i])), scale))
            moved = ~(out == f0).ravel()  # NaN counts as moved
            pattern[k] = moved
            where = np.flatnonzero(moved)
            for g, union in enumerate(unions):
                if not union[where].any():
                    union[where] = True
                    color[k] = g
                    break
            else:
                unions.append(moved.copy())
                color[k] = len(unions) - 1
    except (_Crossed, OutOfDomain, ArithmeticError, ValueError):
        return None
    if 2 * len(unions) > int(active.sum()):
        return None
    return pattern, color


def _grouped_steps(probe: _Probe, mask: np.ndarray | None, pattern: np.ndarray,
                   color: np.ndarray) -> Estimate | None:
    """Richardson's stencil along each group's sum of unit directions: each
    entry of f moved by the group belongs to one member, whose column it is.
    Entries of f an entry of w did not move are 0 there, bounded by what the
    pattern's probe could have missed (a few eps of f over its step). The
    result is confirmed along one random direction; None where it is not
    (or a step fails), for the caller to go entry by entry."""
    f0, w0 = probe.f0, probe.w0
    m, n = f0.size, w0.size
    scale = float(np.max(np.abs(w0), initial=0.0)) or 1.0
    h = QUICK.base * scale  # every entry's own scale is at most this one
    value = np.zeros((m, n))
    missed = 4 * USER_ROUNDING * EPS * np.abs(f0).ravel()[:, None] / (PATTERN_STEP * scale)
    error = np.where(pattern.T, 0.0, missed)
    try:
        for g in range(int(color.max()) + 1):
            members = np.flatnonzero(color == g)
            d = np.zeros(n)
            d[members] = 1.0
            col_value, col_error, _, _ = _scaled(probe, d.reshape(w0.shape), h)
            v, e = col_value.ravel(), col_error.ravel()
            wide = ~(e <= probe.enough * (np.abs(v).max(initial=0.0) + np.finfo(float).tiny))
            if wide.any():
                return None
            for k in members:
                rows = pattern[k]
                value[rows, k] = v[rows]
                error[rows, k] = e[rows]
        if mask is not None:
            fixed = ~np.asarray(mask, bool).ravel()
            value[:, fixed] = 0.0
            error[:, fixed] = 0.0
        # One random direction of the active entries: J·v from the columns
        # must agree with the derivative along v within both bounds.
        rng = np.random.default_rng(0)
        v = rng.choice([-1.0, 1.0], size=n) * (color >= 0)
        along, bound, _, _ = _scaled(probe, v.reshape(w0.shape), h)
    except (_Crossed, OutOfDomain):
        return None
    assembled = value @ v
    slack = error @ np.abs(v) + bound.ravel() + 4 * n * EPS * (np.abs(value) @ np.abs(v))
    if not np.all(np.abs(assembled - along.ravel()) <= slack):
        return None
    shape = f0.shape + w0.shape
    steps = np.where(color.reshape(w0.shape) >= 0, h, 0.0)
    methods = np.where(color.reshape(w0.shape) >= 0, "richardson", "fixed").astype(object)
    return Estimate(value.reshape(shape), error.reshape(shape), steps, methods, probe.calls)


def _one_step(probe: _Probe, mask: np.ndarray | None) -> Estimate:
    """Richardson's stencil at one step per entry of w (h ≈ ε^⅐ of the
    entry's scale, 6 evaluations, the O(h⁴) companion bounding the error),
    each tried again at smaller steps where that bound is not small (see
    :func:`jacobian_of`)."""
    f0, w0 = probe.f0, probe.w0
    value = zeros(f0.shape + w0.shape)
    error = zeros(value.shape)
    steps = np.zeros(w0.shape)
    methods = np.full(w0.shape, "fixed", dtype=object)
    lead = (slice(None),) * f0.ndim
    scale = float(np.max(np.abs(w0), initial=0.0)) or 1.0
    for done, i in enumerate(np.ndindex(w0.shape)):
        progress.advance("numeric", done, w0.size)
        if mask is not None and not mask[i]:
            continue
        d = _unit(w0.shape, i)
        h = QUICK.base * max(abs(float(w0[i])), scale)
        try:
            col: Column | None = _scaled(probe, d, h)
        except (_Crossed, OutOfDomain):
            col = None
        if col is not None:
            wide = ~(col[1] <= probe.enough * (np.abs(col[0]).max(initial=0.0)
                                                + np.finfo(float).tiny))
            if wide.any():
                col = None
        if col is None:
            col = _refined(probe, d, max(abs(float(w0[i])), scale))
        value[(*lead, *i)], error[(*lead, *i)], steps[i], methods[i] = col
    return Estimate(value, error, steps, methods, probe.calls)


def _refined(probe: _Probe, d: np.ndarray, size: float) -> Column:
    """Richardson's stencil at a few steps, 16 times apart, each entry of f
    taking the estimate with the smallest bound (its companion's difference
    plus rounding, never the rounding alone); the ladder where every step
    crosses a kink or leaves the domain."""
    best: Column | None = None
    for k in range(3):
        try:
            col = _apply(probe, d, RICHARDSON, RICHARDSON.base * size / 16**k)
        except (_Crossed, OutOfDomain):
            continue
        if best is None:
            best = col
            continue
        tighter = col[1] < best[1]
        best = (np.where(tighter, col[0], best[0]), np.where(tighter, col[1], best[1]),
                col[2] if tighter.any() else best[2], "richardson")
    return best if best is not None else _real(probe, d, RICHARDSON)


def _entry_by_entry(probe: _Probe, on_kink: list[Kink], method: str,
                    mask: np.ndarray | None = None) -> Estimate:
    """The Jacobian one entry of w at a time, each on its own ladder of steps
    (both sides at a kink); the evaluations spent so far with ``probe``
    count too."""
    f0, w0 = probe.f0, probe.w0
    value = zeros(f0.shape + w0.shape)
    error = zeros(value.shape)
    steps = np.zeros(w0.shape)
    methods = np.full(w0.shape, "fixed", dtype=object)
    undefined: list[Undefined] = []
    lead = (slice(None),) * f0.ndim
    for done, i in enumerate(np.ndindex(w0.shape)):
        progress.advance("numeric", done, w0.size)
        if mask is not None and not mask[i]:
            continue
        jumps: list[Jump] = []
        col = _derivative(probe, _unit(w0.shape, i), method, on_kink, jumps)
        value[(*lead, *i)], error[(*lead, *i)], steps[i], methods[i] = col
        undefined += [Undefined((*j, *i), left, right, where) for j, left, right, where in jumps]
    return Estimate(value, error, steps, methods, probe.calls, tuple(undefined))


Column = tuple[np.ndarray, np.ndarray, float, str]


def one_sided(fn: Function, w0: np.ndarray, index: tuple[int, ...], eps: float = EPS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right and left derivatives of ``fn`` along entry ``index`` of w, and
    where they differ beyond their bounds (f is not differentiable there);
    ``eps``: the precision f computes in (rounding bounds scale with it)."""
    probe, _ = _user_probe(fn, w0, None, 1.0, eps)
    d = _unit(w0.shape, index)
    right, err_r, _, _ = _real(probe, d, FORWARD)
    left, err_l, _, _ = _real(probe, d, BACKWARD)
    return right, left, _jumps(right, err_r, left, err_l)


def directional(tree: Node, wrt: str, env: Mapping[str, np.ndarray], directions: np.ndarray,
                method: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Derivatives of f along directions of w (K × w's shape): J·d for each
    (K × f's shape), their error bounds, whether f is differentiable along
    each here (not on a kink whose one-sided derivatives differ), and the
    evaluations spent."""
    method = resolve_method(tree, method)
    probe, on_kink = _probe(tree, env, wrt)
    values, errors, defined = [], [], []
    for d in np.asarray(directions, dtype=np.float64):
        jumps: list[Jump] = []
        value, error, _, _ = _derivative(probe, d, method, on_kink, jumps)
        values.append(value)
        errors.append(error)
        defined.append(not jumps)
    return np.array(values), np.array(errors), np.array(defined), probe.calls


def _derivative(probe: _Probe, d: np.ndarray, method: str, on_kink: list[Kink],
                jumps: list[Jump]) -> Column:
    if on_kink and _moves_a_kink(probe, d, on_kink):
        return _at_kink(probe, d, on_kink, jumps)
    if method == "complex":
        return _complex(probe, d)
    return _real(probe, d, STENCILS[method])


class _Probe:
    """Evaluates f at w0 + t·d for a direction d (one-hot for an entry of w),
    counting evaluations and recording which side of each kink it is on."""

    def __init__(self, fn: Function, w0: np.ndarray, f0: np.ndarray, trace0: Trace,
                 tree: Node | None, amplification: float,
                 rounding: Callable[[], Any] | None = None) -> None:
        self.fn, self.tree, self.w0, self.f0 = fn, tree, w0, f0
        self.signs0 = _signs(trace0.kinks)
        self.poles = np.concatenate([np.full(k.offset.size, not k.is_kink)
                                     for k in trace0.kinks]) if trace0.kinks else np.zeros(0, bool)
        self.calls = 1
        self.larger = 1.0  # and a larger step also tried, for a lower precision (_scaled)
        self.enough = QUICK_ENOUGH
        # Rounding bounds assume each evaluation good to a few eps of its
        # size, times this: the condition of ill-conditioned operations ...
        self.amplification = amplification
        # ... and to ``rounding`` (entry by entry): where f is known, its own
        # rounding, which a cancelling sum makes far larger than eps·|f|.
        self._rounding = rounding

    @cached_property
    def operations(self) -> int:
        """Operations in one evaluation of f (64 for a user's function)."""
        return 64 if self.tree is None else sum(1 for _ in walk(self.tree))

    @cached_property
    def rounding(self) -> Any:
        return 0.0 if self._rounding is None else self._rounding()

    def __call__(self, d: np.ndarray, t: complex) -> tuple[np.ndarray, np.ndarray, Trace]:
        self.calls += 1
        out, trace = self.fn(self.w0 + t * d)  # exact where d is 0
        return out, _signs(trace.kinks), trace


def _signs(kinks: list[Kink]) -> np.ndarray:
    if not kinks:
        return np.zeros(0)
    return np.concatenate([np.sign(k.offset).ravel() for k in kinks])


def _size(probe: _Probe, d: np.ndarray) -> float:
    """The magnitude of the entries of w that d moves."""
    return float(np.max(np.abs(probe.w0[d != 0]), initial=0.0))


def _complex(probe: _Probe, d: np.ndarray) -> Column:
    x = _size(probe, d)
    h = COMPLEX_STEP * (x if x > 0 else 1.0)
    out1, _, trace = probe(d, 1j * h)
    v1 = out1.imag / h
    v3 = probe(d, 3j * h)[0].imag / (3 * h)
    # No truncation to speak of (h² ~ 1e-40): what is left is rounding. It
    # differs between h and 3h because 3 is not a power of two, but not
    # always: cancellation inside the complex arithmetic (a saturated
    # softmax) can make both equally wrong. So a floor: a few eps of the
    # largest intermediate derivative, times the conditioning.
    return v1, _complex_bound(probe, v1, v3, trace.imag / h, h), h, "complex"


def _complex_bound(probe: _Probe, v1: np.ndarray, v3: np.ndarray, scale: Any,
                   h: Any) -> np.ndarray:
    """The complex step's bound: the steps h and 3h apart, plus a floor of a
    few eps of the largest intermediate derivative (``scale``), times the
    conditioning (see :func:`_complex`), plus what underflow can take from
    imaginary parts of the size of h (steps scale with tiny entries: a
    product of two of them underflows)."""
    underflow = probe.operations * UNDERFLOW / h
    bound: np.ndarray = (np.abs(v1 - v3) + 4 * EPS * probe.amplification * (np.abs(v1) + scale)
                         + underflow)
    return bound


UNDERFLOW = 2.0**-1073  # at most twice the least subnormal lost per operation


def _chunk(probe: _Probe, tree: Node) -> int:
    """How many points to evaluate at once: :func:`_chunk_bytes` for all the
    complex intermediate values of the stack (a few copies of each)."""
    entries = sum(n.shape[0] * n.shape[1] for n in walk(tree) if n.shape is not None)
    return max(1, _chunk_bytes(probe) // (4 * 16 * max(entries, 1)))


def _chunk_bytes(probe: _Probe) -> int:
    """Memory for one stack of points: as much as the dense Jacobian takes,
    within [MIN_CHUNK_BYTES, CHUNK_BYTES], so that a small Jacobian (a
    gradient) is not computed in far more memory than it holds."""
    return min(CHUNK_BYTES, max(MIN_CHUNK_BYTES, 8 * probe.f0.size * probe.w0.size))


Local = Callable[[np.ndarray, np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]


def _complex_stacked(probe: _Probe, chunk: int, local: Local | None = None) -> Estimate:
    """The complex step for every entry of w, a chunk of entries per
    evaluation: the points w0 + ih·e_k stacked and evaluated at once. The
    same numbers, steps and bounds as :func:`_complex` entry by entry;
    with ``local`` (entries, steps) → (Im f, largest imaginary part), the
    same up to rounding, from the imaginary parts alone."""
    w0, f0 = probe.w0, probe.f0
    n = w0.size
    value = zeros((*f0.shape, n))
    error = bound_array(value.shape)
    steps = np.zeros(n)
    for start in range(0, n, chunk):
        k = slice(start, min(n, start + chunk))
        h = _step(np.abs(w0.ravel()[k]))
        v1, bound = _stack(probe, h, _single(probe, np.arange(start, k.stop), local))
        value[..., k] = np.moveaxis(v1, 0, -1)
        store_bound(error, (..., k), np.moveaxis(bound, 0, -1))
        steps[k] = h
        progress.advance("numeric", k.stop, n)
    return _complex_estimate(probe, value, error, steps)


def _complex_grouped(probe: _Probe, chunk: int, groups: Groups) -> _Assembly | None:
    """The complex step for a group of entries of w at a time (see
    :func:`_grouped`), a chunk of groups stacked per evaluation."""
    x = np.abs(probe.w0.ravel())
    assembly = _Assembly(probe, groups)
    for start in range(0, groups.count, chunk):
        cs = np.arange(start, min(groups.count, start + chunk))
        moved = groups.color[None, :] == cs[:, None]
        h = np.where(moved, _step(x), np.inf).min(axis=1)  # small beside every member
        v1, bound = _stack(probe, h, _points(probe, moved.astype(np.float64)))
        if not assembly.add(cs, moved, v1, bound, h, "complex"):
            return None
        progress.advance("numeric", int(cs[-1]) + 1, groups.count)
    return assembly


def _real_grouped(probe: _Probe, groups: Groups, stencil: Stencil) -> _Assembly | None:
    """A stencil on its ladder of steps (:func:`_real`) along a group of
    entries of w at a time (see :func:`_grouped`). The ladder's steps scale
    with the largest entry moved and the curvature often with the entries,
    so a group is split by magnitude: entries 2^10 apart go in different
    directions."""
    size = np.abs(probe.w0.ravel())
    scale = np.floor(np.log2(np.where(size > 0, size, 2.0**-1100)) / 10)
    assembly = _Assembly(probe, groups)
    for c in range(groups.count):
        for s in np.unique(scale[groups.color == c]):
            moved = (groups.color == c) & (scale == s)
            value, error, step, name = _real(probe, moved.reshape(probe.w0.shape).astype(float),
                                             stencil)
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

    def __init__(self, probe: _Probe, groups: Groups) -> None:
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


def _step(size: np.ndarray) -> np.ndarray:
    """The complex step for entries (or groups) of w of these magnitudes."""
    step: np.ndarray = COMPLEX_STEP * np.where(size > 0, size, 1.0)
    return step


def _single(probe: _Probe, entries: np.ndarray, local: Local | None) -> Callable[
        [np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Steps th → Im f at w0 + i·th[k]·e_entries[k]: from the imaginary parts
    alone where ``local`` can, else by evaluating the complex points (which
    names an overflow)."""
    def points(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _points(probe, np.eye(len(entries), probe.w0.size, int(entries[0])))(th)

    if local is None:
        return points

    def run(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return local(entries, th) or points(th)

    return run


def _points(probe: _Probe, directions: np.ndarray) -> Callable[[np.ndarray], tuple[
        np.ndarray, np.ndarray]]:
    """Steps th → (Im f(w0 + i·th·d), largest imaginary part) for a stack of
    directions d (K × entries of w), by evaluating the K complex points."""
    def run(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = probe.w0.reshape(1, -1) + (1j * th)[:, None] * directions
        out, trace = probe.fn(w.reshape(len(th), *probe.w0.shape))
        return out.imag, np.broadcast_to(np.asarray(trace.imag), th.shape)

    return run


def _stack(probe: _Probe, h: np.ndarray, run: Callable[[np.ndarray], tuple[
        np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Im f/h at steps h for a stack of K points (``run``), and its bound
    from the same at 3h (see :func:`_complex`)."""
    f0 = probe.f0
    count = len(h)
    outs, imag = [], None
    for t in (1, 3):
        out, largest = run(t * h)
        probe.calls += count
        outs.append(out / (t * h).reshape(-1, *[1] * f0.ndim))
        imag = largest if imag is None else imag
    v1, v3 = outs
    assert imag is not None
    scale = imag / h
    shaped = (-1, *[1] * f0.ndim)
    return v1, _complex_bound(probe, v1, v3, scale.reshape(shaped), h.reshape(shaped))


def _complex_estimate(probe: _Probe, value: np.ndarray, error: np.ndarray,
                      steps: np.ndarray) -> Estimate:
    w0, f0 = probe.w0, probe.f0
    shape = (*f0.shape, *w0.shape)
    return Estimate(value.reshape(shape), error.reshape(shape), steps.reshape(w0.shape),
                    np.full(w0.shape, "complex", dtype=object), probe.calls)


def _real(probe: _Probe, d: np.ndarray, stencil: Stencil) -> Column:
    """The stencil on a ladder of steps h, h/16, h/256, …, entry by entry.

    A step that is too large fails silently (the stencil spans structure:
    a period, a pole, a steep region, and its error estimate need not
    hold); one that is too small fails honestly (rounding shows in the
    bound, so it agrees with its neighbour). So each entry of f keeps the
    tightest estimate that agrees with the one at the next larger step, and
    the ladder stops when no entry improves and bounds grow on two steps in
    a row: rounding has taken over (about 16 times per step). Where the stencil would leave the
    domain the ladder goes on down; where it would cross a kink or pole, a
    one-sided stencil is used at that step.
    """
    h = stencil.base * max(_size(probe, d), 1.0)
    last: Column | None = None
    best_value = np.zeros_like(probe.f0)
    best_error = np.full(probe.f0.shape, np.inf)
    best_step, best_name = 0.0, stencil.name
    problem: Exception | None = None
    growing = 0
    for _ in range(LADDER):
        col = None
        for s in (stencil, FORWARD, BACKWARD) if len(stencil.sides) == 2 else (stencil,):
            try:
                col = _apply(probe, d, s, h * s.base / stencil.base)
                break
            except _Crossed as e:
                problem = e
                if e.pole:  # f blows up within the step: no side of it is any better
                    break
            except OutOfDomain as e:
                problem = e
        h /= 16
        if col is None:
            continue
        value, error, step, name = col
        if last is not None:
            agree = np.abs(value - last[0]) <= error + last[1]
            tighter = error <= last[1]
            cand_value = np.where(tighter, value, last[0])
            # At least the two estimates' difference: a bound of a step too
            # large for its stencil need not hold, and agreement with a
            # loose neighbour does not confirm it to better than that.
            cand_error = np.maximum(np.where(tighter, error, last[1]), np.abs(value - last[0]))
            better = agree & (cand_error < best_error)
            if better.any():
                best_value = np.where(better, cand_value, best_value)
                best_error = np.where(better, cand_error, best_error)
                best_step, best_name = (step, name) if tighter.any() else last[2:]
            # Bounds growing as steps shrink means rounding has taken over;
            # twice in a row, since once may be a loose estimate after a
            # deceptively tight one.
            grew = np.isfinite(best_error).all() and np.all(error >= 4 * best_error)
            growing = growing + 1 if grew and not (better & tighter).any() else 0
            if growing == 2:
                break
        last = col
    if last is None:
        assert problem is not None
        raise problem if isinstance(problem, OutOfDomain) else OutOfDomain(
            _first_kink(probe), (0, 0), np.nan, "every finite-difference stencil crosses a kink")
    # Entries for which no two steps agreed: the smallest step, bounded by rounding.
    never = ~np.isfinite(best_error)
    best_value = np.where(never, last[0], best_value)
    best_error = np.where(never, last[1], best_error)
    return best_value, best_error, best_step or last[2], best_name


def _apply(probe: _Probe, d: np.ndarray, s: Stencil, h: float,
           allow_zero: bool = False) -> Column:
    # A power of two, so that x + t·h is exact for the offsets t = ±1, ±1/2, ±1/4.
    h = 2.0 ** round(np.log2(h))
    outs = []
    for t in s.offsets:
        if t == 0:
            outs.append(probe.f0)
            continue
        out, signs, _ = probe(d, t * h)
        if not _same_side(probe.signs0, signs, allow_zero):
            raise _Crossed(signs.shape == probe.signs0.shape
                           and bool((probe.poles & (signs != probe.signs0)).any()))
        outs.append(out)
    # The coefficients sum to zero, so differences to f0 give the same value
    # without the rounding of the coefficients' sum times f0.
    diffs = np.stack(outs) - probe.f0
    value = np.tensordot(s.value, diffs, axes=1) / h
    companion = np.tensordot(s.companion, diffs, axes=1) / h
    # Each evaluation is off by a few eps of its own size, f0 included; and
    # should x + t·h round after all, by |∂f/∂x|·eps·|x|.
    sizes = np.abs(np.stack(outs)) + np.abs(probe.f0)
    weight = np.abs(s.value).sum()
    carried = probe.rounding
    if probe.tree is None and np.ndim(carried) == 0:
        # A user's f: its unseen rounding (a share of its largest entry) only
        # where the evaluations moved; an entry none of them changed is not
        # computed from w's entry at all.
        carried = np.where(np.any(diffs != 0, axis=0), carried, 0.0)
    rounding = (4 * EPS * probe.amplification * np.tensordot(np.abs(s.value), sizes, axes=1)
                + 2 * EPS * _size(probe, d) * weight * np.abs(value)
                + 2 * weight * carried) / h
    return value, np.abs(value - companion) + rounding, h, s.name


def _same_side(signs0: np.ndarray, signs: np.ndarray, allow_zero: bool) -> bool:
    if allow_zero:  # at a kink: arguments at 0 may leave it, to one side
        moved = signs0 != 0
        return bool(np.array_equal(signs0[moved], signs[moved]))
    return bool(np.array_equal(signs0, signs))


Jump = tuple[tuple[int, ...], float, float, str]  # f entry, left, right, which kink


def _at_kink(probe: _Probe, d: np.ndarray, on_kink: list[Kink],
             jumps: list[Jump]) -> Column:
    """Both one-sided derivatives; where they differ, f is not differentiable."""
    sides = []
    for stencil in (FORWARD, BACKWARD):
        col = None
        for shrink in range(SHRINKS + 1):
            try:
                col = _apply(probe, d, stencil, stencil.base / 10**shrink, allow_zero=True)
                break
            except (OutOfDomain, _Crossed):
                continue
        if col is None:
            raise OutOfDomain(_first_kink(probe), (0, 0), np.nan,
                              "no one-sided stencil stays inside the domain at this kink")
        sides.append(col)
    (right, err_r, h, _), (left, err_l, _, _) = sides
    jump = _jumps(right, err_r, left, err_l)
    where = _moved_kinks(probe, d, h, on_kink)
    for idx in map(tuple, np.argwhere(jump)):
        jumps.append((tuple(map(int, idx)), float(left[idx]), float(right[idx]), where))
    value = np.where(jump, (left + right) / 2, right)
    return value, np.where(jump, np.abs(right - left) / 2, err_r), h, "one-sided"


def _moves_a_kink(probe: _Probe, d: np.ndarray, on_kink: list[Kink]) -> bool:
    """Whether a step along d moves an argument that sits on its kink: if not,
    f is differentiable along d whatever the other entries (a ReLU layer at
    [[0, 1e-20]] along its second entry), and the usual stencils apply."""
    h = 2.0**-40 * max(_size(probe, d), 1.0)
    for t in (h, -h):
        after = {id(k.node): k.offset for k in probe(d, t)[2].kinks}
        if any(((k.offset == 0) & (after.get(id(k.node), k.offset) != 0)).any()
               for k in on_kink):
            return True
    return False


def _moved_kinks(probe: _Probe, d: np.ndarray, h: float, on_kink: list[Kink]) -> str:
    """Which kinks at the point a step along d moves off their kink."""
    w = probe.w0 + h * d
    after = {id(k.node): k.offset for k in probe.fn(w)[1].kinks}
    names = []
    for k in on_kink:
        moved = np.argwhere((k.offset == 0) & (after.get(id(k.node), k.offset) != 0))
        names += [f"{render(k.node)} at its kink in entry [{i},{j}]" for i, j in moved]
    return "; ".join(names) or "a kink"


def _first_kink(probe: _Probe) -> Call:
    calls = [n for n in (walk(probe.tree) if probe.tree is not None else [])
             if isinstance(n, Call) and ops.OPS[n.op].kink is not None]
    return calls[0] if calls else Call("relu", ())

