"""Jacobians known to be 0 outside a pattern, and arrays made from them
only when read.

Where :mod:`gradcheck.language.structure` groups the entries of w, both engines
confirm that every entry outside the dependence pattern is exactly 0
(each checks the values it computed). Only the pattern's entries are then
stored and compared: for F = X@Y with X, Y n×n that is n³ of ∂F/∂X's n⁴
entries. :class:`Sparse` holds them; :class:`Dense` is an attribute that
stores either an array or a Sparse and gives an array when read, built the
first time.

>>> s = Sparse((2, 2), np.array([0, 0]), np.array([1, 2]), np.array([5.0, 7.0]))
>>> s.dense().tolist()
[[0.0, 5.0], [7.0, 0.0]]
>>> s.index(1), float(s.at(2)), float(s.at(3))
((1, 0), 7.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LARGE", "Dense", "Sparse", "bound_array", "store_bound", "zeros"]


def zeros(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """``np.zeros``, written at once: an array that is then filled in
    scattered order would take a page fault per page touched, ten times
    the time of writing it in order."""
    out = np.empty(shape, dtype=dtype)
    out.fill(0)
    return out


def bound_array(shape: tuple[int, ...]) -> np.ndarray:
    """Zeros to hold error bounds: float64, or float32 for Jacobians of more
    than LARGE entries (a bound needs few digits; see :func:`store_bound`)."""
    return zeros(shape, np.float32 if int(np.prod(shape)) > LARGE else np.float64)


def store_bound(out: np.ndarray, key: Any, bound: np.ndarray) -> None:
    """``out[key] = bound``, rounded up where ``out`` is float32: still a bound."""
    if out.dtype == np.float32:
        # Round to nearest after raising by 2^-22: at least the float64 value;
        # and no positive bound underflows to 0.
        up = (bound * (1 + 2.0**-22)).astype(np.float32)
        bound = np.where((up == 0) & (bound > 0), np.float32(2.0**-149), up)
    out[key] = bound


LARGE = 2**20


@dataclass(frozen=True, eq=False)
class Sparse:
    """An array of gradcheck's layout ``shape`` read as a grid of (f's
    entries) × (w's entries), or one row for a gradient: ``values[k]`` at
    grid row ``rows[k]`` (ascending), column ``cols[k]``, 0 everywhere else."""

    shape: tuple[int, ...]
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray

    @property
    def grid(self) -> tuple[int, int]:
        m = self.shape[0] * self.shape[1] if len(self.shape) == 4 else 1
        return m, int(np.prod(self.shape)) // m

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def dense(self) -> np.ndarray:
        out = zeros(self.grid, self.values.dtype)
        out[self.rows, self.cols] = self.values
        return out.reshape(self.shape)

    def index(self, k: int) -> tuple[int, ...]:
        """The layout index of stored entry k."""
        flat = int(self.rows[k]) * self.grid[1] + int(self.cols[k])
        return tuple(int(i) for i in np.unravel_index(flat, self.shape))

    def at(self, flat: int) -> Any:
        """The entry at a flat index of the layout (0 off the pattern)."""
        row, col = divmod(flat, self.grid[1])
        lo, hi = np.searchsorted(self.rows, [row, row + 1])  # rows ascend
        hit = np.flatnonzero(self.cols[lo:hi] == col)
        return self.values[lo + hit[0]] if hit.size else self.values.dtype.type(0)

    def like(self, values: np.ndarray) -> Sparse:
        """Other values on the same pattern (their bounds, say)."""
        return Sparse(self.shape, self.rows, self.cols, values)

    def same_pattern(self, other: Sparse) -> bool:
        return (self.shape == other.shape and np.array_equal(self.rows, other.rows)
                and np.array_equal(self.cols, other.cols))


def dense(a: Any) -> Any:
    """``a`` as an array if it is a Sparse; anything else as it is."""
    return a.dense() if isinstance(a, Sparse) else a


class Dense:
    """An attribute holding an array, or a Sparse made into one when first
    read (then kept): results stay small until someone reads them. Set on
    a dataclass after it is made (its ``__init__`` then stores through it).
    """

    def __init__(self, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if isinstance(value, Sparse):
            value = obj.__dict__[self.slot] = value.dense()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value

    def stored(self, obj: Any) -> Any:
        """What the field holds, without making an array of it."""
        return obj.__dict__[self.slot]
