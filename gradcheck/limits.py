"""Limits that end a check with a clear error instead of a hang, a crash or
memory exhaustion.

Five limits, each with a default and an option to change it (command
line, and keyword of the Python API):

- length of an expression: 10,000 characters (``--max-length``, ``max_length=``);
- nesting depth of its tree: 200 levels (``--max-depth``, ``max_depth=``);
- entries of any one matrix: 1,000,000 (``--max-entries``, ``max_entries=``);
- operations in the SymPy expressions of any one matrix the exact engine
  builds: 500,000 (``--max-terms``, ``max_terms=``);
- seconds of work of the exact and numeric engines: 60 (``--timeout``, ``timeout=``).

The first four are a :class:`Limits`; the entry points of the API make
theirs the active limits while they work (:meth:`Limits.applied`), and the
stages read them with :func:`current`, so a claim or a value parsed during
a check obeys the same limits as the expression. The time budget is a
:class:`Budget`: SymPy cannot be cancelled from outside, so it is enforced
with a real-time timer signal (SIGALRM), which works in the main thread of
a Unix process; elsewhere the engines run without a budget.

>>> current().depth
200
>>> with Limits(depth=500).applied():
...     current().depth
500
>>> Limits(depth=0)
Traceback (most recent call last):
  ...
gradcheck.errors.OptionError: max_depth must be a whole number from 1 to 1000, got 0
hint: on the command line: --max-depth N
>>> with Budget(5.0).section("symbolic differentiation"):
...     pass
"""

from __future__ import annotations

import math
import operator
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gradcheck.errors import LimitError, OptionError

__all__ = ["DEPTH", "DEPTH_CAP", "ENTRIES", "LENGTH", "TERMS", "TIMEOUT", "Budget", "Limits",
           "current"]

LENGTH = 10_000  # characters of an expression
DEPTH = 200  # nesting of the expression tree (parentheses alone do not count)
ENTRIES = 1_000_000  # entries of any one matrix of the expression, or of a declared shape
TERMS = 500_000  # operations in the SymPy expressions of any one matrix the exact engine builds
TIMEOUT = 60.0  # seconds the engines may spend on one check
REPEAT = 0.25  # seconds between the budget's signals once it has run out
AGAIN = 0.001  # seconds before a signal is sent again when one was dropped
FOREVER = 1e7  # seconds (115 days): a budget beyond this is no budget (setitimer's range)

# Deep trees and the interpreter's stack. The stages, and SymPy's own
# differentiation, substitution and evaluation, recurse over the tree: from
# 3 Python frames per level (sums, transposes) to about 35 (nested sigmoids
# through SymPy), measured on CPython 3.11. While a check runs in the main
# thread, the recursion limit is raised to FRAMES_PER_LEVEL per level of
# max_depth, but never beyond what the main thread's stack holds at
# BYTES_PER_FRAME each (SymPy's recursion measured 100-420 bytes of C stack
# per frame; an 8 MiB stack gives 16,000 frames). Deeper recursion than that
# ends in a LimitError, never a crash: unbounded, nested sigmoids crashed
# the interpreter at 200 levels in a thread with a 1 MiB stack.
DEPTH_CAP = 1000  # the largest max_depth accepted
FRAMES_PER_LEVEL = 40
BYTES_PER_FRAME = 500
_BASE_FRAMES = 1000  # Python's default recursion limit: room for the caller


@dataclass(frozen=True)
class Limits:
    """The size limits of a check; each field is checked when it is made.

    ``length``: characters of an expression; ``depth``: nesting levels of
    its tree; ``entries``: entries of any one matrix; ``terms``: operations
    in the SymPy expressions of any one matrix the exact engine builds.

    >>> Limits(terms=10**6).terms
    1000000
    """

    length: int = LENGTH
    depth: int = DEPTH
    entries: int = ENTRIES
    terms: int = TERMS

    def __post_init__(self) -> None:
        for field, top in (("length", None), ("depth", DEPTH_CAP), ("entries", None),
                           ("terms", None)):
            value = getattr(self, field)
            try:
                whole = None if isinstance(value, bool) else operator.index(value)
            except TypeError:
                whole = None
            if whole is None or whole < 1 or (top is not None and whole > top):
                want = f"from 1 to {top}" if top is not None else ">= 1"
                raise OptionError(f"max_{field} must be a whole number {want}, got {value!r}",
                                  hint=f"on the command line: --max-{field} N")
            object.__setattr__(self, field, whole)  # a NumPy integer becomes an int

    @contextmanager
    def applied(self) -> Iterator[Limits]:
        """Make these the active limits (:func:`current`) in this context,
        with room on the interpreter's stack for a tree ``depth`` levels deep.

        A RecursionError that still happens inside (a thread with a small
        stack) becomes a LimitError.
        """
        token = _ACTIVE.set(self)
        frames = sys.getrecursionlimit()
        try:
            with _stack_for(self.depth) as frames:
                yield self
        except RecursionError:
            main = threading.current_thread() is threading.main_thread()
            raise LimitError(
                "the expression is too deeply nested for the interpreter's stack",
                detail=f"Python's recursion limit of {frames} frames was "
                       "reached" + ("" if main else " in a thread other than the main one, "
                                    "where gradcheck does not raise it"),
                hint="nest it less deeply" + ("" if main else ", or check it in the main "
                                               "thread")
                     + "; --max-depth N (max_depth= in Python) sets the deepest nesting "
                       "accepted") from None
        finally:
            _ACTIVE.reset(token)


_DEFAULTS = Limits()
_ACTIVE: ContextVar[Limits | None] = ContextVar("gradcheck_limits", default=None)


def current() -> Limits:
    """The active limits: those of the check in progress, else the defaults."""
    return _ACTIVE.get() or _DEFAULTS


def hint(option: str, keyword: str, then: str | None = None) -> str:
    """How to raise a limit, for an error's hint.

    >>> hint("--max-depth", "max_depth")
    'raise the limit with --max-depth N (max_depth= in Python)'
    """
    text = f"raise the limit with {option} N ({keyword}= in Python)"
    return f"{then}, or {text}" if then else text


# Checks in progress that raised the recursion limit, and the limit before
# the first of them: it is restored when the last one ends.
_lock = threading.Lock()
_raised: list[int] = []
_saved = 0


def _stack_frames() -> int:
    """How many Python frames the main thread's stack holds, at BYTES_PER_FRAME."""
    try:
        import resource

        size = resource.getrlimit(resource.RLIMIT_STACK)[0]
        if size == resource.RLIM_INFINITY or size <= 0:
            size = 64 * 2**20
    except (ImportError, OSError, ValueError):
        size = 2 * 2**20  # Windows: python.exe's main thread has a 2 MB stack
    return int(size) // BYTES_PER_FRAME


@contextmanager
def _stack_for(depth: int) -> Iterator[int]:
    """Raise the recursion limit for a tree ``depth`` levels deep, as far as
    the stack allows, in the main thread only (other threads may have
    smaller stacks), and restore it when the last check that raised it ends."""
    global _saved
    if threading.current_thread() is not threading.main_thread():
        yield sys.getrecursionlimit()
        return
    want = min(_BASE_FRAMES + FRAMES_PER_LEVEL * depth, _stack_frames())
    with _lock:
        if not _raised:
            _saved = sys.getrecursionlimit()
        _raised.append(want)
        sys.setrecursionlimit(max([_saved, *_raised]))
    try:
        yield sys.getrecursionlimit()
    finally:
        with _lock:
            _raised.remove(want)
            sys.setrecursionlimit(max([_saved, *_raised]))


def _restore(handler: Any, host_at: float, host_interval: float) -> None:
    """Our timer off, the host's handler and timer back (a deadline that fell due
    while the handler could not be called is delivered now)."""
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if handler is not None:
                signal.signal(signal.SIGALRM, handler)
            if math.isfinite(host_at):
                delay = max(host_at - time.monotonic(), AGAIN)
                signal.setitimer(signal.ITIMER_REAL, delay, host_interval)
            return
        except _Expired:  # our own last signal, arriving as we leave: once more
            continue


class _Expired(BaseException):
    """The budget ran out. Not an Exception, so that code which catches
    every Exception cannot swallow it."""


class Budget:
    """Seconds left for the engines' work, spent section by section."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self.left = seconds

    @contextmanager
    def section(self, what: str) -> Iterator[None]:
        """Run the body within the seconds left, by SIGALRM (main thread only).

        The host's own alarm survives: its handler and its interval timer are
        saved, its deadline is kept (its handler is called when it falls due
        during the section), and both are restored afterwards."""
        usable = (hasattr(signal, "setitimer")
                  and threading.current_thread() is threading.main_thread())
        if not usable or self.left > FOREVER:
            yield
            return
        if self.left <= 0:
            raise self._error(what)

        leaving = False
        start = time.monotonic()
        own_at = start + self.left
        host_at, host_interval = math.inf, 0.0
        previous: Any = None

        def arm() -> None:
            delay = min(own_at, host_at) - time.monotonic()
            # Repeated every REPEAT seconds, should a signal be lost all the same.
            signal.setitimer(signal.ITIMER_REAL, max(delay, AGAIN), REPEAT)

        def expire(signum: int, frame: Any) -> None:
            nonlocal host_at
            if leaving:
                return
            now = time.monotonic()
            if host_at <= now and callable(previous):  # the host's alarm falls due
                host_at = now + host_interval if host_interval > 0 else math.inf
                arm()
                previous(signum, frame)
                return
            if now >= own_at - AGAIN:
                raise _Expired()
            arm()

        # The signal may arrive while a gc callback or a finalizer runs (as
        # Hypothesis's do), where Python reports an exception as unraisable
        # and drops it: then it is sent again at once, and not reported.
        unraisable_hook = sys.unraisablehook

        def dropped(unraisable: Any) -> None:
            if not isinstance(unraisable.exc_value, _Expired):
                unraisable_hook(unraisable)
            elif not leaving:
                signal.setitimer(signal.ITIMER_REAL, AGAIN, REPEAT)

        try:
            previous = signal.signal(signal.SIGALRM, expire)
            host_delay, host_interval = signal.setitimer(signal.ITIMER_REAL, 0)
            if host_delay > 0:
                host_at = start + host_delay
            sys.unraisablehook = dropped
            arm()
            yield
        except _Expired:
            leaving = True
            raise self._error(what) from None
        finally:
            leaving = True
            _restore(previous, host_at, host_interval)
            sys.unraisablehook = unraisable_hook
            self.left -= time.monotonic() - start

    def _error(self, what: str) -> LimitError:
        if what.startswith("the numeric estimate"):
            way = ("or check the numeric engine on K random projections (--directions K, "
                   "directions= in Python): 2 evaluations each, not 2 per entry")
        else:
            way = ("or check smaller matrices: the exact engine expands every entry, and inv "
                   "or det of a symbolic matrix grows fast with its size")
        return LimitError(f"{what} took longer than the time budget of {self.total:g} s",
                          hint=f"raise it with --timeout SECONDS (timeout= in Python), {way}")
