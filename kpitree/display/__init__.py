"""Everything that draws: text, HTML, Markdown, LaTeX, plots, diagrams.

Importing the package registers each drawing function with `kpitree.model.render`, the
hook through which results and trees are shown (`str`, Jupyter's `_repr_*_`, `.plot()`).
"""

from kpitree.display import html, plots, text, tracking

__all__ = ["html", "plots", "text", "tracking"]
