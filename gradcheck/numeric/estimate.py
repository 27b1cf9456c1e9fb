"""What the numeric engine returns: an estimate of a Jacobian with an error bound on every
entry, and the entries where f is not differentiable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.values.evaluate import Trace

__all__ = ["Column", "Estimate", "Function", "Undefined"]


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


Function = Callable[[np.ndarray], tuple[np.ndarray, Trace]]
Column = tuple[np.ndarray, np.ndarray, float, str]
