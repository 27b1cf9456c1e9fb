"""gradcheck: is this derivative right?

Derive the exact Jacobian of a matrix expression with SymPy, estimate it
independently by finite differences, and compare both, entry by entry, with
the derivative you derived by hand.

>>> import gradcheck
>>> gradcheck.check("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z").passed
True
"""

from __future__ import annotations

from .api import assert_gradient as assert_gradient
from .api import check as check
from .api import derivative as derivative
from .api import jacobian as jacobian
from .errors import ClaimError as ClaimError
from .errors import DomainError as DomainError
from .errors import FunctionError as FunctionError
from .errors import GradcheckError as GradcheckError
from .errors import GradientMismatch as GradientMismatch
from .errors import LimitError as LimitError
from .errors import NameLookupError as NameLookupError
from .errors import OptionError as OptionError
from .errors import ParseError as ParseError
from .errors import ShapeError as ShapeError
from .functions import FunctionResult as FunctionResult
from .functions import assert_function as assert_function
from .functions import check_function as check_function
from .result import CheckResult as CheckResult
from .result import Gradient as Gradient

__version__ = "0.1.0"

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
    "derivative",
    "jacobian",
]
