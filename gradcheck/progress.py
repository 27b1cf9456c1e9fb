"""Progress of long checks, for a bar on stderr.

The engines report as they work through their chunks (:func:`advance`);
nothing listens unless a caller installs a listener (:func:`listening`).
The command line does, when stderr is a terminal: :class:`TerminalBar`
shows a bar once a check has run for a second, and removes it when done.

>>> seen = []
>>> with listening(lambda what, done, total: seen.append((what, done, total))):
...     with section("∂f/∂x"):
...         advance("numeric", 1, 2)
>>> seen
[('∂f/∂x: numeric', 1, 2)]
>>> advance("numeric", 2, 2)  # nobody listening: nothing happens
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["DELAY", "TerminalBar", "advance", "listening", "section"]

DELAY = 1.0  # seconds a check runs before its bar appears

Listener = Callable[[str, int, int], None]  # (what, done, total)

_listener: ContextVar[Listener | None] = ContextVar("gradcheck_progress", default=None)
_label: ContextVar[str] = ContextVar("gradcheck_progress_label", default="")


def advance(stage: str, done: int, total: int) -> None:
    """Report ``done`` of ``total`` units of work in ``stage``."""
    listener = _listener.get()
    if listener is not None:
        label = _label.get()
        listener(f"{label}: {stage}" if label else stage, done, total)


def listening(listener: Listener) -> AbstractContextManager[None]:
    """Send the progress reported inside to ``listener``."""
    return _set(_listener, listener)


def section(label: str) -> AbstractContextManager[None]:
    """Name the work reported inside (e.g. which derivative)."""
    return _set(_label, label)


@contextmanager
def _set(var: ContextVar[Any], value: Any) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


class TerminalBar:
    """A rich progress bar on stderr, shown after :data:`DELAY` seconds and
    removed when closed. Use as a context manager around the check."""

    def __init__(self, delay: float = DELAY, console: Any = None) -> None:
        self.delay, self.console = delay, console
        self.start = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.start < self.delay:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"),
                                TimeElapsedColumn(), transient=True,
                                console=self.console or Console(stderr=True))
            self.bar.start()
        if self.task is None or self.bar.tasks[self.task].description != what:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task(what, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __enter__(self) -> TerminalBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
