"""The exact engines: SymPy over the entries (the reference), the closed form of matrix calculus
evaluated with fractions or float64 with a bound, and ball arithmetic that certifies both."""
