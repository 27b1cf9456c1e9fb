"""The expression language: the operator table, the parse tree, the parser, shape inference and the
structure of Jacobians (which entries may be nonzero)."""
