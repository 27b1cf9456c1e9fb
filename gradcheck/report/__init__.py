"""Reports of a result: text, JSON and LaTeX, heatmaps."""
