"""The result of a check: plain data, rendered by :mod:`gradcheck.report` (which
installs its renderers in :data:`VIEWS` when imported, as ``import gradcheck`` does).

>>> import gradcheck
>>> r = gradcheck.check("sum(z * z)", at={"z": [[1, 2]]})
>>> r.passed, r.exact.tolist()
(True, [[2.0, 4.0]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.compare.comparator import Comparison, Mismatch
from gradcheck.compare.diagnose import Diagnosis
from gradcheck.exact.elements import Lazy
from gradcheck.language.shapes import Reading
from gradcheck.language.tree import Shape
from gradcheck.numeric.estimate import Undefined
from gradcheck.values.sparse import Dense

__all__ = ["VIEWS", "CheckResult", "ClosedForm", "Directions", "Gradient"]


@dataclass
class Views:
    """How results show themselves, installed by :mod:`gradcheck.report.formats`."""

    render: Callable[[CheckResult, str], str] | None = None
    as_dict: Callable[[CheckResult], dict[str, Any]] | None = None
    html: Callable[[CheckResult], str] | None = None


VIEWS = Views()


@dataclass(frozen=True)
class ClosedForm:
    """The exact derivative as an expression of the language, whatever the sizes.

    ``form`` says how to read ``text``: ``gradient`` (f is 1×1),
    ``elementwise`` (f is elementwise in w: the Jacobian's diagonal, with
    w's shape) or ``vjp`` (the vector-Jacobian product ∂⟨G, f⟩/∂w, linear
    in the matrix ``cotangent`` of f's shape: Jacobian row (i, j) is its
    value at G = E_ij).
    """

    text: str
    latex: str
    form: str
    cotangent: str = "G"

    def __str__(self) -> str:
        if self.form == "vjp":
            return f"∂⟨{self.cotangent}, f⟩/∂w = {self.text}"
        return self.text


@dataclass(frozen=True, eq=False)
class Directions:
    """K random projections uᵀJv, checked instead of the full numeric Jacobian.

    ``u`` (K × f's shape) and ``v`` (K × w's shape) have entries ±1;
    ``scale`` is Σ|u||J||v|, the size the relative tolerance applies to;
    ``defined`` is False for a projection along which f has a kink here.
    """

    u: np.ndarray
    v: np.ndarray
    exact: np.ndarray
    numeric: np.ndarray
    error: np.ndarray
    scale: np.ndarray
    defined: np.ndarray


@dataclass(frozen=True, eq=False)
class Gradient:
    """The check of ∂f/∂w for one variable w.

    Arrays have gradcheck's layout: ``J[i,j,k,l] = ∂f[i,j]/∂w[k,l]``
    (f.shape + w.shape), or w's shape when f is 1×1.

    Where both engines found the same structure (:mod:`gradcheck.values.sparse`),
    ``exact``, ``numeric`` and their bounds are kept as their nonzero
    entries and become arrays when first read.
    """

    name: str
    shape: Shape
    exact: np.ndarray
    exact_values: Any  # the same as exact SymPy numbers (rationals where the point is rational)
    numeric: np.ndarray | None  # None when checked by random directions
    numeric_error: np.ndarray | None  # bound on |numeric - true derivative|, entry by entry
    claimed: np.ndarray | None
    claim_form: str | None  # "gradient", "jacobian" or "elementwise"
    claim_text: str | None
    elementwise: bool  # f is elementwise in w: the Jacobian is diagonal
    comparison: Comparison
    evaluations: int  # function evaluations spent by the numeric engine
    methods: tuple[str, ...] = ()  # numeric methods used ("complex", "richardson", ...)
    undefined: tuple[Undefined, ...] = ()  # entries where f is not differentiable (a kink)
    directions: Directions | None = None
    diagnosis: Diagnosis | None = None  # the mistake that explains a wrong claim
    engine: str = "sympy"  # which engine computed exact: "sympy", "symengine" or "closed form"
    # How the other exact engine took part: "agrees" (the closed form, evaluated
    # beside the element-level engine, gave the same values), "disagrees" (it
    # is not shown), or why auto fell back to the closed form.
    engine_note: str | None = None
    exactness: str = "exact"  # "exact", or "float64" with exact_error bounding it
    exact_error: np.ndarray | None = None  # bound on |exact - true derivative| (float64)
    closed_form: ClosedForm | None = None  # the derivative as an expression, where one exists

    @property
    def verdict(self) -> str:
        """``fail`` (a disagreement beyond every bound), ``undecided`` (no
        disagreement, but some entry's error bounds are too wide to tell
        right from wrong, or no entry could be judged: every one at a kink),
        or ``pass``."""
        if self.comparison.mismatches:
            return "fail"
        # Where the numeric bound is not a number, the engines cannot be
        # compared: no verdict without a claim; a claim is still judged against
        # the exact value (certified), and only its own undecided entries count.
        kinds = {m.kind for m in self.comparison.undecided}
        claim_judged = self.claimed is not None and len(self.comparison.undecided) \
            == self.comparison.undecided_count
        if ("claim" in kinds or (self.comparison.undecided_count and not claim_judged)) or (
                self.directions is None and len(self.undefined) >= self.comparison.entries):
            return "undecided"
        if self.directions is not None and not self.directions.defined.any() \
                and self.claimed is None:
            return "undecided"
        return "pass"

    @property
    def passed(self) -> bool:
        """True only for a ``pass`` verdict (not for ``undecided``)."""
        return self.verdict == "pass"

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        return self.comparison.mismatches

    @property
    def undecided(self) -> tuple[Mismatch, ...]:
        """Entries the error bounds leave undecided (up to 10,000 listed)."""
        return self.comparison.undecided

    def __repr__(self) -> str:
        return f"<Gradient ∂f/∂{self.name} {_VERDICTS[self.verdict]}, " \
               f"{'×'.join(map(str, self.shape))}>"

    def held(self, field: str) -> Any:
        """``exact``, ``numeric``, ``numeric_error`` or ``exact_error`` as
        kept: an array, None, or a :class:`~gradcheck.values.sparse.Sparse` not made
        into an array (for reports of large Jacobians); ``exact_values`` as
        kept: SymPy's, None, or symengine's not yet converted
        (:class:`~gradcheck.exact.elements.Lazy`)."""
        descriptor: Dense = type(self).__dict__[field]
        return descriptor.stored(self)


class _SymPy(Dense):
    """``exact_values``: SymPy numbers, converted from symengine's when first read."""

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if isinstance(value, Lazy):
            value = obj.__dict__[self.slot] = value.sympy()
        return value


for _field in ("exact", "numeric", "numeric_error", "exact_error"):  # arrays made when read
    setattr(Gradient, _field, Dense(_field))
Gradient.exact_values = _SymPy("exact_values")


@dataclass(frozen=True, eq=False)
class CheckResult:
    """Everything a check found. ``str(result)`` is the text report.

    ``exact``, ``numeric`` and ``claimed`` are arrays when one variable was
    checked and dicts keyed by name when several were; ``result["z"]`` is
    always the :class:`Gradient` for ``z``.
    """

    expression: str
    reading: str
    readings: tuple[Reading, ...]
    shapes: dict[str, Shape]
    output_shape: Shape
    point: dict[str, np.ndarray]
    drawn: tuple[str, ...]  # variables whose values were drawn at random
    seed: int
    gradients: tuple[Gradient, ...]
    atol: float
    rtol: float
    rows: tuple[str, ...] = ()  # variables given as 1-D values, read as 1×n rows

    @property
    def verdict(self) -> str:
        """``fail`` if any derivative fails, else ``undecided`` if any cannot
        be judged (its own exit code on the command line: 3), else ``pass``."""
        verdicts = {g.verdict for g in self.gradients}
        return "fail" if "fail" in verdicts else "undecided" if "undecided" in verdicts \
            else "pass"

    @property
    def passed(self) -> bool:
        """True only when every derivative passed; False on ``undecided``."""
        return self.verdict == "pass"

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        return tuple(m for g in self.gradients for m in g.mismatches)

    @property
    def exact(self) -> Any:
        return self._per_variable("exact")

    @property
    def numeric(self) -> Any:
        return self._per_variable("numeric")

    @property
    def claimed(self) -> Any:
        return self._per_variable("claimed")

    def _per_variable(self, field: str) -> Any:
        if len(self.gradients) == 1:
            return getattr(self.gradients[0], field)
        return {g.name: getattr(g, field) for g in self.gradients}

    def __getitem__(self, name: str) -> Gradient:
        for g in self.gradients:
            if g.name == name:
                return g
        raise KeyError(name)

    def report(self, format: str = "text") -> str:
        """The report as ``text``, ``json`` or ``latex``."""
        assert VIEWS.render is not None, "import gradcheck installs the report stage"
        return VIEWS.render(self, format)

    def to_dict(self) -> dict[str, Any]:
        """Everything the text report shows, as JSON-ready data."""
        assert VIEWS.as_dict is not None, "import gradcheck installs the report stage"
        return VIEWS.as_dict(self)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        by = ", ".join(f"∂f/∂{g.name}" for g in self.gradients)
        entries = sum(int(np.prod(g.shape)) * self.output_shape[0] * self.output_shape[1]
                      for g in self.gradients)
        return f"<CheckResult {_VERDICTS[self.verdict]} {self.expression!r}: {by}, " \
               f"{entries} entr{'y' if entries == 1 else 'ies'}>"

    def _repr_html_(self) -> str:
        """The report in a notebook, the verdict coloured."""
        assert VIEWS.html is not None, "import gradcheck installs the report stage"
        return VIEWS.html(self)


_VERDICTS = {"pass": "PASS", "fail": "FAIL", "undecided": "CANNOT JUDGE"}
