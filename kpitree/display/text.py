"""Plain-text rendering of a tree: an indented outline a person reads at a glance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from kpitree.display.style import shown
from kpitree.i18n import _
from kpitree.i18n import locale as speaking
from kpitree.language.expr import format_expr
from kpitree.model.escape import terminal
from kpitree.model.nodes import KPI, Input, Metric, Node
from kpitree.model.render import renders
from kpitree.model.results import (
    format_norm,
    norm_mark,
    norm_ok,
    shorten,
    text_width,
    text_width_of,
)
from kpitree.model.units import format_quantity

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["render", "render_tree"]

_FORMULA_WIDTH = 48


def render(
    tree: Graph,
    values: Mapping[str, Any] | None = None,
    *,
    locale: str | None = None,
    width: int | None = None,
) -> str:
    """Render `tree` as an indented outline: formula, value, owner, horizon, norm status.

    A node used by several metrics is drawn in full once; later it reads `(see above)`.
    Values that cannot be computed show as `?`. Rendering never raises on values. When
    a line would pass `width` columns (by default the terminal's, see
    `kpitree.model.results.text_width`), each node's kind, owner, horizon and norm move
    to a line of their own under it, and a formula too long for its column is cut at a
    word boundary, so that no row pokes past the column of values.

    Args:
        tree: the tree.
        values: leaf values overriding the nodes' own.
        locale: the language of kpitree's words (`"ru"`); the active locale by default.
        width: the columns the outline may take.

    Raises:
        ArgumentError: `locale` is not a locale kpitree ships, or `width` no width.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(render(qualified_leads()))
        qualified_leads = leads * lead_to_ql    800 lead  metric
        ├── leads                             1,000 lead  KPI · marketing · 1 day
        └── lead_to_ql                              80%   KPI · sales · 1 day · ≥ 80% ✓
        >>> print(render(qualified_leads(), locale="ru", width=60))
        qualified_leads = leads * lead_to_ql    800 lead
        ├── leads                             1\N{NO-BREAK SPACE}000 lead
        │         КПЭ · marketing · 1 day
        └── lead_to_ql                           80\N{NO-BREAK SPACE}%
                  КПЭ · sales · 1 day · ≥ 80\N{NO-BREAK SPACE}% ✓
    """
    with nullcontext() if locale is None else speaking(locale), text_width_of(width):
        return _outline(tree, values, text_width())


render_tree = render
"""`render` by the name it had before trees had `tree.render`."""

# Registered by a call rather than a decorator: `Tree.render` is this very function, and
# mypy cannot infer a decorated function's type across the import cycle between the
# `kpitree` package and its modules.
renders("kpitree.model.graph.Graph", "text")(render)


def _outline(tree: Graph, values: Mapping[str, Any] | None, width: int) -> str:
    from kpitree.engine.evaluate import known_values

    try:
        found = known_values(tree, values)
    except Exception:  # a display must not fail on bad values: show what the nodes say
        found = {}
    rows: list[tuple[str, str, str, str, str]] = []
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
        # A formula already says it is a metric: a line of its own would only repeat that.
        alone = "" if again or _is_plain_metric(node) else meta
        rows.append((label, terminal(_value(tree, name, found)), meta, below, alone))
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
            return _("{name} (see above)").format(name=node.name)
        return f"{node.name} = {shorten(format_expr(node.formula), _FORMULA_WIDTH)}"
    return node.name


def _is_plain_metric(node: Node) -> bool:
    """A metric with neither norm nor target: its meta says only "metric"."""
    return isinstance(node, Metric) and getattr(node, "norm", None) is None and node.target is None


def _value(tree: Graph, name: str, found: Mapping[str, float]) -> str:
    value = found.get(name, tree[name].value if not isinstance(tree[name], Metric) else None)  # type: ignore[attr-defined]
    return shown(value, tree, name)


def _meta(tree: Graph, node: Node, found: Mapping[str, float]) -> str:
    if isinstance(node, KPI):
        parts = [_("KPI"), node.owner, str(node.horizon)]
    elif isinstance(node, Input):
        parts = [_("input"), _("external")]
    else:
        parts = [_("metric")]
    norm = getattr(node, "norm", None)
    if norm is not None:
        mark = norm_mark(norm_ok(node, found.get(node.name, math.nan)))
        parts.append(f"{format_norm(norm, tree.unit(node.name))} {mark}")
    if isinstance(node, Metric) and node.target is not None:
        target = format_quantity(node.target, tree.unit(node.name))
        parts.append(_("target {value}").format(value=target))
    return " · ".join(parts)


def _columns(rows: list[tuple[str, str, str, str, str]], width: int) -> str:
    """Align labels left, values on their number's last digit, then the meta column.

    When that is wider than `width`, the meta goes on a line of its own under each node,
    and a label too long for the column before the values is cut to fit it.
    """
    label_width = max(len(r[0]) for r in rows)
    numbers = [_split_unit(r[1]) for r in rows]
    number_width = max(len(n) for n, _unit in numbers)
    unit_width = max(len(u) for _number, u in numbers)
    values = [f"{n.rjust(number_width)}{u.ljust(unit_width)}" for n, u in numbers]
    wide = [
        f"{r[0].ljust(label_width)}  {value}  {r[2]}".rstrip()
        for r, value in zip(rows, values, strict=True)
    ]
    if max(len(line) for line in wide) <= width:
        return "\n".join(wide)
    column = max(0, min(label_width, width - 2 - max(len(v.rstrip()) for v in values)))
    lines = []
    for (label, _cell, _wide, below, alone), value in zip(rows, values, strict=True):
        lines.append(f"{_fit(label, column).ljust(column)}  {value}".rstrip())
        if alone:
            lines.append(f"{below}  {alone}".rstrip())
    return "\n".join(lines)


def _fit(label: str, column: int) -> str:
    """Cut a label to `column` characters: the formula at a word boundary, else the end."""
    if len(label) <= column:
        return label
    head, sep, formula = label.partition(" = ")
    room = column - len(head) - len(sep)
    if sep and room >= 2:
        return f"{head}{sep}{shorten(formula, room)}"
    return label[: max(0, column - 1)] + "…"


def _split_unit(text: str) -> tuple[str, str]:
    """Split `1,000 lead` into number and unit, `80%` and Russian `80 %` before the `%`."""
    number, sep, unit = text.partition(" ")
    if number.endswith("%"):
        # Russian writes a no-break space before the `%`: it belongs to the unit, so that
        # the digits of `80 %` line up with those of `1 000 лид`.
        bare = number[:-1].rstrip("\xa0\u202f")
        return bare, number[len(bare) :] + (sep + unit if sep else "")
    return number, (sep + unit if sep else "")
