"""The exact derivative at the point, from the engine asked for: SymPy over the entries (the
reference) or the closed form, certified or bounded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.errors import LimitError, OptionError
from gradcheck.exact import closed_eval, closed_form, elements, symbolic
from gradcheck.language.shapes import Typed
from gradcheck.language.tree import walk
from gradcheck.lazy import sympy
from gradcheck.limits import current
from gradcheck.values.sparse import dense
from gradcheck.values.value import Value

__all__ = ["AUTO_MATRIX", "AUTO_TERMS", "AUTO_WORK", "ENGINES", "SYMPY_ENTRIES", "Truth",
           "exact_at"]

ENGINES = ("auto", "sympy", "symengine", "closed")
# engine="auto" runs the element-level engine on symengine (the reference) where
# its work is affordable (:func:`_affordable`), with the closed form beside it
# as a cross-check, and the closed form alone beyond.
SYMPY_ENTRIES = 1024
# The element-level engine's work that auto affords: operations in the
# expressions of f's entries (counted as trees) times the entries of w that
# they are differentiated by, and the operations any one matrix may have.
AUTO_WORK = 400_000
AUTO_TERMS = 20_000
AUTO_MATRIX = 256  # entries of the largest matrix


@dataclass(frozen=True, eq=False)
class Truth:
    """The exact derivative at the point, from one engine or the other."""

    value: Any  # floats, gradcheck's layout (or a Sparse, where asked for)
    error: Any  # a bound on value's error (closed form in float64), or None
    values: Any  # exact SymPy values (or an elements.Lazy of them), where available
    expressions: Any  # SymPy expressions in the entries of w (the element-level engines)
    elementwise: bool
    engine: str  # "sympy", "symengine" or "closed form"
    exactness: str  # "exact" or "float64"
    closed: closed_form.Derivative | None
    # How the other engines took part: "agrees" (the closed form, evaluated
    # beside the element-level engine, gave the same values), "disagrees"
    # (and is not shown: a defect of gradcheck), or why auto fell back.
    note: str | None = None


def exact_at(typed: Typed, values: Mapping[str, Value], name: str, engine: str,
             sparse: bool = False) -> Truth:
    """The exact derivative of ``typed`` by ``name`` at ``values``, from
    ``engine`` (one of :data:`ENGINES`; ``auto`` is the element-level engine
    on symengine where its work is affordable, cross-checked by the closed
    form, and the closed form beyond; a limit one engine meets falls back
    to the other), as a Sparse where ``sparse`` asks and the closed form allows."""
    tree = typed.tree
    try:
        closed: closed_form.Derivative | None = closed_form.derive(tree, name)
    except closed_form.Unsupported:
        closed = None
    if engine == "closed" and closed is None:
        raise OptionError("the closed-form engine does not cover matrix literals whose "
                          f"entries depend on '{name}'", hint="use engine 'sympy' or 'auto'")
    if engine == "closed":
        return _closed(closed, values, sparse)  # type: ignore[arg-type]
    if engine == "sympy":
        return _sympy(typed, values, name, closed)
    rational = all(v.rational for v in values.values())
    if engine == "symengine":
        if not rational:
            raise OptionError("the symengine engine takes rational points only",
                              hint="use engine 'sympy' for values such as pi/4")
        return _elements(typed, values, name, closed)
    note = None
    if _affordable(typed, values, name):
        try:
            if rational:
                return _cross_checked(_elements(typed, values, name, closed, auto=True),
                                      values, closed)
            return _sympy(typed, values, name, closed)  # exact at points such as sqrt(2)
        except LimitError as e:
            if closed is None:
                raise
            note = f"the element-level engine stopped ({e.message}): the closed form alone"
    if closed is not None:
        return dataclasses.replace(_closed(closed, values, sparse), note=note)
    return _sympy(typed, values, name, closed)


def _affordable(typed: Typed, values: Mapping[str, Value], name: str) -> bool:
    """Whether the element-level engine's work may be affordable, before
    building anything: the Jacobian's entries and the largest matrix."""
    f_rows, f_cols = typed.shape
    largest = max(n.shape[0] * n.shape[1] for n in walk(typed.tree) if n.shape is not None)
    return f_rows * f_cols * values[name].array.size <= SYMPY_ENTRIES \
        and largest <= AUTO_MATRIX


def _closed(closed: closed_form.Derivative, values: Mapping[str, Value], sparse: bool) -> Truth:
    j = closed_eval.jacobian(closed, values, sparse)
    exact = None
    if j.fractions is not None and j.fractions.size <= SYMPY_ENTRIES:
        exact = symbolic.from_fractions(dense(j.fractions))
    return Truth(j.value, j.error, exact, None, closed.form == "elementwise",
                 "closed form", j.exactness, closed)


def _cross_checked(truth: Truth, values: Mapping[str, Value],
                   closed: closed_form.Derivative | None) -> Truth:
    """The element-level engine's truth, with the closed form evaluated beside
    it: where the two disagree beyond the closed form's own bound, the
    closed form is wrong (the element-level engine is the reference) and
    is not shown."""
    if closed is None:
        return truth
    try:
        other = closed_eval.jacobian(closed, values)
    except (ArithmeticError, ValueError):  # a value the closed form's arithmetic cannot take
        return truth
    mine = dense(truth.value)
    allowed = (0 if other.error is None else dense(other.error)) \
        + (0 if truth.error is None else np.nan_to_num(dense(truth.error)))
    theirs = dense(other.value)
    same = np.isclose(theirs, mine, rtol=2.0**-40, atol=0) | (np.abs(theirs - mine) <= allowed) \
        | ~np.isfinite(mine)
    if same.all():
        return dataclasses.replace(truth, note="agrees")
    return dataclasses.replace(truth, closed=None, note="disagrees")


def _sympy(typed: Typed, values: Mapping[str, Value], name: str,
           closed: closed_form.Derivative | None) -> Truth:
    """The Jacobian at the point (exact SymPy values) and as expressions."""
    w = symbolic.symbols(name, values[name].shape)
    env: dict[str, sympy.MatrixBase] = {n: v.exact for n, v in values.items()}
    env[name] = w
    jac = symbolic.jacobian(symbolic.build(typed.tree, env), w)
    at = symbolic.evaluate(jac, dict(zip(w, values[name].exact, strict=False)))
    floats, errors = symbolic.certified(at)
    return Truth(floats, errors if errors.any() or np.isnan(errors).any() else None, at, jac,
                 symbolic.is_elementwise(jac, typed.shape, values[name].shape),
                 "sympy", "exact", closed)


def _elements(typed: Typed, values: Mapping[str, Value], name: str,
              closed: closed_form.Derivative | None, auto: bool = False) -> Truth:
    """The element-level engine on symengine: values exact (certified floats),
    expressions converted to SymPy's only when read (:class:`elements.Lazy`).
    For ``auto``, within :data:`AUTO_TERMS` and :data:`AUTO_WORK`."""
    w_shape = values[name].shape
    w = elements.symbols(name, w_shape)
    env = {n: elements.matrix(v) for n, v in values.items() if n != name}
    env[name] = w
    terms = min(current().terms, AUTO_TERMS) if auto else current().terms
    f = elements.build(typed.tree, env, terms)
    if auto:
        elements.afford(f, w, AUTO_WORK, typed.tree)
    flat = elements.jacobian(f, w, elements.kinked(typed.tree))
    point = dict(zip(elements.entries(w), elements.entries(elements.matrix(values[name])),
                     strict=True))
    at = elements.evaluate(flat, point)
    floats, errors = elements.certify(at)
    shape = w_shape if typed.shape == (1, 1) else (*typed.shape, *w_shape)
    elementwise = elements.is_elementwise(flat, typed.shape, w_shape)
    return Truth(floats.reshape(shape),
                 errors.reshape(shape) if errors.any() or np.isnan(errors).any() else None,
                 elements.Lazy(tuple(at), shape), elements.Lazy(tuple(flat), shape),
                 elementwise, "symengine", "exact", closed)
