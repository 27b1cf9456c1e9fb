"""Real stencils on a ladder of steps (Richardson, central, forward, backward), each estimate
with a bound from the steps' agreement, and one-sided differences beside a kink.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.language import ops
from gradcheck.language.tree import Call, render, walk
from gradcheck.numeric.complex_step import complex_column
from gradcheck.numeric.estimate import Column
from gradcheck.numeric.probe import Crossed, Probe, step_size
from gradcheck.numeric.stencils import BACKWARD, EPS, FORWARD, RICHARDSON, STENCILS, Stencil
from gradcheck.values.evaluate import Kink, OutOfDomain

__all__ = ["LADDER", "SHRINKS", "Jump", "apply_stencil", "at_kink", "column", "differing_sides",
           "real_column", "refined", "tight"]


SHRINKS = 6  # times a one-sided step at a kink may shrink tenfold to stay in the domain
LADDER = 12  # steps tried, each 16 times smaller than the last (16^12 ≈ 3e14)


def differing_sides(right: np.ndarray, err_r: np.ndarray, left: np.ndarray,
                    err_l: np.ndarray) -> np.ndarray:
    """Where one-sided derivatives differ beyond their bounds: not differentiable."""
    jump: np.ndarray = np.abs(right - left) > err_r + err_l + 1e-8 * np.maximum(
        np.abs(right), np.abs(left))
    return jump


def refined(probe: Probe, d: np.ndarray, size: float) -> Column:
    """Richardson's stencil at a few steps, 16 times apart, each entry of f
    taking the estimate with the smallest bound (its companion's difference
    plus rounding, never the rounding alone); the ladder where every step
    crosses a kink or leaves the domain."""
    best: Column | None = None
    growing = 0
    for k in range(LADDER):
        if k >= 3 and (best is None or growing >= 2 or tight(probe, best[0], best[1])):
            break  # beyond three steps only while a kink within the step keeps bounds wide
        try:
            col = apply_stencil(probe, d, RICHARDSON, RICHARDSON.base * size / 16**k)
        except (Crossed, OutOfDomain):
            continue
        if best is None:
            best = col
            continue
        tighter = col[1] < best[1]
        growing = 0 if tighter.any() else growing + 1
        best = (np.where(tighter, col[0], best[0]), np.where(tighter, col[1], best[1]),
                col[2] if tighter.any() else best[2], "richardson")
    return best if best is not None else real_column(probe, d, RICHARDSON)


def tight(probe: Probe, value: np.ndarray, error: np.ndarray) -> bool:
    """Whether every bound of a column is small next to the column (``probe.enough``
    of its largest entry; a NaN bound is not)."""
    return bool(np.all(error <= probe.enough * (np.abs(value).max(initial=0.0)
                                                + np.finfo(float).tiny)))


def column(probe: Probe, d: np.ndarray, method: str, on_kink: list[Kink],
           jumps: list[Jump]) -> Column:
    if on_kink and _moves_a_kink(probe, d, on_kink):
        return at_kink(probe, d, on_kink, jumps)
    if method == "complex":
        return complex_column(probe, d)
    return real_column(probe, d, STENCILS[method])


def real_column(probe: Probe, d: np.ndarray, stencil: Stencil) -> Column:
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
    h = stencil.base * max(step_size(probe, d), 1.0)
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
                col = apply_stencil(probe, d, s, h * s.base / stencil.base)
                break
            except Crossed as e:
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


def apply_stencil(probe: Probe, d: np.ndarray, s: Stencil, h: float,
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
            raise Crossed(signs.shape == probe.signs0.shape
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
                + 2 * EPS * step_size(probe, d) * weight * np.abs(value)
                + 2 * weight * carried) / h
    error = np.abs(value - companion) + rounding
    if s is RICHARDSON and probe.tree is None:
        error = error + _kink_within(diffs, sizes, carried, probe.amplification, h)
    return value, error, h, s.name


# Second differences S(t) = f(t·h) + f(-t·h) - 2 f(0) grow as t² (and t⁴, …) for
# a smooth f, but as t beside a kink closer than the step: this combination of
# RICHARDSON's evaluations at t = 1, 1/2, 1/4 removes the t² and t⁴ terms and
# leaves 7/16 of the jump in slope times h. A kink very close to the point,
# which every central difference straddles alike, is invisible to the
# agreement of the estimates; it is not to this.
_KINK = {1.0: -1 / 16, 0.5: 1.25, 0.25: -4.0}
_AT = {t: k for k, t in enumerate(RICHARDSON.offsets)}  # offset -> row of the evaluations


def _kink_within(diffs: np.ndarray, sizes: np.ndarray, carried: Any, amplification: float,
                 h: float) -> np.ndarray:
    """The slope's jump that a user function's Richardson evaluations show
    (0 where it is within their rounding): what the central estimate may be
    off by, beside a kink within the step."""
    combination = sum(w * (diffs[_AT[t]] + diffs[_AT[-t]]) for t, w in _KINK.items())
    noise = sum(abs(w) * (4 * EPS * amplification * (sizes[_AT[t]] + sizes[_AT[-t]])
                          + 4 * np.asarray(carried)) for t, w in _KINK.items())
    excess: np.ndarray = np.maximum(np.abs(combination) - 4 * noise, 0.0) * (16 / 7) / h
    return excess


def _same_side(signs0: np.ndarray, signs: np.ndarray, allow_zero: bool) -> bool:
    if allow_zero:  # at a kink: arguments at 0 may leave it, to one side
        moved = signs0 != 0
        return bool(np.array_equal(signs0[moved], signs[moved]))
    return bool(np.array_equal(signs0, signs))


Jump = tuple[tuple[int, ...], float, float, str]  # f entry, left, right, which kink


def at_kink(probe: Probe, d: np.ndarray, on_kink: list[Kink],
            jumps: list[Jump]) -> Column:
    """Both one-sided derivatives; where they differ, f is not differentiable."""
    sides = []
    for stencil in (FORWARD, BACKWARD):
        col = None
        for shrink in range(SHRINKS + 1):
            try:
                col = apply_stencil(probe, d, stencil, stencil.base / 10**shrink, allow_zero=True)
                break
            except (OutOfDomain, Crossed):
                continue
        if col is None:
            raise OutOfDomain(_first_kink(probe), (0, 0), np.nan,
                              "no one-sided stencil stays inside the domain at this kink")
        sides.append(col)
    (right, err_r, h, _), (left, err_l, _, _) = sides
    jump = differing_sides(right, err_r, left, err_l)
    where = _moved_kinks(probe, d, h, on_kink)
    for idx in map(tuple, np.argwhere(jump)):
        jumps.append((tuple(map(int, idx)), float(left[idx]), float(right[idx]), where))
    value = np.where(jump, (left + right) / 2, right)
    return value, np.where(jump, np.abs(right - left) / 2, err_r), h, "one-sided"


def _moves_a_kink(probe: Probe, d: np.ndarray, on_kink: list[Kink]) -> bool:
    """Whether a step along d moves an argument that sits on its kink: if not,
    f is differentiable along d whatever the other entries (a ReLU layer at
    [[0, 1e-20]] along its second entry), and the usual stencils apply."""
    h = 2.0**-40 * max(step_size(probe, d), 1.0)
    for t in (h, -h):
        after = {id(k.node): k.offset for k in probe(d, t)[2].kinks}
        if any(((k.offset == 0) & (after.get(id(k.node), k.offset) != 0)).any()
               for k in on_kink):
            return True
    return False


def _moved_kinks(probe: Probe, d: np.ndarray, h: float, on_kink: list[Kink]) -> str:
    """Which kinks at the point a step along d moves off their kink."""
    w = probe.w0 + h * d
    after = {id(k.node): k.offset for k in probe.fn(w)[1].kinks}
    names = []
    for k in on_kink:
        moved = np.argwhere((k.offset == 0) & (after.get(id(k.node), k.offset) != 0))
        names += [f"{render(k.node)} at its kink in entry [{i},{j}]" for i, j in moved]
    return "; ".join(names) or "a kink"


def _first_kink(probe: Probe) -> Call:
    calls = [n for n in (walk(probe.tree) if probe.tree is not None else [])
             if isinstance(n, Call) and ops.OPS[n.op].kink is not None]
    return calls[0] if calls else Call("relu", ())
