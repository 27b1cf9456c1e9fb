"""gradcheck inside a host process: its timers, signal handlers, warnings and
random state are left as they were (issue 21)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import gradcheck

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX timers")


@pytest.fixture
def host_alarm():
    """The host's own SIGALRM handler, recording when it fires; put back after."""
    fired: list[float] = []
    old = signal.signal(signal.SIGALRM, lambda s, f: fired.append(time.monotonic()))
    yield fired
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("timeout", [1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
def test_a_tiny_budget_leaves_no_timer_armed(timeout, host_alarm):
    handler = signal.getsignal(signal.SIGALRM)
    try:
        gradcheck.check("sum(x*x)", at={"x": [[1.0, 2.0]]}, timeout=timeout)
    except gradcheck.LimitError:
        pass  # the budget ran out, said so
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler
    time.sleep(0.3)  # a repeating timer left armed would fire by now
    assert host_alarm == []


def test_the_hosts_pending_alarm_survives_a_check(host_alarm):
    signal.setitimer(signal.ITIMER_REAL, 0.4)
    start = time.monotonic()
    gradcheck.check("sum(x*x)", at={"x": [[1.0, 2.0]]})
    left, interval = signal.getitimer(signal.ITIMER_REAL)
    if time.monotonic() - start < 0.35:
        assert 0 < left <= 0.4 and interval == 0
    time.sleep(0.6)
    assert len(host_alarm) == 1 and host_alarm[0] - start == pytest.approx(0.4, abs=0.25)


def test_the_hosts_alarm_falls_due_during_a_long_check(host_alarm):
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    start = time.monotonic()
    gradcheck.check("sum(inv(X))", shapes={"X": (3, 3)}, engine="sympy")
    elapsed = time.monotonic() - start
    time.sleep(0.1)
    assert len(host_alarm) == 1
    if elapsed > 0.3:  # the check outlasted the alarm: it was delivered on time
        assert host_alarm[0] - start < 0.3


def test_no_numpy_warning_escapes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck.check("sum(exp(x))", at={"x": [[709.7]]}, expect="exp(x)").passed
        with pytest.raises(gradcheck.DomainError):
            gradcheck.check("sum(x*x)", at={"x": [[1e200]]})
        with pytest.raises(gradcheck.FunctionError, match="forward is not finite"):
            gradcheck.check_function(lambda x: x * x, lambda g, x: {"x": 2 * x * g},
                                     at={"x": np.array([[1e200]])})


def test_checks_leave_the_global_random_state_alone():
    state = random.getstate()
    str(gradcheck.check("sum(tanh(x))", at={"x": [[0.5, -1.0]]}, expect="1 - tanh(x)**2"))
    assert random.getstate() == state


def test_importing_gradcheck_leaves_the_global_random_state_alone():
    code = ("import random; random.seed(1); s = random.getstate(); import gradcheck, "
            "gradcheck.cli; print(random.getstate() == s)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True"
