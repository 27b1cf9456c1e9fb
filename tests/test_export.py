"""The LaTeX report (export.latex): bmatrix blocks for notes; JSON is tested in test_report
(and here, arrays too large to list)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import sympy

import gradcheck
from conftest import SEED_AT
from gradcheck.report import export
from gradcheck.report.export import _tex_exact, _tex_float, latex
from gradcheck.values.sparse import Sparse

F = "(x·y+z)·A+z"
BMATRIX = re.compile(r"\\begin\{bmatrix\} (.*?) \\end\{bmatrix\}")


def _numbers(cell: str) -> float:
    r"""A LaTeX number as printed by export: 3, -0.25, \frac{1}{4}, 1.5 \times 10^{-7}."""
    frac = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", cell)
    if frac:
        return (-1 if frac.group(1) else 1) * int(frac.group(2)) / int(frac.group(3))
    sci = re.fullmatch(r"(-?[\d.]+) \\times 10\^\{(-?\d+)\}", cell)
    if sci:
        return float(sci.group(1)) * 10.0 ** int(sci.group(2))
    return float(cell)


def _matrix(body: str) -> np.ndarray:
    return np.array([[_numbers(c) for c in row.split(" & ")] for row in body.split(r" \\ ")])


def _block_matrix(lines: list[str]) -> np.ndarray:
    r"""The 4-index array printed as \begin{bmatrix} rows of inner bmatrices \end{bmatrix}."""
    assert lines[0].endswith(r"\begin{bmatrix}") and lines[-1] == r"\end{bmatrix}"
    outer = []
    for row in lines[1:-1]:
        outer.append([_matrix(body) for body in BMATRIX.findall(row)])
    return np.array(outer)


def _equation(text: str, start: str) -> list[str]:
    """The lines of the equation whose first line starts with ``start``."""
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(start))
    if not lines[i].endswith(r"\begin{bmatrix}"):
        return [lines[i]]
    j = lines.index(r"\end{bmatrix}", i)
    return lines[i:j + 1]


EXACT = r"\frac{\partial f}{\partial "
NUMERIC = r"\left(\frac{\partial f}{\partial "


def test_gradient_prints_exact_numeric_and_claimed_as_one_bmatrix_each():
    r = gradcheck.check("sum(x * y)", at={"x": [[0.5, 1]], "y": [[0.25, 3]]}, wrt="x",
                        expect="y")
    assert latex(r) == "\n".join([
        "% gradcheck: f = sum(x * y), read as sum(x*y); PASS",
        "% ∂f/∂x: gradient, 1×2",
        "% closed form: y",
        r"% \frac{\partial f}{\partial x} = y",
        "% exact",
        r"\frac{\partial f}{\partial x} = \begin{bmatrix} \frac{1}{4} & 3 \end{bmatrix}",
        "% numeric: complex step, 5 evaluations",
        r"\left(\frac{\partial f}{\partial x}\right)_{\text{numeric}} = "
        r"\begin{bmatrix} 0.25 & 3 \end{bmatrix}",
        "% claimed: y (gradient)",
        r"\left(\frac{\partial f}{\partial x}\right)_{\text{claimed}} = "
        r"\begin{bmatrix} 0.25 & 3 \end{bmatrix}",
    ])


def test_jacobian_is_a_block_matrix_with_f_shape_of_w_shaped_blocks():
    r = gradcheck.check("z @ B", wrt="z", at={"z": "ones(2,2)", "B": [[1, 2], [3, 4]]})
    text = latex(r)
    assert _equation(text, EXACT) == [
        r"\frac{\partial f}{\partial z} = \begin{bmatrix}",
        r"  \begin{bmatrix} 1 & 3 \\ 0 & 0 \end{bmatrix} & "
        r"\begin{bmatrix} 2 & 4 \\ 0 & 0 \end{bmatrix} \\",
        r"  \begin{bmatrix} 0 & 0 \\ 1 & 3 \end{bmatrix} & "
        r"\begin{bmatrix} 0 & 0 \\ 2 & 4 \end{bmatrix}",
        r"\end{bmatrix}",
    ]
    assert "% ∂f/∂z: Jacobian 2×2×2×2 as a block matrix: block (i,j) is ∂f[i,j]/∂z, 2×2" in text


def test_block_layout_when_f_and_w_have_different_shapes():
    # f = x @ W is 1×2 and W is 3×2: a 1×2 outer matrix of 3×2 blocks, block j = x.T e_j.
    r = gradcheck.check("x @ W", wrt="W", at={"x": [[1, 2, 3]], "W": "ones(3,2)"})
    blocks = _block_matrix(_equation(latex(r), EXACT))
    assert blocks.shape == (1, 2, 3, 2)
    assert blocks[0, 0].tolist() == [[1, 0], [2, 0], [3, 0]]
    assert blocks[0, 1].tolist() == [[0, 1], [0, 2], [0, 3]]


def test_blocks_match_the_jacobian_at_a_random_point():
    r = gradcheck.check("tanh(P @ Q)", wrt="Q", shapes={"P": (2, 3), "Q": (3, 2)}, seed=4)
    g = r["Q"]
    text = latex(r)
    exact = _block_matrix(_equation(text, EXACT))
    numeric = _block_matrix(_equation(text, NUMERIC))
    assert exact.shape == g.exact.shape == (2, 2, 3, 2)
    np.testing.assert_allclose(exact, g.exact, rtol=1e-5, atol=1e-12)  # 6 significant digits
    np.testing.assert_allclose(numeric, g.numeric, rtol=1e-5, atol=1e-12)
    assert np.count_nonzero(exact) == 12  # ∂f[i,j]/∂Q[k,l] = 0 unless l == j


def test_elementwise_jacobian_is_its_diagonal_and_a_wrong_claim_is_named():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    lines = latex(r).splitlines()
    diag = r"\frac{\partial f_{ij}}{\partial z_{ij}}"
    assert lines[1] == ("% ∂f/∂z: Jacobian 3×2×3×2, diagonal (f is elementwise in z); "
                        "showing ∂f[i,j]/∂z[i,j]")
    assert rf"{diag} = \begin{{bmatrix}} 2 & 1 \\ 3 & 2 \\ 1 & 2 \end{{bmatrix}}" in lines
    assert (rf"\left({diag}\right)_{{\text{{numeric}}}} = "
            r"\begin{bmatrix} 2 & 1 \\ 3 & 2 \\ 1 & 2 \end{bmatrix}") in lines
    assert (rf"\left({diag}\right)_{{\text{{claimed}}}} = "
            r"\begin{bmatrix} 1 & 0 \\ 2 & 1 \\ 0 & 1 \end{bmatrix}") in lines
    assert "% claimed: A (elementwise)" in lines
    assert ("% the claimed ∂f/∂z (A) disagrees at 6 entries: ∂f[0,0]/∂z[0,0], ∂f[0,1]/∂z[0,1], "
            "∂f[1,0]/∂z[1,0], ∂f[1,1]/∂z[1,1], ∂f[2,0]/∂z[2,0], ∂f[2,1]/∂z[2,1]") in lines
    assert "% diagnosis: missing the term from `+ z`: the claim lacks its derivative" in lines


def test_elementwise_f_with_a_claim_wrong_off_the_diagonal_shows_the_blocks():
    # The diagonal view would hide the wrong off-diagonal entries of this claim.
    r = gradcheck.check("z * z", at={"z": [[1, 2]]}, expect="ones(2,2)")
    text = latex(r)
    assert r"\frac{\partial f_{ij}}" not in text
    claimed = _block_matrix(_equation(text, r"\left(\frac{\partial f}{\partial z}\right)_{"
                                            r"\text{claimed}}"))
    assert claimed.tolist() == [[[[1, 1]], [[1, 1]]]]
    assert _block_matrix(_equation(text, EXACT)).tolist() == [[[[2, 0]], [[0, 4]]]]
    assert "disagrees at 4 entries: ∂f[0,0]/∂z[0,0], ∂f[0,0]/∂z[0,1]," in text


def test_without_a_numeric_estimate_the_block_is_left_out_and_a_comment_says_so():
    r = gradcheck.check("tanh(P@Q)", wrt="P", shapes={"P": (3, 3), "Q": (3, 3)}, directions=3)
    text = latex(r)
    assert r["P"].numeric is None
    assert r"\text{numeric}" not in text
    assert ("% numeric: no entry-by-entry estimate; checked on 3 random projections uᵀJv instead "
            f"(complex step, {r['P'].evaluations} evaluations): all agree with exact") in text
    assert _block_matrix(_equation(text, EXACT)).shape == (3, 3, 3, 3)


def test_a_kink_is_named_in_a_comment():
    text = latex(gradcheck.check("relu(x)", at={"x": [[0, 1]]}))
    assert ("% not differentiable at this point at 1 entry (not judged): ∂f[0,0]/∂x[0,0]"
            in text.splitlines())


def test_long_lists_of_entries_are_cut_and_wide_matrices_get_a_preamble_hint():
    r = gradcheck.check("x @ y", wrt="x", at={"x": "ones(1,12)", "y": "ones(12,1)"},
                        expect="2*ones(1,12)")
    lines = latex(r).splitlines()
    assert lines[1] == (r"% a bmatrix here has 12 columns: put \setcounter{MaxMatrixCols}{12} "
                        "in the preamble (amsmath allows 10)")
    wrong = next(line for line in lines if "disagrees at" in line)
    assert wrong.endswith("∂f/∂x[0,7], … (4 more)") and wrong.count("∂f/∂x[") == 8
    narrow = latex(gradcheck.check("sum(z * z)", at={"z": "ones(1,10)"}))
    assert "MaxMatrixCols" not in narrow


def test_every_line_is_a_comment_or_latex_even_for_multiline_input():
    r = gradcheck.check("sum(z\n* z)", at={"z": [[1, 2]]}, expect="2*z\n")
    lines = latex(r).splitlines()
    assert lines[0] == "% gradcheck: f = sum(z * z), read as sum(z*z); PASS"
    assert all(line.startswith(("%", "\\")) for line in lines)


@pytest.mark.parametrize(("value", "tex"), [
    (2.0, "2"), (-0.0, "0"), (-3.0, "-3"), (0.25, "0.25"), (0.1234567, "0.123457"),
    (-1.5e-7, r"-1.5 \times 10^{-7}"), (2.5e20, r"2.5 \times 10^{20}"),
    (2.0000000000000004, "2"), (float("nan"), r"\text{NaN}"), (float("-inf"), r"-\infty"),
])
def test_floats_print_compactly(value, tex):
    assert _tex_float(value) == tex


@pytest.mark.parametrize(("value", "tex"), [
    (sympy.Integer(-3), "-3"), (sympy.Rational(1, 4), r"\frac{1}{4}"),
    (sympy.Rational(-3, 100), r"-\frac{3}{100}"), (sympy.Rational(897, 512), "1.75195"),
    (sympy.pi, r"\pi"), (sympy.sqrt(2), "1.41421"), (sympy.exp(-20), r"2.06115 \times 10^{-9}"),
])
def test_exact_values_print_as_integers_small_fractions_or_decimals(value, tex):
    assert _tex_exact(value) == tex


def test_variable_names_are_typeset():
    r = gradcheck.check("sum(W1 * theta)", at={"W1": [[1.0]], "theta": [[2.0]]})
    text = latex(r)
    assert r"\frac{\partial f}{\partial W_{1}} = \begin{bmatrix} 2 \end{bmatrix}" in text
    assert r"\frac{\partial f}{\partial \theta} = \begin{bmatrix} 1 \end{bmatrix}" in text


def test_arrays_too_large_to_list_are_left_out_of_json_and_latex():
    """∂(X@Y)/∂X for 33×33 matrices has 1185921 entries, more than LISTED:
    JSON gives null and names them; the arrays stay stored, not made dense."""
    rng = np.random.default_rng(0)
    r = gradcheck.check("X@Y", at={"X": rng.standard_normal((33, 33)),
                                   "Y": rng.standard_normal((33, 33))})
    assert r["X"].held("exact").size == 33**4 > export.LISTED
    d = export.as_dict(r)
    for g in d["gradients"]:
        assert g["omitted"] == ["exact", "numeric", "numeric_error"]
        assert g["exact"] is g["numeric"] is g["numeric_error"] is None
        assert g["layout"] == "jacobian" and g["passed"] is True
    assert len(json.dumps(d)) < 200_000  # the point is listed; the Jacobians are not
    tex = export.latex(r)
    assert "% exact: 33×33×33×33 entries, more than 1048576: not listed" in tex
    assert "evaluations: not listed" in tex and r"\begin{bmatrix}" not in tex
    assert all(isinstance(r[n].held("exact"), Sparse) for n in "XY")


def test_a_claim_too_large_to_list_is_left_out(monkeypatch):
    monkeypatch.setattr(export, "LISTED", 4)
    r = gradcheck.check("sum(z * z)", at={"z": [[1, 2, 3]]}, expect="2*z")
    assert export.as_dict(r)["gradients"][0]["omitted"] == []  # 3 entries: listed
    monkeypatch.setattr(export, "LISTED", 2)
    g = export.as_dict(r)["gradients"][0]
    assert g["omitted"] == ["exact", "numeric", "numeric_error", "claimed"]
    assert g["claimed"] is None and g["max_claim_error"] == 0.0
