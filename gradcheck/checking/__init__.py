"""One check of one expression: the point, the claims, the gradient by each variable and the
result."""
