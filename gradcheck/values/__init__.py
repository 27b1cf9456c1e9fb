"""Values: evaluating a typed tree with NumPy, rounding bounds of float64 evaluation, and the
storage of Jacobians (dense or sparse)."""
