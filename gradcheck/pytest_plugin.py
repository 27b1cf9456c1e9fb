"""A pytest plugin: the ``gradchecker`` fixture, with defaults from pytest's ini.

Installed with gradcheck (entry point ``pytest11``). In ``pytest.ini``,
``setup.cfg`` (``[tool:pytest]``) or ``pyproject.toml``::

    gradcheck_rtol = 1e-6
    gradcheck_atol = 0
    gradcheck_seed = 0
    gradcheck_method = auto

and in a test::

    def test_dense_layer(gradchecker):
        gradchecker.assert_gradient("sum(σ(x·W + b))", shapes={"x": (3, 2), ...})
        gradchecker.assert_function(forward, backward, at={...})

Arguments given in a call override the configured defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from gradcheck import api, functions
from gradcheck.checking.result import CheckResult
from gradcheck.numeric import engine as numeric

__all__ = ["Checker"]

_INI = {
    "gradcheck_rtol": (f"{api.RTOL:g}", "gradcheck: relative tolerance"),
    "gradcheck_atol": (f"{api.ATOL:g}", "gradcheck: absolute tolerance"),
    "gradcheck_seed": ("0", "gradcheck: seed for random points and upstreams"),
    "gradcheck_method": ("auto", "gradcheck: numeric method (" + ", ".join(numeric.METHODS) + ")"),
}


@dataclass(frozen=True)
class Checker:
    """gradcheck's checks with configured defaults for atol, rtol, seed, method."""

    atol: float = api.ATOL
    rtol: float = api.RTOL
    seed: int = 0
    method: str = "auto"

    def _defaults(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"atol": self.atol, "rtol": self.rtol, "seed": self.seed,
                "method": self.method, **kwargs}

    # __tracebackhide__: a failing assertion shows the test and the report, not these frames.
    def check(self, expr: str, **kwargs: Any) -> CheckResult:
        __tracebackhide__ = True
        return api.check(expr, **self._defaults(kwargs))

    def assert_gradient(self, expr: str, **kwargs: Any) -> CheckResult:
        __tracebackhide__ = True
        return api.assert_gradient(expr, **self._defaults(kwargs))

    def check_function(self, forward: Any, backward: Any,
                       **kwargs: Any) -> functions.FunctionResult:
        __tracebackhide__ = True
        return functions.check_function(forward, backward, **self._defaults(kwargs))

    def assert_function(self, forward: Any, backward: Any,
                        **kwargs: Any) -> functions.FunctionResult:
        __tracebackhide__ = True
        return functions.assert_function(forward, backward, **self._defaults(kwargs))


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (default, help_text) in _INI.items():
        parser.addini(name, help_text, default=default)


@pytest.fixture(scope="session")
def gradchecker(request: pytest.FixtureRequest) -> Checker:
    """gradcheck's checks, with the defaults configured in pytest's ini.

    One per session (a Checker holds only its defaults and never changes), so
    it may be used inside Hypothesis's ``@given`` tests."""
    ini = {name: str(request.config.getini(name)).strip() for name in _INI}
    try:
        checker = Checker(atol=float(ini["gradcheck_atol"]), rtol=float(ini["gradcheck_rtol"]),
                          seed=int(ini["gradcheck_seed"]), method=ini["gradcheck_method"])
    except ValueError as e:
        raise pytest.UsageError(f"gradcheck: a bad value in the ini file: {e}") from None
    if checker.method not in numeric.METHODS or not (0 <= checker.atol < math.inf) \
            or not (0 <= checker.rtol < math.inf) or checker.seed < 0:
        raise pytest.UsageError(
            f"gradcheck: bad ini value: {ini}; atol and rtol are finite numbers >= 0, seed "
            "a whole number >= 0, and the method is one of " + ", ".join(numeric.METHODS))
    return checker
