"""The exception hierarchy.

Every rejected input raises a subclass of :class:`GradcheckError`, whose
fields hold the facts (column, operands, entries) so that the CLI, the JSON
report and pytest all render the same message. The CLI maps each to exit
code 2. A derivative that is wrong is not an input error: it is reported by
:class:`GradientMismatch`, an :class:`AssertionError` raised only by the
``assert_*`` functions.

>>> try:
...     raise ParseError("unexpected ')'", text="x + )", column=5)
... except GradcheckError as e:
...     print(e)
unexpected ')' at column 5
  x + )
      ^
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ClaimError",
    "DomainError",
    "GradcheckError",
    "GradientMismatch",
    "LimitError",
    "NameLookupError",
    "OptionError",
    "ParseError",
    "ShapeError",
    "suggest",
]


_CONTEXT = 40  # characters shown either side of an error's column


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for ``word`` among ``choices``, or None.

    >>> suggest("sinn", ["sin", "cos", "exp"])
    "did you mean 'sin'?"
    """
    close = difflib.get_close_matches(word, sorted(set(choices)), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class GradcheckError(Exception):
    """An input gradcheck cannot check (exit code 2 on the CLI).

    ``message`` names the problem in a few words; ``text`` and ``column``
    (1-based) place a caret under it, ``width`` characters wide; ``detail``
    explains, and ``hint`` says how to fix it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        column: int | None = None,
        width: int = 1,
        hint: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.text = text
        self.column = column
        self.width = max(1, width)
        self.hint = hint

    def format_message(self) -> str:
        lines = [self.message]
        if self.column is not None:
            lines[0] += f" at column {self.column}"
        if self.text is not None and self.column is not None and "\n" not in self.text:
            # A window of the text around the column, so long input stays readable.
            start = max(0, self.column - 1 - _CONTEXT)
            end = self.column - 1 + self.width + _CONTEXT
            left = "…" if start > 0 else ""
            right = "…" if end < len(self.text) else ""
            lines.append("  " + left + self.text[start:end] + right)
            lines.append("  " + " " * (len(left) + self.column - 1 - start) + "^" * self.width)
        if self.detail:
            lines.append(self.detail)
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_message()


class ParseError(GradcheckError):
    """The text is not an expression of the language (syntax, bad literal)."""


class NameLookupError(GradcheckError):
    """A name is neither a variable with a value or shape nor a function."""


class ShapeError(GradcheckError):
    """Operands whose shapes do not fit the operation.

    ``operands`` holds ``(text, shape)`` for each operand involved.
    """

    def __init__(
        self, message: str, *, operands: tuple[tuple[str, tuple[int, int]], ...] = (), **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.operands = operands


class DomainError(GradcheckError):
    """A point where the expression is undefined or not differentiable."""


class ClaimError(GradcheckError):
    """A claimed derivative whose shape or form cannot be compared."""


class FunctionError(GradcheckError):
    """A user's function that cannot be judged: its forward is not finite or
    not deterministic at the point."""


class LimitError(GradcheckError):
    """Input beyond a limit that keeps a check from hanging (a time budget)."""


class OptionError(GradcheckError):
    """A bad option or argument (an unknown --wrt name, a malformed --let)."""


class GradientMismatch(AssertionError):
    """Raised by :func:`gradcheck.assert_gradient` and
    :func:`gradcheck.assert_function` when a check fails.

    ``result`` is the full :class:`gradcheck.CheckResult` (or
    :class:`gradcheck.FunctionResult`); the message is its text report, so
    pytest shows every disagreeing entry.
    """

    def __init__(self, text: str, result: Any) -> None:
        super().__init__(text)
        self.result = result
