"""Words and names the text and the exported reports share.

>>> entries_of(1), entries_of(3)
('1 entry', '3 entries')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.compare.comparator import Mismatch
from gradcheck.values.layout import label
from gradcheck.values.sparse import Sparse

__all__ = ["METHOD_NAMES", "entries_of", "entry_label", "largest"]

METHOD_NAMES = {"complex": "complex step", "one-sided": "one-sided differences at a kink"}


def entry_label(m: Mismatch) -> str:
    """``∂f[1,0]/∂z[1,0]``, or ``∂f/∂z[1,0]`` for a gradient."""
    if m.kind == "direction":
        return f"uᵀ(∂f/∂{m.variable})v, direction {m.index[0]}"
    return label(m.index, m.variable)


def largest(a: Any, where: Any = True) -> float:
    """The largest |entry| (of those ``where`` says), of an array or of a
    Sparse's stored entries (the rest are 0)."""
    values = a.values if isinstance(a, Sparse) else a
    return max(float(np.max(values, where=where, initial=0.0)),
               -float(np.min(values, where=where, initial=0.0)))


def entries_of(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"
