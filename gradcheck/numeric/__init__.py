"""The numeric engine: finite differences (complex step, real stencils, groups of columns) with an
error bound on every entry, independent of the exact engines."""
