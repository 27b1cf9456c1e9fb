"""Reports of a result: text, JSON and LaTeX, heatmaps.

``render(result, format, color=...)`` gives a report in any format and
``wants_color(file)`` says whether a text report written there gets colour.
"""

from gradcheck.report.formats import render as render
from gradcheck.report.text import wants_color as wants_color
