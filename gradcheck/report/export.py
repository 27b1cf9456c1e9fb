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

from gradcheck.checking.result import CheckResult, Gradient
from gradcheck.exact.symbolic import entries
from gradcheck.language.shapes import fmt
from gradcheck.lazy import sympy
from gradcheck.report.labels import METHOD_NAMES, entries_of, entry_label, largest
from gradcheck.values.layout import label

__all__ = ["as_dict", "latex"]


LISTED = 2**20  # entries of an array listed in JSON or LaTeX; larger ones are left out


def _too_large(g: Gradient) -> list[str]:
    """The arrays of ``g`` with more than LISTED entries, which are not
    listed: ∂(X@Y)/∂X for 64×64 X, Y has 16777216 entries, gigabytes of text."""
    return [f for f in ("exact", "numeric", "numeric_error", "claimed")
            if getattr(g.claimed if f == "claimed" else g.held(f), "size", 0) > LISTED]


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
        "rows": list(r.rows),
        "seed": r.seed,
        "atol": r.atol,
        "rtol": r.rtol,
        "passed": r.passed,
        "verdict": r.verdict,
        "gradients": [_gradient_dict(r, g) for g in r.gradients],
    }


def _gradient_dict(r: CheckResult, g: Gradient) -> dict[str, Any]:
    c = g.comparison
    omitted = _too_large(g)

    def listed(field: str) -> Any:
        held = g.claimed if field == "claimed" else g.held(field)
        return None if held is None or field in omitted else _list(getattr(g, field))

    shape = g.held("exact").shape
    return {
        "variable": g.name,
        "shape": list(g.shape),
        "layout": "gradient" if len(shape) == 2 else "jacobian",
        "elementwise": g.elementwise,
        "exact": listed("exact"),
        "exact_text": None if g.exact_values is None or "exact" in omitted
        else _exact_text(g.exact_values, shape),
        "omitted": omitted,  # arrays of more than LISTED entries, given as null
        "engine": g.engine,
        "engine_note": g.engine_note,
        "exactness": g.exactness,
        "exact_error_max": None if g.held("exact_error") is None else _float(
            largest(g.held("exact_error"))),
        "closed_form": None if g.closed_form is None else {
            "text": g.closed_form.text, "latex": g.closed_form.latex,
            "form": g.closed_form.form, "cotangent": g.closed_form.cotangent},
        "numeric": listed("numeric"),
        "numeric_error": listed("numeric_error"),
        "directions": None if g.directions is None else {
            "exact": _list(g.directions.exact), "numeric": _list(g.directions.numeric),
            "error": _list(g.directions.error), "scale": _list(g.directions.scale),
            "defined": g.directions.defined.tolist(), "u": _list(g.directions.u),
            "v": _list(g.directions.v)},
        "claimed": listed("claimed"),
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
        "verdict": g.verdict,
        "diagnosis": None if g.diagnosis is None else {
            "kind": g.diagnosis.kind, "sentence": g.diagnosis.sentence,
            "difference": g.diagnosis.difference, "corrected": g.diagnosis.corrected},
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

MAX_MATRIX_COLS = 10  # columns an amsmath bmatrix takes without \setcounter{MaxMatrixCols}
_LISTED = 8  # disagreeing entries named in a comment before the rest are counted


def latex(r: CheckResult) -> str:
    r"""The exact, numeric and claimed derivatives as ``bmatrix`` blocks for notes.

    A gradient, and the diagonal ∂f[i,j]/∂w[i,j] of an elementwise Jacobian,
    is one bmatrix. A Jacobian ``J[i,j,k,l] = ∂f[i,j]/∂w[k,l]`` is a block
    matrix: an outer bmatrix with f's shape whose block (i,j) is the bmatrix
    of ∂f[i,j]/∂w, with w's shape. Comment lines (``%``) carry the
    expression, the verdict, which block is which, and the disagreements.
    Exact values print as integers and fractions with small denominators,
    everything else as decimals with 6 significant digits.

    >>> import gradcheck
    >>> r = gradcheck.check("z @ B", wrt="z", at={"z": [[1, 0]], "B": [[1, 2], [3, 4]]})
    >>> print(latex(r))
    % gradcheck: f = z @ B, read as z@B; PASS
    % ∂f/∂z: Jacobian 1×2×1×2 as a block matrix: block (i,j) is ∂f[i,j]/∂z, 1×2
    % closed form: ∂⟨G, f⟩/∂w = G@B.T
    % \partial \langle G, f\rangle / \partial z = G B^{\top}
    % exact
    \frac{\partial f}{\partial z} = \begin{bmatrix}
      \begin{bmatrix} 1 & 3 \end{bmatrix} & \begin{bmatrix} 2 & 4 \end{bmatrix}
    \end{bmatrix}
    % numeric: complex step, 5 evaluations
    \left(\frac{\partial f}{\partial z}\right)_{\text{numeric}} = \begin{bmatrix}
      \begin{bmatrix} 1 & 3 \end{bmatrix} & \begin{bmatrix} 2 & 4 \end{bmatrix}
    \end{bmatrix}
    """
    verdict = "PASS" if r.passed else "FAIL"
    out = [_comment(f"gradcheck: f = {r.expression}, read as {r.reading}; {verdict}")]
    widest = max(_widest(g) for g in r.gradients)
    if widest > MAX_MATRIX_COLS:
        out.append(_comment(f"a bmatrix here has {widest} columns: put "
                            rf"\setcounter{{MaxMatrixCols}}{{{widest}}} in the preamble "
                            f"(amsmath allows {MAX_MATRIX_COLS})"))
    for g in r.gradients:
        out += _gradient_latex(r, g)
    return "\n".join(out)


def _diagonal(g: Gradient) -> bool:
    """Show an elementwise Jacobian as its diagonal, unless an entry off it disagrees."""
    return len(g.held("exact").shape) == 4 and g.elementwise and all(
        m.kind == "direction" or m.index[:2] == m.index[2:] for m in g.mismatches)


def _widest(g: Gradient) -> int:
    shape = g.held("exact").shape
    if len(shape) == 2 or _diagonal(g):
        return int(g.shape[1])
    return int(max(shape[1], shape[3]))


def _gradient_latex(r: CheckResult, g: Gradient) -> list[str]:
    w = sympy.latex(sympy.Symbol(g.name))
    shape = g.held("exact").shape
    omitted = _too_large(g)
    dims = "×".join(str(d) for d in shape)
    if len(shape) == 2:
        head = f"∂f/∂{g.name}: gradient, {fmt(g.shape)}"
        d = rf"\frac{{\partial f}}{{\partial {w}}}"
    elif _diagonal(g):
        head = (f"∂f/∂{g.name}: Jacobian {dims}, diagonal (f is elementwise in {g.name}); "
                f"showing ∂f[i,j]/∂{g.name}[i,j]")
        d = rf"\frac{{\partial f_{{ij}}}}{{\partial {w}_{{ij}}}}"
    else:
        head = (f"∂f/∂{g.name}: Jacobian {dims} as a block matrix: block (i,j) is "
                f"∂f[i,j]/∂{g.name}, {fmt(g.shape)}")
        d = rf"\frac{{\partial f}}{{\partial {w}}}"
    out = [_comment(head)]
    if g.closed_form is not None:
        cf = g.closed_form
        out += [_comment(f"closed form: {cf}"),
                f"% {d} = {cf.latex}" if cf.form != "vjp" else
                rf"% \partial \langle {cf.cotangent}, f\rangle / \partial {w} = {cf.latex}"]
    if "exact" in omitted:
        out.append(_comment(f"exact: {dims} entries, more than {LISTED}: not listed"))
    else:
        exact = _float_cells(g.exact) if g.exact_values is None else _exact_cells(
            g.exact_values, shape)
        out += ["% exact", *_equation(d, _show(g, exact))]
    how = ", ".join(METHOD_NAMES.get(m, m) for m in g.methods)
    if g.held("numeric") is not None:
        out.append(_comment(f"numeric: {how}, {g.evaluations} evaluations"
                            + (": not listed" if "numeric" in omitted else "")))
        if "numeric" not in omitted and g.numeric is not None:
            out += _equation(rf"\left({d}\right)_{{\text{{numeric}}}}",
                             _show(g, _float_cells(g.numeric)))
    else:
        assert g.directions is not None
        k = len(g.directions.exact)
        bad = sum(m.kind == "direction" for m in g.mismatches)
        judged = int(g.directions.defined.sum())
        agree = f"{judged - bad} of {judged} agree with exact" if bad or judged < k \
            else "all agree with exact"
        if judged < k:
            agree += f"; {k - judged} through a kink not judged"
        out.append(_comment(f"numeric: no entry-by-entry estimate; checked on "
                            f"{k} random projections uᵀJv instead ({how}, "
                            f"{g.evaluations} evaluations): {agree}"))
    if g.claimed is not None:
        title = f"claimed: {g.claim_text}" if g.claim_text else "claimed"
        out.append(_comment(f"{title} ({g.claim_form})"
                            + (": not listed" if "claimed" in omitted else "")))
        if "claimed" not in omitted:
            out += _equation(rf"\left({d}\right)_{{\text{{claimed}}}}",
                             _show(g, _float_cells(g.claimed)))
    if g.undefined:
        out.append(_comment(f"not differentiable at this point at {entries_of(len(g.undefined))} "
                            f"(not judged): {_labels([u.index for u in g.undefined], g.name)}"))
    claim = [m.index for m in g.mismatches if m.kind == "claim"]
    engines = [m.index for m in g.mismatches if m.kind == "engines"]
    directions = [m.index for m in g.mismatches if m.kind == "direction"]
    if claim:
        text = f" ({g.claim_text})" if g.claim_text else ""
        out.append(_comment(f"the claimed ∂f/∂{g.name}{text} disagrees at "
                            f"{entries_of(len(claim))}: {_labels(claim, g.name)}"))
    if engines:
        out.append(_comment(f"exact and numeric disagree at {entries_of(len(engines))}: "
                            f"{_labels(engines, g.name)} (a kink or a badly scaled point "
                            "nearby, or a bug in gradcheck)"))
    if directions:
        n = len(directions)
        out.append(_comment(f"exact and numeric disagree along {n} random "
                            f"direction{'s' if n > 1 else ''} (a kink or a badly scaled point "
                            "nearby, or a bug in gradcheck)"))
    if g.diagnosis is not None:
        out.append(_comment(f"diagnosis: {g.diagnosis.sentence}"))
        if g.diagnosis.difference is not None:
            out.append(_comment(f"exact - claimed = {g.diagnosis.difference}"))
    return out


def _comment(text: str) -> str:
    """A LaTeX comment line: a newline in user text must not end the comment."""
    return "% " + " ".join(text.splitlines())


def _labels(indices: list[tuple[int, ...]], name: str) -> str:
    shown = ", ".join(label(i, name) for i in indices[:_LISTED])
    return shown + (f", … ({len(indices) - _LISTED} more)" if len(indices) > _LISTED else "")


def _show(g: Gradient, cells: np.ndarray) -> list[str]:
    """The bmatrix lines of an array of LaTeX numbers, as the layout asks."""
    if cells.ndim == 2:
        return [_bmatrix(cells)]
    if _diagonal(g):
        rows, cols = g.shape
        return [_bmatrix(np.array([[cells[i, j, i, j] for j in range(cols)]
                                   for i in range(rows)], dtype=object))]
    fr, fc = cells.shape[:2]
    blocks = [" & ".join(_bmatrix(cells[i, j]) for j in range(fc)) for i in range(fr)]
    return [r"\begin{bmatrix}",
            *(f"  {row}" + (r" \\" if i < fr - 1 else "") for i, row in enumerate(blocks)),
            r"\end{bmatrix}"]


def _equation(lhs: str, lines: list[str]) -> list[str]:
    return [f"{lhs} = {lines[0]}", *lines[1:]]


def _bmatrix(cells: np.ndarray) -> str:
    rows = [" & ".join(cells[i]) for i in range(cells.shape[0])]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def _exact_cells(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.array([_tex_exact(e) for e in entries(values)], dtype=object).reshape(shape)


def _float_cells(a: np.ndarray) -> np.ndarray:
    return np.array([_tex_float(float(v)) for v in a.flat], dtype=object).reshape(a.shape)


def _tex_exact(e: Any) -> str:
    """An exact value: an integer, a fraction with a denominator up to 100, π, or a decimal."""
    if e.is_Integer:
        return str(e)
    if e.is_Rational and e.q <= 100:
        return ("-" if e.p < 0 else "") + rf"\frac{{{abs(e.p)}}}{{{e.q}}}"
    if e.is_NumberSymbol:
        return str(sympy.latex(e))
    return _tex_float(float(e) if e.is_Rational else float(sympy.N(e, 30)))


def _tex_float(v: float) -> str:
    """A float, compactly: ``2``, ``-0.114357``, ``1.5 \\times 10^{-7}``."""
    if math.isnan(v):
        return r"\text{NaN}"
    if math.isinf(v):
        return r"\infty" if v > 0 else r"-\infty"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    text = f"{v:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text
