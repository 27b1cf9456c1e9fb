"""Finite differences of the user's own code, which may round more than gradcheck's engines:
one Richardson step per column (grouped where a probe finds the pattern), scaled for the
precision f computes in, refined where its bound is too wide to judge.
"""

from __future__ import annotations

import numpy as np

from gradcheck import progress
from gradcheck.language.tree import Node
from gradcheck.numeric.estimate import Column, Estimate, Function
from gradcheck.numeric.ladder import (
    apply_stencil,
    differing_sides,
    real_column,
    refined,
    tight,
)
from gradcheck.numeric.probe import QUICK_ENOUGH, Crossed, Probe, start, unit
from gradcheck.numeric.stencils import BACKWARD, EPS, FORWARD, RICHARDSON
from gradcheck.values.evaluate import Kink, OutOfDomain
from gradcheck.values.sparse import zeros

__all__ = ["PATTERN_STEP", "QUICK", "USER_NOISE", "USER_ROUNDING", "noise_floor", "one_sided",
           "quick", "refine_columns", "scaled", "user_probe"]


def user_probe(fn: Function, w0: np.ndarray, tree: Node | None,
               amplification: float, eps: float = EPS) -> tuple[Probe, list[Kink]]:
    # Inside a user's function rounding is out of sight (sin(x@W) near a zero
    # of sin is off by eps·|x@W|, far more than eps·|f|): allow a few eps of
    # each entry of f, and USER_NOISE eps of the largest.
    probe, on_kink = start(fn, w0, tree, (amplification if tree is not None
                                           else max(amplification, USER_ROUNDING)) * eps / EPS)
    if tree is None:
        probe._rounding = lambda: USER_NOISE * eps * float(np.abs(probe.f0).max(initial=0.0))
    # For a lower precision the one-step stencil also tries steps larger by
    # (ε/ε₆₄)^⅐ (0.1 of the scale in float32), where rounding matters less,
    # and keeps them only where they agree with float64's (see scaled).
    probe.larger = (eps / EPS) ** (1 / 7)
    # what a one-step bound may be next to its column, at this precision
    probe.enough = min(QUICK_ENOUGH * (eps / EPS) ** (6 / 7), 2.0**-8)
    return probe, on_kink


def scaled(probe: Probe, d: np.ndarray, h: float) -> Column:
    """The one-step stencil at h, or, for a function of a lower precision, at
    the larger step where it agrees with the estimate at h within both
    bounds: a larger step is far less noisy, but may step over a kink that
    its own error estimate does not see, which the smaller step then shows."""
    col = apply_stencil(probe, d, QUICK, h)
    if probe.larger <= 1.0:
        return col
    try:
        big = apply_stencil(probe, d, QUICK, h * probe.larger)
    except (Crossed, OutOfDomain):
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
    probe, _ = user_probe(fn, w0, None, 1.0, eps)
    scale = float(np.max(np.abs(w0), initial=0.0)) or 1.0
    out = []
    for i in entries:
        col = refined(probe, unit(w0.shape, i), max(abs(float(w0[i])), scale))
        out.append((col[0], col[1]))
    return out, probe.calls


QUICK = RICHARDSON  # the stencil of the one step
USER_ROUNDING = 4.0  # a user's f is taken to be within this many times a few eps of it ...
USER_NOISE = 64.0  # ... and within this many eps of its largest entry


def quick(probe: Probe, mask: np.ndarray | None) -> Estimate:
    """Entries of w by groups where their effects on f are disjoint
    (:func:`_user_groups`), else one at a time (:func:`_one_step`)."""
    groups = _user_groups(probe, mask)
    if groups is not None:
        est = _grouped_steps(probe, mask, *groups)
        if est is not None:
            return est
    return _one_step(probe, mask)


PATTERN_STEP = 2.0**-4  # the probe that finds which entries of f an entry of w moves


def _user_groups(probe: Probe, mask: np.ndarray | None
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
            out, _, _ = probe(unit(w0.shape, i), PATTERN_STEP * max(abs(float(w0[i])), scale))
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
    except (Crossed, OutOfDomain, ArithmeticError, ValueError):
        return None
    if 2 * len(unions) > int(active.sum()):
        return None
    return pattern, color


def _grouped_steps(probe: Probe, mask: np.ndarray | None, pattern: np.ndarray,
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
            col_value, col_error, _, _ = scaled(probe, d.reshape(w0.shape), h)
            v, e = col_value.ravel(), col_error.ravel()
            if not tight(probe, v, e):
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
        along, bound, _, _ = scaled(probe, v.reshape(w0.shape), h)
    except (Crossed, OutOfDomain):
        return None
    assembled = value @ v
    slack = error @ np.abs(v) + bound.ravel() + 4 * n * EPS * (np.abs(value) @ np.abs(v))
    if not np.all(np.abs(assembled - along.ravel()) <= slack):
        return None
    shape = f0.shape + w0.shape
    steps = np.where(color.reshape(w0.shape) >= 0, h, 0.0)
    methods = np.where(color.reshape(w0.shape) >= 0, "richardson", "fixed").astype(object)
    return Estimate(value.reshape(shape), error.reshape(shape), steps, methods, probe.calls)


def _one_step(probe: Probe, mask: np.ndarray | None) -> Estimate:
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
        d = unit(w0.shape, i)
        h = QUICK.base * max(abs(float(w0[i])), scale)
        try:
            col: Column | None = scaled(probe, d, h)
        except (Crossed, OutOfDomain):
            col = None
        if col is not None and not tight(probe, col[0], col[1]):
            col = None
        if col is None:
            col = refined(probe, d, max(abs(float(w0[i])), scale))
        value[(*lead, *i)], error[(*lead, *i)], steps[i], methods[i] = col
    return Estimate(value, error, steps, methods, probe.calls)


def one_sided(fn: Function, w0: np.ndarray, index: tuple[int, ...], eps: float = EPS
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right and left derivatives of ``fn`` along entry ``index`` of w, and
    where they differ beyond their bounds (f is not differentiable there);
    ``eps``: the precision f computes in (rounding bounds scale with it)."""
    probe, _ = user_probe(fn, w0, None, 1.0, eps)
    d = unit(w0.shape, index)
    right, err_r, _, _ = real_column(probe, d, FORWARD)
    left, err_l, _, _ = real_column(probe, d, BACKWARD)
    return right, left, differing_sides(right, err_r, left, err_l)
