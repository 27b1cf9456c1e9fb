"""The exact derivative at the point, from the engine asked for: SymPy over the entries (the
reference) or the closed form, certified or bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from gradcheck.errors import OptionError
from gradcheck.exact import closed_eval, closed_form, symbolic
from gradcheck.language.shapes import Typed
from gradcheck.language.tree import walk
from gradcheck.values.sparse import dense
from gradcheck.values.value import Value

__all__ = ["ENGINES", "SYMPY_ENTRIES", "Truth", "exact_at"]

ENGINES = ("auto", "sympy", "closed")
# engine="auto" keeps the elementwise SymPy engine (the reference) while the
# Jacobian has at most this many entries and no matrix more than SYMPY_MATRIX.
SYMPY_ENTRIES = 1024


@dataclass(frozen=True, eq=False)
class Truth:
    """The exact derivative at the point, from one engine or the other."""

    value: Any  # floats, gradcheck's layout (or a Sparse, where asked for)
    error: Any  # a bound on value's error (closed form in float64), or None
    values: Any  # exact SymPy values, where available
    expressions: Any  # SymPy expressions in the entries of w (the SymPy engine)
    elementwise: bool
    engine: str  # "sympy" or "closed form"
    exactness: str  # "exact" or "float64"
    closed: closed_form.Derivative | None


def exact_at(typed: Typed, values: Mapping[str, Value], name: str, engine: str,
             sparse: bool = False) -> Truth:
    """The exact derivative of ``typed`` by ``name`` at ``values``, from
    ``engine`` (one of :data:`ENGINES`; ``auto`` is SymPy for Jacobians up to
    :data:`SYMPY_ENTRIES` entries, the closed form beyond), as a Sparse where
    ``sparse`` asks and the closed form allows."""
    tree = typed.tree
    try:
        closed: closed_form.Derivative | None = closed_form.derive(tree, name)
    except closed_form.Unsupported:
        closed = None
    if engine == "closed" and closed is None:
        raise OptionError("the closed-form engine does not cover matrix literals whose "
                          f"entries depend on '{name}'", hint="use engine 'sympy' or 'auto'")
    w_size = values[name].array.size
    f_rows, f_cols = typed.shape
    largest = max(n.shape[0] * n.shape[1] for n in walk(tree) if n.shape is not None)
    small = f_rows * f_cols * w_size <= SYMPY_ENTRIES and largest <= symbolic.SYMPY_MATRIX
    if closed is not None and (engine == "closed" or (engine == "auto" and not small)):
        j = closed_eval.jacobian(closed, values, sparse)
        exact = None
        if j.fractions is not None and j.fractions.size <= SYMPY_ENTRIES:
            exact = symbolic.from_fractions(dense(j.fractions))
        return Truth(j.value, j.error, exact, None, closed.form == "elementwise",
                      "closed form", j.exactness, closed)
    at, jac = _sympy(typed, values, name)
    floats, errors = symbolic.certified(at)
    return Truth(floats, errors if errors.any() or np.isnan(errors).any() else None, at, jac,
                 symbolic.is_elementwise(jac, typed.shape, values[name].shape),
                 "sympy", "exact", closed)


def _sympy(typed: Typed, values: Mapping[str, Value], name: str) -> tuple[Any, Any]:
    """The Jacobian at the point (exact SymPy values) and as expressions."""
    w = symbolic.symbols(name, values[name].shape)
    env: dict[str, sympy.MatrixBase] = {n: v.exact for n, v in values.items()}
    env[name] = w
    jac = symbolic.jacobian(symbolic.build(typed.tree, env), w)
    at = dict(zip(w, values[name].exact, strict=False))
    return symbolic.evaluate(jac, at), jac
