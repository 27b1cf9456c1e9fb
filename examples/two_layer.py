"""A two-layer network in NumPy, with its backward pass written by hand.

The dense layers of the lecture notes, z_k = f_{k-1}(z_{k-1} W_{k-1} + b_{k-1}):

    h = σ(x @ W0 + b0)          hidden layer, logistic sigmoid
    y = relu(h @ W1 + b1)       output layer, rectified linear unit
    loss = mean((y - t)²)       mean squared error against a target t

Rows of x are examples; the biases are 1-D arrays, added to every row
(NumPy broadcasting). Shapes: x n×d, W0 d×d, b0 (d,), W1 d×k, b1 (k,).
W0 is square so that the planted bug in ``backward_buggy`` still runs.

``backward(g, ...)`` is the vector-Jacobian product: given g = ∂loss/∂y
(the "upstream" gradient, shaped like y) it returns the gradient of
sum(g * forward(...)) with respect to every input. examples/test_two_layer.py
checks it with gradcheck.
"""

import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def relu(a):
    return np.maximum(a, 0)


def forward(x, W0, b0, W1, b1):
    h = sigmoid(x @ W0 + b0)
    return relu(h @ W1 + b1)


def backward(g, x, W0, b0, W1, b1):
    # Forward again, keeping what the backward pass needs.
    h = sigmoid(x @ W0 + b0)
    a1 = h @ W1 + b1
    # Through relu: the gradient passes where the pre-activation is positive.
    d1 = g * (a1 > 0)
    dW1 = h.T @ d1
    db1 = d1.sum(axis=0)  # b1 was added to every row: sum over the rows
    dh = d1 @ W1.T
    # Through σ: σ'(a) = σ(a)(1 - σ(a)) = h(1 - h).
    d0 = dh * h * (1 - h)
    dW0 = x.T @ d0
    db0 = d0.sum(axis=0)
    dx = d0 @ W0.T
    return {"x": dx, "W0": dW0, "b0": db0, "W1": dW1, "b1": db1}


def backward_buggy(g, x, W0, b0, W1, b1):
    """``backward`` with a planted bug: a missing transpose in dx."""
    h = sigmoid(x @ W0 + b0)
    a1 = h @ W1 + b1
    d1 = g * (a1 > 0)
    dW1 = h.T @ d1
    db1 = d1.sum(axis=0)
    dh = d1 @ W1.T
    d0 = dh * h * (1 - h)
    dW0 = x.T @ d0
    db0 = d0.sum(axis=0)
    dx = d0 @ W0  # BUG: should be d0 @ W0.T (runs only because W0 is square)
    return {"x": dx, "W0": dW0, "b0": db0, "W1": dW1, "b1": db1}


def loss(y, t):
    return np.mean((y - t) ** 2)


def loss_gradient(y, t):
    """∂loss/∂y: the upstream gradient g that starts the backward pass."""
    return 2 * (y - t) / y.size
