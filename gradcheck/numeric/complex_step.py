"""The complex step: Im f(w + ihd)/h for many directions d at once, with its error bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck import progress
from gradcheck.numeric.estimate import Column, Estimate
from gradcheck.numeric.probe import UNDERFLOW, Probe, step_size
from gradcheck.numeric.stencils import EPS
from gradcheck.values.sparse import bound_array, store_bound, zeros

__all__ = ["COMPLEX_STEP", "Local", "complex_column", "complex_stacked", "points_along", "stacked",
           "step_sizes"]


COMPLEX_STEP = 1e-20  # relative: far below rounding, far above underflow


def complex_column(probe: Probe, d: np.ndarray) -> Column:
    x = step_size(probe, d)
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


def _complex_bound(probe: Probe, v1: np.ndarray, v3: np.ndarray, scale: Any,
                   h: Any) -> np.ndarray:
    """The complex step's bound: the steps h and 3h apart, plus a floor of a
    few eps of the largest intermediate derivative (``scale``), times the
    conditioning (see :func:`complex_column`), plus what underflow can take from
    imaginary parts of the size of h (steps scale with tiny entries: a
    product of two of them underflows)."""
    underflow = probe.operations * UNDERFLOW / h
    bound: np.ndarray = (np.abs(v1 - v3) + 4 * EPS * probe.amplification * (np.abs(v1) + scale)
                         + underflow)
    return bound


Local = Callable[[np.ndarray, np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]


def complex_stacked(probe: Probe, chunk: int, local: Local | None = None) -> Estimate:
    """The complex step for every entry of w, a chunk of entries per
    evaluation: the points w0 + ih·e_k stacked and evaluated at once. The
    same numbers, steps and bounds as :func:`complex_column` entry by entry;
    with ``local`` (entries, steps) → (Im f, largest imaginary part), the
    same up to rounding, from the imaginary parts alone."""
    w0, f0 = probe.w0, probe.f0
    n = w0.size
    value = zeros((*f0.shape, n))
    error = bound_array(value.shape)
    steps = np.zeros(n)
    for start in range(0, n, chunk):
        k = slice(start, min(n, start + chunk))
        h = step_sizes(np.abs(w0.ravel()[k]))
        v1, bound = stacked(probe, h, _single(probe, np.arange(start, k.stop), local))
        value[..., k] = np.moveaxis(v1, 0, -1)
        store_bound(error, (..., k), np.moveaxis(bound, 0, -1))
        steps[k] = h
        progress.advance("numeric", k.stop, n)
    return _complex_estimate(probe, value, error, steps)


def step_sizes(size: np.ndarray) -> np.ndarray:
    """The complex step for entries (or groups) of w of these magnitudes."""
    step: np.ndarray = COMPLEX_STEP * np.where(size > 0, size, 1.0)
    return step


def _single(probe: Probe, entries: np.ndarray, local: Local | None) -> Callable[
        [np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Steps th → Im f at w0 + i·th[k]·e_entries[k]: from the imaginary parts
    alone where ``local`` can, else by evaluating the complex points (which
    names an overflow)."""
    def points(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return points_along(probe, np.eye(len(entries), probe.w0.size, int(entries[0])))(th)

    if local is None:
        return points

    def run(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return local(entries, th) or points(th)

    return run


def points_along(probe: Probe, directions: np.ndarray) -> Callable[[np.ndarray], tuple[
        np.ndarray, np.ndarray]]:
    """Steps th → (Im f(w0 + i·th·d), largest imaginary part) for a stack of
    directions d (K × entries of w), by evaluating the K complex points."""
    def run(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = probe.w0.reshape(1, -1) + (1j * th)[:, None] * directions
        out, trace = probe.fn(w.reshape(len(th), *probe.w0.shape))
        return out.imag, np.broadcast_to(np.asarray(trace.imag), th.shape)

    return run


def stacked(probe: Probe, h: np.ndarray, run: Callable[[np.ndarray], tuple[
        np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Im f/h at steps h for a stack of K points (``run``), and its bound
    from the same at 3h (see :func:`complex_column`)."""
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


def _complex_estimate(probe: Probe, value: np.ndarray, error: np.ndarray,
                      steps: np.ndarray) -> Estimate:
    w0, f0 = probe.w0, probe.f0
    shape = (*f0.shape, *w0.shape)
    return Estimate(value.reshape(shape), error.reshape(shape), steps.reshape(w0.shape),
                    np.full(w0.shape, "complex", dtype=object), probe.calls)
