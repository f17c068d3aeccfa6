"""Views of a `Track`: the notebook's HTML table and the trend chart with the norm band.

The HTML says what the text does (who is below norm at the last period, since when), as a
table with a badge per norm and the owners' colours. The chart draws one node (or one
measured standard) over the periods: a line per segment, the band of values that meet the
norm shaded, and every breach marked; dates are a date axis, other periods are ticks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from kpitree.display.html import _badge, _box, _e, _note, _owner_cell, _table, _title
from kpitree.display.plots import _axes, _fit_title, _unit_suffix, _value_axis
from kpitree.display.style import VERDICT_COLOURS, owner_colours
from kpitree.errors import ArgumentError, UnknownNameError, did_you_mean, quoted
from kpitree.i18n import _, ngettext
from kpitree.model.escape import mpl_text
from kpitree.model.norm import AtLeast, AtMost, Between
from kpitree.model.numbers import format_number
from kpitree.model.render import renders
from kpitree.model.results import format_norm, format_value

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_track", "track_html"]

MAX_LINES: Final = 12
"""Segments drawn at once; with more, `segment=` picks one."""

_BAND: Final = "#1a7f37"


@renders("kpitree.analyses.tracking.Track", "html")
def track_html(track: Any) -> str:
    """Return a `Track` as HTML: the span, and the last period's breaches with their runs.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> days = pd.DataFrame({"date": ["2026-10-01", "2026-10-02"], "leads": [10, 10],
        ...                      "lead_to_ql": [0.7, 0.75]})
        >>> page = track_html(qualified_leads().track(days))
        >>> "since 2026-10-01" in page, "≥ 80% ✗" in page
        (True, True)
    """
    from kpitree.model.labels import period_label

    lines = str(track).splitlines()
    if not len(track.period_codes) or not track.checks:
        return _box(*(_note(line) for line in lines))
    tree = track.tree
    colours = owner_colours(tree)
    now = track.below_at()
    parts = [_title(lines[0]), _note(lines[1])]
    if len(now):
        rows = []
        for r in now.to_dict("records"):
            standard = r["standard"]
            norm = track._norm(r["node"], standard)
            if standard is None:
                name = f"<b>{_e(r['node'])}</b>"
                value = format_value(r["value"], tree, r["node"])
                shown_norm = format_norm(norm, tree.unit(r["node"]))
            else:
                name = f'<span style="padding-left: 1.5em">{_e(standard)}</span>'
                value = format_number(r["value"])
                shown_norm = format_norm(norm, None)
            length = int(r["periods"]) if r["periods"] == r["periods"] else 1
            row = [name]
            if track.by:
                row.append(_e(", ".join(period_label(r[s]) for s in track.by)))
            row += [
                _e(value),
                _badge(shown_norm, False),
                _owner_cell(r["owner"], colours),
                _e(_("since {period}").format(period=period_label(r["since"]))),
                _e(ngettext("{n} period", "{n} periods", length).format(n=format_number(length))),
            ]
            rows.append(row)
        header = [_("name")]
        if track.by:
            header.append(_("segment"))
        header += [_("value"), _("norm"), _("owner"), _("below norm"), _("for")]
        parts.append(_table(header, rows, numeric=[2 if track.by else 1]))
    parts.extend(_note(line) for line in lines[2:] if line.startswith(_("over the span:")))
    if track.plan_ is not None:
        found = track.plan_table()
        if isinstance(found, str):
            parts.append(_note(found))
        else:
            header, body, more = found
            cells = [[_e(cell) for cell in row] for row in body]
            numbers = range(len(header) - 3, len(header))
            parts.append(_table(header, cells, numeric=numbers))
            if more:
                parts.append(
                    _note(
                        ngettext("… {n} more row", "… {n} more rows", more).format(
                            n=format_number(more)
                        )
                    )
                )
    return _box(*parts)


@renders("kpitree.analyses.tracking.Track", "plot")
def plot_track(track: Any, *, name: str, segment: Any = None, ax: Axes | None = None) -> Axes:
    """Draw one node or measured standard of a `Track` over its periods.

    A line per segment (or the one `segment`), the norm's band shaded, breaches marked.

    Raises:
        UnknownNameError: no such node, standard or segment.
        ArgumentError: more than `MAX_LINES` segments and no `segment=`.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> days = pd.DataFrame({"date": ["2026-10-01", "2026-10-02", "2026-10-03"],
        ...                      "leads": [10, 10, 10], "lead_to_ql": [0.9, 0.7, 0.85]})
        >>> ax = qualified_leads().track(days).plot("lead_to_ql")
        >>> [len(c.get_offsets()) for c in ax.collections if c.get_label() == "below norm"]
        [1]
        >>> matplotlib.pyplot.close("all")
    """
    import numpy as np

    from kpitree.model.labels import period_label

    _periods, values, check = track.series(name)
    rows = _segment_rows(track, segment)
    segments = sorted(set(track.segment_codes[rows].tolist()))
    if len(segments) > MAX_LINES:
        raise ArgumentError(
            _("{n} segments are too many lines for one chart").format(
                n=format_number(len(segments))
            ),
            hint=_("draw one: {call}").format(call=f"plot({name!r}, segment=...)"),
        )
    ax = _axes(ax, 8)
    figure: Any = ax.figure
    figure.set_size_inches(8.0, 4.0)
    x = _x(track)
    percent = check is None or check.standard is None
    node = check.node if check is not None else name
    percent = percent and _is_percent(track.tree, node)
    drawn_low, drawn_high = np.inf, -np.inf
    for code in segments:
        at = rows[track.segment_codes[rows] == code]
        label = ", ".join(period_label(track.keys[s][at[0]]) for s in track.by) or name
        y = np.asarray(values, dtype=np.float64)[at]
        ax.plot(x[at], y, marker="o", markersize=3, linewidth=1.5, label=mpl_text(label))
        if np.isfinite(y).any():
            drawn_low = min(drawn_low, float(np.nanmin(y)))
            drawn_high = max(drawn_high, float(np.nanmax(y)))
    if check is not None:
        below = rows[check.below[rows]]
        ax.scatter(
            x[below],
            np.asarray(values, dtype=np.float64)[below],
            s=40,
            color=VERDICT_COLOURS["worse"],
            zorder=3,
            label=_("below norm"),
        )
        _band(ax, check.norm, drawn_low, drawn_high, track, check)
    title = name if not track.by or segment is None else f"{name} · {period_label(segment)}"
    ax.set_title(mpl_text(title))
    unit = (
        "" if check is not None and check.standard is not None else _unit_suffix(track.tree, node)
    )
    ax.set_ylabel(mpl_text(f"{name}{unit}"))
    _value_axis(ax.yaxis, percent=percent)
    ax.legend(fontsize="small", loc="best")
    if track.period_kind in ("day", "month") or np.issubdtype(x.dtype, np.datetime64):
        figure.autofmt_xdate()
    elif track.period_kind == "label":
        codes = np.unique(track.period_codes[rows])
        periods = track.periods
        ax.set_xticks(codes, labels=[mpl_text(period_label(periods[int(c)])) for c in codes])
    ax.set_xlabel(mpl_text(track.period))
    _fit_title(ax)
    return ax


def _is_percent(tree: Any, name: str) -> bool:
    unit = tree.unit(name) if name in tree else None
    return unit is not None and bool(unit.percent)


def _x(track: Any) -> Any:
    """The x of each row: dates for a calendar of dates, numbers, else the period's rank."""
    import numpy as np

    from kpitree.analyses.tracking import canonical_periods

    values = track.keys[track.period]
    if track.period_kind in ("day", "month"):
        return np.asarray(canonical_periods(values, track.period_kind))
    if np.issubdtype(np.asarray(values).dtype, np.datetime64):
        return np.asarray(values)
    if track.period_kind == "number":
        return np.asarray(values, dtype=np.float64)
    return np.asarray(track.period_codes, dtype=np.float64)


def _segment_rows(track: Any, segment: Any) -> Any:
    """The rows of one segment (all rows without `segment`)."""
    import numpy as np

    from kpitree.model.labels import period_label

    everything = np.arange(len(track.period_codes))
    if segment is None or not track.by:
        return everything
    wanted = segment if isinstance(segment, tuple) else (segment,)
    if len(wanted) != len(track.by):
        raise ArgumentError(
            _("a segment is a value for each of {by}, got {segment}").format(
                by=", ".join(track.by), segment=quoted(segment)
            ),
        )
    match = np.ones(len(everything), dtype=bool)
    for column, value in zip(track.by, wanted, strict=True):
        keys = track.keys[column]
        same = keys == value
        if not np.any(same):  # a date given as text, a number as text: compare as shown
            same = np.array([period_label(k) == period_label(value) for k in keys], dtype=bool)
        match &= np.asarray(same, dtype=bool)
    if not match.any():
        known = {", ".join(period_label(track.keys[s][i]) for s in track.by) for i in everything}
        raise UnknownNameError(
            _("the track has no segment {segment}").format(segment=quoted(segment)),
            hint=did_you_mean(", ".join(period_label(v) for v in wanted), sorted(known)),
        )
    return everything[match]


def _band(ax: Axes, norm: Any, low: float, high: float, track: Any, check: Any) -> None:
    """Shade the values that meet the norm; the threshold as a dashed line."""
    import math

    ends = [v for v in (low, high) if math.isfinite(v)]
    thresholds = [norm.low, norm.high] if isinstance(norm, Between) else [norm.threshold]
    span = [*ends, *thresholds]
    bottom, top = min(span), max(span)
    pad = (top - bottom) * 0.15 or abs(top) * 0.1 or 1.0
    bottom, top = bottom - pad, top + pad
    ax.set_ylim(bottom, top)
    unit = track.tree.unit(check.node) if check.standard is None else None
    label = _("norm {norm}").format(norm=format_norm(norm, unit))
    if isinstance(norm, AtLeast):
        band = (norm.threshold, top)
    elif isinstance(norm, AtMost):
        band = (bottom, norm.threshold)
    else:
        band = (norm.low, norm.high)
    ax.axhspan(*band, color=_BAND, alpha=0.08, label=mpl_text(label), zorder=0)
    for t in thresholds:
        ax.axhline(t, color=_BAND, linewidth=0.8, linestyle="--", zorder=1)
