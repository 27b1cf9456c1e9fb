"""The function being differentiated, at its point: f as a function of one variable's entries,
its value, kinks, scale and rounding, and the memory a stacked evaluation may take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from gradcheck.language.tree import Node, walk
from gradcheck.numeric.estimate import Function
from gradcheck.values import bounded
from gradcheck.values.evaluate import Kink, Trace, evaluate_traced

__all__ = ["CHUNK_BYTES", "MIN_CHUNK_BYTES", "QUICK_ENOUGH", "UNDERFLOW", "Crossed", "Probe",
           "chunk_bytes", "chunk_size", "probe_of", "start", "step_size", "unit"]


CHUNK_BYTES = 64 * 2**20  # memory for the points of one stacked evaluation, at most
MIN_CHUNK_BYTES = 2**20  # ... and at least, however small the Jacobian


class Crossed(Exception):
    """The stencil crossed a kink, or a pole (``pole``) (internal)."""

    def __init__(self, pole: bool = False) -> None:
        super().__init__()
        self.pole = pole


def probe_of(tree: Node, env: Mapping[str, np.ndarray], wrt: str) -> tuple[Probe, list[Kink]]:
    """A probe of f at the point ``env`` along entries of ``wrt``, and the
    kinks that sit exactly there. Its rounding (see :class:`Probe`) is
    computed when a real stencil first asks for it."""
    return start(_tree_function(tree, env, wrt), np.asarray(env[wrt], dtype=np.float64), tree,
                  _amplification(tree, env), lambda: bounded.rounding(tree, env))


def _amplification(tree: Node, env: Mapping[str, np.ndarray]) -> float:
    """The conditioning of the evaluation at the point, measured once."""
    return evaluate_traced(tree, env, conditioning=True)[1].amplification


def start(fn: Function, w0: np.ndarray, tree: Node | None, amplification: float = 1.0,
          rounding: Callable[[], Any] | None = None) -> tuple[Probe, list[Kink]]:
    """A probe at w0, and the kinks that sit exactly at w0."""
    f0, trace0 = fn(w0)
    on_kink = [k for k in trace0.kinks if k.is_kink and (k.offset == 0).any()]
    return Probe(fn, w0, f0, trace0, tree, amplification, rounding), on_kink


def unit(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    d = np.zeros(shape)
    d[index] = 1.0
    return d


def _tree_function(tree: Node, env: Mapping[str, np.ndarray], wrt: str) -> Function:
    def f(w: np.ndarray) -> tuple[np.ndarray, Trace]:
        return evaluate_traced(tree, {**env, wrt: w})

    return f


QUICK_ENOUGH = 2.0**-26  # a one-step bound this small next to its column needs no refining


class Probe:
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
        self.larger = 1.0  # and a larger step also tried, for a lower precision (scaled)
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


def step_size(probe: Probe, d: np.ndarray) -> float:
    """The magnitude of the entries of w that d moves."""
    return float(np.max(np.abs(probe.w0[d != 0]), initial=0.0))


UNDERFLOW = 2.0**-1073  # at most twice the least subnormal lost per operation


def chunk_size(probe: Probe, tree: Node) -> int:
    """How many points to evaluate at once: :func:`chunk_bytes` for all the
    complex intermediate values of the stack (a few copies of each)."""
    entries = sum(n.shape[0] * n.shape[1] for n in walk(tree) if n.shape is not None)
    return max(1, chunk_bytes(probe) // (4 * 16 * max(entries, 1)))


def chunk_bytes(probe: Probe) -> int:
    """Memory for one stack of points: as much as the dense Jacobian takes,
    within [MIN_CHUNK_BYTES, CHUNK_BYTES], so that a small Jacobian (a
    gradient) is not computed in far more memory than it holds."""
    return min(CHUNK_BYTES, max(MIN_CHUNK_BYTES, 8 * probe.f0.size * probe.w0.size))
