"""The JAX adapter, where JAX is installed (CI installs it)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

from gradcheck.adapters.jax import check_jax  # noqa: E402

AT = {"x": np.array([[0.5, -1.0], [2.0, 0.25]]), "W": np.array([[1.0, -0.5], [0.75, 2.0]])}


def test_vjp_of_a_dense_layer_agrees_with_the_exact_derivative():
    r = check_jax(lambda x, W: jax.nn.sigmoid(x @ W), at=AT, expr="σ(x·W)")
    assert r.passed, str(r)
    assert max(r.max_error.values()) < 1e-14  # float64 all the way
    assert check_jax(lambda x, W: jnp.tanh(x @ W), at=AT).passed


def test_a_custom_vjp_with_a_wrong_rule_is_caught():
    @jax.custom_vjp
    def square(x):
        return x * x

    square.defvjp(lambda x: (x * x, x), lambda x, g: (g * x,))  # the 2 is missing
    r = check_jax(lambda x, W: square(x) @ W, at=AT, expr="(x*x) @ W")
    assert not r.passed and {m.variable for m in r.mismatches} == {"x"}
