"""The command line: ``gradcheck check EXPRESSION --wrt z --let z=3x2 ...``.

Parses options and prints; the logic is in :mod:`gradcheck.api`. Exit codes:
0 everything agrees, 1 a mismatch was found, 2 the input was rejected, 3 no
verdict could be reached (every entry at a kink, or error bounds too wide to
tell right from wrong: the report says which and why).
The text report is coloured only on a terminal and never when NO_COLOR is
set; ``--plot`` imports matplotlib (:mod:`gradcheck.report.plot`) only when given.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from contextlib import nullcontext
from typing import Any

import click

from gradcheck import api, progress, report
from gradcheck.checking.points import SHAPE
from gradcheck.errors import GradcheckError, OptionError
from gradcheck.exact.engine import ENGINES
from gradcheck.language.parser import NAME_PATTERN
from gradcheck.limits import DEPTH, DEPTH_CAP, ENTRIES, LENGTH, TERMS, TIMEOUT
from gradcheck.numeric import engine as numeric
from gradcheck.version import VERSION

_NAME = re.compile(rf"^\s*({NAME_PATTERN})\s*=(.*)$", re.DOTALL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, "--version", prog_name="gradcheck")
def main() -> None:
    """Check matrix derivatives: exact (SymPy) against numeric (finite
    differences) against the one you derived."""
    for stream in (sys.stdout, sys.stderr):
        _plain_where_needed(stream)


# ASCII spellings of the report's symbols, for a terminal or file whose
# encoding lacks them (PYTHONIOENCODING=latin-1, a cp1252 console).
_ASCII = {"∂": "d", "×": "x", "·": ".", "ᵀ": "^T", "σ": "sigma", "−": "-", "⊙": "*", "∘": "*",
          "≤": "<=", "≥": ">=", "…": "...", "→": "->", "′": "'", "±": "+-", "≈": "~",
          "‖": "||", "⁻": "^-", "¹": "1", "²": "2", "ε": "eps", "κ": "kappa", "√": "sqrt"}


def _ascii_spelling(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeEncodeError)
    bad = error.object[error.start:error.end]
    return "".join(_ASCII.get(c, "?") for c in bad), error.end


codecs.register_error("gradcheck-ascii", _ascii_spelling)


def _plain_where_needed(stream: Any) -> None:
    """Write symbols the stream's encoding lacks in ASCII instead of failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "∂×·ᵀσ".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="gradcheck-ascii")


class _Check(click.Command):
    """``check``, where the expression may begin with a minus (cross-entropy,
    ``-sum(y*log(p))``): a word that begins with ``-`` and is no option of the
    command is the expression, wherever it stands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {o for p in self.params if isinstance(p, click.Option) and not p.is_flag
                       for o in p.opts}
        known = {o for p in self.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
        words, i = list(args), 0
        while i < len(words):
            word = words[i]
            if word == "--":
                break
            if word in takes_value:
                i += 2  # the option and its value, which may begin with a minus
                continue
            if word.startswith("-") and len(word) > 1 and word.split("=", 1)[0] not in known \
                    and not word.startswith("--"):
                words = [*words[:i], *words[i + 1:], "--", word]
                break
            i += 1
        return super().parse_args(ctx, words)


@main.command(cls=_Check)
@click.argument("expression")
@click.option("--wrt", multiple=True, metavar="NAME",
              help="Variable to differentiate by; repeat for several. Default: all.")
@click.option("--let", "lets", multiple=True, metavar="NAME=VALUE",
              help="A variable's value (a constant expression: ones(3,2), [[1,0],[2,1]], "
                   "0.5*eye(2)) or its shape (3x2, drawn at random).")
@click.option("--expect", multiple=True, metavar="[NAME=]EXPR",
              help="Your derivative: the gradient for a 1×1 f, the elementwise derivative "
                   "where f is elementwise, or the full Jacobian. NAME= picks the variable.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "latex"]), default="text",
              show_default=True, help="Report format.")
@click.option("--method", type=click.Choice(numeric.METHODS), default="auto", show_default=True,
              help="Numeric method: auto is the complex step where every operation allows "
                   "it, else richardson.")
@click.option("--directions", type=click.IntRange(min=1), default=None, metavar="K",
              help="Check the numeric engine on K random projections uᵀJv instead of the "
                   "whole Jacobian (for large inputs).")
@click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
              help="Exact engine: sympy (over the entries; the reference), symengine (the same "
                   "on SymPy's C++ core, fast), closed (closed-form matrix calculus with NumPy, "
                   "for large inputs), auto (symengine cross-checked by the closed form where "
                   "affordable, else the closed form).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed for values drawn at random.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="Time budget for the exact and numeric engines.")
@click.option("--max-length", type=click.IntRange(min=1), default=LENGTH, show_default=True,
              metavar="N", help="Most characters an expression may have.")
@click.option("--max-depth", type=click.IntRange(1, DEPTH_CAP), default=DEPTH,
              show_default=True, metavar="N",
              help="Deepest nesting of an expression (parentheses alone do not count).")
@click.option("--max-entries", type=click.IntRange(min=1), default=ENTRIES, show_default=True,
              metavar="N", help="Most entries any one matrix may have.")
@click.option("--max-terms", type=click.IntRange(min=1), default=TERMS, show_default=True,
              metavar="N",
              help="Most terms (operations) in the expressions of any one matrix the sympy "
                   "and symengine engines build.")
@click.option("--atol", type=click.FloatRange(min=0), default=api.ATOL, show_default=True,
              help="Absolute tolerance.")
@click.option("--rtol", type=click.FloatRange(min=0), default=api.RTOL, show_default=True,
              help="Relative tolerance.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              metavar="FILE.png",
              help="Also draw heatmaps of the exact and claimed derivatives and their "
                   "errors to FILE.png (needs matplotlib: pip install 'gradcheck[plot]').")
def check(expression: str, wrt: tuple[str, ...], lets: tuple[str, ...],
          expect: tuple[str, ...], fmt: str, method: str, directions: int | None,
          engine: str, seed: int, timeout: float, max_length: int, max_depth: int,
          max_entries: int, max_terms: int, atol: float, rtol: float,
          plot_path: str | None) -> None:
    """Check the derivative of EXPRESSION.

    \b
    Example:
      gradcheck check "(x·y+z)·A+z" --wrt z --expect "A + 1" \\
        --let x="ones(3,2)" --let y="0.5*ones(2,2)" --let z="0.25*ones(3,2)" \\
        --let A="[[1,0],[2,1],[0,1]]"
    """
    try:
        if plot_path is not None:  # before the work: matplotlib and the directory are there
            from gradcheck.report import plot

            plot.check_path(plot_path)
        at, shapes = _lets(lets)
        with _progress() as bar, progress.listening(bar):
            result = api.check(expression, wrt=list(wrt) or None, at=at, shapes=shapes,
                               expect=_expects(expect), atol=atol, rtol=rtol, seed=seed,
                               method=method, directions=directions, timeout=timeout,
                               engine=engine, max_length=max_length, max_depth=max_depth,
                               max_entries=max_entries, max_terms=max_terms)
    except GradcheckError as e:
        raise click.UsageError(e.format_message()) from None
    except RecursionError:
        raise click.UsageError("the expression is too deeply nested to check") from None
    except KeyboardInterrupt:
        click.echo("interrupted: no result", err=True)
        sys.exit(130)
    color = fmt == "text" and report.wants_color(sys.stdout)
    click.echo(report.render(result, fmt, color=color))
    if plot_path is not None:
        try:
            plot.plot(result, plot_path)
        except GradcheckError as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            sys.exit(2)
    sys.exit(EXIT[result.verdict])


EXIT = {"pass": 0, "fail": 1, "undecided": 3}  # 2: the input was rejected


def _progress() -> progress.TerminalBar | nullcontext[Any]:
    """A progress bar on stderr for checks that take more than a second,
    when stderr is a terminal; else nothing."""
    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        return progress.TerminalBar()
    return nullcontext(lambda what, done, total: None)


def _lets(lets: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    at: dict[str, Any] = {}
    shapes: dict[str, Any] = {}
    for item in lets:
        m = _NAME.match(item)
        if not m:
            raise OptionError(f"bad --let {item!r}",
                              hint="write --let NAME=VALUE (ones(3,2)) or --let NAME=3x2")
        name, value = m.group(1), m.group(2)
        if not value.strip():
            raise OptionError(f"--let {name}= gives no value",
                              hint=f"write --let {name}=VALUE (ones(3,2)) or --let {name}=3x2")
        if name in at or name in shapes:
            raise OptionError(f"--let gives '{name}' twice", hint="give each name once")
        if SHAPE.match(value):
            shapes[name] = value  # checked by api.check, within the limits given
        else:
            at[name] = value
    return at, shapes


def _expects(expect: tuple[str, ...]) -> Any:
    if not expect:
        return None
    named = [_NAME.match(e) for e in expect]
    if len(expect) == 1 and not named[0]:
        return expect[0]
    out = {}
    for text, m in zip(expect, named, strict=False):
        if not m:
            raise OptionError(f"--expect {text!r} does not say which variable it is for",
                              hint="with several --expect, write each as NAME=EXPR")
        if m.group(1) in out:
            raise OptionError(f"--expect gives '{m.group(1)}' twice", hint="give each name once")
        out[m.group(1)] = m.group(2)
    return out
