"""Judge, entry by entry, the exact, numeric and claimed derivatives.

Two questions per entry: do the engines agree (|exact - numeric| within
``atol + rtol·|exact|`` plus the finite-difference error bound), and does
the claim agree with the truth (|claimed - exact| within
``atol + rtol·|exact|``)? The claim is judged against the exact value, not
the estimate, so it gets the tight tolerance; without an exact value it is
judged against the estimate with the estimate's error bound added.

>>> import numpy as np
>>> v = compare(np.array([[2.0, 1.0]]), np.array([[2.0, 1.0]]), np.zeros((1, 2)),
...             np.array([[2.0, 1.0001]]), atol=1e-10, rtol=1e-7)
>>> [(m.index, m.kind) for m in v.mismatches]
[((0, 1), 'claim')]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Comparison", "Mismatch", "compare"]


@dataclass(frozen=True)
class Mismatch:
    """One entry that disagrees.

    ``kind`` is ``"claim"`` (the claimed value is wrong) or ``"engines"``
    (the exact and numeric derivatives disagree: a kink, a badly scaled
    point, or a bug in gradcheck). ``error`` is the absolute difference that
    exceeded ``tolerance``; ``bound`` names the largest term of that
    tolerance: ``atol``, ``rtol`` or ``fd`` (the finite-difference error bound).
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


@dataclass(frozen=True)
class Comparison:
    mismatches: tuple[Mismatch, ...]
    max_abs_diff: float  # max |exact - numeric|
    max_rel_diff: float  # max |exact - numeric| / |exact| over entries with exact != 0
    max_claim_error: float | None  # max |claimed - truth|, or None without a claim
    entries: int


def compare(exact: np.ndarray | None, numeric: np.ndarray, numeric_error: np.ndarray,
            claimed: np.ndarray | None, *, atol: float, rtol: float,
            variable: str = "w", skip: np.ndarray | None = None) -> Comparison:
    """Compare arrays of one layout; see the module docstring for the rule.

    Entries where ``skip`` is true (f is not differentiable there) are not judged.
    """
    keep = np.ones(numeric.shape, dtype=bool) if skip is None else ~skip
    out: list[Mismatch] = []
    if exact is not None:
        diff = np.abs(exact - numeric)
        terms = np.stack(np.broadcast_arrays(atol, rtol * np.abs(exact), numeric_error))
        tol = terms.sum(axis=0)
        bad = ~(diff <= tol) & keep  # NaN counts as disagreement
        for idx in map(tuple, np.argwhere(bad)):
            out.append(Mismatch(variable, _ints(idx), "engines", float(exact[idx]),
                                float(numeric[idx]),
                                None if claimed is None else float(claimed[idx]),
                                float(diff[idx]), float(tol[idx]), _bound(terms, idx)))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(exact != 0, diff / np.abs(exact), 0.0)
        max_abs, max_rel = _max(diff[keep]), _max(rel[keep])
    else:
        max_abs = max_rel = float("nan")
    claim_error = None
    if claimed is not None:
        truth = exact if exact is not None else numeric
        cdiff = np.abs(claimed - truth)
        fd = np.zeros_like(truth) if exact is not None else numeric_error
        cterms = np.stack(np.broadcast_arrays(atol, rtol * np.abs(truth), fd))
        ctol = cterms.sum(axis=0)
        bad = ~(cdiff <= ctol) & keep
        taken = {m.index for m in out}
        for idx in map(tuple, np.argwhere(bad)):
            key = _ints(idx)
            # A wrong claim is the headline; drop an engines note at the same entry.
            out = [m for m in out if m.index != key] if key in taken else out
            out.append(Mismatch(variable, key, "claim",
                                None if exact is None else float(exact[idx]),
                                float(numeric[idx]), float(claimed[idx]), float(cdiff[idx]),
                                float(ctol[idx]), _bound(cterms, idx)))
        claim_error = _max(cdiff[keep])
    out.sort(key=lambda m: m.index)
    return Comparison(tuple(out), max_abs, max_rel, claim_error, int(numeric.size))


def _bound(terms: np.ndarray, idx: tuple[int, ...]) -> str:
    at_entry = [float(t[idx]) for t in terms]
    return ("atol", "rtol", "fd")[int(np.argmax(at_entry))]


def _ints(idx: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in idx)


def _max(a: np.ndarray) -> float:
    return float(np.max(a)) if a.size else 0.0
