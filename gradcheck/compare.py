"""Judge, entry by entry, the exact, numeric and claimed derivatives.

Two questions per entry: do the engines agree (|exact - numeric| within
the tolerance plus the numeric error bound), and does the claim agree with
the truth (|claimed - exact| within the tolerance)? The tolerance is
``atol + rtol·|exact| + SCALE·m``, where m is the largest |exact| in the
entry's row or column of the Jacobian (the same entry of f, or the same
entry of w): a rounding floor, so that a claim computed in float64 is not
failed for noise in entries that should be 0 or nearly, while a relative
error of 1e-6 is still caught in entries a million times smaller than their
row and column, and in any entry of a row or column of its own. The claim
is judged against the exact value, not the estimate; without an exact value
it is judged against the estimate with the estimate's error bound added.

>>> import numpy as np
>>> v = compare(np.array([[2.0, 1.0]]), np.array([[2.0, 1.0]]), np.zeros((1, 2)),
...             np.array([[2.0, 1.0001]]), atol=1e-10, rtol=1e-7)
>>> [(m.index, m.kind) for m in v.mismatches]
[((0, 1), 'claim')]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCALE", "Comparison", "Mismatch", "bound_name", "compare", "compare_directions",
           "rounding_floor"]

SCALE = 2.0**10 * float(np.finfo(np.float64).eps)  # ≈ 2.3e-13, relative to max|exact|


@dataclass(frozen=True)
class Mismatch:
    """One entry that disagrees.

    ``kind`` is ``"claim"`` (the claimed value is wrong), ``"engines"``
    (the exact and numeric derivatives disagree: a kink, a badly scaled
    point, or a bug in gradcheck) or ``"direction"`` (the same, for the
    random projection uᵀJv number ``index[0]``, with ``--directions``).
    ``error`` is the absolute difference that exceeded ``tolerance``;
    ``bound`` names the largest term of that tolerance: ``atol``, ``rtol``,
    ``scale`` (the rounding floor) or ``fd`` (the numeric error bound).
    """

    variable: str
    index: tuple[int, ...]
    kind: str
    exact: float | None
    numeric: float
    claimed: float | None
    error: float
    tolerance: float
    bound: str = "atol"
    upstream: int | None = None  # for check_function: which random upstream gradient


@dataclass(frozen=True)
class Comparison:
    mismatches: tuple[Mismatch, ...]
    max_abs_diff: float  # max |exact - numeric|
    max_rel_diff: float  # max |exact - numeric| / |exact| over entries with exact != 0
    max_claim_error: float | None  # max |claimed - truth|, or None without a claim
    entries: int


def compare(exact: np.ndarray | None, numeric: np.ndarray | None,
            numeric_error: np.ndarray | None, claimed: np.ndarray | None, *, atol: float,
            rtol: float, variable: str = "w", skip: np.ndarray | None = None) -> Comparison:
    """Compare arrays of one layout; see the module docstring for the rule.

    Entries where ``skip`` is true (f is not differentiable there) are not
    judged. Without ``numeric`` (the engines are compared by directions
    instead) only the claim is judged.
    """
    ref = exact if exact is not None else numeric
    assert ref is not None
    keep = np.ones(ref.shape, dtype=bool) if skip is None else ~skip
    shown = numeric if numeric is not None else np.full(ref.shape, np.nan)
    floor = rounding_floor(np.where(keep, ref, 0.0))
    out: dict[tuple[int, ...], Mismatch] = {}
    max_abs = max_rel = float("nan")
    if exact is not None and numeric is not None and numeric_error is not None:
        diff = np.abs(exact - numeric)
        terms = np.stack(np.broadcast_arrays(atol, rtol * np.abs(exact), floor, numeric_error))
        for idx in _bad(diff, terms, keep):  # NaN counts as disagreement
            out[idx] = Mismatch(variable, idx, "engines", float(exact[idx]), float(numeric[idx]),
                                None if claimed is None else float(claimed[idx]),
                                float(diff[idx]), float(terms.sum(axis=0)[idx]),
                                bound_name(terms, idx))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(exact != 0, diff / np.abs(exact), 0.0)
        max_abs, max_rel = _max(diff[keep]), _max(rel[keep])
    claim_error = None
    if claimed is not None:
        truth, fd = (exact, 0.0) if exact is not None else (numeric, numeric_error)
        assert truth is not None and fd is not None
        cdiff = np.abs(claimed - truth)
        terms = np.stack(np.broadcast_arrays(atol, rtol * np.abs(truth), floor, fd))
        for idx in _bad(cdiff, terms, keep):  # a wrong claim replaces an engines note
            out[idx] = Mismatch(variable, idx, "claim",
                                None if exact is None else float(exact[idx]), float(shown[idx]),
                                float(claimed[idx]), float(cdiff[idx]),
                                float(terms.sum(axis=0)[idx]), bound_name(terms, idx))
        claim_error = _max(cdiff[keep])
    mismatches = tuple(out[k] for k in sorted(out))
    return Comparison(mismatches, max_abs, max_rel, claim_error, int(ref.size))


def rounding_floor(jac: np.ndarray) -> np.ndarray:
    """SCALE times the largest |entry| in each entry's row or column (for a
    Jacobian f.shape + w.shape); for a gradient, in the whole gradient."""
    a = np.abs(jac)
    if a.ndim != 4:
        return np.full(a.shape, SCALE * float(a.max(initial=0.0)))
    flat = a.reshape(a.shape[0] * a.shape[1], -1)
    m = np.maximum(flat.max(axis=1, keepdims=True), flat.max(axis=0, keepdims=True))
    floor: np.ndarray = SCALE * m.reshape(a.shape)
    return floor


def _bad(diff: np.ndarray, terms: np.ndarray, keep: np.ndarray) -> list[tuple[int, ...]]:
    return [_ints(tuple(i)) for i in np.argwhere(~(diff <= terms.sum(axis=0)) & keep)]


def compare_directions(exact: np.ndarray, numeric: np.ndarray, error: np.ndarray,
                       scale: np.ndarray, *, atol: float, rtol: float,
                       variable: str = "w") -> tuple[Mismatch, ...]:
    """Judge K projections uᵀJv, exact against numeric. ``scale`` is
    Σ|u||J||v|: the relative tolerance applies to it, since the projection
    itself may cancel to near zero."""
    terms = np.stack(np.broadcast_arrays(atol, rtol * scale, SCALE * scale, error))
    tol = terms.sum(axis=0)
    diff = np.abs(exact - numeric)
    return tuple(Mismatch(variable, (int(k),), "direction", float(exact[k]), float(numeric[k]),
                          None, float(diff[k]), float(tol[k]), bound_name(terms, (int(k),)))
                 for k in np.flatnonzero(~(diff <= tol)))


def bound_name(terms: np.ndarray, idx: tuple[int, ...]) -> str:
    """The largest term of a tolerance (atol, rtol, scale, fd stacked) at an entry."""
    at_entry = [float(t[idx]) for t in terms]
    return ("atol", "rtol", "scale", "fd")[int(np.argmax(at_entry))]


def _ints(idx: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in idx)


def _max(a: np.ndarray) -> float:
    return float(np.max(a)) if a.size else 0.0
