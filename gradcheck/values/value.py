"""One variable's value at the point of a check: float64, and exact.

>>> import numpy as np
>>> Value(None, np.array([[0.5, 0.1]])).exact
Matrix([[1/2, 3602879701896397/36028797018963968]])
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from gradcheck.language.tree import Shape
from gradcheck.lazy import sympy

__all__ = ["Value"]


@dataclass(frozen=True, eq=False)
class Value:
    """One variable's value: float64, and exact. A value given as floats is
    exactly those floats, as rationals: ``given`` and ``fractions`` are None.
    A rational value given exactly (``1/3``) keeps its fractions (an object
    array of :class:`~fractions.Fraction`), any other (``sqrt(2)``) its SymPy
    matrix in ``given``; :attr:`exact`, the SymPy matrix, is built when
    first needed (at 128×128 that takes a second)."""

    given: sympy.ImmutableMatrix | None
    array: np.ndarray
    fractions: np.ndarray | None = None

    @cached_property
    def exact(self) -> sympy.ImmutableMatrix:
        if self.given is not None:
            return self.given
        if self.fractions is not None:
            return sympy.ImmutableMatrix(*self.fractions.shape, [
                sympy.Rational(q.numerator, q.denominator) for q in self.fractions.flat])
        return sympy.ImmutableMatrix(*self.array.shape, [_rational(v) for v in self.array.flat])

    @property
    def rational(self) -> bool:
        """Whether every entry is a rational number (not π, √2, …)."""
        return self.given is None or all(e.is_Rational for e in self.given)

    @property
    def shape(self) -> Shape:
        rows, cols = self.array.shape
        return int(rows), int(cols)


def _rational(v: float) -> sympy.Rational:
    q = Fraction(float(v))
    return sympy.Rational(q.numerator, q.denominator)
