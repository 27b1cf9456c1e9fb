"""Turn a claimed derivative into the Jacobian layout, or say why it can't be.

A claim is an expression of the language, an array, or a callable that
takes every variable as a keyword argument (a NumPy array) and returns an
array, such as a hand-written backward pass. For a 1×1 f it is
the gradient (w's shape). For a matrix f it is the full Jacobian
(f.shape + w.shape, or flattened to (f.size, w.size) row-major), or, where
f is elementwise in w (its Jacobian is diagonal, like the seed's
``A + 1``), the elementwise derivative with w's shape. A claim of a
smaller shape broadcasts (``1`` for the derivative of ``z + c``).

>>> import numpy as np
>>> layout(np.array([[2.0, 1.0]]), f_shape=(1, 2), w_shape=(1, 2), elementwise=True)[1]
'elementwise'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gradcheck.errors import ClaimError, GradcheckError
from gradcheck.exact import closed_eval, elements, symbolic
from gradcheck.exact.engine import AUTO_MATRIX
from gradcheck.language.parser import parse
from gradcheck.language.shapes import broadcast, fmt, infer
from gradcheck.language.tree import Shape, render, walk
from gradcheck.values.evaluate import OutOfDomain
from gradcheck.values.evaluate import evaluate as evaluate_numpy
from gradcheck.values.value import Value

__all__ = ["evaluate", "evaluate_bounded", "layout", "real_array"]


def evaluate(claim: Any, values: Mapping[str, Value]) -> np.ndarray:
    """The claim's value at the point (:func:`evaluate_bounded` without the bound)."""
    return evaluate_bounded(claim, values)[0]


def evaluate_bounded(claim: Any, values: Mapping[str, Value]) -> tuple[np.ndarray,
                                                                        np.ndarray | None]:
    """The claim's value at the point, and a bound on its own error where it
    has one (None: exact, or taken as given). An expression string is
    evaluated exactly (with symengine at a rational point, else SymPy) and
    certified to its last digit (for matrices of more than AUTO_MATRIX
    entries, with NumPy: exact fractions where affordable, else float64
    with a running bound, certified by ball arithmetic where that bound is
    too wide); a callable is called with
    the variables as keyword arguments; an array is taken as it is.

    Raises:
        ClaimError: the claim is not a real array (complex values included:
            the derivative of a real function is real).
    """
    if isinstance(claim, str):
        tree = parse(claim)
        try:
            typed = infer(tree, {n: v.shape for n, v in values.items()}, text=claim)
        except GradcheckError as e:
            e.message = f"in the claimed derivative: {e.message}"
            raise
        try:
            evaluate_numpy(typed.tree, {n: v.array for n, v in values.items()})
        except OutOfDomain as e:
            raise ClaimError(f"the claimed derivative is undefined at this point: "
                             f"'{render(e.node)}' is outside its domain", text=claim,
                             column=e.node.at + 1, detail=e.reason,
                             hint="check the claim, or choose a point where it is defined"
                             ) from None
        sizes = (n.shape[0] * n.shape[1] for n in walk(typed.tree) if n.shape is not None)
        if max(sizes, default=1) > AUTO_MATRIX:
            return closed_eval.evaluate_bounded(typed.tree, values)
        if all(v.rational for v in values.values()):
            built = elements.build(typed.tree, {n: elements.matrix(v)
                                                for n, v in values.items()})
            rows, cols = typed.shape
            value, error = elements.certify(elements.entries(built))
            value, error = value.reshape(rows, cols), error.reshape(rows, cols)
        else:  # values such as sqrt(2): SymPy's
            value, error = symbolic.certified(symbolic.build(
                typed.tree, {n: v.exact for n, v in values.items()}))
        return value, (None if not error.any() and not np.isnan(error).any() else error)
    if callable(claim):
        try:
            claim = claim(**{n: v.array.copy() for n, v in values.items()})
        except Exception as e:
            raise ClaimError(f"the claimed derivative raised {type(e).__name__}: {e}",
                             hint="it is called with every variable as a keyword argument "
                                  f"({', '.join(values)}) and must return an array") from e
    value = real_array(claim, "the claimed derivative")
    return value, _low_precision_bound(claim, value)


# A claim computed in a lower precision than float64 (a float32 array) is taken
# to be within this many of its own eps of its largest entry: it cannot be
# judged to float64's tolerance, only to its own.
LOW_PRECISION_ROUNDING = 2.0**7


def _low_precision_bound(claim: Any, value: np.ndarray) -> np.ndarray | None:
    dtype = getattr(claim, "dtype", None)
    if dtype is None or np.dtype(dtype).kind != "f" or np.dtype(dtype).itemsize >= 8:
        return None
    eps = float(np.finfo(dtype).eps)
    scale = float(np.abs(value).max(initial=0.0))
    return np.full(value.shape, LOW_PRECISION_ROUNDING * eps * scale)


def real_array(claim: Any, what: str) -> np.ndarray:
    """A claim (or a user's gradient) as a 2-D float64 array (or 4-D, as
    given); complex values are refused, never cut to their real part."""
    if hasattr(claim, "detach") and hasattr(claim, "numpy"):  # a torch tensor
        claim = claim.detach().cpu().numpy()
    try:
        raw = np.asarray(claim)
    except (TypeError, ValueError):
        raw = None
    if raw is not None and np.iscomplexobj(raw):
        raise ClaimError(f"{what} has complex values",
                         detail="the derivative of a real function of real matrices is real",
                         hint="return real values (if the imaginary parts are rounding noise, "
                              "take .real yourself)")
    try:
        array = np.array(claim, dtype=np.float64)
    except (TypeError, ValueError):
        raise ClaimError(f"{what} is not a real array: {claim!r:.60}",
                         hint="give an expression string, an array or a callable") from None
    return array.reshape(1, -1) if array.ndim == 1 else array.reshape(1, 1) if \
        array.ndim == 0 else array


def layout(claim: np.ndarray, *, f_shape: Shape, w_shape: Shape,
           elementwise: bool, name: str = "w") -> tuple[np.ndarray, str]:
    """The claim in gradcheck's layout, and its form: ``gradient``,
    ``jacobian`` or ``elementwise``.

    Raises:
        ClaimError: the shape fits no form, or the claim has w's shape but f
            is not elementwise in w.
    """
    cs = claim.shape
    if f_shape == (1, 1):
        if cs == (1, 1, *w_shape):
            return claim.reshape(w_shape), "gradient"
        if len(cs) == 2 and broadcast(cs, w_shape) == w_shape:
            return np.broadcast_to(claim, w_shape).copy(), "gradient"
        hint = f"give a {fmt(w_shape)} matrix"
        if len(cs) == 2 and cs == w_shape[::-1]:
            hint = (f"a {_fmt(cs)} claim is the gradient transposed (numerator layout); "
                    f"gradcheck's gradient has {name}'s shape, {fmt(w_shape)} (denominator "
                    "layout): transpose the claim, (…).T")
        raise ClaimError(f"the claimed gradient for '{name}' has shape {_fmt(cs)}",
                         detail=f"f is 1×1, so its gradient has the shape of {name}: "
                                f"{fmt(w_shape)}", hint=hint)
    full = (*f_shape, *w_shape)
    flat = (f_shape[0] * f_shape[1], w_shape[0] * w_shape[1])
    if cs == full:
        return claim.copy(), "jacobian"
    if cs == flat:
        return claim.reshape(full), "jacobian"
    if len(cs) == 2 and f_shape == w_shape and broadcast(cs, w_shape) == w_shape:
        if not elementwise:
            raise ClaimError(
                f"f is not elementwise in '{name}', so a claim of {name}'s shape is ambiguous",
                detail=f"∂f[i,j]/∂{name}[k,l] is not zero for some (i,j) != (k,l), so the "
                       f"derivative is a {fmt(flat)} Jacobian, not a {fmt(w_shape)} matrix",
                hint=f"claim the full Jacobian ({fmt(flat)}, rows f[i,j], columns "
                     f"{name}[k,l]) or check a scalar such as sum(f)")
        diag = np.zeros(full)
        values = np.broadcast_to(claim, w_shape)
        for i in range(w_shape[0]):
            for j in range(w_shape[1]):
                diag[i, j, i, j] = values[i, j]
        return diag, "elementwise"
    forms = [f"the Jacobian {fmt(flat)} (or {_fmt(full)})"]
    if f_shape == w_shape:
        forms.append(f"the elementwise derivative {fmt(w_shape)}")
    hint = "give " + " or ".join(forms)
    if cs == flat[::-1]:
        hint = (f"a {_fmt(cs)} claim is the Jacobian in denominator layout (a row per entry "
                f"of {name}); gradcheck's Jacobian has a row per entry of f (numerator layout, "
                f"{fmt(flat)}): transpose the claim, (…).T")
    raise ClaimError(f"the claimed derivative for '{name}' has shape {_fmt(cs)}",
                     detail=f"f is {fmt(f_shape)} and {name} is {fmt(w_shape)}", hint=hint)


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)
