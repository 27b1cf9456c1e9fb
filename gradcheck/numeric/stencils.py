"""Finite-difference formulas, one row each, as coefficient vectors.

Each stencil estimates f'(x) as ``sum(c_i * f(x + t_i*h)) / h`` and carries
a *companion*, a lower-order estimate from the same evaluations: the
difference of the two bounds the error of the value (the companion's error
is the larger). The coefficients come from the formulas below by feeding
them unit vectors, so a formula is written once, readably.

>>> CENTRAL.offsets, CENTRAL.value.tolist()
((1.0, -1.0, 2.0, -2.0), [0.5, -0.5, 0.0, 0.0])
>>> float(RICHARDSON.value @ [t**3 for t in RICHARDSON.offsets])  # exact on x³: f'(0) = 0
0.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BACKWARD", "CENTRAL", "FORWARD", "RICHARDSON", "STENCILS", "Stencil"]

EPS = float(np.finfo(np.float64).eps)

Formula = Callable[[dict[float, float]], float]  # f at each offset (h = 1) -> derivative


@dataclass(frozen=True)
class Stencil:
    """A difference formula. ``offsets`` are multiples of the step h (0 is
    the base point, which costs no evaluation); ``base`` is h relative to the
    scale of the entry, chosen so that truncation and rounding balance."""

    name: str
    offsets: tuple[float, ...]
    value: np.ndarray
    companion: np.ndarray
    base: float
    sides: tuple[int, ...]  # which sides of x it evaluates on: (1, -1), (1,) or (-1,)

    @property
    def evaluations(self) -> int:
        return sum(1 for t in self.offsets if t != 0)


def _stencil(name: str, offsets: tuple[float, ...], value: Formula, companion: Formula,
             base: float) -> Stencil:
    def coefficients(formula: Formula) -> np.ndarray:
        unit = np.eye(len(offsets))
        return np.array([formula(dict(zip(offsets, row, strict=True))) for row in unit])

    sides = tuple(sorted({int(np.sign(t)) for t in offsets if t != 0}, reverse=True))
    return Stencil(name, offsets, coefficients(value), coefficients(companion), base, sides)


def _central(f: dict[float, float], s: float) -> float:
    return (f[s] - f[-s]) / (2 * s)


def _richardson(f: dict[float, float]) -> tuple[float, float]:
    # Central differences at h, h/2, h/4; two rounds of Richardson extrapolation
    # remove the h² and h⁴ terms. Returns (O(h⁶) value, O(h⁴) companion).
    d1, d2, d4 = _central(f, 1), _central(f, 0.5), _central(f, 0.25)
    r_a, r_b = (4 * d2 - d1) / 3, (4 * d4 - d2) / 3
    return (16 * r_b - r_a) / 15, r_b


def _one_sided(f: dict[float, float], sign: float) -> tuple[float, float]:
    # Differences on one side at h, h/2, h/4 (errors in h, h², …), extrapolated
    # twice. Returns (O(h³) value, O(h²) companion).
    def d(s: float) -> float:
        return sign * (f[sign * s] - f[0.0]) / s

    r_a, r_b = 2 * d(0.5) - d(1), 2 * d(0.25) - d(0.5)
    return (4 * r_b - r_a) / 3, r_b


CENTRAL = _stencil("central", (1.0, -1.0, 2.0, -2.0),
                   lambda f: _central(f, 1), lambda f: _central(f, 2), EPS ** (1 / 3))
RICHARDSON = _stencil("richardson", (1.0, -1.0, 0.5, -0.5, 0.25, -0.25),
                      lambda f: _richardson(f)[0], lambda f: _richardson(f)[1], EPS ** (1 / 7))
FORWARD = _stencil("forward", (0.0, 1.0, 0.5, 0.25),
                   lambda f: _one_sided(f, 1)[0], lambda f: _one_sided(f, 1)[1], EPS ** (1 / 4))
BACKWARD = _stencil("backward", (0.0, -1.0, -0.5, -0.25),
                    lambda f: _one_sided(f, -1)[0], lambda f: _one_sided(f, -1)[1],
                    EPS ** (1 / 4))

STENCILS = {s.name: s for s in (CENTRAL, RICHARDSON, FORWARD, BACKWARD)}
