r"""Tree diagrams: Mermaid and Graphviz DOT text, and SVG through Graphviz when installed.

Each node is a box labelled with its name, value (with its unit; `%` for percentages),
its kind, owner and horizon, and its norm with ✓ or ✗. KPIs are rounded, inputs are
parallelograms, metrics are plain boxes; leaves are filled with their owner's colour and a
node below its norm has a thick red border. A scenario or an attribution can be drawn on:
each node that changes gets a line with its change, green when better and red when worse
(by the node's direction, `Graph.direction`, not the sign).

Every word is in the active locale (`kpitree.i18n`), numbers too (`1 000 лид`, `80 %`
under ``"ru"``); names, owners and units are the model's, as written.

Node ids are generated (`n0`, `n1`, ...), never the node names, and every label is escaped
for its syntax by `kpitree.model.escape`, so Cyrillic names, owners like `"sales" & co`, a
description with a newline and `click n0 ...`, or a unit like `$` cannot break the diagram
or add to it; control characters show as `\x1b`-style placeholders.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from kpitree.analyses.attribution.methods import owner_label
from kpitree.display.style import (
    VERDICT_COLOURS,
    known,
    light,
    node_changes,
    owner_colours,
    owner_of,
    shown,
)
from kpitree.errors import ArgumentError, KPITreeError
from kpitree.i18n import N_, _
from kpitree.model.escape import dot_quoted, dot_text, mermaid_text
from kpitree.model.nodes import KPI, Input
from kpitree.model.results import format_norm, norm_mark, norm_ok

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["to_dot", "to_mermaid", "to_svg"]

DIRECTIONS: Final = ("TD", "TB", "BT", "LR", "RL")
_FAIL_BORDER: Final = "#cf222e"
_METRIC_FILL: Final = "#ffffff"
_SVG_TIMEOUT: Final = 60.0


@attrs.frozen
class _Box:
    """One node as drawn: generated id, label lines, shape, colours."""

    id: str
    kind: str
    lines: tuple[str, ...]
    fill: str
    failing: bool
    change_colour: str | None


def _boxes(tree: Graph, values: Mapping[str, Any] | None, scenario: Any) -> list[_Box]:
    changes = node_changes(tree, scenario)
    if changes is not None and changes.after:
        if values is not None:
            raise ArgumentError(
                _("give either `values` or a scenario or attribution, which carries its own"),
                hint=_("the diagram shows the values before → after the change"),
            )
        found = dict(changes.after)
    else:
        found = known(tree, values)
    colours = owner_colours(tree)
    ids = {name: f"n{i}" for i, name in enumerate(tree.names)}
    boxes = []
    for name in tree.names:
        node = tree[name]
        value = found.get(name, math.nan)
        failing = norm_ok(node, value) is False
        lines = [name, _value_line(tree, name, value), _meta(node)]
        if changes is not None and changes.before.get(name, value) != value:
            lines[1] = f"{shown(changes.before[name], tree, name)} → {lines[1]}"
        change_colour = None
        if changes is not None:
            text = changes.text(tree, name)
            if text is not None:
                # The verdict is written out too: colour alone is lost on some screens
                # and to some readers, and Mermaid cannot colour one line of a label.
                judged = changes.verdict(tree, name)
                lines.append(
                    f"Δ {text}" + ("" if judged == "neutral" else f" · {_(_VERDICTS[judged])}")
                )
                change_colour = VERDICT_COLOURS[judged]
        owner = owner_of(tree, name)
        fill = _METRIC_FILL if owner is None else light(colours[owner])
        boxes.append(_Box(ids[name], node.kind, tuple(lines), fill, failing, change_colour))
    return boxes


def _value_line(tree: Graph, name: str, value: float) -> str:
    """Return `75%  ≥ 80% ✗`: the value with its unit, then the norm and its mark."""
    text = shown(value, tree, name)
    norm = getattr(tree[name], "norm", None)
    if norm is None:
        return text
    mark = norm_mark(norm_ok(tree[name], value))
    return f"{text}  {format_norm(norm, tree.unit(name))} {mark}"


# The verdict written beside a change: the words of the active locale, at draw time.
_VERDICTS: Final = {"better": N_("better"), "worse": N_("worse")}


def _meta(node: Any) -> str:
    # Kind words are kpitree's (translated); the owner and the horizon are the model's.
    if isinstance(node, KPI):
        return f"{_('KPI')} · {node.owner} · {node.horizon}"
    if isinstance(node, Input):
        return f"{_('input')} · {owner_label(node.owner)}"
    return _("metric")


def _edges(tree: Graph) -> list[tuple[str, str]]:
    ids = {name: f"n{i}" for i, name in enumerate(tree.names)}
    return [(ids[name], ids[kid.name]) for name in tree.names for kid in tree.children(name)]


# -- Mermaid ------------------------------------------------------------------------------------

_MERMAID_SHAPES: Final = {"kpi": ('(["', '"])'), "input": ('[/"', '"/]'), "metric": ('["', '"]')}


def to_mermaid(
    tree: Graph,
    values: Mapping[str, Any] | None = None,
    *,
    scenario: Any = None,
    direction: str = "TD",
) -> str:
    """Return a Mermaid flowchart of the tree: metrics on top, leaves below.

    Args:
        tree: the tree.
        values: leaf values overriding the nodes' defaults.
        scenario: changes to draw on each node: a mapping `{node: change}`, a `Scenario`
            (`tree.whatif`) or an `Attribution` (`tree.attribute`). A scenario or an
            attribution carries its own values: each node shows `before → after`.
        direction: `"TD"` (top down), `"BT"`, `"LR"` or `"RL"`.

    Raises:
        ValueTypeError: an unknown direction, a change that is not a number, or both
            `values` and a scenario or attribution.
        UnknownNameError: `values` or `scenario` name a node the tree does not have.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(to_mermaid(qualified_leads(), {"lead_to_ql": 0.75}))
        flowchart TD
          n0["qualified_leads<br>750 lead<br>metric"]
          n1(["leads<br>1,000 lead<br>KPI · marketing · 1 day"])
          n2(["lead_to_ql<br>75%  ≥ 80% ✗<br>KPI · sales · 1 day"])
          n0 --> n1
          n0 --> n2
          style n0 fill:#ffffff,stroke:#57606a,color:#1f2328
          style n1 fill:#d3dee9,stroke:#57606a,color:#1f2328
          style n2 fill:#fce3ca,stroke:#cf222e,stroke-width:3px,color:#1f2328
    """
    if direction not in DIRECTIONS:
        raise ArgumentError(
            _("unknown diagram direction {direction}").format(direction=repr(direction)),
            hint=_("use one of {choices}").format(choices=", ".join(DIRECTIONS)),
        )
    boxes = _boxes(tree, values, scenario)
    lines = [f"flowchart {direction}"]
    for box in boxes:
        opening, closing = _MERMAID_SHAPES[box.kind]
        label = "<br>".join(mermaid_text(line) for line in box.lines)
        lines.append(f"  {box.id}{opening}{label}{closing}")
    lines += [f"  {parent} --> {child}" for parent, child in _edges(tree)]
    for box in boxes:
        stroke = f"stroke:{_FAIL_BORDER},stroke-width:3px" if box.failing else "stroke:#57606a"
        lines.append(f"  style {box.id} fill:{box.fill},{stroke},color:#1f2328")
    return "\n".join(lines)


# -- Graphviz DOT -------------------------------------------------------------------------------

_DOT_SHAPES: Final = {
    "kpi": 'shape=box, style="rounded,filled"',
    "input": 'shape=parallelogram, style="filled"',
    "metric": 'shape=box, style="filled"',
}


def to_dot(
    tree: Graph,
    values: Mapping[str, Any] | None = None,
    *,
    scenario: Any = None,
) -> str:
    """Return a Graphviz DOT digraph of the tree (render it with `dot -Tsvg`).

    Args:
        tree: the tree.
        values: leaf values overriding the nodes' defaults.
        scenario: changes to draw on each node, as for `to_mermaid`.

    Raises:
        ValueTypeError: a change that is not a number.
        UnknownNameError: `values` or `scenario` name a node the tree does not have.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(to_dot(qualified_leads()))
        digraph kpitree {
          node [fontname="DejaVu Sans", fontsize=11, color="#57606a"];
          n0 [shape=box, style="filled", fillcolor="#ffffff",
              label=<qualified_leads<br/>800 lead<br/>metric>];
          n1 [shape=box, style="rounded,filled", fillcolor="#d3dee9",
              label=<leads<br/>1,000 lead<br/>KPI · marketing · 1 day>];
          n2 [shape=box, style="rounded,filled", fillcolor="#fce3ca",
              label=<lead_to_ql<br/>80%  ≥ 80% ✓<br/>KPI · sales · 1 day>];
          n0 -> n1;
          n0 -> n2;
        }
    """
    boxes = _boxes(tree, values, scenario)
    lines = [
        "digraph kpitree {",
        '  node [fontname="DejaVu Sans", fontsize=11, color="#57606a"];',
    ]
    for box in boxes:
        # HTML-like labels (<...>) let the change line have its own colour; every piece of
        # text in them is entity-escaped (`dot_text`), so no name, owner or unit can close
        # the label or add a tag of its own: the only tags are the ones written here.
        parts = [dot_text(line) for line in box.lines]
        if box.change_colour is not None:
            parts[-1] = f'<font color="{box.change_colour}">{parts[-1]}</font>'
        attributes = [_DOT_SHAPES[box.kind], f"fillcolor={dot_quoted(box.fill)}"]
        if box.failing:
            attributes.append(f'color="{_FAIL_BORDER}", penwidth=3')
        attributes.append(f"label=<{'<br/>'.join(parts)}>")
        lines.append(f"  {box.id} [{', '.join(attributes)}];")
    lines += [f"  {parent} -> {child};" for parent, child in _edges(tree)]
    lines.append("}")
    return "\n".join(lines)


def to_svg(
    tree: Graph,
    values: Mapping[str, Any] | None = None,
    *,
    scenario: Any = None,
) -> str:
    """Return the tree drawn as SVG by Graphviz's `dot` program.

    Raises:
        KPITreeError: Graphviz is not installed, or `dot` failed.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> svg = to_svg(qualified_leads())  # doctest: +SKIP
        >>> svg.lstrip().startswith("<?xml")  # doctest: +SKIP
        True
    """
    program = shutil.which("dot")
    if program is None:
        raise KPITreeError(
            _("cannot draw SVG: Graphviz's `dot` program is not installed"),
            hint=_(
                "install Graphviz (apt-get install graphviz, brew install graphviz), "
                "or use to_dot() / to_mermaid() and render the text elsewhere"
            ),
        )
    source = to_dot(tree, values, scenario=scenario)
    try:
        done = subprocess.run(  # noqa: S603  # safe: a fixed program; the DOT text goes to stdin
            [program, "-Tsvg"],
            input=source.encode(),
            capture_output=True,
            timeout=_SVG_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KPITreeError(
            _("cannot draw SVG: `dot` did not run ({reason})").format(reason=exc)
        ) from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[:1]
        said = " ".join(reason) or _("no message")
        raise KPITreeError(_("cannot draw SVG: `dot` failed: {reason}").format(reason=said))
    return done.stdout.decode()
