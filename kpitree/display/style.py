"""What every display of a tree shares: owner colours, node changes, better or worse.

Diagrams, HTML and charts draw the same facts, so they take them from here: each owner's
colour (the same owner gets the same colour in every picture of one tree), the change of
each node in a scenario or an attribution, and whether a change is *better* or *worse* —
which follows the node's direction (`Graph.direction`: given, else by its norm, else
higher), not the sign of the change: fewer missed chats is better.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from kpitree.errors import ValueTypeError
from kpitree.i18n import N_, _
from kpitree.model.nodes import KPI, Input, Metric
from kpitree.model.numbers import format_number, to_number
from kpitree.model.results import format_delta, format_value

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = [
    "EXTERNAL_COLOUR",
    "PALETTE",
    "Changes",
    "Verdict",
    "known",
    "light",
    "node_changes",
    "outline",
    "owner_colours",
    "owner_of",
    "short_percent",
    "shown",
    "signed",
    "verdict",
]

PALETTE: Final = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
)
"""Owner colours, in order of each owner's first KPI (Tableau's, readable on white)."""

EXTERNAL_COLOUR: Final = "#9aa0a6"
"""Inputs (nobody's lever) and metrics are grey."""

VERDICT_COLOURS: Final = {"better": "#1a7f37", "worse": "#cf222e", "neutral": "#57606a"}
"""Text colours of changes by verdict."""

Verdict = Literal["better", "worse", "neutral"]


def owner_colours(tree: Graph) -> dict[str, str]:
    """Return `{owner: colour}` for the tree's owners, `"external"` in grey.

    Owners take palette colours in the order of their first KPI, so two owners of one
    tree never share a colour until the palette runs out (then it repeats).

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> owner_colours(qualified_leads())
        {'marketing': '#4e79a7', 'sales': '#f28e2b', 'external': '#9aa0a6'}
    """
    colours = {owner: PALETTE[i % len(PALETTE)] for i, owner in enumerate(tree.owners())}
    colours["external"] = EXTERNAL_COLOUR
    return colours


def light(colour: str, share: float = 0.75) -> str:
    """Return `colour` mixed with white (`share` of white): a fill that dark text reads on.

    Examples:
        >>> light("#000000", 0.5)
        '#808080'
    """
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c + (255 - c) * share) for c in channels]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def owner_of(tree: Graph, name: str) -> str | None:
    """Return the owner of a leaf (`"external"` for an input), None for a metric."""
    node = tree[name]
    if isinstance(node, KPI | Input):
        return node.owner
    return None


def known(tree: Graph, values: Mapping[str, Any] | None) -> dict[str, float]:
    """Return every node's value, NaN where it cannot be known (bad names still raise)."""
    from kpitree.engine.evaluate import known_values

    return known_values(tree, values)


def shown(value: float | None, tree: Graph | None, name: str | None) -> str:
    """Format a node's value with its unit; `?` when it is unknown or NaN.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> shown(0.75, tree, "lead_to_ql"), shown(float("nan"), tree, "leads")
        ('75%', '?')
    """
    return "?" if value is None or math.isnan(value) else format_value(value, tree, name)


def signed(value: float, tree: Graph | None, name: str | None) -> str:
    """Format a change with its sign and unit (`+80 lead`, `−5 pp`); `?` when NaN.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> signed(80, qualified_leads(), "qualified_leads"), signed(-0.05, None, None)
        ('+80 lead', '−0.05')
    """
    return format_delta(value, tree, name)


def short_percent(fraction: float) -> str:
    """Return a signed percentage to 3 significant digits, for labels: `−33.3%`, `+10%`.

    Examples:
        >>> short_percent(-1 / 3), short_percent(0.1), short_percent(0.0)
        ('−33.3%', '+10%', '0%')
    """
    return format_number(float(f"{fraction:.3g}"), percent=True, signed=True)


def verdict(tree: Graph, name: str, change: float) -> Verdict:
    """Return whether a change of node `name` is better, worse or neutral.

    The node's direction decides (`tree.direction`: as given, else by its norm, else
    higher is better). A node with a range norm and no direction gives `"neutral"`, as
    does no change at all. Every colouring of a move (charts, HTML, diagrams, the
    explorer) asks this.

    Examples:
        >>> from kpitree.examples import saas_mrr
        >>> tree = saas_mrr()
        >>> verdict(tree, "churn_rate", -0.01), verdict(tree, "churn_rate", 0.01)
        ('better', 'worse')
        >>> verdict(tree, "arpa", -100.0), verdict(tree, "arpa", 0.0)
        ('worse', 'neutral')
    """
    direction = tree.direction(name)
    if not change or math.isnan(change) or direction is None:
        return "neutral"
    return "better" if (change > 0) == (direction == "higher") else "worse"


@attrs.frozen
class Changes:
    """The change of some nodes, drawn onto a tree.

    Attributes:
        delta: `{node: after - before}`, each in the node's own unit.
        pct: `{node: relative change}` where known, else missing or None.
        contribution: for an attribution, `{leaf: its part of the change of metric}`, in
            the metric's unit and better or worse by the metric's direction; else empty.
        metric: the metric an attribution splits, else None.
        title: a caption (`"leads +10%"`, `"attribution of qualified_leads (shapley)"`).
        before, after: every node's value before and after, when the change carries
            them (a scenario, an attribution); empty for a plain mapping.
    """

    delta: Mapping[str, float]
    pct: Mapping[str, float | None] = attrs.field(factory=dict)
    contribution: Mapping[str, float] = attrs.field(factory=dict)
    metric: str | None = None
    title: str = ""
    before: Mapping[str, float] = attrs.field(factory=dict)
    after: Mapping[str, float] = attrs.field(factory=dict)

    def text(self, tree: Graph, name: str) -> str | None:
        """Return `+100 lead (+10%)` for a node that changed, None for one that did not.

        A leaf of an attribution adds its part of the metric's change: `… ⇒ +80 lead`.
        """
        change = self.delta.get(name, 0.0)
        part = self.contribution.get(name, 0.0)
        if not change and not part:
            return None
        text = signed(change, tree, name)
        pct = self.pct.get(name)
        if pct is not None and pct != 0 and not math.isnan(pct):
            text += f" ({short_percent(pct)})"
        if name in self.contribution and self.metric is not None:
            text += f" ⇒ {signed(part, tree, self.metric)}"
        return text

    def verdict(self, tree: Graph, name: str) -> Verdict:
        """Return better/worse/neutral: a leaf's part by the metric's direction, else its own."""
        if name in self.contribution and self.metric is not None:
            judged = verdict(tree, self.metric, self.contribution[name])
            if judged != "neutral":
                return judged
        return verdict(tree, name, self.delta.get(name, 0.0))


def node_changes(tree: Graph, change: Any) -> Changes | None:
    """Read what to draw onto a tree: a mapping, a `Scenario` or an `Attribution`.

    Accepted: None; a mapping `{node: change}`; an attribution (an object with
    `.contributions`, `.metric`, `.values_before` and `.values_after`: each node's own
    change, and each leaf's part of the metric's change); a scenario (an object with
    `.delta` and `.pct` per node).

    Raises:
        UnknownNameError: a mapping names a node the tree does not have.
        ValueTypeError: a change that is not a number, or an object of another kind.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> node_changes(tree, {"leads": 100}).delta
        {'leads': 100.0}
        >>> scenario = tree.whatif({"leads": "+10%"})
        >>> node_changes(tree, scenario).text(tree, "qualified_leads")
        '+80 lead (+10%)'
    """
    if change is None:
        return None
    if isinstance(change, Mapping):
        return Changes(_numbers(tree, change, N_("change of `{name}`")))
    contributions = getattr(change, "contributions", None)
    if isinstance(contributions, Mapping):
        metric = str(change.metric)
        before = known(tree, change.values_before)
        after = known(tree, change.values_after)
        delta = {n: after[n] - before[n] for n in tree.names}
        pct = {n: (delta[n] / abs(before[n]) if before[n] else None) for n in tree.names}
        method = getattr(change, "method", None)
        title = f"attribution of {metric}" + (f" ({method})" if method else "")
        part = _numbers(tree, contributions, N_("contribution of `{name}`"))
        return Changes(delta, pct, part, metric=metric, title=title, before=before, after=after)
    delta_map = getattr(change, "delta", None)
    if isinstance(delta_map, Mapping):
        pct_map = getattr(change, "pct", None)
        pct = {} if not isinstance(pct_map, Mapping) else dict(pct_map)
        label = getattr(change, "label", None)
        title = label() if callable(label) else "scenario"
        before_map = getattr(change, "before", None)
        after_map = getattr(change, "after", None)
        ends: dict[str, Any] = {}
        if isinstance(before_map, Mapping) and isinstance(after_map, Mapping):
            ends = {"before": dict(before_map), "after": dict(after_map)}
        return Changes(
            _numbers(tree, delta_map, N_("change of `{name}`")), pct, title=str(title), **ends
        )
    raise ValueTypeError(
        _("cannot draw a {type} onto a tree").format(type=type(change).__name__),
        hint=_(
            "give a mapping {node: change}, a Scenario (tree.whatif) or an Attribution "
            "(tree.attribute)"
        ),
    )


def _numbers(tree: Graph, mapping: Mapping[Any, Any], what: str) -> dict[str, float]:
    """Each value of `mapping` as a number; `what` (an `N_` text) names one, with `{name}`."""
    out: dict[str, float] = {}
    for name, value in mapping.items():
        if name not in tree:
            raise tree._unknown(name)
        out[name] = to_number(value, what=_(what).format(name=name))
    return out


def outline(tree: Graph) -> Iterator[tuple[str, int, bool]]:
    """Yield `(name, depth, again)` depth-first from the roots, without recursion.

    A metric reached a second time is yielded with `again=True` and not descended into,
    so a shared subtree is shown in full once.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> list(outline(qualified_leads()))
        [('qualified_leads', 0, False), ('leads', 1, False), ('lead_to_ql', 1, False)]
    """
    drawn: set[str] = set()
    stack = [(r.name, 0) for r in reversed(tree.roots)]
    while stack:
        name, depth = stack.pop()
        again = name in drawn and isinstance(tree[name], Metric)
        drawn.add(name)
        yield name, depth, again
        if not again:
            stack.extend((kid.name, depth + 1) for kid in reversed(tree.children(name)))
