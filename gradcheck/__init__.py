"""gradcheck: is this derivative right?

Derive the exact Jacobian of a matrix expression with SymPy, estimate it
independently by finite differences, and compare both, entry by entry, with
the derivative you derived by hand.

>>> import gradcheck
>>> gradcheck.check("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z").passed
True
"""

from __future__ import annotations

from typing import Any

from gradcheck import quiet_imports as _quiet_imports  # noqa: F401  (first of all)
from gradcheck.api import assert_gradient as assert_gradient
from gradcheck.api import check as check
from gradcheck.api import derivative as derivative
from gradcheck.api import jacobian as jacobian
from gradcheck.checking.result import CheckResult as CheckResult
from gradcheck.checking.result import Gradient as Gradient
from gradcheck.errors import ClaimError as ClaimError
from gradcheck.errors import DomainError as DomainError
from gradcheck.errors import FunctionError as FunctionError
from gradcheck.errors import GradcheckError as GradcheckError
from gradcheck.errors import GradientMismatch as GradientMismatch
from gradcheck.errors import LimitError as LimitError
from gradcheck.errors import NameLookupError as NameLookupError
from gradcheck.errors import OptionError as OptionError
from gradcheck.errors import ParseError as ParseError
from gradcheck.errors import ShapeError as ShapeError
from gradcheck.functions import FunctionResult as FunctionResult
from gradcheck.functions import assert_function as assert_function
from gradcheck.functions import check_function as check_function
from gradcheck.report import formats as _formats  # noqa: F401  (results learn to show themselves)
from gradcheck.version import VERSION as __version__

__all__ = [
    "CheckResult",
    "ClaimError",
    "FunctionResult",
    "DomainError",
    "FunctionError",
    "GradcheckError",
    "Gradient",
    "GradientMismatch",
    "LimitError",
    "NameLookupError",
    "OptionError",
    "ParseError",
    "ShapeError",
    "__version__",
    "assert_function",
    "assert_gradient",
    "check",
    "check_function",
    "check_jax",
    "check_torch",
    "derivative",
    "jacobian",
]


def __getattr__(name: str) -> Any:
    """``check_torch`` and ``check_jax``, imported (with PyTorch or JAX) only when asked for."""
    if name == "check_torch":
        from gradcheck.adapters.torch import check_torch

        return check_torch
    if name == "check_jax":
        from gradcheck.adapters.jax import check_jax

        return check_jax
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
