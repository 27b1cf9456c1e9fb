from __future__ import annotations

import io
import json
import re

import pytest

import gradcheck
from conftest import SEED_AT
from gradcheck.report import render, wants_color

F = "(x·y+z)·A+z"


def test_text_report_for_the_seed_example():
    text = str(gradcheck.check(F, wrt="z", at=SEED_AT, expect="A + 1"))
    lines = text.splitlines()
    assert lines[:4] == [
        "f = (x·y+z)·A+z",
        "read as (x@y+z)*A+z",
        "  · at column 3 read as @ (matrix product of 3×2 and 2×2)",
        "  · at column 8 read as * (elementwise product of 3×2 and 3×2)",
    ]
    assert "shapes: x 3×2, y 2×2, z 3×2, A 3×2 -> f 3×2" in lines
    assert "diagonal (f is elementwise in z)" in text
    exact = lines.index("  exact (symengine, exact; the closed form agrees)")
    assert [line.split() for line in lines[exact + 1:exact + 4]] == [["2", "1"], ["3", "2"],
                                                                     ["1", "2"]]
    assert lines[-1] == "PASS: exact, numeric and claimed agree on all 36 entries"


def test_text_report_lists_every_disagreeing_entry():
    text = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A").report()
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("∂f[")]
    assert [r[0] for r in rows] == ["∂f[0,0]/∂z[0,0]", "∂f[0,1]/∂z[0,1]", "∂f[1,0]/∂z[1,0]",
                                    "∂f[1,1]/∂z[1,1]", "∂f[2,0]/∂z[2,0]", "∂f[2,1]/∂z[2,1]"]
    assert rows[2][1:5] == ["3", "3", "2", "1"]  # exact, numeric, claimed, error
    assert text.splitlines()[-1] == "FAIL: 6 of 36 entries disagree (∂f/∂z)"


def test_full_jacobian_is_shown_with_labels():
    text = str(gradcheck.check(F, wrt="y", at=SEED_AT))
    assert "rows f[i,j], columns y[k,l]" in text
    header = next(line for line in text.splitlines() if "y[0,0]" in line)
    assert header.split() == ["y[0,0]", "y[0,1]", "y[1,0]", "y[1,1]"]


def test_json_carries_the_verdict_and_the_entries():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    data = json.loads(r.report("json"))
    assert data["passed"] is False and data["reading"] == "(x@y+z)*A+z"
    g = data["gradients"][0]
    assert g["variable"] == "z" and g["elementwise"] and g["claim_form"] == "elementwise"
    assert len(g["mismatches"]) == 6 and g["mismatches"][0]["entry"] == "∂f[0,0]/∂z[0,0]"
    assert g["exact_text"][1][0][1][0] == "3"
    assert r.to_dict() == data


def test_verdict_wording_when_only_some_variables_have_claims():
    r = gradcheck.check("sum(x * y)", at={"x": [[2.0]], "y": [[3.0]]}, expect={"x": "y"})
    assert str(r).splitlines()[-1] == (
        "PASS: exact and numeric agree, and so do the claims for x, on all 2 entries")
    one = gradcheck.check("x * x", at={"x": 2.0}, expect="3")
    assert str(one).splitlines()[-1] == "FAIL: 1 of 1 entry disagrees (∂f/∂x)"


def test_latex_writes_the_notes_bmatrix():
    # More in test_export.py.
    r = gradcheck.check("sum(x * y)", at={"x": [[0.5, 1]], "y": [[0.25, 3]]}, wrt="x")
    assert r.report("latex").splitlines()[5] == (
        r"\frac{\partial f}{\partial x} = \begin{bmatrix} \frac{1}{4} & 3 \end{bmatrix}")
    diag = gradcheck.check(F, wrt="z", at=SEED_AT).report("latex").splitlines()[5]
    assert diag == (r"\frac{\partial f_{ij}}{\partial z_{ij}} = "
                    r"\begin{bmatrix} 2 & 1 \\ 3 & 2 \\ 1 & 2 \end{bmatrix}")


# ----- colour -----

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED, GREEN, RESET = "\x1b[1;31m", "\x1b[1;32m", "\x1b[0m"


@pytest.fixture
def clean_env(monkeypatch):
    """No colour settings inherited from the shell running the tests."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return monkeypatch


def test_the_text_report_is_plain_unless_colour_is_asked_for():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    assert "\x1b" not in str(r) and "\x1b" not in render(r)


def test_colour_marks_wrong_entries_and_the_verdict_without_moving_anything():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    plain, colour = render(r), render(r, color=True)
    assert ANSI.sub("", colour) == plain  # the same report, only coloured
    lines = colour.splitlines()
    assert lines[-1] == f"{RED}FAIL: 6 of 36 entries disagree (∂f/∂z){RESET}"
    claimed = lines.index("  claimed: A (elementwise)")
    assert lines[claimed + 1] == f"    {RED}1{RESET}  {RED}0{RESET}"  # every claimed entry is wrong
    exact = lines.index("  exact (symengine, exact; the closed form agrees)")
    assert lines[exact + 1] == "    2  1"  # the exact block is not marked
    assert f"{RED}6 of 36 entries disagree: the claimed derivative is wrong there{RESET}" in colour
    ok = render(gradcheck.check(F, wrt="z", at=SEED_AT, expect="A + 1"), color=True)
    assert ok.splitlines()[-1] == (
        f"{GREEN}PASS: exact, numeric and claimed agree on all 36 entries{RESET}")
    assert RED not in ok


def test_colour_marks_only_the_wrong_cells_of_a_full_jacobian():
    r = gradcheck.check("z @ B", wrt="z", at={"z": "ones(2,2)", "B": [[1, 2], [3, 4]]},
                        expect="[[1,3,0,0],[2,4,0,0],[0,0,1,3],[0,0,2,5]]")
    colour = render(r, color=True)
    assert ANSI.sub("", colour) == render(r)
    row = next(line for line in colour.splitlines() if line.startswith("    f[1,1]")
               and RED in line)
    assert ANSI.sub("", row).split() == ["f[1,1]", "0", "0", "2", "5"]
    assert [cell.strip() for cell in re.findall(r"\x1b\[1;31m(.*?)\x1b\[0m", row)] == ["5"]


def test_wants_color_on_a_terminal_only_and_never_with_no_color(clean_env):
    assert wants_color(io.StringIO(), force_terminal=True)
    assert not wants_color(io.StringIO())  # not a terminal
    clean_env.setenv("NO_COLOR", "1")
    assert not wants_color(io.StringIO(), force_terminal=True)
    clean_env.setenv("NO_COLOR", "")  # set but empty: ignored, as no-color.org says
    assert wants_color(io.StringIO(), force_terminal=True)
    clean_env.setenv("TERM", "dumb")
    assert not wants_color(io.StringIO(), force_terminal=True)


def test_results_show_their_verdict_in_a_repl_and_a_notebook():
    import numpy as np

    r = gradcheck.check("sum(z*z)", at={"z": [[1, 2]]}, expect="z")
    assert repr(r) == "<CheckResult FAIL 'sum(z*z)': ∂f/∂z, 2 entries>"
    assert repr(r["z"]) == "<Gradient ∂f/∂z FAIL, 1×2>"
    html = r._repr_html_()
    assert html.startswith('<pre class="gradcheck">f = sum(z*z)')
    assert '<b style="color:#cf222e">FAIL: 2 of 2 entries disagree (∂f/∂z)</b></pre>' in html
    f = gradcheck.check_function(lambda x: np.tanh(x),
                                 lambda g, x: {"x": g * (1 - np.tanh(x) ** 2)},
                                 at={"x": np.ones((2, 2))})
    assert repr(f) == "<FunctionResult PASS against finite differences: x>"
    assert '<b style="color:#1a7f37">PASS: backward agrees' in f._repr_html_()
