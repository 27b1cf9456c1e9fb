"""Progress reported by the engines, and the bar that shows it on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

import gradcheck
from gradcheck import progress


def test_the_engines_report_their_chunks():
    seen = []
    with progress.listening(lambda what, done, total: seen.append((what, done, total))):
        assert gradcheck.check("tanh(P@Q)", shapes={"P": "8x8", "Q": "8x8"}).passed
    stages = {what.split(": ")[-1] for what, _, _ in seen}
    assert {"numeric", "exact", "compare"} <= stages
    assert all(0 <= done <= total for _, done, total in seen)
    numeric = [(done, total) for what, done, total in seen if what.endswith("numeric")]
    assert (8, 8) in numeric  # the last group of the 8 columns of P (or rows of Q)


def test_nothing_is_reported_without_a_listener():
    progress.advance("numeric", 1, 2)  # no error, no output


def _console(out):
    return Console(file=out, force_terminal=True, width=80)


def test_the_bar_appears_after_its_delay_and_goes_when_done():
    out = io.StringIO()
    with progress.TerminalBar(delay=0.0, console=_console(out)) as bar:
        with progress.listening(bar), progress.section("∂f/∂P"):
            progress.advance("numeric", 3, 8)
        assert bar.bar is not None
        assert bar.bar.tasks[0].description == "∂f/∂P: numeric"
        assert (bar.bar.tasks[0].completed, bar.bar.tasks[0].total) == (3, 8)
    assert "∂f/∂P: numeric" in out.getvalue()


def test_a_quick_check_shows_no_bar():
    out = io.StringIO()
    with progress.TerminalBar(delay=3600.0, console=_console(out)) as bar:
        with progress.listening(bar):
            gradcheck.check("sum(x*x)", shapes={"x": "2x2"})
        assert bar.bar is None
    assert out.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_command_line_draws_the_bar_on_a_terminal_only(monkeypatch):
    from gradcheck import cli

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not isinstance(cli._progress(), progress.TerminalBar)  # piped: no bar
    monkeypatch.setattr("sys.stderr", _Terminal())
    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(cli._progress(), progress.TerminalBar)
    monkeypatch.setenv("TERM", "dumb")
    assert not isinstance(cli._progress(), progress.TerminalBar)
