"""A time budget for symbolic work, so that a check ends instead of hanging.

SymPy cannot be cancelled from outside, so the budget is enforced with a
real-time timer signal (SIGALRM), which works in the main thread of a
Unix process; elsewhere symbolic work runs without a budget.

>>> with Budget(5.0).section("symbolic differentiation"):
...     pass
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import LimitError

__all__ = ["TIMEOUT", "Budget"]

TIMEOUT = 60.0  # seconds of symbolic work one check may spend


class _Expired(Exception):
    pass


class Budget:
    """Seconds left for symbolic work, spent section by section."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self.left = seconds

    @contextmanager
    def section(self, what: str) -> Iterator[None]:
        usable = (hasattr(signal, "setitimer")
                  and threading.current_thread() is threading.main_thread())
        if not usable or math.isinf(self.left):
            yield
            return
        if self.left <= 0:
            raise self._error(what)

        def expire(signum: int, frame: Any) -> None:
            raise _Expired()

        previous = signal.signal(signal.SIGALRM, expire)
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, self.left)
        try:
            yield
        except _Expired:
            raise self._error(what) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self.left -= time.monotonic() - start

    def _error(self, what: str) -> LimitError:
        return LimitError(f"{what} took longer than the time budget of {self.total:g} s",
                          hint="raise it with --timeout SECONDS (timeout= in Python), or check "
                               "smaller matrices: the exact engine expands every entry, and "
                               "inv or det of a symbolic matrix grows fast with its size")
