"""Checking the user's own PyTorch and JAX code (their packages are imported only here)."""
