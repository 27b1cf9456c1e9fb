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

from gradcheck.errors import OptionError
from gradcheck.functions import FunctionResult, check_function

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
    function of tensors: backward is torch.autograd's vector-Jacobian
    product. Inputs keep their dtype (float32 is checked as float32, integer
    labels pass through); a tuple of outputs is checked as one, its outputs
    flattened and concatenated in order."""
    torch = _torch()

    def tensors(inputs: dict[str, np.ndarray], grad: bool) -> dict[str, Any]:
        return {n: torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")
                for n, a in inputs.items()}

    def joined(out: Any) -> Any:
        if isinstance(out, (tuple, list)):
            return torch.cat([o.reshape(-1) for o in out])
        return out

    def forward(**inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(joined(fn(**tensors(inputs, False))).detach().cpu().numpy())

    def backward(upstream: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        ts = tensors(inputs, True)
        out = joined(fn(**ts))
        wanted = [n for n, t in ts.items() if t.requires_grad]
        grads = torch.autograd.grad(out, [ts[n] for n in wanted],
                                    grad_outputs=torch.tensor(upstream, dtype=out.dtype),
                                    allow_unused=True)
        found = dict(zip(wanted, grads, strict=True))
        return {n: np.zeros(a.shape, a.dtype) if found.get(n) is None
                else found[n].detach().cpu().numpy() for n, a in inputs.items()}

    return forward, backward


def check_torch(fn: Callable[..., Any], *, at: Any, **kwargs: Any) -> FunctionResult:
    """:func:`gradcheck.check_function` on a PyTorch function: its autograd
    gradients against finite differences, or, with ``expr=``, against the
    exact derivative of an expression."""
    torch = _torch()
    forward, backward = torch_function(fn)
    # Tensors (requires_grad or not) as arrays of their own dtype.
    arrays = {n: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v
              for n, v in dict(at).items()}
    return check_function(forward, backward, at=arrays, **kwargs)
