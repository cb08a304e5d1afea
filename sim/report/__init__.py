"""Reports of a results folder: figures (PNG and SVG) and a self-contained ``report.html``.

Data flows one way: the report reads what the experiments wrote; nothing in the model or
the experiments imports this package.
"""

from sim.report.html import build_report

__all__ = ["build_report"]
