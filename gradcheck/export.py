"""Machine-readable and typeset reports: JSON for programs, LaTeX for notes.

>>> import gradcheck
>>> r = gradcheck.check("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z")
>>> as_dict(r)["gradients"][0]["exact"]
[[2.0, 4.0]]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy

from .report import _entries, entry_label, label
from .result import CheckResult, Gradient
from .symbolic import entries

__all__ = ["as_dict", "latex"]


# ----- JSON -----

def as_dict(r: CheckResult) -> dict[str, Any]:
    return {
        "expression": r.expression,
        "reading": r.reading,
        "readings": [{"column": x.column, "read_as": x.symbol, "left": list(x.left),
                      "right": list(x.right)} for x in r.readings],
        "shapes": {n: list(s) for n, s in r.shapes.items()},
        "output_shape": list(r.output_shape),
        "point": {n: _list(a) for n, a in r.point.items()},
        "drawn": list(r.drawn),
        "seed": r.seed,
        "atol": r.atol,
        "rtol": r.rtol,
        "passed": r.passed,
        "gradients": [_gradient_dict(r, g) for g in r.gradients],
    }


def _gradient_dict(r: CheckResult, g: Gradient) -> dict[str, Any]:
    c = g.comparison
    return {
        "variable": g.name,
        "shape": list(g.shape),
        "layout": "gradient" if g.exact.ndim == 2 else "jacobian",
        "elementwise": g.elementwise,
        "exact": _list(g.exact),
        "exact_text": _exact_text(g.exact_values, g.exact.shape),
        "numeric": None if g.numeric is None else _list(g.numeric),
        "numeric_error": None if g.numeric_error is None else _list(g.numeric_error),
        "directions": None if g.directions is None else {
            "exact": _list(g.directions.exact), "numeric": _list(g.directions.numeric),
            "error": _list(g.directions.error), "scale": _list(g.directions.scale),
            "defined": g.directions.defined.tolist(), "u": _list(g.directions.u),
            "v": _list(g.directions.v)},
        "claimed": None if g.claimed is None else _list(g.claimed),
        "claim_form": g.claim_form,
        "claim_text": g.claim_text,
        "max_abs_diff": _float(c.max_abs_diff),
        "max_rel_diff": _float(c.max_rel_diff),
        "max_claim_error": None if c.max_claim_error is None else _float(c.max_claim_error),
        "evaluations": g.evaluations,
        "methods": list(g.methods),
        "undefined": [{"entry": label(u.index, g.name), "index": list(u.index),
                       "left": _float(u.left), "right": _float(u.right), "where": u.where}
                      for u in g.undefined],
        "passed": g.passed,
        "diagnosis": None if g.diagnosis is None else {
            "kind": g.diagnosis.kind, "sentence": g.diagnosis.sentence,
            "difference": g.diagnosis.difference},
        "mismatches": [{
            "entry": entry_label(m), "index": list(m.index), "kind": m.kind,
            "exact": _float(m.exact), "numeric": _float(m.numeric), "claimed": _float(m.claimed),
            "error": _float(m.error), "tolerance": _float(m.tolerance), "bound": m.bound}
            for m in g.mismatches],
    }


def _exact_text(values: Any, shape: tuple[int, ...]) -> Any:
    flat = entries(values)
    return np.array([str(e) for e in flat], dtype=object).reshape(shape).tolist()


def _float(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _list(a: np.ndarray) -> Any:
    return np.vectorize(_float, otypes=[object])(a).tolist()


# ----- LaTeX -----

def latex(r: CheckResult) -> str:
    verdict = "PASS" if r.passed else "FAIL"
    out = [f"% gradcheck: f = {r.expression}, read as {r.reading}; {verdict}"]
    for g in r.gradients:
        exact = g.exact_values
        scalar = r.output_shape == (1, 1)
        if scalar:
            lhs, m = rf"\frac{{\partial f}}{{\partial {g.name}}}", exact
        elif g.elementwise:
            lhs = rf"\frac{{\partial f_{{ij}}}}{{\partial {g.name}_{{ij}}}}"
            rows, cols = g.shape
            m = sympy.Matrix(rows, cols, [exact[i, j, i, j] for i in range(rows)
                                          for j in range(cols)])
        else:
            out.append(f"% rows f[i,j], columns {g.name}[k,l], both in row-major order")
            lhs = rf"\frac{{\partial f}}{{\partial {g.name}}}"
            fr, fc, wr, wc = g.exact.shape
            m = sympy.Matrix(fr * fc, wr * wc, entries(exact))
        out.append(f"{lhs} = {_bmatrix(m)}")
        if g.claimed is not None and not g.passed:
            claim = f" ({g.claim_text})" if g.claim_text else ""
            out.append(f"% the claimed ∂f/∂{g.name}{claim} disagrees at "
                       f"{_entries(len(g.mismatches))}")
    return "\n".join(out)


def _bmatrix(m: Any) -> str:
    rows = [" & ".join(_tex(m[i, j]) for j in range(m.cols)) for i in range(m.rows)]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def _tex(e: Any) -> str:
    if e.is_Rational or e.is_Atom:
        return str(sympy.latex(e))
    return f"{float(sympy.N(e, 30)):.10g}"
