"""Plain-text rendering of a tree: an indented outline a person reads at a glance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.display.style import shown
from kpitree.language.expr import format_expr
from kpitree.model.escape import terminal
from kpitree.model.nodes import KPI, Input, Metric, Node
from kpitree.model.render import renders
from kpitree.model.results import format_norm, norm_mark, norm_ok
from kpitree.model.units import format_quantity

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["render_tree"]

_FORMULA_WIDTH = 48


@renders("kpitree.model.graph.Graph", "text")
def render_tree(tree: Graph, values: Mapping[str, Any] | None = None, *, width: int = 80) -> str:
    """Render `tree` as an indented outline: formula, value, owner, horizon, norm status.

    A node used by several metrics is drawn in full once; later it reads `(see above)`.
    Values that cannot be computed show as `?`. Rendering never raises on values. When
    a line would pass `width` columns, each node's kind, owner, horizon and norm move to
    a line of their own under it.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(render_tree(qualified_leads()))
        qualified_leads = leads * lead_to_ql    800 lead  metric
        ├── leads                             1,000 lead  KPI · marketing · 1 day
        └── lead_to_ql                              80%   KPI · sales · 1 day · ≥ 80% ✓
    """
    from kpitree.engine.evaluate import known_values

    try:
        found = known_values(tree, values)
    except Exception:  # a display must not fail on bad values: show what the nodes say
        found = {}
    rows: list[tuple[str, str, str, str]] = []
    drawn: set[str] = set()
    # Depth-first without recursion: (node name, prefix for its line, prefix for children).
    stack: list[tuple[str, str, str]] = [(r.name, "", "") for r in reversed(tree.roots)]
    while stack:
        name, lead, indent = stack.pop()
        node = tree[name]
        again = name in drawn and isinstance(node, Metric)
        drawn.add(name)
        # Every field is one line of printable text: an owner or unit holding a newline or
        # an escape sequence shows it as `\x0a`, `\x1b` instead of acting on the terminal.
        label = f"{lead}{terminal(_label(node, again))}"
        kids = () if again else tree.children(name)
        # Under this node's line: a bar down to its children, if it has any drawn.
        below = indent + ("│   " if kids else "    ")
        meta = "" if again else terminal(_meta(tree, node, found))
        rows.append((label, terminal(_value(tree, name, found)), meta, below))
        for i in reversed(range(len(kids))):
            last = i == len(kids) - 1
            stack.append(
                (
                    kids[i].name,
                    indent + ("└── " if last else "├── "),
                    indent + ("    " if last else "│   "),
                )
            )
    return _columns(rows, width)


def _label(node: Node, again: bool) -> str:
    if isinstance(node, Metric):
        if again:
            return f"{node.name} (see above)"
        formula = format_expr(node.formula)
        if len(formula) > _FORMULA_WIDTH:
            formula = formula[: _FORMULA_WIDTH - 1] + "…"
        return f"{node.name} = {formula}"
    return node.name


def _value(tree: Graph, name: str, found: Mapping[str, float]) -> str:
    value = found.get(name, tree[name].value if not isinstance(tree[name], Metric) else None)  # type: ignore[attr-defined]
    return shown(value, tree, name)


def _meta(tree: Graph, node: Node, found: Mapping[str, float]) -> str:
    if isinstance(node, KPI):
        parts = ["KPI", node.owner, str(node.horizon)]
    elif isinstance(node, Input):
        parts = ["input", "external"]
    else:
        parts = ["metric"]
    norm = getattr(node, "norm", None)
    if norm is not None:
        mark = norm_mark(norm_ok(node, found.get(node.name, math.nan)))
        parts.append(f"{format_norm(norm, tree.unit(node.name))} {mark}")
    if isinstance(node, Metric) and node.target is not None:
        parts.append(f"target {format_quantity(node.target, tree.unit(node.name))}")
    return " · ".join(parts)


def _columns(rows: list[tuple[str, str, str, str]], width: int) -> str:
    """Align labels left, values on their number's last digit, then the meta column.

    When that is wider than `width`, the meta goes on a line of its own under each node.
    """
    label_width = max(len(r[0]) for r in rows)
    numbers = [_split_unit(r[1]) for r in rows]
    number_width = max(len(n) for n, _ in numbers)
    unit_width = max(len(u) for _, u in numbers)
    values = [f"{n.rjust(number_width)}{u.ljust(unit_width)}" for n, u in numbers]
    wide = [
        f"{label.ljust(label_width)}  {value}  {meta}".rstrip()
        for (label, _, meta, _), value in zip(rows, values, strict=True)
    ]
    if max(len(line) for line in wide) <= width:
        return "\n".join(wide)
    # Values stay in one column if they fit; a longer label pushes its own value right.
    column = max(0, min(label_width, width - 2 - max(len(v.rstrip()) for v in values)))
    lines = []
    for (label, _, meta, below), value in zip(rows, values, strict=True):
        lines.append(f"{label.ljust(column)}  {value}".rstrip())
        if meta and meta != "metric":  # a formula already says it is a metric
            lines.append(f"{below}  {meta}".rstrip())
    return "\n".join(lines)


def _split_unit(text: str) -> tuple[str, str]:
    number, sep, unit = text.partition(" ")
    if number.endswith("%"):
        return number[:-1], "%" + (sep + unit if sep else "")
    return number, (sep + unit if sep else "")
