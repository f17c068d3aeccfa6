"""Charts of analysis results with matplotlib (the optional extra `plot`).

Each function draws on the Axes it is given, or on a new figure, and returns the Axes.
matplotlib is imported inside the functions, so `import kpitree` never loads it; nothing
here picks a GUI backend, so the charts draw under Agg on a server as well as inline in
Jupyter. Bars of leaves take their owner's colour (the same as in the tree's HTML and
diagrams); changes are green when better and red when worse by the node's direction
(`Graph.direction`). The default font, DejaVu Sans, has Cyrillic letters: `лиды` reads as
well as `leads`. Every label goes through `mpl_text`: a `$` in a unit or owner is a dollar
sign, never mathtext. Every word goes through the locale, every number through kpitree's
formatters: value axes and bar labels are compact (`495K`, `495 тыс.`), and labels that
would overlap are turned, or as a last resort left out, never drawn over each other.
"""

from __future__ import annotations

import itertools
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
from kpitree.i18n import _, babel_locale, current, locale, ngettext
from kpitree.model.escape import mpl_text
from kpitree.model.nodes import Metric
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import renders

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.text import Annotation, Text

    from kpitree.model.graph import Graph
    from kpitree.model.units import Unit

__all__ = [
    "compact_number",
    "plot_attribution",
    "plot_attribution_series",
    "plot_scenario",
    "plot_sensitivity",
    "plot_simulation",
    "plot_tornado",
]

KINDS: Final = ("bars", "tornado")
GROUPINGS: Final = ("leaf", "owner")
_ENDS_COLOUR: Final = "#57606a"
_MAX_WIDTH: Final = 18.0  # inches: a bridge grows with its bars up to this, then turns labels
_MAX_HEIGHT: Final = 12.0  # inches: ... and taller for its upright labels, up to this


def _move_colour(tree: Graph, name: str, change: float) -> str:
    """Return green for a change of `name` in its better direction, red against it, else grey."""
    return VERDICT_COLOURS[verdict(tree, name, change)]


def compact_number(x: float, *, digits: int = 3, sign: bool = False) -> str:
    r"""Write a number short, for a chart: `495K` (`495 тыс.` under ru), `1.23M`, `−30`.

    `digits` significant digits; from a thousand up the locale's compact form (CLDR, by
    Babel), below it kpitree's own number format. `sign=True` writes `+` before a positive
    number; a negative one always has a true minus `−`.

    Examples:
        >>> compact_number(494766), compact_number(-522734, sign=True), compact_number(0.8)
        ('495K', '−523K', '0.8')
        >>> import kpitree as kt
        >>> with kt.locale("ru"):
        ...     compact_number(494766), compact_number(2_450_000), compact_number(1060.5)
        ('495\xa0тыс.', '2,45\xa0млн', '1,06\xa0тыс.')
    """
    if not math.isfinite(x):
        return format_number(x)
    rounded = float(f"{abs(x):.{digits}g}")
    if rounded < 1000:
        text = format_number(rounded)
    else:
        from babel.numbers import format_compact_decimal

        text = format_compact_decimal(rounded, locale=babel_locale(), fraction_digits=digits)
    if rounded == 0:
        return text
    return ("\u2212" if x < 0 else "+" if sign else "") + text


def _compact_quantity(value: float, unit: Unit | None, *, sign: bool = False) -> str:
    """A value (or with `sign`, a change) with its unit, compact: `+495K руб`, `+2 pp`."""
    from kpitree.model.units import format_change, format_quantity

    if math.isnan(value):
        return "?"
    if unit is not None and unit.percent:  # percentages are short already; a change in pp
        short = float(f"{value:.3g}")
        return format_change(short, unit) if sign else format_quantity(short, unit)
    text = compact_number(value, sign=sign)
    return text if unit is None or unit.is_dimensionless else f"{text} {unit}"


def _axes(ax: Axes | None, rows: int) -> Axes:
    """Return `ax`, or the Axes of a new figure tall enough for `rows` bars."""
    require("matplotlib", extra="plot", feature="charts")
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, new = plt.subplots(figsize=(7.0, max(2.5, 0.45 * rows + 1.2)), layout="constrained")
    return new


def _unit_suffix(tree: Graph, name: str) -> str:
    unit = tree.unit(name)
    if unit is None or (unit.is_dimensionless and not unit.percent):
        return ""
    return " (%)" if unit.percent else f" ({unit})"


def _owner_name(owner: str) -> str:
    """An owner as shown: the marker `external` of inputs in the locale, a real owner as is."""
    return _("external") if owner == "external" else owner


def _owner_legend(ax: Axes, owners: Sequence[str], colours: Mapping[str, str]) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(color=colours.get(o, EXTERNAL_COLOUR), label=mpl_text(_owner_name(o)))
        for o in dict.fromkeys(owners)
    ]
    if handles:
        # Outside the plot, on the right: bars run up to the edges and a legend inside
        # would cover them.
        ax.legend(
            handles=handles,
            title=_("owner"),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
        )


def _value_axis(axis: Axis, *, percent: bool = False, ticks: int = 6) -> None:
    """Tick a value axis at round numbers, written compact: `2.4M`, `2,45 млн`, `80%`."""
    from matplotlib.ticker import Formatter, MaxNLocator

    language = current()  # ticks are written at each draw: in the chart's locale, not the then

    class CompactTicks(Formatter):
        # The fewest significant digits that write every tick exactly: 2.4M and 2.45M side
        # by side, never 2.4M twice, nor 105 rounded to 110.
        digits = 3

        def set_locs(self, locs: Any) -> None:
            super().set_locs(locs)
            values = [x * 100 if percent else x for x in locs]
            step = min((abs(b - a) for a, b in itertools.pairwise(values)), default=1)
            tolerance = abs(step) * 1e-6 or 1e-12
            self.digits = next(
                (
                    d
                    for d in range(1, 16)
                    if all(abs(float(f"{v:.{d}g}") - v) <= tolerance for v in values)
                ),
                15,
            )
            self.tolerance = tolerance / (100 if percent else 1)

        def __call__(self, x: float, pos: int | None = None) -> str:
            if abs(x) <= getattr(self, "tolerance", 0.0):
                x = 0.0  # 5.6e-17 from float steps is the zero tick
            with locale(language):
                if percent:
                    return format_number(float(f"{x * 100:.{self.digits}g}") / 100, percent=True)
                return compact_number(x, digits=self.digits)

    axis.set_major_locator(MaxNLocator(nbins=ticks, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(CompactTicks())


def _draw(ax: Axes) -> Any:
    """Lay out the figure of `ax` (to know where its texts land) and return its renderer.

    Without rendering: the layout and the texts' extents are all that is measured.
    """
    figure: Any = ax.figure
    figure.draw_without_rendering()
    return figure.canvas.get_renderer()


def _drop_overlaps(texts: Sequence[Text], renderer: Any, fixed: Sequence[Text] = ()) -> None:
    """Hide each text that overlaps a `fixed` one or one kept before it: the last resort."""
    kept = [t.get_window_extent(renderer) for t in fixed if t.get_visible() and t.get_text()]
    for text in texts:
        box = text.get_window_extent(renderer)
        if any(_overlap(box, other) for other in kept):
            text.set_visible(False)
        else:
            kept.append(box)


def _overlap(a: Any, b: Any) -> bool:
    """Whether two window boxes share more than a hairline (touching is not overlapping)."""
    return bool(min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5)


def _fit_title(ax: Axes, renderer: Any = None) -> None:
    """Wrap a title wider than its Axes at spaces, so it stays over the chart, off the ticks.

    Measured with `renderer` from the last layout, or a new layout when None.
    """
    import textwrap

    title = ax.title
    renderer = renderer or _draw(ax)
    text = title.get_text().replace("\n", " ")
    width = title.get_window_extent(renderer).width
    room = ax.get_window_extent(renderer).width
    if text and width > room:
        title.set_text(textwrap.fill(text, max(12, int(len(text) * room / width) - 2)))


def _scale(tree: Graph, name: str) -> float:
    """Return 100 for a percent node (drawn in %), else 1."""
    unit = tree.unit(name)
    return 100.0 if unit is not None and unit.percent else 1.0


def _percent(tree: Graph, name: str) -> bool:
    unit = tree.unit(name)
    return unit is not None and unit.percent


def _readable_ticks(ax: Axes, axis: Axis, *, percent: bool) -> None:
    """Tick a value axis compactly, with fewer ticks until their labels stop colliding."""
    _fit_title(ax)
    for ticks in (6, 5, 4, 3, 2):
        _value_axis(axis, percent=percent, ticks=ticks)
        renderer = _draw(ax)
        labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        if not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]):
            return
    _drop_overlaps(axis.get_ticklabels(), renderer)


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
        raise ArgumentError(
            _("unknown sensitivity chart {kind}").format(kind=repr(kind)),
            hint=_('use "bars" or "tornado"'),
        )
    s = sensitivity
    tree = s.tree
    rows = list(s)
    colours = owner_colours(tree)
    ax = _axes(ax, len(rows))
    names = [r.name for r in rows]
    bar_colours = [colours.get(r.owner, EXTERNAL_COLOUR) for r in rows]
    positions = list(range(len(rows)))
    unit = tree.unit(s.metric)
    if kind == "bars":
        bars = ax.barh(positions, [r.impact_1pct for r in rows], color=bar_colours)
        ax.bar_label(
            bars,
            labels=[mpl_text(_compact_quantity(r.impact_1pct, unit, sign=True)) for r in rows],
            padding=3,
        )
        ax.axvline(0, color=_ENDS_COLOUR, linewidth=0.8)
        xlabel = _("change of {metric} when a leaf rises 1%").format(metric=s.metric)
        ax.set_xlabel(mpl_text(xlabel + _unit_suffix(tree, s.metric)))
        title = _("Sensitivity of {metric} = {value}")
        ax.set_title(mpl_text(title.format(metric=s.metric, value=shown(s.value, tree, s.metric))))
        ax.margins(x=0.4)  # room for the labels at the ends of the bars
    else:
        lows, highs = _tornado(s, swing)
        title = _("{metric} when each leaf alone moves ±{swing}").format(
            metric=s.metric, swing=format_number(swing, percent=True)
        )
        _tornado_bars(ax, tree, s.metric, s.value, lows, highs, bar_colours, title)
    ax.set_yticks(positions, labels=[mpl_text(n) for n in names])
    ax.invert_yaxis()  # the biggest impact on top
    _owner_legend(ax, [r.owner for r in rows], colours)
    _readable_ticks(ax, ax.xaxis, percent=_percent(tree, s.metric))
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
    The value axis has a few round ticks written compact (`2.4M`, `2,4 млн`), fewer when
    their labels would collide.

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
    title = _("{metric}: swing of each leaf ({method})").format(
        metric=tornado.metric, method=tornado.method
    )
    _tornado_bars(ax, tree, tornado.metric, tornado.base, lows, highs, fills, title)
    ax.set_yticks(list(range(len(rows))), labels=[mpl_text(r.name) for r in rows])
    ax.invert_yaxis()
    _owner_legend(ax, [r.owner for r in rows], colours)
    _readable_ticks(ax, ax.xaxis, percent=_percent(tree, tornado.metric))
    return ax


def _tornado(s: Any, swing: float) -> tuple[list[float], list[float]]:
    """Return the metric's exact value with each leaf at (1 − swing) and (1 + swing)."""
    if not (isinstance(swing, int | float) and 0 < swing < 1):
        raise ArgumentError(
            _("swing must be between 0 and 1, got {swing}").format(swing=repr(swing)),
            hint=_("0.1 is ±10%"),
        )
    point = {r.name: r.value for r in s}
    lows: list[float] = []
    highs: list[float] = []
    for r in s:
        for factor, out in ((1 - swing), lows), ((1 + swing), highs):
            out.append(known(s.tree, {**point, r.name: r.value * factor})[s.metric])
    return lows, highs


# -- attribution ----------------------------------------------------------------------------------


@renders("kpitree.analyses.attribution.results.Attribution", "plot")
def plot_attribution(attribution: Any, ax: Axes | None = None, *, by: str = "leaf") -> Axes:
    """Draw an `Attribution` as a bridge (waterfall): before, each contribution, after.

    Each contribution floats from the running total, green when it moves the metric the
    better way (`tree.direction`: up, unless the metric's direction or norm says lower) and
    red when the worse way; parts that contributed nothing are left out. The grey
    `before` and `after` bars are totals. The value axis spans the data, from a little
    below the lowest running total to a little above the highest (from zero when zero is
    near), so small moves of a large metric are not slivers. Each bar is labelled with its
    compact value (`+495K руб`) at its end; a new figure grows with the number of bars, and
    labels that do not fit side by side are turned upright.

    Args:
        attribution: from `tree.attribute(metric, before, after)`.
        ax: the Axes to draw on; a new figure when None.
        by: `"leaf"`: a bar per leaf, its owner under its name; `"owner"`: a bar per
            owner, the sum of their leaves (inputs under external factors).

    Raises:
        ArgumentError: an unknown `by`.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from kpitree.examples import qualified_leads
        >>> a = qualified_leads().attribute(
        ...     "qualified_leads", {"leads": 1000}, {"leads": 1100, "lead_to_ql": 0.7})
        >>> ax = plot_attribution(a)
        >>> [round(float(bar.get_height())) for bar in ax.patches]
        [800, 75, -105, 770]
        >>> [text.get_text() for text in ax.texts]
        ['800 lead', '+75 lead', '−105 lead', '770 lead']
        >>> bool(ax.get_ylim()[0] > 0)  # the moves fill the chart, not a strip on top of zero
        True
        >>> [tick.get_text() for tick in plot_attribution(a, by="owner").get_xticklabels()]
        ['before', 'marketing', 'sales', 'after']
        >>> matplotlib.pyplot.close("all")
    """
    if by not in GROUPINGS:
        raise ArgumentError(
            _("unknown grouping {by} of an attribution chart").format(by=repr(by)),
            hint=_('use by="leaf" or by="owner"'),
        )
    a = attribution
    tree = a.tree
    if by == "owner":
        moved = [(float(v), mpl_text(_owner_name(o))) for o, v in a.by_owner.items() if v]
    else:
        moved = [  # the leaf, and under it its owner (escaped apart: the break stays a break)
            (float(v), f"{mpl_text(name)}\n{mpl_text(_owner_name(a.owners[name]))}")
            for name, v in a.contributions.items()
            if v
        ]
    title = _("{metric}: {before} → {after}, change {change} ({method})").format(
        metric=a.metric,
        before=shown(a.before, tree, a.metric),
        after=shown(a.after, tree, a.metric),
        change=signed(float(a.total), tree, a.metric),
        method=a.method,
    )
    ends = ((_("before"), float(a.before)), (_("after"), float(a.after)))
    return _bridge(ax, tree, a.metric, ends, moved, title)


def _bridge(
    ax: Axes | None,
    tree: Graph,
    metric: str,
    ends: tuple[tuple[str, float], tuple[str, float]],
    moved: Sequence[tuple[float, str]],
    title: str,
) -> Axes:
    """Draw a bridge: the first total, the `moved` bars (value, label) floating, the last."""
    (first_label, first), (last_label, last) = ends
    names = [mpl_text(first_label), *(label for _v, label in moved), mpl_text(last_label)]
    heights = [first, *(v for v, _label in moved), last]
    bottoms = [0.0]
    running = first
    for v, _label in moved:
        bottoms.append(running)
        running += v
    bottoms.append(0.0)
    fills = [_ENDS_COLOUR, *(_move_colour(tree, metric, v) for v, _l in moved), _ENDS_COLOUR]
    owned = ax is None
    ax = _bridge_axes(ax, len(names))
    positions = list(range(len(names)))
    ax.bar(positions, heights, bottom=bottoms, color=fills, width=0.7)
    tops = [b + h for b, h in zip(bottoms, heights, strict=True)]
    # Thin steps from each bar's end to the next bar, as bridges are read.
    for i, level in enumerate(tops[:-1]):
        ax.plot([i + 0.35, i + 0.65], [level, level], color=_ENDS_COLOUR, linewidth=0.7)
    unit = tree.unit(metric)
    texts = [
        _compact_quantity(first, unit),
        *(_compact_quantity(v, unit, sign=True) for v, _label in moved),
        _compact_quantity(last, unit),
    ]
    labels = [
        ax.annotate(
            mpl_text(text),
            (i, end),
            xytext=(0, 3 if height >= 0 else -3),
            textcoords="offset points",
            ha="center",
            va="bottom" if height >= 0 else "top",
            fontsize="small",
        )
        for i, (text, end, height) in enumerate(zip(texts, tops, heights, strict=True))
    ]
    ax.set_xticks(positions, labels=names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(mpl_text(f"{metric}{_unit_suffix(tree, metric)}"))
    _value_axis(ax.yaxis, percent=_percent(tree, metric))
    ax.set_title(mpl_text(title))
    _fit_bridge(ax, labels, tops, owned=owned)
    return ax


def _bridge_axes(ax: Axes | None, bars: int) -> Axes:
    """Return `ax`, or the Axes of a new figure whose width grows with the number of bars."""
    if ax is not None:
        require("matplotlib", extra="plot", feature="charts")
        return ax
    import matplotlib.pyplot as plt

    width = min(_MAX_WIDTH, max(6.4, 1.6 + 0.95 * bars))
    _fig, new = plt.subplots(figsize=(width, 4.8), layout="constrained")
    return new


def _span(levels: Sequence[float]) -> tuple[float, float]:
    """The data a bridge's axis must show: its running totals, and zero when it is near."""
    finite = [x for x in levels if math.isfinite(x)] or [0.0]
    low, high = min(finite), max(finite)
    size = high - low
    if high == low:
        size = abs(high) or 1.0
        return low - size / 2, high + size / 2
    # Totals are bars from zero. Start at zero when it is closer than the data is wide;
    # else a little past the total nearest zero, so that every total bar keeps some height.
    # (The side away from zero gets its room from the labels, in `_pad_values`.)
    if low > 0:
        low = 0.0 if low <= size else low - 0.1 * size
    if high < 0:
        high = 0.0 if -high <= size else high + 0.1 * size
    return low, high


def _fit_bridge(
    ax: Axes, labels: Sequence[Annotation], levels: Sequence[float], *, owned: bool
) -> None:
    """Make room for every label: widen the figure, turn labels upright, pad the value axis."""
    fig: Any = ax.figure  # a Figure when `owned`: only then is it resized
    low, high = _span(levels)
    ax.set_ylim(low, high)
    ticks = ax.get_xticklabels()
    bars = len(labels)
    for _attempt in range(3):
        renderer = _draw(ax)  # anew each time: a resized figure has a new renderer
        slot = ax.get_window_extent(renderer).width / (bars + 0.2)
        widest = max(t.get_window_extent(renderer).width for t in [*labels, *ticks])
        if widest <= 0.92 * slot:
            break
        width = fig.get_figwidth()
        if not owned or width >= _MAX_WIDTH:
            break
        fig.set_figwidth(min(_MAX_WIDTH, width * widest / (0.92 * slot) + 0.2))
    turned = False
    for group in (labels, ticks):
        if max(t.get_window_extent(renderer).width for t in group) > 0.92 * slot:
            turned = True
            for t in group:
                t.set_rotation(90)
    if turned and owned:
        # Upright labels are tall: a figure of ours grows taller too, so that the bars
        # keep room for four labels' heights (their ends carry a label each way).
        renderer = _draw(ax)
        tallest = max(t.get_window_extent(renderer).height for t in labels)
        need = max(4 * tallest, 2.5 * fig.dpi) - ax.get_window_extent(renderer).height
        if need > 0:
            fig.set_figheight(min(_MAX_HEIGHT, fig.get_figheight() + need / fig.dpi))
            renderer = _draw(ax)
    _fit_title(ax, renderer)
    _pad_values(ax, labels, low, high)
    renderer = _draw(ax)
    # The last resort, for an Axes too small for its bars: leave out what still collides.
    frame = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_yticklabels()]
    _drop_overlaps(labels, renderer, frame)
    _drop_overlaps(ticks, renderer, [*frame, *labels])


def _pad_values(ax: Axes, labels: Sequence[Annotation], low: float, high: float) -> None:
    """Widen the value axis from the data's `low`/`high` just enough for the bars' labels.

    A label above a bar's end at level L, needing the fraction p of the axis' height,
    asks for `top ≥ L + p·span`; one below, `bottom ≤ L − q·span`. The span is solved for
    by fixed-point steps, and measured again once the layout has moved.
    """
    for _attempt in range(3):
        renderer = _draw(ax)
        box = ax.get_window_extent(renderer)
        shown_low, shown_high = ax.get_ylim()
        above: list[tuple[float, float]] = []
        below: list[tuple[float, float]] = []
        for label in labels:
            level = label.xy[1]  # the bar's end, in data; and in pixels:
            at = box.y0 + (level - shown_low) / (shown_high - shown_low) * box.height
            extent = label.get_window_extent(renderer)
            if label.get_verticalalignment() == "bottom":
                above.append((level, (extent.y1 - at + 3) / box.height))
            else:
                below.append((level, (at - extent.y0 + 3) / box.height))
        reach = max((p for _l, p in above), default=0) + max((q for _l, q in below), default=0)
        if reach >= 0.9:
            return  # labels taller than the axes: `_drop_overlaps` has the last word
        span = high - low
        top, bottom = high, low
        for _step in range(200):
            top = max([high, *(level + p * span for level, p in above)])
            bottom = min([low, *(level - q * span for level, q in below)])
            if math.isclose(top - bottom, span, rel_tol=1e-6):
                break
            span = top - bottom
        ax.set_ylim(bottom, top)
        tolerance = 1e-3 * span
        if abs(bottom - shown_low) <= tolerance and abs(top - shown_high) <= tolerance:
            return


# -- attribution over many periods ---------------------------------------------------------------

SERIES_GROUPINGS: Final = ("step", "owner", "leaf")


@renders("kpitree.analyses.attribution.series.AttributionSeries", "plot")
def plot_attribution_series(series: Any, ax: Axes | None = None, *, by: str = "step") -> Axes:
    """Draw an `AttributionSeries` as a bridge over the span: first value, the moves, last value.

    The moves are a bar per step (`by="step"`, each labelled with the period it ends
    in, steps that moved nothing included: they are news in time), per owner or per
    leaf (`by="owner"`, `by="leaf"`: their parts summed over the span, the ones that
    moved nothing left out). Colours, labels and the value axis are those of
    `plot_attribution`.

    Raises:
        ArgumentError: an unknown `by`.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> df = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-03"],
        ...                    "leads": [1000, 1100, 1100], "lead_to_ql": [0.8, 0.7, 0.75]})
        >>> series = qualified_leads().attribute_series("qualified_leads", df)
        >>> ax = plot_attribution_series(series)
        >>> [round(float(bar.get_height())) for bar in ax.patches]
        [800, -30, 55, 825]
        >>> [tick.get_text() for tick in ax.get_xticklabels()]
        ['2024-01', '→ 2024-02', '→ 2024-03', '2024-03']
        >>> [t.get_text() for t in plot_attribution_series(series, by="owner").texts]
        ['800 lead', '+75 lead', '−50 lead', '825 lead']
        >>> matplotlib.pyplot.close("all")
    """
    if by not in SERIES_GROUPINGS:
        raise ArgumentError(
            _("unknown grouping {by} of a bridge over periods").format(by=repr(by)),
            hint=_('use by="step", by="owner" or by="leaf"'),
        )
    from kpitree.model.labels import period_label

    s = series
    tree = s.tree
    if by == "step":
        moved = [
            (float(v), mpl_text("→ " + period_label(after)))
            for v, (_before, after) in zip(s.changes, s.steps, strict=True)
        ]
    elif by == "owner":
        moved = [(float(v), mpl_text(_owner_name(o))) for o, v in s.total_by_owner.items() if v]
    else:
        moved = [
            (float(v), f"{mpl_text(name)}\n{mpl_text(_owner_name(s.owners[name]))}")
            for name, v in s.total_contributions.items()
            if v
        ]
    ends = (
        (period_label(s.periods[0]), float(s.first)),
        (period_label(s.periods[-1]), float(s.last)),
    )
    return _bridge(ax, tree, s.metric, ends, moved, s.headline())


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
            raise ArgumentError(_("this simulation holds several nodes: say which to draw"))
        samples = samples[metric]
    inner = getattr(samples, "values", None)
    if inner is not None and not callable(inner):  # a `Samples` keeps its array in .values
        samples = inner
    if samples is None or samples is simulation:
        raise ValueTypeError(
            _("cannot draw a {type}: it has no samples").format(type=type(simulation).__name__),
            hint=_("draw the result of tree.simulate(metric, n=..., seed=...)"),
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
        raise ArgumentError(_("say which metric the simulation is of"), hint="metric=...")
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
        label=mpl_text(_("mean {value}").format(value=shown(mean, tree, name))),
    )
    node = tree[name]
    if target is None and isinstance(node, Metric):
        target = node.target
    draws = int(values.size)
    title = ngettext("{metric}: {n} draw", "{metric}: {n} draws", draws).format(
        metric=name, n=format_number(draws)
    )
    if target is not None:
        goal = to_number(target, what=f"target of `{name}`")
        # Among the defined draws, as the simulation's own `prob` counts.
        reached = float((finite >= goal).sum() / finite.size) if finite.size else math.nan
        colour = VERDICT_COLOURS["worse" if reached < 0.5 else "better"]
        ax.axvline(
            goal * scale,
            color=colour,
            linewidth=2,
            label=mpl_text(_("target {value}").format(value=shown(goal, tree, name))),
        )
        title = ngettext(
            "{metric}: {n} draw, P(≥ {target}) = {chance}",
            "{metric}: {n} draws, P(≥ {target}) = {chance}",
            draws,
        ).format(
            metric=name,
            n=format_number(draws),
            target=shown(goal, tree, name),
            chance=format_number(reached, percent=True),
        )
    ax.set_xlabel(mpl_text(f"{name}{_unit_suffix(tree, name)}"))
    ax.set_ylabel(_("draws"))
    ax.set_title(mpl_text(title))
    ax.legend(loc="best", fontsize="small")
    _readable_ticks(ax, ax.xaxis, percent=False)  # a percent node is drawn in % already
    return ax


# -- what-if --------------------------------------------------------------------------------------


@renders("kpitree.analyses.whatif.Scenario", "plot")
def plot_scenario(scenario: Any, ax: Axes | None = None) -> Axes:
    """Draw a `Scenario`: the relative change of each node that moved, in %.

    Bars are green when the change is better and red when worse by the node's direction
    (`tree.direction`: without direction or norm, higher; grey for a range norm). A
    node that moved from 0 has no relative change and is
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
    fills = [_move_colour(tree, n, c) for n, c in zip(moved, changes, strict=True)]
    bars = ax.barh(positions, [pct[n] * 100 for n in moved], color=fills)
    ax.bar_label(bars, labels=[short_percent(pct[n]) for n in moved], padding=3)
    ax.set_yticks(positions, labels=[mpl_text(n) for n in moved])
    ax.invert_yaxis()
    ax.axvline(0, color=_ENDS_COLOUR, linewidth=0.8)
    ax.margins(x=0.25)
    ax.set_xlabel(_("change, %"))
    ax.set_title(mpl_text(_("Scenario: {label}").format(label=scenario.label())))
    return ax
