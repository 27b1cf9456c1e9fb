"""Check PyTorch functions: torch.autograd's gradients against gradcheck's.

Optional: ``pip install 'gradcheck[torch]'``. gradcheck itself never
imports torch; this module does, when called. Example (tested in
``tests/test_torch_adapter.py``)::

    check_torch(lambda x, W: torch.tanh(x @ W), at={"x": ..., "W": ...},
                expr="tanh(x @ W)").passed
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import OptionError
from .functions import FunctionResult, check_function

__all__ = ["check_torch", "torch_function"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise OptionError("PyTorch is not installed",
                          hint="pip install 'gradcheck[torch]'") from None
    return torch


def torch_function(fn: Callable[..., Any]) -> tuple[Callable[..., np.ndarray],
                                                    Callable[..., dict[str, np.ndarray]]]:
    """A forward/backward pair for :func:`gradcheck.check_function` from a
    function of float64 tensors: backward is torch.autograd's vector-Jacobian
    product."""
    torch = _torch()

    def forward(**inputs: np.ndarray) -> np.ndarray:
        tensors = {n: torch.tensor(a, dtype=torch.float64) for n, a in inputs.items()}
        return np.asarray(fn(**tensors).detach().numpy())

    def backward(upstream: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        tensors = {n: torch.tensor(a, dtype=torch.float64, requires_grad=True)
                   for n, a in inputs.items()}
        out = fn(**tensors)
        grads = torch.autograd.grad(out, list(tensors.values()),
                                    grad_outputs=torch.tensor(upstream, dtype=torch.float64),
                                    allow_unused=True)
        return {n: np.zeros(a.shape) if g is None else g.numpy()
                for (n, a), g in zip(inputs.items(), grads, strict=True)}

    return forward, backward


def check_torch(fn: Callable[..., Any], *, at: Any, **kwargs: Any) -> FunctionResult:
    """:func:`gradcheck.check_function` on a PyTorch function: its autograd
    gradients against finite differences, or, with ``expr=``, against the
    exact derivative of an expression."""
    forward, backward = torch_function(fn)
    return check_function(forward, backward, at=at, **kwargs)
