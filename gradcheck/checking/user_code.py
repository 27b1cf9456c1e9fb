"""The user's own code at its point: inputs as given (float32 kept, integers passed through),
forward's value (finite, deterministic, its precision), the upstream gradients, and backward's
gradients read and checked against the inputs' shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcheck.checking import claims
from gradcheck.errors import ClaimError, FunctionError, OptionError, suggest
from gradcheck.language.parser import parse
from gradcheck.language.tree import variables as names_in

__all__ = ["check_expression", "copies", "forward_value", "gradients_of", "inputs_to_check",
           "masks_of", "upstream", "user_array"]


def user_array(value: Any, name: str) -> np.ndarray:
    """An input as given: floating arrays keep their precision (float32 is
    checked as float32), integers and booleans pass through unchanged (labels,
    indices) and are not differentiated unless ``wrt`` names them."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.array(value)
    except (TypeError, ValueError):
        raise OptionError(f"the value of '{name}' is not a real array: {value!r:.60}") from None
    if array.dtype.kind in "iub":
        return array
    if array.dtype.kind != "f":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise OptionError(f"the value of '{name}' is not a real array: {value!r:.60}",
                              hint="give real numbers (complex inputs are not checked)"
                              ) from None
        if np.iscomplexobj(array):
            raise OptionError(f"the value of '{name}' is complex")
    if array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise OptionError(f"the value of '{name}' has entries that are not finite")
    return array


def forward_value(forward: Callable[..., Any], inputs: Mapping[str, np.ndarray]
             ) -> tuple[np.ndarray, np.dtype[Any]]:
    """forward's value at the point (float64) and the precision it was
    computed in; it must be finite and the same twice (a forward that draws
    noise passes any backward, or fails a right one)."""
    raw = forward(**copies(inputs))
    if raw is None:
        raise FunctionError("forward returned None", hint="return the output array")
    if hasattr(raw, "detach") and hasattr(raw, "numpy"):  # a torch tensor
        raw = raw.detach().cpu().numpy()
    dtype = np.asarray(raw).dtype
    dtype = dtype if dtype.kind == "f" and dtype.itemsize <= 8 else np.dtype(np.float64)
    out = claims.real_array(raw, "forward's value").reshape(np.shape(raw))
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        where = tuple(int(v) for v in np.unravel_index(bad[0], out.shape))
        raise FunctionError("forward is not finite at this point",
                            detail=f"{out.flat[bad[0]]} at entry {list(where)}"
                                   + (f" and {bad.size - 1} more" if bad.size > 1 else ""),
                            hint="choose a point where forward stays within float64's range")
    raw = forward(**copies(inputs))
    again = claims.real_array(raw, "forward's value").reshape(np.shape(raw))
    if again.shape != out.shape or not np.array_equal(again, out):
        diff = float(np.max(np.abs(again - out))) if again.shape == out.shape else float("nan")
        raise FunctionError("forward is not deterministic: two calls at the same point differ",
                            detail=f"by up to {diff:.3g}" if np.isfinite(diff) else
                            f"shapes {out.shape} and {again.shape}",
                            hint="fix its random state (dropout, noise) or seed it inside "
                                 "forward, so that the same inputs give the same output")
    return out, dtype


def upstream(shape: tuple[int, ...], seed: int, k: int) -> np.ndarray:
    """Upstream number k: ±j/1024 with j in [128, 1024], the same whatever the count."""
    rng = np.random.default_rng([seed, 2, k])
    up: np.ndarray = rng.integers(128, 1025, size=shape) / 1024 * rng.choice([-1.0, 1.0],
                                                                             size=shape)
    return up


def check_expression(expr: str, inputs: Mapping[str, np.ndarray], names: list[str]) -> None:
    """Before running any user code: expr parses, and mentions every checked input."""
    used = names_in(parse(expr))
    missing = [n for n in names if n not in used]
    if missing:
        raise OptionError(f"expr {expr!r} does not use the input '{missing[0]}'",
                          hint=f"check the inputs it uses with wrt=[{', '.join(map(repr, used))}]"
                          if used else "write expr in the names of the inputs")
    unknown = [n for n in used if n not in inputs]
    if unknown:
        raise OptionError(f"expr {expr!r} uses '{unknown[0]}', which is not an input",
                          hint=suggest(unknown[0], inputs) or "give its value in at=")


def copies(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {n: a.copy() for n, a in inputs.items()}  # user code may write to its inputs


def inputs_to_check(wrt: str | Sequence[str] | None, inputs: Mapping[str, np.ndarray]) -> list[str]:
    if wrt is None:
        names = [n for n, a in inputs.items() if a.dtype.kind == "f"]
        if not names:
            raise OptionError("no floating-point input to differentiate by",
                              hint="give at least one input as floats, or name it in wrt=")
        return names
    names = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(
        wrt, Sequence) and not isinstance(wrt, bytes) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise OptionError(f"wrt must be an input name or a list of names, got {wrt!r:.60}",
                          hint="write wrt='x' or wrt=['x', 'W']")
    for n in names:
        if n not in inputs:
            raise OptionError(f"'{n}' is not one of the inputs",
                              hint=suggest(n, inputs) or f"the inputs are {', '.join(inputs)}")
    return names


def masks_of(mask: Mapping[str, Any] | None, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    out = {}
    for n, m in (mask or {}).items():
        if n not in inputs:
            raise OptionError(f"a mask for '{n}', which is not an input")
        array = np.asarray(m, dtype=bool)
        if array.shape != inputs[n].shape:
            raise OptionError(f"the mask of '{n}' has shape {array.shape}, the input "
                              f"{inputs[n].shape}", hint="give one boolean per entry")
        out[n] = array
    return out


def gradients_of(result: Any, names: list[str], inputs: Mapping[str, np.ndarray]
               ) -> dict[str, np.ndarray]:
    if isinstance(result, Mapping):
        missing = [n for n in names if n not in result]
        if missing:
            raise ClaimError(f"backward returned no gradient for '{missing[0]}'",
                             hint="return a dict with every checked input")
        got = {n: result[n] for n in names}
    elif len(names) == 1 and not isinstance(result, (tuple, list)):
        got = {names[0]: result}
    else:
        if len(result) != len(names):
            raise ClaimError(f"backward returned {len(result)} gradients for "
                             f"{len(names)} inputs", hint="return one per input, in order, "
                             f"or a dict by name: {', '.join(names)}")
        got = dict(zip(names, result, strict=True))
    out = {}
    for n, g in got.items():
        array = claims.real_array(g, f"backward's gradient for '{n}'")
        if np.ndim(g) < 2:
            array = array.reshape(np.shape(g))  # as given: inputs keep their shapes
        if array.shape != inputs[n].shape:
            raise ClaimError(f"backward's gradient for '{n}' has shape {array.shape}",
                             detail=f"'{n}' has shape {inputs[n].shape}",
                             hint="a gradient has the shape of its input")
        out[n] = array
    return out
