from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from conftest import SEED_LETS
from gradcheck import __version__
from gradcheck.cli import main

F = "(x·y+z)·A+z"


def run(runner, *args):
    return runner.invoke(main, ["check", *args], catch_exceptions=False)


def test_main_command_passes(runner):
    result = run(runner, F, "--wrt", "z", *SEED_LETS)
    assert result.exit_code == 0, result.output
    assert "read as (x@y+z)*A+z" in result.output
    assert result.output.rstrip().endswith("PASS: exact and numeric agree on all 36 entries")


def test_right_claim_exits_0_and_wrong_claim_exits_1(runner):
    assert run(runner, F, "--wrt", "z", *SEED_LETS, "--expect", "A + 1").exit_code == 0
    wrong = run(runner, F, "--wrt", "z", *SEED_LETS, "--expect", "A")
    assert wrong.exit_code == 1
    assert sum(line.startswith("  ∂f[") for line in wrong.output.splitlines()) == 6


def test_gradient_of_the_sum_as_json(runner):
    result = run(runner, "sum((x·y+z)·A+z)", "--wrt", "z", *SEED_LETS, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["gradients"][0]["exact"] == [[2, 1], [3, 2], [1, 2]]


def test_several_wrt_and_named_claims(runner):
    result = run(runner, "sum(x @ y)", "--wrt", "x", "--wrt", "y", "--let", "x=ones(2,3)",
                 "--let", "y=ones(3,2)", "--expect", "x=ones(2,2) @ y.T",
                 "--expect", "y=x.T @ ones(2,2)", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [g["claim_form"] for g in json.loads(result.output)["gradients"]] == ["gradient"] * 2


def test_no_wrt_checks_every_variable_and_shapes_draw_points(runner):
    result = run(runner, "σ(x·W + b)", "--let", "x=3x2", "--let", "W=2×4", "--let", "b=1x4",
                 "--seed", "3", "--format", "json")
    data = json.loads(result.output)
    assert result.exit_code == 0 and [g["variable"] for g in data["gradients"]] == ["x", "W", "b"]
    assert data["drawn"] == ["x", "W", "b"] and data["seed"] == 3


def test_latex(runner):
    result = run(runner, "sum((x·y+z)·A+z)", "--wrt", "z", *SEED_LETS, "--format", "latex")
    assert r"\begin{bmatrix} 2 & 1 \\ 3 & 2 \\ 1 & 2 \end{bmatrix}" in result.output


def test_version_and_help(runner):
    assert runner.invoke(main, ["--version"]).output.strip() == f"gradcheck, version {__version__}"
    assert "Check the derivative of EXPRESSION" in runner.invoke(main, ["check", "-h"]).output


# arguments, fragment of the one error message
REJECTED = [
    (["x +* y", "--let", "x=1", "--let", "y=1"], "unexpected '*' at column 4"),
    (["x @ z", "--let", "x=3x2", "--let", "z=3x2"], "shape mismatch at column 3"),
    (["x + q", "--let", "x=3x2"], "unknown name 'q'"),
    (["sinn(x)", "--let", "x=3x2"], "did you mean 'sin'"),
    (["__import__('os').system('touch pwned')"], "unexpected character"),
    (["x", "--let", "x=__import__('os').system('touch pwned')"], "unexpected character"),
    (["x", "--let", "x"], "bad --let"),
    (["x", "--let", "x=3x2", "--let", "x=2x2"], "gives 'x' twice"),
    (["x@y", "--let", "x=2,2", "--let", "y=2,2", "--expect", "x=y", "--expect", "x=y"],
     "--expect gives 'x' twice"),
    (["x", "--let", "x=y"], "uses the name 'y'"),
    (["x", "--let", "x=3x2", "--wrt", "y"], "'y' is not a variable"),
    (["x", "--let", "x=3x2", "--format", "xml"], "Invalid value for '--format'"),
    (["x", "--let", "x=3x2", "--seed", "-1"], "Invalid value for '--seed'"),
    (["x", "--let", "x=3x2", "--bogus"], "No such option '--bogus'"),
    (["log(x)", "--let", "x=-ones(2,2)"], "outside the domain of 'log(x)'"),
    (["x @ y", "--let", "x=2x2", "--let", "y=2x2", "--expect", "x"], "several variables"),
    (["", "--let", "x=1"], "empty expression"),
    (["x" * 20000], "characters long"),
    (["x" * 100_000], "100000 characters long"),
    (["(" * 10_000 + "x" + ")" * 10_000], "characters long"),
    (["x.__class__.__mro__", "--let", "x=1"], "unexpected character '.'"),
    (["__class__", "--let", "x=1"], "unknown name '__class__'"),
    (["eval(x)", "--let", "x=1"], "unknown name 'eval'"),
    (["lambda x: x", "--let", "x=1"], "unexpected"),
    (["x.T.T.__dict__", "--let", "x=1"], "unexpected character '.'"),
    (["nan * x", "--let", "x=1"], "unknown name 'nan'"),
    (["inf + x", "--let", "x=1"], "unknown name 'inf'"),
    (["x", "--let", "x=1e400"], "number out of range"),
    (["x", "--let", "x=10**400"], "not finite"),
    (["x\udcff", "--let", "x=1"], "unexpected character"),
    (["S('x')", "--let", "x=1"], "unexpected character"),
    (["Symbol", "--let", "x=1"], "unknown name 'Symbol'"),
    (["(" * 300 + "sin(" * 300 + "x" + ")" * 600], "nested more than"),
]


@pytest.mark.parametrize(("args", "fragment"), REJECTED, ids=[a[0][:30] for a, _ in REJECTED])
def test_rejected_input_exits_2_with_one_error_and_no_traceback(runner, args, fragment,
                                                                 tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(runner, *args)
    assert os.listdir(tmp_path) == []  # nothing was executed, no file was created
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert result.output.count("Error:") == 1
    assert "Traceback" not in result.output


def test_directions_and_method_options(runner):
    result = run(runner, "tanh(P@Q)", "--let", "P=3x3", "--let", "Q=3x3", "--directions", "4",
                 "--method", "richardson", "--format", "json")
    assert result.exit_code == 0, result.output
    g = json.loads(result.output)["gradients"][0]
    assert g["numeric"] is None and len(g["directions"]["exact"]) == 4
    assert g["methods"] == ["richardson"]
    bad = run(runner, "x", "--let", "x=2x2", "--directions", "0")
    assert bad.exit_code == 2 and "Invalid value for '--directions'" in bad.output


def test_ctrl_c_ends_cleanly_with_a_short_message(runner, monkeypatch):
    from gradcheck import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "check", interrupted)
    result = runner.invoke(main, ["check", "x", "--let", "x=2x2"])
    assert result.exit_code == 130
    assert "interrupted: no result" in result.output and "Traceback" not in result.output


def test_timeout_option(runner):
    result = run(runner, "sum(inv(W))", "--let", "W=6x6", "--timeout", "0.5", "--engine", "sympy")
    assert result.exit_code == 2 and "time budget of 0.5 s" in result.output


# ----- colour -----

ANSI = "\x1b["
COLOUR_ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
              "TTY_INTERACTIVE": None, "TERM": "xterm-256color"}


def test_captured_output_has_no_colour_codes(runner):
    wrong = runner.invoke(main, ["check", F, "--wrt", "z", *SEED_LETS, "--expect", "A"],
                          env=COLOUR_ENV)
    assert wrong.exit_code == 1 and "FAIL" in wrong.output and ANSI not in wrong.output


def test_a_terminal_gets_colour_unless_no_color_is_set():
    # FORCE_COLOR makes rich treat the runner's stdout as a terminal; color=True keeps click
    # from stripping the codes, as on a real terminal.
    terminal = CliRunner()
    args = ["check", F, "--wrt", "z", *SEED_LETS, "--expect", "A"]
    coloured = terminal.invoke(main, args, env={**COLOUR_ENV, "FORCE_COLOR": "1"}, color=True)
    assert coloured.exit_code == 1
    assert coloured.output.rstrip().endswith("\x1b[1;31mFAIL: 6 of 36 entries disagree (∂f/∂z)"
                                             "\x1b[0m")
    plain = terminal.invoke(main, args, env={**COLOUR_ENV, "FORCE_COLOR": "1", "NO_COLOR": "1"},
                            color=True)
    assert plain.exit_code == 1 and "FAIL: 6 of 36" in plain.output and ANSI not in plain.output
    as_json = terminal.invoke(main, [*args, "--format", "json"],
                              env={**COLOUR_ENV, "FORCE_COLOR": "1"}, color=True)
    assert ANSI not in as_json.output and json.loads(as_json.output)["passed"] is False


def test_engine_option(runner):
    closed = run(runner, "sum(X@X)", "--let", "X=[[0.5,0.25],[1,2]]", "--engine", "closed")
    assert closed.exit_code == 0, closed.output
    assert "closed form: ones(2, 2)@X.T+X.T@ones(2, 2)" in closed.output
    assert "exact (closed form, exact rational arithmetic)" in closed.output
    sympy_ = run(runner, "sum(X@X)", "--let", "X=[[0.5,0.25],[1,2]]", "--engine", "sympy")
    assert "exact (SymPy, exact)" in sympy_.output
    bad = run(runner, "sum(X@X)", "--let", "X=2x2", "--engine", "fast")
    assert bad.exit_code == 2 and "'fast' is not one of" in bad.output


def test_an_expression_may_begin_with_a_minus(runner):
    """-sum(…) is the expression, not an option, before or after the options."""
    for args in (["check", "-sum(log(x))", "--let", "x=3x1", "--expect", "-1/x"],
                 ["check", "--let", "x=3x1", "--expect", "-1/x", "-sum(log(x))"],
                 ["check", "--let", "x=3x1", "--expect", "-1/x", "--", "-sum(log(x))"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "PASS: exact, numeric and claimed agree on all 3 entries" in result.output
    result = runner.invoke(main, ["check", "sum(x)", "--let", "x=3x1", "--bogus"])
    assert result.exit_code == 2 and "No such option '--bogus'" in result.output


def test_an_output_encoding_without_the_symbols_gets_ascii_spellings():
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    out = subprocess.run([sys.executable, "-m", "gradcheck", "check", "sum(σ(x))", "--let",
                          "x=2x1"], capture_output=True, env=env)
    assert out.returncode == 0, out.stderr
    assert b"df/dx: gradient" in out.stdout and b"Traceback" not in out.stderr


@pytest.mark.parametrize("number", ["1" + "0" * 400, "0." + "3" * 4400, "1e99999999", "10e300",
                                    "0.001e-298"])
def test_number_literals_out_of_range_are_one_error(runner, number):
    result = runner.invoke(main, ["check", f"sum(x)*{number}", "--let", "x=1x1"])
    assert result.exit_code == 2
    assert "Error: number" in result.output and "Traceback" not in result.output


def test_an_empty_let_names_its_variable(runner):
    result = runner.invoke(main, ["check", "sum(x)", "--let", "x="])
    assert result.exit_code == 2 and "--let x= gives no value" in result.output


def test_a_check_at_a_rational_point_does_not_import_sympy():
    # SymPy's import is four times NumPy's: the CLI's start-up (issue #14).
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from gradcheck.cli import main; "
            "r = CliRunner().invoke(main, ['check', '(x·y+z)·A+z', '--wrt', 'z', '--let', "
            "'x=ones(3,2)', '--let', 'y=0.5*ones(2,2)', '--let', 'z=0.25*ones(3,2)', '--let', "
            "'A=[[1,0],[2,1],[0,1]]', '--expect', 'A + 1']); "
            "print(r.exit_code, 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["0", "False"]
