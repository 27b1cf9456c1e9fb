"""Fuzzing: whatever the text, the only outcomes are a result or one
GradcheckError (exit 2 on the CLI): no other exception, no traceback, no
file touched."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck.cli import main
from gradcheck.language.parser import parse
from gradcheck.strategies import expressions

TOKENS = ["x", "y", "W", "σ", "sin", "exp", "log", "relu", "sum", "trace", "inv", "ones",
          "(", ")", "[", "]", ",", "+", "-", "*", "/", "@", "·", "×", "⊙", "**", "^", ".T",
          "ᵀ", "2", "0.5", "1e3", "0", " ", "__import__", "'", '"', "=", ";", "lambda",
          ".", "_", "nan", "inf", "1e999"]
SHAPES = {"x": (2, 2), "y": (2, 2), "W": (2, 2)}


def _outcome(text: str) -> None:
    try:
        gradcheck.check(text, shapes=SHAPES)
    except gradcheck.GradcheckError as e:
        assert str(e)  # a message, whatever it is


@given(st.text(max_size=40))
def test_random_text(text):
    _outcome(text)


@given(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))
def test_random_token_sequences(text):
    _outcome(text)


@settings(max_examples=60)
@given(expressions(max_depth=2, max_variables=2), st.data())
def test_mutations_of_valid_expressions(expr, data):
    text = expr.text
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 3)))
    text = text[:i] + data.draw(st.sampled_from(TOKENS + [""])) + text[j:]
    try:
        parse(text)
    except gradcheck.ParseError:
        return
    _outcome(text)


@settings(max_examples=30)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map("".join),
       st.sampled_from(["x=2x2", "x=[[1,2],[3,4]]", "x=__import__('os')", "x=", "=2", "x=1e999",
                        "x=nan", "x=ones(2,2)"]))
def test_the_cli_exits_0_1_or_2_and_never_shows_a_traceback(tmp_path_factory, text, let):
    from click.testing import CliRunner

    cwd = tmp_path_factory.mktemp("cli")
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["check", text, "--let", let, "--let", "y=2x2",
                                           "--let", "W=2x2"])
    finally:
        os.chdir(before)
    assert result.exit_code in (0, 1, 2), (text, let, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert os.listdir(cwd) == []
