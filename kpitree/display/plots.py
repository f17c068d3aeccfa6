"""Charts of analysis results with matplotlib (the optional extra `plot`).

Each function draws on the Axes it is given, or on a new figure, and returns the Axes.
matplotlib is imported inside the functions, so `import kpitree` never loads it; nothing
here picks a GUI backend, so the charts draw under Agg on a server as well as inline in
Jupyter. Bars of leaves take their owner's colour (the same as in the tree's HTML and
diagrams); changes are green when better and red when worse by the node's norm. The
default font, DejaVu Sans, has Cyrillic letters: `лиды` reads as well as `leads`. Every
label goes through `mpl_text`: a `$` in a unit or owner is a dollar sign, never mathtext.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from kpitree.display.style import (
    EXTERNAL_COLOUR,
    VERDICT_COLOURS,
    known,
    owner_colours,
    short_percent,
    shown,
    signed,
    verdict,
)
from kpitree.errors import ArgumentError, ValueTypeError, require
from kpitree.model.escape import mpl_text
from kpitree.model.nodes import Metric
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import renders

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from kpitree.model.graph import Graph

__all__ = [
    "plot_attribution",
    "plot_scenario",
    "plot_sensitivity",
    "plot_simulation",
    "plot_tornado",
]

KINDS: Final = ("bars", "tornado")
_ENDS_COLOUR: Final = "#57606a"


def _axes(ax: Axes | None, rows: int) -> Axes:
    """Return `ax`, or the Axes of a new figure tall enough for `rows` bars."""
    require("matplotlib", extra="plot", feature="charts")
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(7.0, max(2.5, 0.45 * rows + 1.2)), layout="constrained")
    return new


def _unit_suffix(tree: Graph, name: str) -> str:
    unit = tree.unit(name)
    if unit is None or (unit.is_dimensionless and not unit.percent):
        return ""
    return " (%)" if unit.percent else f" ({unit})"


def _owner_legend(ax: Axes, owners: Sequence[str], colours: Mapping[str, str]) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(color=colours.get(o, EXTERNAL_COLOUR), label=mpl_text(o))
        for o in dict.fromkeys(owners)
    ]
    if handles:
        # Outside the plot, on the right: bars run up to the edges and a legend inside
        # would cover them.
        ax.legend(
            handles=handles,
            title="owner",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
        )


def _readable_numbers(axis: Any) -> None:
    """Write the ticks of a value axis as people write numbers: `2,600,000`, not `2.6e6`."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda x, _: format_number(x)))


def _scale(tree: Graph, name: str) -> float:
    """Return 100 for a percent node (drawn in %), else 1."""
    unit = tree.unit(name)
    return 100.0 if unit is not None and unit.percent else 1.0


# -- sensitivity ----------------------------------------------------------------------------------


@renders("kpitree.analyses.calculus.Sensitivity", "plot")
def plot_sensitivity(
    sensitivity: Any, ax: Axes | None = None, *, kind: str = "bars", swing: float = 0.1
) -> Axes:
    """Draw a `Sensitivity`: the impact of a +1% move of each leaf, or a tornado.

    Args:
        sensitivity: from `tree.sensitivity(metric)` (or `tree.levers`).
        ax: the Axes to draw on; a new figure when None.
        kind: `"bars"`: one bar per leaf, the metric's change when the leaf rises 1%
            (first order). `"tornado"`: the metric's exact value when each leaf alone
            moves by −`swing` and +`swing` (±10%), around the current value.
        swing: the relative move of the tornado, between 0 and 1.

    Raises:
        ValueTypeError: an unknown `kind`, or a `swing` outside (0, 1).

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from kpitree.examples import qualified_leads
        >>> ax = plot_sensitivity(qualified_leads().sensitivity("qualified_leads"))
        >>> [float(bar.get_width()) for bar in ax.patches]
        [8.0, 8.0]
        >>> matplotlib.pyplot.close("all")
    """
    if kind not in KINDS:
        raise ArgumentError(f"unknown sensitivity chart {kind!r}", hint='use "bars" or "tornado"')
    s = sensitivity
    tree = s.tree
    rows = list(s)
    colours = owner_colours(tree)
    ax = _axes(ax, len(rows))
    names = [r.name for r in rows]
    bar_colours = [colours.get(r.owner, EXTERNAL_COLOUR) for r in rows]
    positions = list(range(len(rows)))
    if kind == "bars":
        bars = ax.barh(positions, [r.impact_1pct for r in rows], color=bar_colours)
        ax.bar_label(
            bars, labels=[mpl_text(signed(r.impact_1pct, tree, s.metric)) for r in rows], padding=3
        )
        ax.axvline(0, color=_ENDS_COLOUR, linewidth=0.8)
        ax.set_xlabel(
            mpl_text(f"change of {s.metric} when the leaf rises 1%{_unit_suffix(tree, s.metric)}")
        )
        ax.set_title(mpl_text(f"Sensitivity of {s.metric} = {shown(s.value, tree, s.metric)}"))
        ax.margins(x=0.4)  # room for the labels at the ends of the bars
    else:
        lows, highs = _tornado(s, swing)
        title = f"{s.metric} when each leaf alone moves ±{format_number(swing, percent=True)}"
        _tornado_bars(ax, tree, s.metric, s.value, lows, highs, bar_colours, title)
    ax.set_yticks(positions, labels=[mpl_text(n) for n in names])
    ax.invert_yaxis()  # the biggest impact on top
    _readable_numbers(ax.xaxis)
    _owner_legend(ax, [r.owner for r in rows], colours)
    return ax


def _tornado_bars(
    ax: Axes,
    tree: Graph,
    metric: str,
    base: float,
    lows: Sequence[float],
    highs: Sequence[float],
    colours: Sequence[str],
    title: str,
) -> None:
    """Draw a bar per leaf from the metric at its low value to the metric at its high."""
    lefts = [min(lo, hi) for lo, hi in zip(lows, highs, strict=True)]
    widths = [abs(hi - lo) for lo, hi in zip(lows, highs, strict=True)]
    ax.barh(list(range(len(lefts))), widths, left=lefts, color=colours)
    ax.axvline(base, color=_ENDS_COLOUR, linewidth=1, linestyle="--")
    ax.set_xlabel(mpl_text(f"{metric}{_unit_suffix(tree, metric)}"))
    ax.set_title(mpl_text(title))


@renders("kpitree.analyses.uncertainty.swings.Tornado", "plot")
def plot_tornado(tornado: Any, ax: Axes | None = None) -> Axes:
    """Draw a `Tornado` (`kpitree.analyses.uncertainty.tornado`): the metric's swing per leaf.

    Each bar spans the metric with the leaf at its low and at its high value, the others
    at base; the dashed line is the base value. A leaf whose swing is undefined has no bar.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from kpitree.analyses.uncertainty import tornado
        >>> from kpitree.examples import qualified_leads
        >>> ax = plot_tornado(tornado(qualified_leads(), "qualified_leads", swing="10%"))
        >>> [(round(float(b.get_x())), round(float(b.get_width()))) for b in ax.patches]
        [(720, 160), (720, 160)]
        >>> matplotlib.pyplot.close("all")
    """
    tree = tornado.tree
    rows = list(tornado.rows_)
    colours = owner_colours(tree)
    ax = _axes(ax, len(rows))
    fills = [colours.get(r.owner, EXTERNAL_COLOUR) for r in rows]
    lows, highs = [r.at_low for r in rows], [r.at_high for r in rows]
    title = f"{tornado.metric}: swing of each leaf ({tornado.method})"
    _tornado_bars(ax, tree, tornado.metric, tornado.base, lows, highs, fills, title)
    ax.set_yticks(list(range(len(rows))), labels=[mpl_text(r.name) for r in rows])
    ax.invert_yaxis()
    _readable_numbers(ax.xaxis)
    _owner_legend(ax, [r.owner for r in rows], colours)
    return ax


def _tornado(s: Any, swing: float) -> tuple[list[float], list[float]]:
    """Return the metric's exact value with each leaf at (1 − swing) and (1 + swing)."""
    if not (isinstance(swing, int | float) and 0 < swing < 1):
        raise ArgumentError(f"swing must be between 0 and 1, got {swing!r}", hint="0.1 is ±10%")
    point = {r.name: r.value for r in s}
    lows: list[float] = []
    highs: list[float] = []
    for r in s:
        for factor, out in ((1 - swing), lows), ((1 + swing), highs):
            out.append(known(s.tree, {**point, r.name: r.value * factor})[s.metric])
    return lows, highs


# -- attribution ----------------------------------------------------------------------------------


@renders("kpitree.analyses.attribution.results.Attribution", "plot")
def plot_attribution(attribution: Any, ax: Axes | None = None) -> Axes:
    """Draw an `Attribution` as a waterfall: before, each leaf's contribution, after.

    Contributions float from the running total and take their owner's colour; leaves
    that contributed nothing are left out. The `before` and `after` bars are grey.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from kpitree.examples import qualified_leads
        >>> a = qualified_leads().attribute(
        ...     "qualified_leads", {"leads": 1000}, {"leads": 1100, "lead_to_ql": 0.7})
        >>> ax = plot_attribution(a)
        >>> [round(float(bar.get_height())) for bar in ax.patches]
        [800, 75, -105, 770]
        >>> matplotlib.pyplot.close("all")
    """
    a = attribution
    tree = a.tree
    colours = owner_colours(tree)
    moved = [(name, float(v)) for name, v in a.contributions.items() if v]
    ax = _axes(ax, 0)
    labels = [mpl_text(t) for t in ("before", *(name for name, _ in moved), "after")]
    heights = [float(a.before), *(v for _, v in moved), float(a.after)]
    bottoms = [0.0]
    running = float(a.before)
    for _, value in moved:
        bottoms.append(running)
        running += value
    bottoms.append(0.0)
    owners = [a.owners.get(name, "external") for name, _ in moved]
    fills = [_ENDS_COLOUR, *(colours.get(o, EXTERNAL_COLOUR) for o in owners), _ENDS_COLOUR]
    positions = list(range(len(labels)))
    bars = ax.bar(positions, heights, bottom=bottoms, color=fills)
    texts = [
        shown(a.before, tree, a.metric),
        *(signed(v, tree, a.metric) for _, v in moved),
        shown(a.after, tree, a.metric),
    ]
    ax.bar_label(bars, labels=[mpl_text(t) for t in texts], label_type="center", fontsize="small")
    crowded = len(labels) > 5
    ax.set_xticks(
        positions, labels=labels, rotation=30 if crowded else 0, ha="right" if crowded else "center"
    )
    ax.set_ylabel(mpl_text(f"{a.metric}{_unit_suffix(tree, a.metric)}"))
    _readable_numbers(ax.yaxis)
    change = signed(float(a.total), tree, a.metric)
    ax.set_title(mpl_text(f"{a.metric}: {change} from before to after ({a.method})"))
    _owner_legend(ax, owners, colours)
    return ax


# -- uncertainty ----------------------------------------------------------------------------------


def _samples(simulation: Any, metric: str | None) -> Any:
    """Return the simulated values of `metric` as a numpy array.

    Reads a `Simulation` (`.arrays` per node, `.samples` of its metric), one node's
    `Samples` (`.values`), or anything whose `.samples` is an array or a mapping of them.
    """
    import numpy

    arrays = getattr(simulation, "arrays", None)
    if isinstance(arrays, Mapping) and metric is not None:
        if metric not in arrays:
            raise simulation.tree._unknown(metric)
        return numpy.asarray(arrays[metric], dtype=float)
    samples = getattr(simulation, "samples", simulation)
    if isinstance(samples, Mapping):
        if metric is None:
            raise ArgumentError("this simulation holds several nodes: say which to draw")
        samples = samples[metric]
    inner = getattr(samples, "values", None)
    if inner is not None and not callable(inner):  # a `Samples` keeps its array in .values
        samples = inner
    if samples is None or samples is simulation:
        raise ValueTypeError(
            f"cannot draw a {type(simulation).__name__}: it has no samples",
            hint="draw the result of tree.simulate(metric, n=..., seed=...)",
        )
    return numpy.asarray(samples, dtype=float)


@renders("kpitree.analyses.uncertainty.simulation.Samples", "plot")
@renders("kpitree.analyses.uncertainty.simulation.Simulation", "plot")
def plot_simulation(
    simulation: Any,
    ax: Axes | None = None,
    *,
    target: Any = None,
    metric: str | None = None,
    bins: int = 50,
) -> Axes:
    """Draw a simulation as a histogram of the metric, with its mean and a target line.

    Args:
        simulation: from `tree.simulate(metric, ...)` (its metric's samples are drawn),
            or one node's samples, `simulation[name]`.
        ax: the Axes to draw on; a new figure when None.
        target: a value to mark (the metric's own `target` when None); the title then
            gives the chance of reaching it, P(metric ≥ target).
        metric: the node to draw, when the simulation holds several.
        bins: the number of histogram bins.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from types import SimpleNamespace
        >>> from kpitree.examples import qualified_leads
        >>> sim = SimpleNamespace(metric="qualified_leads", tree=qualified_leads(),
        ...                       samples=[760.0, 790.0, 800.0, 810.0, 840.0])
        >>> ax = plot_simulation(sim, target=900, bins=4)
        >>> float(sum(bar.get_height() for bar in ax.patches)), ax.get_title()
        (5.0, 'qualified_leads: 5 draws, P(≥ 900 lead) = 0%')
        >>> matplotlib.pyplot.close("all")
    """
    tree = simulation.tree
    name = metric or getattr(simulation, "metric", None) or getattr(simulation, "name", None)
    values = _samples(simulation, name)
    if name is None:
        raise ArgumentError("say which metric the simulation is of", hint="metric=...")
    import numpy

    finite = values[numpy.isfinite(values)]  # an undefined draw (NaN) is not drawn
    ax = _axes(ax, 8)
    scale = _scale(tree, name)
    ax.hist(finite * scale, bins=bins, color=EXTERNAL_COLOUR, edgecolor="white")
    mean = float(finite.mean()) if finite.size else math.nan
    ax.axvline(
        mean * scale,
        color=_ENDS_COLOUR,
        linestyle="--",
        label=mpl_text(f"mean {shown(mean, tree, name)}"),
    )
    node = tree[name]
    if target is None and isinstance(node, Metric):
        target = node.target
    title = f"{name}: {format_number(values.size)} draws"
    if target is not None:
        goal = to_number(target, what=f"target of `{name}`")
        # Among the defined draws, as the simulation's own `prob` counts.
        reached = float((finite >= goal).sum() / finite.size) if finite.size else math.nan
        colour = VERDICT_COLOURS["worse" if reached < 0.5 else "better"]
        ax.axvline(
            goal * scale,
            color=colour,
            linewidth=2,
            label=mpl_text(f"target {shown(goal, tree, name)}"),
        )
        title += f", P(≥ {shown(goal, tree, name)}) = {format_number(reached, percent=True)}"
    ax.set_xlabel(mpl_text(f"{name}{_unit_suffix(tree, name)}"))
    _readable_numbers(ax.xaxis)
    ax.set_ylabel("draws")
    ax.set_title(mpl_text(title))
    ax.legend(loc="best", fontsize="small")
    return ax


# -- what-if --------------------------------------------------------------------------------------


@renders("kpitree.analyses.whatif.Scenario", "plot")
def plot_scenario(scenario: Any, ax: Axes | None = None) -> Axes:
    """Draw a `Scenario`: the relative change of each node that moved, in %.

    Bars are green when the change is better and red when worse by the node's norm
    (grey when no norm says). A node that moved from 0 has no relative change and is
    left out.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from kpitree.examples import qualified_leads
        >>> ax = plot_scenario(qualified_leads().whatif({"leads": "+10%"}))
        >>> [round(float(bar.get_width()), 6) for bar in ax.patches]
        [10.0, 10.0]
        >>> matplotlib.pyplot.close("all")
    """
    tree = scenario.tree
    pct = scenario.pct
    moved = [n for n in scenario.moved() if pct[n] is not None]
    ax = _axes(ax, len(moved))
    positions = list(range(len(moved)))
    changes = [scenario.after[n] - scenario.before[n] for n in moved]
    fills = [VERDICT_COLOURS[verdict(tree, n, c)] for n, c in zip(moved, changes, strict=True)]
    bars = ax.barh(positions, [pct[n] * 100 for n in moved], color=fills)
    ax.bar_label(bars, labels=[short_percent(pct[n]) for n in moved], padding=3)
    ax.set_yticks(positions, labels=[mpl_text(n) for n in moved])
    ax.invert_yaxis()
    ax.axvline(0, color=_ENDS_COLOUR, linewidth=0.8)
    ax.margins(x=0.25)
    ax.set_xlabel("change, %")
    ax.set_title(mpl_text(f"Scenario: {scenario.label()}"))
    return ax
