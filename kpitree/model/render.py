"""The one hook between what kpitree shows and the layer that draws it.

Results and the tree live below `kpitree.display`, so they never import it. Instead each
drawing function of `kpitree.display` registers itself here for a class and a form
(`"text"`, `"html"`, `"markdown"`, `"latex"`, `"plot"`), and a result asks `render(self,
form)`. Classes are named by their dotted path, so registering costs no import of the
analyses. The drawing package is loaded on the first render, the way a plotting backend is.

Examples:
    >>> from kpitree.examples import qualified_leads
    >>> render(qualified_leads(), "text").splitlines()[0]
    'qualified_leads = leads * lead_to_ql    800 lead  metric'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["DISPLAY", "FORMS", "Shown", "render", "renderers", "renders"]

F = TypeVar("F", bound=Callable[..., Any])

#: The package whose modules register the drawing functions.
DISPLAY = "kpitree.display"

#: The forms a class can be drawn in.
FORMS = ("text", "html", "markdown", "latex", "plot")

_RENDERERS: dict[tuple[str, str], Callable[..., Any]] = {}


def renders(cls: str, form: str) -> Callable[[F], F]:
    """Register the decorated function as the way to draw `cls` (a dotted path) in `form`."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; the forms are {', '.join(FORMS)}")

    def register(func: F) -> F:
        _RENDERERS[(cls, form)] = func
        return func

    return register


def renderers() -> dict[tuple[str, str], Callable[..., Any]]:
    """Return every registered `(class path, form) -> function`, the display loaded."""
    importlib.import_module(DISPLAY)
    return dict(_RENDERERS)


def render(obj: object, form: str, **options: Any) -> Any:
    """Draw `obj` in `form` with the function registered for its class or nearest base.

    Returns None when nothing draws that class in that form, which is what Jupyter
    expects of a `_repr_*_` method that has nothing to show.
    """
    if not _RENDERERS:
        importlib.import_module(DISPLAY)
    for cls in type(obj).__mro__:
        func = _RENDERERS.get((f"{cls.__module__}.{cls.__qualname__}", form))
        if func is not None:
            return func(obj, **options)
    return None


class Shown:
    """Jupyter's displays of an object, each drawn through `render`."""

    __slots__ = ()

    def _repr_html_(self) -> str | None:
        return render(self, "html")  # type: ignore[no-any-return]

    def _repr_markdown_(self) -> str | None:
        return render(self, "markdown")  # type: ignore[no-any-return]

    def _repr_latex_(self) -> str | None:
        return render(self, "latex")  # type: ignore[no-any-return]
