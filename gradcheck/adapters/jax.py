"""Check JAX functions: jax.vjp's gradients against gradcheck's.

Optional: ``pip install 'gradcheck[jax]'``. gradcheck itself never imports
jax; this module does, when called. The function runs in float64 (inside
``jax.enable_x64``), whatever the process-wide setting. Example (tested in
``tests/test_jax_adapter.py``)::

    check_jax(lambda x, W: jnp.tanh(x @ W), at={"x": ..., "W": ...},
              expr="tanh(x @ W)").passed
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck.errors import OptionError
from gradcheck.functions import FunctionResult, check_function

__all__ = ["check_jax", "jax_function"]


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise OptionError("JAX is not installed", hint="pip install 'gradcheck[jax]'") from None
    return jax


def jax_function(fn: Callable[..., Any]) -> tuple[Callable[..., np.ndarray],
                                                  Callable[..., dict[str, np.ndarray]]]:
    """A forward/backward pair for :func:`gradcheck.check_function` from a
    function of JAX arrays: backward is ``jax.vjp``, in float64."""
    jax = _jax()

    def forward(**inputs: np.ndarray) -> np.ndarray:
        with jax.enable_x64(True):
            return np.asarray(fn(**{n: jax.numpy.asarray(a) for n, a in inputs.items()}))

    def backward(upstream: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        names = list(inputs)
        with jax.enable_x64(True):
            args = [jax.numpy.asarray(inputs[n]) for n in names]
            _, vjp = jax.vjp(lambda *a: fn(**dict(zip(names, a, strict=True))), *args)
            grads = vjp(jax.numpy.asarray(upstream))
            return {n: np.asarray(g) for n, g in zip(names, grads, strict=True)}

    return forward, backward


def check_jax(fn: Callable[..., Any], *, at: Any, **kwargs: Any) -> FunctionResult:
    """:func:`gradcheck.check_function` on a JAX function: its ``jax.vjp``
    gradients against finite differences, or, with ``expr=``, against the
    exact derivative of an expression."""
    forward, backward = jax_function(fn)
    return check_function(forward, backward, at=at, **kwargs)
