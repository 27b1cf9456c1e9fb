"""Heavy modules imported when first used, not when gradcheck is imported.

SymPy takes about 0.2 s to import, four times NumPy; most checks never need
it (the element-level engine is symengine, and claims and values are
evaluated there). ``sympy = module("sympy")`` gives an object that imports
the module at its first attribute access, under Python's import lock, and
then holds the module's names itself, so later lookups cost what a
module's do.

>>> import sys
>>> m = module("colorsys")
>>> m.rgb_to_hsv(1.0, 0.0, 0.0)
(0.0, 1.0, 1.0)
>>> "colorsys" in sys.modules
True
"""

from __future__ import annotations

import importlib
import threading
import types
from typing import TYPE_CHECKING, Any

__all__ = ["module", "sympy"]

_LOCK = threading.Lock()


class _Lazy(types.ModuleType):
    """A module that imports itself at its first attribute access."""

    def __getattr__(self, attr: str) -> Any:  # only names not found: before the import
        with _LOCK:
            if not self.__dict__.get("_loaded"):
                real = importlib.import_module(self.__name__)
                self.__dict__.update(real.__dict__)
                self.__dict__["_loaded"] = True
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None


def module(name: str) -> Any:
    """``name``, imported at its first use."""
    return _Lazy(name)


if TYPE_CHECKING:
    import sympy as sympy
else:
    sympy = module("sympy")
