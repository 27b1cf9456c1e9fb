"""Names of the entries of gradcheck's Jacobian layout (J[i,j,k,l] = ∂f[i,j]/∂w[k,l]).

>>> label((1, 0), "z"), label((0, 1, 2, 0), "W")
('∂f/∂z[1,0]', '∂f[0,1]/∂W[2,0]')
"""

from __future__ import annotations

__all__ = ["label"]


def label(idx: tuple[int, ...], name: str) -> str:
    """An entry of a gradient (2 indices) or a Jacobian (4 indices) by name."""
    if len(idx) == 2:
        return f"∂f/∂{name}[{idx[0]},{idx[1]}]"
    return f"∂f[{idx[0]},{idx[1]}]/∂{name}[{idx[2]},{idx[3]}]"
