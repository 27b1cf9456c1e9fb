"""The comparator (exact, numeric and claimed, entry by entry, with tolerances and bounds) and the
diagnosis of a wrong claim."""
