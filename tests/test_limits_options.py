"""The limits' options: each raises and lowers its limit, in Python and on
the command line; hitting a limit names the option that changes it; bad
values are rejected with exit code 2; no RecursionError ever escapes."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import gradcheck
from gradcheck.cli import main
from gradcheck.limits import DEPTH, DEPTH_CAP, ENTRIES, LENGTH, TERMS, Limits, current


def run(runner, *args):
    return runner.invoke(main, ["check", *args], catch_exceptions=False)


def rejected(result, *fragments):
    """Exit code 2, one error, no traceback, and every fragment in the output."""
    assert result.exit_code == 2, result.output
    assert result.output.count("Error:") == 1 and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def names_option(error, option, keyword):
    text = str(error)
    assert option in text and f"{keyword}=" in text, text


# ----- length -----

LONG = "sum(x * x)" + " " * LENGTH  # past the default, and as simple as before


def test_length_is_raised_and_lowered():
    with pytest.raises(gradcheck.ParseError, match=f"more than {LENGTH}") as e:
        gradcheck.check(LONG, at={"x": [[1, 2]]})
    names_option(e.value, "--max-length", "max_length")
    assert gradcheck.check(LONG, at={"x": [[1, 2]]}, expect="2*x",
                           max_length=2 * LENGTH).passed
    with pytest.raises(gradcheck.ParseError, match="10 characters long, more than 9"):
        gradcheck.check("sum(x * x)", at={"x": [[1, 2]]}, max_length=9)


def test_length_applies_to_claims_and_values_too():
    with pytest.raises(gradcheck.ParseError, match="more than 9"):
        gradcheck.check("sum(x*x)", at={"x": [[1, 2]]}, expect="2*x + 0 * x", max_length=9)
    with pytest.raises(gradcheck.ParseError, match="more than 9"):
        gradcheck.check("sum(x*x)", at={"x": "[[1, 2]] + 0"}, max_length=9)


def test_length_on_the_command_line(runner):
    rejected(run(runner, LONG, "--let", "x=1x2"), f"more than {LENGTH}", "--max-length N",
             "max_length=")
    assert run(runner, LONG, "--let", "x=1x2", "--max-length", "20000").exit_code == 0
    rejected(run(runner, "sum(x * x)", "--let", "x=1x2", "--max-length", "9"), "more than 9",
             "--max-length")


# ----- depth -----

def nested(levels, f="sin"):
    return f"{f}(" * levels + "x" + ")" * levels


def test_depth_is_raised_and_lowered():
    deep = "x" + ".T" * DEPTH  # DEPTH + 1 levels
    with pytest.raises(gradcheck.ParseError, match=f"nested more than {DEPTH} levels") as e:
        gradcheck.check(deep, at={"x": [[1, 2]]})
    names_option(e.value, "--max-depth", "max_depth")
    assert gradcheck.check(deep, at={"x": [[1, 2]]}, max_depth=DEPTH + 1).passed
    with pytest.raises(gradcheck.ParseError, match="nested more than 3 levels"):
        gradcheck.check(nested(3), at={"x": 1}, max_depth=3)
    assert gradcheck.check(nested(2), at={"x": 1}, max_depth=3).passed


def test_deep_trees_through_sympy_do_not_overflow_the_stack():
    # Nested relu and abs recurse about 6 frames per level through SymPy:
    # 400 levels would need more than Python's default 1000 frames.
    before = sys.getrecursionlimit()
    for f in ("relu", "abs"):
        r = gradcheck.check(nested(400, f), at={"x": 0.5}, engine="sympy", max_depth=401)
        assert r.passed and r["x"].engine == "sympy"
    assert sys.getrecursionlimit() == before


def test_depth_is_capped():
    with pytest.raises(gradcheck.OptionError, match=f"from 1 to {DEPTH_CAP}, got {DEPTH_CAP + 1}"):
        gradcheck.check("x", at={"x": 1}, max_depth=DEPTH_CAP + 1)
    assert gradcheck.check("x" + ".T" * (DEPTH_CAP - 1), at={"x": 1},
                           max_depth=DEPTH_CAP).passed


def test_a_recursion_error_becomes_a_limit_error():
    # Only the main thread gets a raised recursion limit: elsewhere, a deep
    # tree ends in a LimitError, not a RecursionError.
    out = []

    def deep():
        try:
            gradcheck.check("x" + ".T" * 900, at={"x": 1}, max_depth=DEPTH_CAP)
        except Exception as e:  # noqa: BLE001 - the test looks at what escaped
            out.append(e)

    thread = threading.Thread(target=deep)
    thread.start()
    thread.join()
    (error,) = out
    assert isinstance(error, gradcheck.LimitError), repr(error)
    assert "too deeply nested" in error.message and "main thread" in error.hint


def test_depth_on_the_command_line(runner):
    rejected(run(runner, nested(DEPTH + 1), "--let", "x=1"), f"nested more than {DEPTH}",
             "--max-depth N", "max_depth=")
    deep = "x" + ".T" * DEPTH
    assert run(runner, deep, "--let", "x=1", "--max-depth", str(DEPTH + 1)).exit_code == 0
    rejected(run(runner, nested(3), "--let", "x=1", "--max-depth", "3"), "nested more than 3")
    rejected(run(runner, "x", "--let", "x=1", "--max-depth", str(DEPTH_CAP + 1)),
             "Invalid value for '--max-depth'", f"1<=x<={DEPTH_CAP}")


# ----- entries -----

def test_entries_are_raised_and_lowered():
    rows, cols = 1001, 1000  # just past the default
    at = {"x": np.ones((rows, 1)), "y": np.ones((1, cols))}
    with pytest.raises(gradcheck.ShapeError, match=f"more than {ENTRIES}") as e:
        gradcheck.jacobian("sum(x @ y)", wrt="x", at=at)
    names_option(e.value, "--max-entries", "max_entries")
    g = gradcheck.jacobian("sum(x @ y)", wrt="x", at=at, max_entries=2 * ENTRIES)
    assert g.shape == (rows, 1) and np.all(g == cols)
    with pytest.raises(gradcheck.ShapeError, match="'x@y' would have 6 entries, more than 5"):
        gradcheck.check("sum(x @ y)", shapes={"x": (3, 1), "y": (1, 2)}, max_entries=5)
    assert gradcheck.check("sum(x @ y)", shapes={"x": (3, 1), "y": (1, 2)},
                           max_entries=6).passed


def test_entries_of_values_and_shapes():
    with pytest.raises(gradcheck.OptionError, match="has 6 entries, more than 5") as e:
        gradcheck.check("sum(x)", at={"x": np.ones((2, 3))}, max_entries=5)
    names_option(e.value, "--max-entries", "max_entries")
    with pytest.raises(gradcheck.OptionError, match="bad shape") as e:
        gradcheck.check("sum(x)", shapes={"x": "2x3"}, max_entries=5)
    assert "6 entries, more than 5" in e.value.detail
    names_option(e.value, "--max-entries", "max_entries")
    with pytest.raises(gradcheck.OptionError, match=f"more than {ENTRIES}"):
        gradcheck.check("sum(x)", at={"x": np.zeros((1, ENTRIES + 1))})


def test_entries_on_the_command_line(runner):
    rejected(run(runner, "sum(x)", "--let", "x=1001x1000"), f"more than {ENTRIES}",
             "--max-entries N", "max_entries=")
    rejected(run(runner, "sum(x)", "--let", "x=2x3", "--max-entries", "5"), "more than 5")
    assert run(runner, "sum(x)", "--let", "x=2x3", "--max-entries", "6").exit_code == 0
    rejected(run(runner, "ones(2,3)", "--max-entries", "5"), "more than 5")


# ----- terms -----

@pytest.mark.parametrize("engine", ["sympy", "symengine"])
def test_terms_are_raised_and_lowered(engine):
    expr, shapes = "sum(W @ W @ W)", {"W": (3, 3)}
    with pytest.raises(gradcheck.LimitError, match=r"'W@W@W' has \d+ terms, more than 100") as e:
        gradcheck.check(expr, shapes=shapes, max_terms=100, engine=engine)
    names_option(e.value, "--max-terms", "max_terms")
    assert "--engine closed" in e.value.hint
    assert gradcheck.check(expr, shapes=shapes, max_terms=1000, engine=engine).passed
    assert gradcheck.check(expr, shapes=shapes, max_terms=100, engine="closed").passed


def test_a_limit_one_engine_meets_is_not_the_verdict_of_auto():
    r = gradcheck.check("sum(W @ W @ W)", shapes={"W": (3, 3)}, max_terms=100)
    g = r["W"]
    assert r.passed and g.engine == "closed form"
    assert g.engine_note.startswith("the element-level engine stopped (the symbolic expression")
    assert "the closed form alone" in str(r)
    # The case of issue #14: refused by the SymPy engine, answered by auto.
    X = np.eye(8) * 2 + np.triu(np.ones((8, 8)), 1) / 4
    assert gradcheck.check("logdet(X)", at={"X": X}, expect="inv(X).T").passed
    with pytest.raises(gradcheck.LimitError, match="more than"):
        gradcheck.check("logdet(X)", at={"X": X}, engine="sympy")


def test_a_symbolic_blow_up_stops_early():
    start = time.monotonic()
    with pytest.raises(gradcheck.LimitError, match=f"has \\d+ terms, more than {TERMS}") as e:
        gradcheck.check("det(W)", shapes={"W": (8, 8)}, engine="sympy")
    with pytest.raises(gradcheck.LimitError, match=f"would have \\d+ terms, more than {TERMS}"):
        # estimated before the inverse
        gradcheck.check("sum(inv(W))", shapes={"W": (7, 7)}, engine="sympy")
    assert time.monotonic() - start < 5  # before: 60 s, the time budget
    names_option(e.value, "--max-terms", "max_terms")
    # Raised above the default, the expression is built and the work goes on
    # (here into the time budget).
    with pytest.raises(gradcheck.LimitError, match="time budget of 0.5 s"):
        gradcheck.check("det(W)", shapes={"W": (8, 8)}, max_terms=2_000_000, timeout=0.5,
                        engine="sympy")


def test_terms_on_the_command_line(runner):
    rejected(run(runner, "det(W)", "--let", "W=8x8", "--engine", "sympy"), f"more than {TERMS}",
             "--max-terms N", "max_terms=", "--engine closed")
    rejected(run(runner, "sum(W @ W @ W)", "--let", "W=3x3", "--max-terms", "100", "--engine",
                 "symengine"), "more than 100")
    assert run(runner, "sum(W @ W @ W)", "--let", "W=3x3", "--max-terms", "1000").exit_code == 0


# ----- every option -----

OPTIONS = ["--max-length", "--max-depth", "--max-entries", "--max-terms"]


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many", ""])
def test_bad_values_exit_2(runner, option, value):
    rejected(run(runner, "sum(x)", "--let", "x=2x2", option, value),
             f"Invalid value for '{option}'")


@pytest.mark.parametrize("keyword", ["max_length", "max_depth", "max_entries", "max_terms"])
@pytest.mark.parametrize("value", [0, -3, 2.5, "10", True, None])
def test_bad_values_in_python(keyword, value):
    with pytest.raises(gradcheck.OptionError, match=f"{keyword} must be a whole number"):
        gradcheck.check("sum(x)", at={"x": 1}, **{keyword: value})
    with pytest.raises(gradcheck.OptionError, match=f"{keyword} must be a whole number"):
        gradcheck.jacobian("sum(x)", at={"x": 1}, **{keyword: value})
    with pytest.raises(gradcheck.OptionError, match=f"{keyword} must be a whole number"):
        gradcheck.derivative("sum(x)", shapes={"x": (1, 1)}, **{keyword: value})


def test_the_defaults_are_back_after_a_check():
    before = sys.getrecursionlimit()
    with pytest.raises(gradcheck.ParseError):
        gradcheck.check("sin(sin(x))", at={"x": 1}, max_depth=2, max_entries=7)
    assert current() == Limits() and sys.getrecursionlimit() == before
    assert gradcheck.derivative("x.T @ x", wrt="x", shapes={"x": (2, 1)}, max_depth=900,
                                max_terms=np.int64(10)).shape == (2, 1)
    assert current() == Limits() and sys.getrecursionlimit() == before


def test_a_closed_form_too_large_to_print_is_not_shown():
    # Nested softmax doubles its closed form per level as a tree (a small
    # DAG); printing it at 20 levels took minutes, outside any time budget.
    start = time.monotonic()
    r = gradcheck.check(nested(20, "softmax"), at={"x": 0.5})
    assert r.passed and r["x"].engine == "symengine" and r["x"].closed_form is None
    assert time.monotonic() - start < 5
    assert gradcheck.check(nested(2, "softmax"), at={"x": 0.5})["x"].closed_form is not None


def test_the_time_budget_survives_a_signal_dropped_in_a_gc_callback():
    # Python drops an exception raised in a gc callback (Hypothesis installs
    # one): the budget's signal landing there must not be lost, or the
    # check runs on without a budget (it hung the test suite once).
    import gc

    from gradcheck.limits import Budget

    def slow(phase, info):
        if phase == "start":
            end = time.monotonic() + 0.2
            while time.monotonic() < end:
                pass

    t0 = time.monotonic()
    gc.collect()  # what a collection takes here by itself, after the tests before this one
    collecting = time.monotonic() - t0
    gc.callbacks.append(slow)
    start = time.monotonic()
    try:
        with pytest.raises(gradcheck.LimitError, match="time budget of 0.05 s"):
            with Budget(0.05).section("the work"):
                gc.collect()  # the signal arrives during slow()
                while time.monotonic() < start + 5:
                    pass
    finally:
        gc.callbacks.remove(slow)
    # sent again at once, not REPEAT later
    assert time.monotonic() - start < 0.4 + 2 * collecting


def test_the_time_budget_covers_the_numeric_engine():
    import gradcheck

    with pytest.raises(gradcheck.LimitError, match="the numeric estimate by x took longer") as e:
        gradcheck.check("sum(inv(x))", shapes={"x": (60, 60)}, engine="closed", timeout=0.1)
    assert "--directions K" in e.value.hint
