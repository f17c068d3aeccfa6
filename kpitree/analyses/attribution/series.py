"""Attribution over many periods: `attribute_series` and its result, `AttributionSeries`.

"Qualified leads went from 800 to 770 over the year: which month, and whose KPI?" Each
step (period t−1 → t, in sorted period order) is attributed exactly with the chosen
method, and the steps add up: the change of every step is split over the leaves, so the
contributions of all steps sum to last − first (up to floating-point rounding, about
1e-9 × the largest value of the series). With segments (`by=`), every step is attributed
per segment and the segments' parts are summed: the metric of a period is then the sum of
its segments' metrics, which suits additive metrics (qualified leads, revenue).

All steps are computed at once: the before and after values of every (step, segment) are
rows of one array, run through the method in one call, as `attribute_frame` does for
segments. No step is a loop of Python.

The periods are the values of the period column, sorted: dates, numbers, text (sorted as
text: use ISO labels such as ``2024-01``), pandas periods or an ordered categorical. Dates
(and ISO text dates) at a regular frequency — daily, weekly, monthly (first or last day),
quarterly, yearly — are checked for gaps: a period missing inside the span is an error
naming it, never filled in. The frequency is the largest step that divides every step
between the periods present, so two periods two months apart are read as bimonthly.
To take the periods as consecutive steps whatever their dates, number them (0, 1, 2, …).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from kpitree.analyses.attribution.comparison import split_change
from kpitree.analyses.attribution.frames import (
    _all_values,
    _check_columns,
    _library,
    _numeric,
)
from kpitree.analyses.attribution.methods import (
    EXTERNAL,
    MAX_CHANGING,
    check_limit_option,
    check_method,
    method_label,
    owner_label,
    owners_of,
    subtree,
)
from kpitree.analyses.attribution.sequential import check_order
from kpitree.backends.frames import check_leaf_columns
from kpitree.errors import (
    ArgumentError,
    EvaluationError,
    MissingValueError,
)
from kpitree.i18n import _, ngettext
from kpitree.model.labels import period_label
from kpitree.model.numbers import format_number
from kpitree.model.render import render
from kpitree.model.results import Result, format_delta, format_value, table

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]
    Codes = NDArray[np.intp]

__all__ = ["AttributionSeries", "attribute_series"]

_SHOWN = 10  # periods or rows named in one error, at most


def attribute_series(
    tree: Graph,
    metric: str,
    data: Any,
    period: str = "month",
    *,
    by: str | Sequence[str] | None = None,
    method: str = "shapley",
    order: Sequence[str] | None = None,
    max_changing: int = MAX_CHANGING,
) -> AttributionSeries:
    """Attribute the change of `metric` step by step over the periods of a table.

    Args:
        tree: the tree.
        metric: the metric whose change is attributed.
        data: a pandas or polars DataFrame with the `period` column, the `by` columns
            and a column per leaf of `metric`; one row per period (and segment).
        period: the period column; its sorted values are the periods.
        by: the columns naming a segment: each step is attributed per segment and
            summed; every segment needs one row in every period.
        method: any of `METHODS`, as in `attribute`.
        order: `"sequential"` only: the leaves in the order they move, in every step.
        max_changing: as in `attribute`; counts the leaves changing in any step.

    Returns:
        An `AttributionSeries`: per step, the change and its split over leaves and
        owners; over the span, the totals.

    Raises:
        MissingValueError: a leaf without a column; a row without a period; two rows
            for one period (and segment); a segment missing in a period; a period missing
            inside the span of regular dates; a leaf without a number in some row.
        ArgumentError: fewer than two periods; periods of mixed types, that cannot be
            sorted, or month names (which sort as text, not as the calendar).
        EvaluationError: the metric undefined in some period (a division by zero...),
            or at a mix of two periods' values under Shapley.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> df = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-03"],
        ...                    "leads": [1000, 1100, 1100],
        ...                    "lead_to_ql": [0.8, 0.7, 0.75]})
        >>> series = attribute_series(qualified_leads(), "qualified_leads", df)
        >>> series.steps
        (('2024-01', '2024-02'), ('2024-02', '2024-03'))
        >>> [dict(step) for step in series.by_owner]
        [{'marketing': 75.0, 'sales': -105.0}, {'marketing': 0.0, 'sales': 55.0}]
        >>> series.total, dict(series.total_by_owner)
        (25.0, {'marketing': 75.0, 'sales': -50.0})
    """
    method = check_method(method)
    limit = check_limit_option(max_changing)
    sub = subtree(tree, metric)
    chain = check_order(sub, metric, method, order)
    segments_by = [] if by is None else [by] if isinstance(by, str) else list(by)
    leaves = [leaf.name for leaf in sub.leaves]
    library = _library(data)
    names = [str(c) for c in data.columns]
    if period in segments_by:
        raise ArgumentError(
            _("`{period}` is the period column; it cannot also name a segment in by=").format(
                period=period
            ),
            hint=_("leave `{period}` out of by=[...]").format(period=period),
            names=[period],
        )
    _check_columns(names, [period, *segments_by], leaves)
    check_leaf_columns(sub, leaves, names)
    rows = len(data) if library == "pandas" else data.height
    if rows == 0:
        raise MissingValueError(
            _("the data has no rows: a series needs a row per period"),
            hint=_("give at least two periods"),
            names=[period],
        )
    labels, codes = _periods(data, period, library)
    if len(labels) < 2:
        raise ArgumentError(
            _(
                "`{period}` has one period ({label}): a series needs at least two to have a step"
            ).format(period=period, label=period_label(labels[0])),
            hint=_("for one pair of values, use tree.attribute(metric, before, after)"),
            names=[period],
        )
    _check_gaps(labels, period)
    segment_codes, first_rows = _segments(data, segments_by, library, rows)
    count = len(first_rows)
    keys = _Keys(data, segments_by, library, first_rows)
    place = codes * count + segment_codes
    _check_grid(data, library, place, len(labels), count, labels, keys, period, segments_by)
    grid: dict[str, Array] = {}
    for leaf in leaves:
        column = data[leaf]
        values = _numeric(column if library == "pandas" else column.to_numpy(), leaf)
        cells = np.empty(len(labels) * count)
        cells[place] = values
        grid[leaf] = cells
    every = _all_values(sub, grid, len(labels) * count)
    _check_defined(every, leaves, metric, labels, keys, count, period, segments_by)
    low = {name: values[:-count] for name, values in every.items()}
    high = {name: values[count:] for name, values in every.items()}
    total = high[metric] - low[metric]
    split = split_change(sub, metric, low, high, total, method, limit, scalar=False, order=chain)
    steps = len(labels) - 1
    parts = {leaf: split.contributions[leaf].reshape(steps, count) for leaf in leaves}
    for leaf, part in parts.items():
        broken = np.isnan(part)
        if broken.any():
            step, segment = (int(i[0]) for i in np.nonzero(broken))
            raise _undefined_mix(metric, leaf, labels, step, keys[segment], segments_by, method)
    owners = owners_of(sub)
    summed = {leaf: part.sum(axis=1).tolist() for leaf, part in parts.items()}
    contributions = tuple(_frozen({leaf: summed[leaf][i] for leaf in leaves}) for i in range(steps))
    by_owner = tuple(_frozen(_roll_up(step, owners)) for step in contributions)
    values = every[metric].reshape(len(labels), count).sum(axis=1)
    changes = total.reshape(steps, count).sum(axis=1)
    result = AttributionSeries(
        metric=metric,
        method=method,
        period=period,
        by=tuple(segments_by),
        periods=tuple(labels),
        values=tuple(float(v) for v in values),
        changes=tuple(float(v) for v in changes),
        contributions=contributions,
        by_owner=by_owner,
        owners=_frozen(owners),
        segments=count,
        tree=tree,
        order=chain,
    )
    _check_frame_columns(result)
    return result


# -- reading the periods and segments -------------------------------------------------------------


def _periods(data: Any, period: str, library: str) -> tuple[list[Any], Codes]:
    """The sorted periods and each row's period number, after the checks of the column."""
    column = data[period]
    if library == "pandas":
        import pandas

        missing = column.isna().to_numpy()
        if missing.any():
            raise _no_period(period, data, np.flatnonzero(missing))
        chosen = isinstance(column.dtype, pandas.CategoricalDtype)  # ordered by the user
        if column.dtype == object:
            _check_kinds(pandas.unique(column.to_numpy()).tolist(), period)
        try:
            codes, uniques = pandas.factorize(column, sort=True)
        except TypeError:
            raise _unsortable(period, pandas.unique(column.to_numpy()).tolist()) from None
        labels = uniques.tolist()
    else:
        import polars

        missing = column.is_null().to_numpy()
        if missing.any():
            raise _no_period(period, data, np.flatnonzero(missing))
        chosen = isinstance(column.dtype, polars.Enum)
        if column.dtype == polars.Object:
            _check_kinds(list(dict.fromkeys(column.to_list())), period)
        try:
            codes = column.rank("dense").to_numpy().astype(np.intp) - 1
            labels = column.unique().sort().to_list()
        except (polars.exceptions.PolarsError, TypeError):
            raise _unsortable(period, column.head(_SHOWN).to_list()) from None
    if not chosen:
        _check_month_names(labels, period)
    return labels, np.asarray(codes, dtype=np.intp)


def _kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return _("true/false")
    if isinstance(value, int | float | np.integer | np.floating):
        return _("number")
    if isinstance(value, str):
        return _("text")
    if isinstance(value, dt.date | np.datetime64):
        return _("date")
    return type(value).__name__


def _check_kinds(values: list[Any], period: str) -> None:
    """Refuse a period column that mixes numbers, text, dates, ...: they have no order."""
    kinds: dict[str, Any] = {}
    for value in values:
        kinds.setdefault(_kind(value), value)
    if len(kinds) > 1:
        found = ", ".join(f"{kind} ({v!r})" for kind, v in kinds.items())
        raise ArgumentError(
            _("`{period}` mixes kinds of values: {found}; periods must be of one kind").format(
                period=period, found=found
            ),
            hint=_("convert the column to one type: dates, numbers, or ISO text such as 2024-01"),
            names=[period],
        )


def _unsortable(period: str, values: list[Any]) -> ArgumentError:
    shown = ", ".join(repr(v) for v in values[:3])
    return ArgumentError(
        _(
            "the values of `{period}` cannot be sorted ({values}, ...): periods need an order"
        ).format(period=period, values=shown),
        hint=_("use dates, numbers, or ISO text such as 2024-01"),
        names=[period],
    )


def _no_period(period: str, data: Any, positions: Any) -> MissingValueError:
    return MissingValueError(
        ngettext(
            "`{period}` is empty in {count} row ({rows}); every row needs its period",
            "`{period}` is empty in {count} rows ({rows}); every row needs its period",
            len(positions),
        ).format(
            period=period, count=format_number(len(positions)), rows=_row_names(data, positions)
        ),
        hint=_("fill in the period, or drop those rows"),
        names=[period],
    )


_MONTHS = frozenset(
    (
        *("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov"),
        *("dec", "january", "february", "march", "april", "june", "july", "august"),
        *("september", "october", "november", "december"),
    )
)


def _check_month_names(labels: list[Any], period: str) -> None:
    """Refuse month names as text: sorted as text, April would come first."""
    if all(isinstance(v, str) and v.strip().lower() in _MONTHS for v in labels):
        raise ArgumentError(
            _(
                "the periods of `{period}` are month names ({labels}), which sort as text, "
                "not as the calendar"
            ).format(period=period, labels=", ".join(labels[:4])),
            hint=_("use dates, ISO text such as 2024-01, or an ordered categorical"),
            names=[period],
        )


def _segments(data: Any, by: list[str], library: str, rows: int) -> tuple[Codes, Codes]:
    """Each row's segment number, and the first row of every segment (in order of first rows)."""
    if not by:
        return np.zeros(rows, dtype=np.intp), np.zeros(1, dtype=np.intp)
    combined = np.zeros(rows, dtype=np.int64)
    for name in by:
        column = data[name]
        if library == "pandas":
            import pandas

            codes, _uniques = pandas.factorize(column, use_na_sentinel=False)
        else:
            codes = column.rank("dense").fill_null(0).to_numpy()
        codes = np.asarray(codes, dtype=np.int64)
        combined = combined * (int(codes.max()) + 1) + codes  # mixed radix: one key per segment
        if len(by) > 1:  # kept below the number of rows, so that the key cannot overflow
            combined = np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)
    _keys, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    # Number the segments in the order they first appear, as the table lists them.
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)], np.sort(first)


@attrs.frozen
class _Keys:
    """The segments' values of the `by` columns, looked up one at a time, for errors."""

    data: Any
    by: list[str]
    library: str
    first_rows: Codes

    def __getitem__(self, segment: int) -> list[Any]:
        if not self.by:
            return []
        row = int(self.first_rows[segment])
        if self.library == "pandas":
            return list(self.data[self.by].iloc[row].tolist())
        return list(self.data.select(self.by).row(row))


def _segment_text(key: list[Any], by: list[str]) -> str:
    return ", ".join(f"{b}={k!r}" for b, k in zip(by, key, strict=True))


def _row_names(data: Any, positions: Any) -> str:
    """Rows as the user finds them: pandas index labels, polars row numbers (from 0)."""
    index = getattr(data, "index", None)
    chosen = positions[: _SHOWN + 1]
    if index is None:
        return _("rows {rows}").format(rows=_listed([str(int(p)) for p in chosen]))
    return _("index {rows}").format(rows=_listed([str(index[int(p)]) for p in chosen]))


def _listed(items: list[str]) -> str:
    if len(items) <= _SHOWN:
        return ", ".join(items)
    return _("{items}, ...").format(items=", ".join(items[:_SHOWN]))


def _check_grid(
    data: Any,
    library: str,
    place: Codes,
    periods: int,
    count: int,
    labels: list[Any],
    keys: _Keys,
    period: str,
    by: list[str],
) -> None:
    """Refuse two rows for one (period, segment), and a segment missing in a period."""
    filled = np.bincount(place, minlength=periods * count)
    repeated = np.flatnonzero(filled > 1)
    if repeated.size:
        cell = int(repeated[0])
        label = labels[cell // count]
        positions = np.flatnonzero(place == cell)
        where = (
            _("`{period}` = {label}").format(period=period, label=period_label(label))
            if not by
            else _("{segment} at `{period}` = {label}").format(
                segment=_segment_text(keys[cell % count], by),
                period=period,
                label=period_label(label),
            )
        )
        raise MissingValueError(
            _("{where} has {count} rows ({rows}); a series needs one per period").format(
                where=where,
                count=format_number(len(positions)),
                rows=_row_names(data, positions),
            ),
            hint=_(
                "name every segment column in by=[...], or aggregate first with tree.rollup(...)"
            )
            if by
            else _(
                "name the segment columns in by=[...], or aggregate first with tree.rollup(...)"
            ),
            names=[period, *by],
        )
    empty = np.flatnonzero(filled == 0)
    if empty.size:
        cell = int(empty[0])
        raise MissingValueError(
            _("segment {segment} has no row for `{period}` = {label}").format(
                segment=_segment_text(keys[cell % count], by),
                period=period,
                label=period_label(labels[cell // count]),
            ),
            hint=_("add a row with its leaf values (zeros for a new segment), or filter it out"),
            names=[period, *by],
        )


_ISO_MONTH = re.compile(r"\d{4}-\d{2}")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_days(labels: list[Any]) -> Any:
    """The periods as numpy days when they are all dates at day resolution, else None."""
    out = []
    for value in labels:
        if isinstance(value, str) and (_ISO_DAY.fullmatch(value) or _ISO_MONTH.fullmatch(value)):
            try:
                out.append(np.datetime64(value, "D"))
            except ValueError:
                return None
        elif isinstance(value, dt.datetime):
            if value.time() != dt.time(0):
                return None  # times within a day: no calendar frequency is checked
            out.append(np.datetime64(value.date(), "D"))
        elif isinstance(value, np.datetime64):
            day = value.astype("datetime64[D]")
            if day != value:
                return None
            out.append(day)
        elif isinstance(value, dt.date):
            out.append(np.datetime64(value, "D"))
        else:
            return None
    return np.array(out, dtype="datetime64[D]")


def _check_gaps(labels: list[Any], period: str) -> None:
    """Refuse a regular series of dates (or pandas periods) with periods missing inside."""
    missing, frequency = _gaps(labels)
    if not missing:
        return
    raise MissingValueError(
        ngettext(
            "`{period}` is {frequency} from {first} to {last} but {count} period is "
            "missing: {missing}",
            "`{period}` is {frequency} from {first} to {last} but {count} periods are "
            "missing: {missing}",
            len(missing),
        ).format(
            period=period,
            frequency=frequency,
            first=period_label(labels[0]),
            last=period_label(labels[-1]),
            count=format_number(len(missing)),
            missing=_listed(missing),
        ),
        hint=_(
            "add rows for the missing periods (kpitree never fills them in), or number the "
            "periods 0, 1, 2, ... to take the rows as consecutive steps"
        ),
        names=[period],
    )


def _gaps(labels: list[Any]) -> tuple[list[str], str]:
    """The missing periods inside the span (as text) and the frequency found."""
    if all(type(v).__name__ == "Period" and hasattr(v, "ordinal") for v in labels):
        ordinals = [v.ordinal for v in labels]
        present = set(ordinals)
        first = labels[0]
        gone = [
            str(first + (o - ordinals[0]))
            for o in range(ordinals[0], ordinals[-1] + 1)
            if o not in present
        ]
        return gone, _period_frequency(first.freqstr)
    days = _as_days(labels)
    if days is None:
        return [], ""
    months = days.astype("datetime64[M]")
    starts = months.astype("datetime64[D]")
    following = (days + np.timedelta64(1, "D")).astype("datetime64[M]").astype("datetime64[D]")
    if (starts == days).all() or (following == days + np.timedelta64(1, "D")).all():
        index = months.astype(np.int64)
        step = int(np.gcd.reduce(np.diff(index)))
        ends = not (starts == days).all()
        expected = np.arange(index[0], index[-1] + 1, step)
        gone_months = np.setdiff1d(expected, index)
        text = [_month_text(int(m), ends=ends, iso=isinstance(labels[0], str)) for m in gone_months]
        words = {1: _("monthly"), 3: _("quarterly"), 12: _("yearly")}
        frequency = words.get(step) or _("every {count} months").format(count=step)
        return text, frequency
    index = days.astype(np.int64)
    step = int(np.gcd.reduce(np.diff(index)))
    gone_days = np.setdiff1d(np.arange(index[0], index[-1] + 1, step), index)
    words = {1: _("daily"), 7: _("weekly")}
    frequency = words.get(step) or _("every {count} days").format(count=step)
    return [str(np.datetime64(int(d), "D")) for d in gone_days], frequency


def _period_frequency(freq: str) -> str:
    """pandas' frequency of periods (`M`, `Q-DEC`, `W-SUN`) in words."""
    words = {
        "D": _("daily"),
        "W": _("weekly"),
        "M": _("monthly"),
        "Q": _("quarterly"),
        "Y": _("yearly"),
        "A": _("yearly"),
    }
    base = freq.split("-")[0]
    return words.get(base) or _("at the frequency {freq}").format(freq=freq)


def _month_text(month: int, *, ends: bool, iso: bool) -> str:
    start = np.datetime64(month, "M")
    if ends:
        return str(
            (start + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
        )
    return str(start) if iso else str(start.astype("datetime64[D]"))


def _check_defined(
    every: Mapping[str, Array],
    leaves: list[str],
    metric: str,
    labels: list[Any],
    keys: _Keys,
    count: int,
    period: str,
    by: list[str],
) -> None:
    """Refuse a leaf without a number, or the metric undefined, in some period."""

    def where(cell: int) -> str:
        at = _("`{period}` = {label}").format(
            period=period, label=period_label(labels[cell // count])
        )
        return at if not by else f"{at}, {_segment_text(keys[cell % count], by)}"

    for leaf in leaves:
        gone = np.flatnonzero(np.isnan(every[leaf]))
        if gone.size:
            raise MissingValueError(
                _("`{leaf}` has no number at {where} (empty or infinite)").format(
                    leaf=leaf, where=where(int(gone[0]))
                ),
                hint=_("fill it in, or drop the period; a series is never interpolated"),
                names=[leaf, period],
            )
    undefined = np.flatnonzero(np.isnan(every[metric]))
    if undefined.size:
        raise EvaluationError(
            _(
                "`{metric}` is undefined at {where} (a division by zero or a value outside a "
                "function's domain): the steps into and out of it cannot be attributed"
            ).format(metric=metric, where=where(int(undefined[0]))),
            hint=_("fix the leaf values there, or leave that period out of the data"),
            names=[metric, period],
        )


def _undefined_mix(
    metric: str,
    leaf: str,
    labels: list[Any],
    step: int,
    key: list[Any],
    by: list[str],
    method: str,
) -> EvaluationError:
    segment = "" if not by else f" ({_segment_text(key, by)})"
    return EvaluationError(
        _(
            "`{metric}` is undefined at a mix of the values of {before} and {after}{segment}, "
            "so `{leaf}` has no {method} contribution in that step"
        ).format(
            metric=metric,
            before=period_label(labels[step]),
            after=period_label(labels[step + 1]),
            segment=segment,
            leaf=leaf,
            method=method_label(method),
        ),
        hint=_('method="hierarchical" mixes values only inside one formula at a time'),
        names=[metric, leaf],
    )


def _check_frame_columns(result: AttributionSeries) -> None:
    metric = result.metric
    columns = ["from", "to", f"{metric}_before", f"{metric}_after", f"{metric}_change"]
    columns += [*result.owners, *(f"owner_{o}" for o in set(result.owners.values()))]
    if len(set(columns)) != len(columns):
        raise ArgumentError(
            _(
                "the result columns of `{metric}` would repeat a name: `from`, `to`, the leaf "
                "names and the owner columns must differ"
            ).format(metric=result.metric),
            hint=_("rename the leaf or the owner whose name repeats"),
        )


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(data))


def _roll_up(contributions: Mapping[str, float], owners: Mapping[str, str]) -> dict[str, float]:
    parts: dict[str, list[float]] = {}
    for leaf, value in contributions.items():
        parts.setdefault(owners[leaf], []).append(value)
    order = sorted(parts, key=lambda o: o == EXTERNAL)  # stable: external last
    return {owner: math.fsum(parts[owner]) for owner in order}


# -- labels ---------------------------------------------------------------------------------------


def _label_json(value: Any) -> Any:
    """A period as plain data: numbers and text as they are, anything else as its text."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str):
        return value
    return period_label(value)


# -- the result -----------------------------------------------------------------------------------


@attrs.frozen(repr=False)
class AttributionSeries(Result):
    """The change of a metric over many periods, split per step over leaves and owners.

    The steps are consecutive pairs of periods; `contributions[i]` and `by_owner[i]`
    belong to `steps[i]`. Each step's contributions sum to its change, and the changes sum
    to `total` (`last - first`), up to floating-point rounding.

    `to_frame()` is wide, one row per step, like `attribute_frame`'s: `from` and `to`
    (the periods), `<metric>_before`, `<metric>_after`, `<metric>_change`, one column per
    leaf (its contribution) and one `owner_<owner>` column per owner.

    Attributes:
        metric: the metric.
        method: one of `METHODS`.
        period: the period column.
        by: the segment columns (empty without segments).
        periods: the periods, sorted.
        values: the metric in each period (summed over the segments).
        changes: each step's change (summed over the segments).
        contributions: per step, `{leaf: contribution}` (summed over the segments).
        by_owner: per step, `{owner: sum of their leaves' contributions}`.
        owners: `{leaf: owner}` (`"external"` for inputs).
        segments: how many segments each step was attributed over (1 without `by`).
        tree: the tree (for units in `str`).
        order: `"sequential"` only: the leaves in the order they moved.
    """

    metric: str
    method: str
    period: str
    by: tuple[str, ...]
    periods: tuple[Any, ...]
    values: tuple[float, ...]
    changes: tuple[float, ...]
    contributions: tuple[Mapping[str, float], ...]
    by_owner: tuple[Mapping[str, float], ...]
    owners: Mapping[str, str]
    segments: int
    tree: Graph = attrs.field(eq=False)
    order: tuple[str, ...] | None = None

    @property
    def steps(self) -> tuple[tuple[Any, Any], ...]:
        """The steps: `(period before, period after)` for each consecutive pair."""
        return tuple(zip(self.periods[:-1], self.periods[1:], strict=True))

    @property
    def first(self) -> float:
        """The metric in the first period."""
        return self.values[0]

    @property
    def last(self) -> float:
        """The metric in the last period."""
        return self.values[-1]

    @property
    def total(self) -> float:
        """The change over the span, `last - first`; the steps' contributions sum to it."""
        return self.last - self.first

    @property
    def total_by_owner(self) -> Mapping[str, float]:
        """`{owner: sum over the steps}`: each owner's part of the change over the span."""
        owners = dict.fromkeys(o for step in self.by_owner for o in step)
        return _frozen({o: math.fsum(step[o] for step in self.by_owner) for o in owners})

    @property
    def total_contributions(self) -> Mapping[str, float]:
        """`{leaf: sum over the steps}`: each leaf's part of the change over the span."""
        leaves = list(self.owners)
        return _frozen({leaf: math.fsum(s[leaf] for s in self.contributions) for leaf in leaves})

    def __len__(self) -> int:
        """The number of steps."""
        return len(self.changes)

    def __repr__(self) -> str:
        return (
            f"AttributionSeries(metric={self.metric!r}, method={self.method!r}, "
            f"steps={len(self)}, first={self.first!r}, last={self.last!r})"
        )

    def _change(self, change: float) -> str:
        return format_delta(change, self.tree, self.metric)

    def step_label(self, i: int) -> str:
        """Step `i` as shown: `2024-01 → 2024-02`."""
        before, after = self.steps[i]
        return f"{period_label(before)} → {period_label(after)}"

    def headline(self) -> str:
        """The first line of `str`: the span, the metric's move and the method."""
        text = ngettext(
            "{metric} over {count} step, {start} → {end}: {first} → {last}, change {change} "
            "— {method}",
            "{metric} over {count} steps, {start} → {end}: {first} → {last}, change {change} "
            "— {method}",
            len(self),
        ).format(
            metric=self.metric,
            count=format_number(len(self)),
            start=period_label(self.periods[0]),
            end=period_label(self.periods[-1]),
            first=format_value(self.first, self.tree, self.metric),
            last=format_value(self.last, self.tree, self.metric),
            change=self._change(self.total),
            method=method_label(self.method),
        )
        if self.by:
            text += " " + ngettext(
                "(summed over {count} segment)", "(summed over {count} segments)", self.segments
            ).format(count=format_number(self.segments))
        return text

    def _moved_owners(self) -> list[str]:
        return [o for o, v in self.total_by_owner.items() if any(s[o] for s in self.by_owner)]

    def __str__(self) -> str:
        owners = self._moved_owners()
        body = [
            [
                self.step_label(i),
                format_value(self.values[i + 1], self.tree, self.metric),
                self._change(change),
                *(self._change(self.by_owner[i][o]) for o in owners),
            ]
            for i, change in enumerate(self.changes)
        ]
        totals = self.total_by_owner
        body.append(
            [
                _("total"),
                "",
                self._change(self.total),
                *(self._change(totals[o]) for o in owners),
            ]
        )
        header = [_("step"), self.metric, _("change"), *(owner_label(o) for o in owners)]
        lines = [self.headline(), table(body, header)]
        moved = ", ".join(f"{owner_label(o)} {self._change(totals[o])}" for o in owners)
        lines.append(_("by owner over the span: {owners}").format(owners=moved or _("no change")))
        return "\n".join(lines)

    def plot(self, ax: Any = None, *, by: str = "step") -> Any:
        """Draw the bridge over the span: the first value, a bar per step, the last value.

        `by="owner"` draws a bar per owner (their part over the span), `by="leaf"` a bar
        per leaf. Returns the Axes; see `kpitree.display.plots.plot_attribution_series`.
        """
        return render(self, "plot", ax=ax, by=by)

    def to_dict(self) -> dict[str, Any]:
        """Return the series as plain data (JSON-ready: periods that are dates as ISO text)."""
        return {
            "metric": self.metric,
            "method": self.method,
            "period": self.period,
            "by": list(self.by),
            "segments": self.segments,
            "periods": [_label_json(p) for p in self.periods],
            "values": list(self.values),
            "first": self.first,
            "last": self.last,
            "total": self.total,
            "steps": [
                {
                    "from": _label_json(before),
                    "to": _label_json(after),
                    "change": self.changes[i],
                    "contributions": dict(self.contributions[i]),
                    "by_owner": dict(self.by_owner[i]),
                }
                for i, (before, after) in enumerate(self.steps)
            ],
            "total_contributions": dict(self.total_contributions),
            "total_by_owner": dict(self.total_by_owner),
            "owners": dict(self.owners),
            "order": None if self.order is None else list(self.order),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per step: the periods, the metric's move, leaves and owners."""
        owners = list(dict.fromkeys(self.owners.values()))
        owners.sort(key=lambda o: o == EXTERNAL)
        out = []
        for i, (before, after) in enumerate(self.steps):
            record: dict[str, Any] = {
                "from": before,
                "to": after,
                f"{self.metric}_before": self.values[i],
                f"{self.metric}_after": self.values[i + 1],
                f"{self.metric}_change": self.changes[i],
            }
            record.update(self.contributions[i])
            record.update((f"owner_{o}", self.by_owner[i][o]) for o in owners)
            out.append(record)
        return out
