"""Tracking over time: every node per period (and segment), checked against its norm.

`track` reads a table with a period column, optional segment columns, a column per leaf
and, for a KPI's measurable standards, a column per measurement (named like the standard,
`response_minutes`, or `<kpi>.<standard>`, as `status` reads them). It evaluates the tree
once over all rows with the numpy-compiled tree and checks, per row, every node with a
norm and every measured standard, with the same rule as `status`: a value that is missing
or undefined is unknown, never a breach.

Periods are never filled in. Before anything is computed the periods are checked: no row
without a period, one type of period, no two rows with the same period and segment, and
no gaps. A gap is a period missing inside a segment's span: for a regular series (dates a
day, a week or a month apart; whole numbers a fixed step apart) any period of the
calendar between the first and the last; for other periods (labels such as `Q1`), a
period other segments have. So consecutive rows of a segment are consecutive periods,
which is what a streak counts.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.backends.frames import (
    check_keys,
    check_leaf_columns,
    check_unique,
    frame_kind,
    leaf_values,
    not_numbers,
)
from kpitree.engine.evaluate import evaluate_arrays
from kpitree.errors import (
    ArgumentError,
    MissingValueError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
    quoted,
)
from kpitree.i18n import _, ngettext
from kpitree.model.labels import period_label
from kpitree.model.nodes import KPI
from kpitree.model.norm import AtLeast, AtMost, Between, Norm
from kpitree.model.numbers import format_number
from kpitree.model.render import render
from kpitree.model.results import Result, format_norm, format_value, norm_mark, table

if TYPE_CHECKING:
    import pandas

    from kpitree.model.graph import Graph

__all__ = [
    "Check",
    "Track",
    "below_norm",
    "canonical_periods",
    "norm_gaps",
    "track",
]

_SHOWN = 5  # rows or periods named in an error before "and N more"
_LISTED = 20  # rows of the text view
_PLAN_ROWS = 5  # rows of the plan in the text view, furthest below plan first


def track(
    tree: Graph,
    data: Any,
    period: str = "date",
    by: Iterable[str] | str | None = None,
    plan: Any = None,
    engine: str | None = None,
) -> Track:
    """Evaluate the tree per period (and segment) and check every norm and standard per row.

    Args:
        tree: the tree.
        data: a pandas or polars DataFrame (or a polars LazyFrame) with the `period`
            column, the `by` columns, a column per leaf and, optionally, a column per
            measured standard.
        period: the column of periods: dates, whole numbers, or labels that sort.
        by: segment columns (one name may be a string); each segment is tracked apart.
        plan: a table of per-period targets: the `period` column, any of the `by`
            columns (a plan without one applies to every segment), and a column per
            node planned. `Track.vs_plan` compares it with the facts.
        engine: compute in `"duckdb"` (a pandas or polars frame) or `"spark"` (a Spark
            DataFrame, the default for one): the rows stay there and only those below
            a norm come back (see `kpitree.analyses.tracking_engine`); no `plan`.

    Returns:
        A `Track`.

    Raises:
        MissingValueError: a leaf without a column; rows without a period; periods
            missing (gaps), each segment's named.
        ArgumentError: two rows with the same period and segment (the rows named), a
            period or segment column that is a node of the tree.
        ValueTypeError: periods of mixed types, or of values that cannot be ordered.
        UnknownNameError: no such period or segment column; a plan column that is not
            a node of the tree.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> days = pd.DataFrame({"date": ["2026-10-01", "2026-10-02", "2026-10-03"],
        ...                      "leads": [1000, 900, 1100], "lead_to_ql": [0.82, 0.78, 0.76]})
        >>> t = qualified_leads().track(days)
        >>> t.breaches[["date", "node", "value", "gap"]]
                 date        node  value   gap
        0  2026-10-02  lead_to_ql   0.78  0.02
        1  2026-10-03  lead_to_ql   0.76  0.04
        >>> t.streaks[["node", "start", "end", "length", "ongoing"]]
                 node       start         end  length  ongoing
        0  lead_to_ql  2026-10-02  2026-10-03       2     True
    """
    import numpy as np

    if engine is not None or _spark_frame(data):
        from kpitree.analyses.tracking_engine import track_in_engine

        return track_in_engine(tree, data, period, by, engine, plan)
    data, kind = eager_frame(data)
    columns = [str(c) for c in data.columns]
    segments = _segment_names(by)
    keys, leaves, standards = checked_columns(tree, period, segments, columns)

    raw = {k: _column(data, kind, k) for k in keys}
    index = _row_labels(data, kind)
    periods = _Periods.read(raw[period], period, index)
    segment_codes, segment_count = _segment_codes([raw[s] for s in segments], len(index))
    # One sort by segment, then period: a single integer key.
    order = np.argsort(segment_codes * (len(periods.uniques) + 1) + periods.codes)
    rows = _Rows(index, order)
    seg_sorted = segment_codes[order]
    per_sorted = periods.codes[order]
    _check_duplicates(
        seg_sorted, per_sorted, rows, raw, keys, order, _text_columns(data, kind, tree, keys)
    )
    grid = periods.grid[per_sorted]
    _check_gaps(seg_sorted, grid, periods, segments, raw, order)

    arrays = {n: leaf_values(_column(data, kind, n, numeric=True), n)[order] for n in leaves}
    values: dict[str, Any] = dict(arrays)
    values.update(evaluate_arrays(tree, arrays))
    key_values = _Keys({k: raw[k] for k in keys}, order)
    checks = _checks(tree, values, standards, data, kind, order)
    track_ = Track(
        tree=tree,
        period=period,
        by=tuple(segments),
        keys=key_values,
        values={n: values[n] for n in tree.names},
        checks=tuple(checks),
        segment_codes=seg_sorted,
        period_codes=per_sorted,
        last_code=int(periods.codes.max()) if len(order) else -1,
        segments=segment_count,
        period_kind=periods.kind,
    )
    if plan is not None:
        track_ = attrs.evolve(track_, plan_=_read_plan(tree, plan, track_))
    return track_


# -- reading the table ----------------------------------------------------------------------


def _spark_frame(data: Any) -> bool:
    """Whether `data` is a Spark DataFrame (tracked in Spark)."""
    return all(hasattr(data, a) for a in ("sparkSession", "createOrReplaceTempView", "dtypes"))


def _segment_names(by: Iterable[str] | str | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _column(data: Any, kind: str, name: str, *, numeric: bool = False) -> Any:
    """A column as numpy values (pandas keeps its own dtype, read as it is)."""
    if kind == "pandas":
        return data[name]
    column = data.get_column(name)
    if numeric and not column.dtype.is_numeric() and str(column.dtype) != "Null":
        raise not_numbers(name, column.dtype)
    return column.to_numpy()


def eager_frame(data: Any) -> tuple[Any, str]:
    """`data` as a pandas or polars frame (a polars LazyFrame collected) and its library."""
    kind = frame_kind(data)
    if kind == "mapping":
        raise ValueTypeError(
            _("track reads a table with a period column, got a mapping of columns"),
            hint=_("give a pandas or polars DataFrame: {code}").format(
                code="pandas.DataFrame(columns)"
            ),
        )
    if kind == "lazy":
        return data.collect(), "polars"
    return data, kind


def checked_columns(
    tree: Graph, period: str, segments: Sequence[str], columns: Sequence[str]
) -> tuple[list[str], tuple[str, ...], Any]:
    """The key columns, the leaves and the measured standards, every column checked.

    Shared by `track` on frames and in an engine: the period and segments are columns and
    not nodes, the period is no segment, every leaf has a column, and no column measures
    two standards.
    """
    keys = check_keys(tree, [period, *segments], None, columns)
    if period in segments:
        raise ArgumentError(
            _("`{column}` is the period column and a segment column at once").format(column=period),
            hint=_("segment by other columns than the period"),
            names=[period],
        )
    leaves = tuple(leaf.name for leaf in tree.leaves)
    check_leaf_columns(tree, leaves, columns)
    standards = _measured(tree, columns)
    check_unique(columns, [c for _k, _s, c in standards])
    return keys, leaves, standards


def _row_labels(data: Any, kind: str) -> Any:
    """How rows are named in messages: the pandas index, or polars' row numbers."""
    import pandas

    if kind == "pandas":
        return data.index
    return pandas.RangeIndex(data.height)


class _Keys(Mapping[str, Any]):
    """The period and segment columns in sorted order, each taken when first asked for.

    `take(name, rows)` takes only some sorted rows (the breaches'), straight from the
    column as given.
    """

    def __init__(self, raw: Mapping[str, Any], order: Any) -> None:
        self._raw = dict(raw)
        self._order = order
        self._taken: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._taken:
            self._taken[name] = _sorted_keys(self._raw[name], self._order)
        return self._taken[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def take(self, name: str, rows: Any) -> Any:
        """The values of column `name` at sorted rows `rows`."""
        if name in self._taken:
            return self._taken[name][rows]
        return _sorted_keys(self._raw[name], self._order[rows])


def _sorted_keys(values: Any, order: Any) -> Any:
    """A key column in sorted order, keeping its type (pandas' own arrays, not objects)."""
    import pandas

    if isinstance(values, pandas.Series):
        return values.array.take(order)
    return pandas.arrays.NumpyExtensionArray(values[order])


def _measured(tree: Graph, columns: Sequence[str]) -> list[tuple[KPI, Any, str]]:
    """Every measurable standard with a column: (KPI, standard, column)."""
    present = set(columns)
    out = []
    for kpi in tree.kpis:
        for standard in kpi.standards:
            if standard.name is None or standard.norm is None:
                continue
            for column in (f"{kpi.name}.{standard.name}", standard.name):
                if column in present:
                    out.append((kpi, standard, column))
                    break
    return out


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"\d{4}-\d{2}")


@attrs.frozen
class _Periods:
    """The periods of the rows, coded in order, and where each falls on the calendar.

    The column is factorized first (hashing, one pass); every other step — types, ISO
    text, parsing dates, sorting, the calendar — looks only at the distinct periods.

    Attributes:
        codes: per row, the rank of its period among the distinct ones.
        uniques: the distinct periods, in order, as given (pandas values, not converted).
        grid: per distinct period, its place on the calendar: consecutive periods of a
            regular series differ by one; for irregular ones, the rank.
        kind: "day", "month", "number" or "label".
        step: the calendar's step (days, months, or the numbers' step); 1 for labels.
        origin: the first period as a number or timestamp, where the calendar starts.
    """

    codes: Any
    uniques: Any
    grid: Any
    kind: str
    step: int
    origin: Any = None

    @classmethod
    def read(cls, values: Any, column: str, rows: Any) -> _Periods:
        import numpy as np
        import pandas

        series = values if isinstance(values, pandas.Series) else pandas.Series(values)
        if not len(series):
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, np.zeros(0, dtype=object), empty, "label", 1)
        try:
            codes, uniques = pandas.factorize(series)
        except TypeError:  # unhashable values (lists, dicts)
            raise _unordered(column, type(series.iloc[0])) from None
        codes = np.asarray(codes, dtype=np.int64)
        missing = np.flatnonzero(codes < 0)
        if len(missing):
            raise MissingValueError(
                ngettext(
                    "the period column `{column}` is empty in a row: {rows}",
                    "the period column `{column}` is empty in {n} rows: {rows}",
                    len(missing),
                ).format(column=column, n=len(missing), rows=_listed(rows[missing])),
                hint=_("every row needs its period: fill the column or drop those rows"),
                names=[column],
            )
        found = pandas.Series(
            np.asarray(uniques, dtype=object) if uniques.dtype == object else uniques
        )
        dtype = found.dtype
        objects = pandas.api.types.is_object_dtype(dtype)
        if pandas.api.types.is_string_dtype(dtype) and not objects:
            return cls._text(codes, found, column)
        if objects:
            types = found.map(type)
            families = types.map(_family)
            if families.nunique() > 1:
                firsts = [int(np.argmax((families == f).to_numpy())) for f in families.unique()]
                examples = ", ".join(
                    _("{value} ({type}, row {row})").format(
                        value=quoted(found.iloc[u]),
                        type=types.iloc[u].__name__,
                        row=rows[int(np.argmax(codes == u))],
                    )
                    for u in firsts
                )
                raise ValueTypeError(
                    _("the period column `{column}` mixes types: {examples}").format(
                        column=column, examples=examples
                    ),
                    hint=_("periods are of one type: all dates, all numbers or all text"),
                    names=[column],
                )
            family = families.iloc[0]
            if family == "text":
                return cls._text(codes, found.astype(str), column)
            if family == "date":
                return cls._dates(codes, found, pandas.to_datetime(found), column)
            if family == "number":
                return cls._numbers(codes, found, found.astype(np.float64))
            return cls._labels(codes, found, column)
        if pandas.api.types.is_datetime64_any_dtype(dtype):
            local = found.dt.tz_localize(None) if getattr(dtype, "tz", None) else found
            return cls._dates(codes, found, local, column)  # tz-aware: the local dates
        if pandas.api.types.is_numeric_dtype(dtype) and not pandas.api.types.is_bool_dtype(dtype):
            return cls._numbers(codes, found, found.astype(np.float64))
        return cls._labels(codes, found, column)

    @classmethod
    def _sorted(
        cls, codes: Any, found: Any, order: Any, grid: Any, kind: str, step: int, origin: Any
    ) -> _Periods:
        """The periods renumbered by `order` (the distinct periods' sort order)."""
        import numpy as np

        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        originals = found.array[order]  # pandas' own values: no conversion to objects
        return cls(rank[codes], originals, grid, kind, step, origin)

    @classmethod
    def _text(cls, codes: Any, text: Any, column: str) -> _Periods:
        """Text periods: ISO dates (`2026-10-01`) and months (`2026-10`) are a calendar."""
        import pandas

        if text.str.fullmatch(_ISO_DAY.pattern).all():
            return cls._dates(codes, text, pandas.to_datetime(text, errors="coerce"), column)
        if text.str.fullmatch(_ISO_MONTH.pattern).all():
            parsed = pandas.to_datetime(text + "-01", errors="coerce")
            return cls._dates(codes, text, parsed, column)
        return cls._labels(codes, text, column)

    @classmethod
    def _labels(cls, codes: Any, found: Any, column: str) -> _Periods:
        import numpy as np

        try:
            order = np.asarray(found.argsort(kind="stable"), dtype=np.int64)
        except TypeError:
            raise _unordered(column, type(found.iloc[0])) from None
        return cls._sorted(codes, found, order, np.arange(len(found)), "label", 1, None)

    @classmethod
    def _numbers(cls, codes: Any, found: Any, numbers: Any) -> _Periods:
        import numpy as np

        values = numbers.to_numpy(dtype=np.float64)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        grid, step = _regular(ordered)
        kind = "number" if grid is not None else "label"
        if grid is None:
            grid = np.arange(len(ordered))
        return cls._sorted(codes, found, order, grid, kind, step, ordered[0])

    @classmethod
    def _dates(cls, codes: Any, found: Any, parsed: Any, column: str) -> _Periods:
        import numpy as np
        import pandas

        bad = np.flatnonzero(pandas.isna(parsed).to_numpy())
        if len(bad):
            raise ValueTypeError(
                _("the period column `{column}` has a value that is not a date: {value}").format(
                    column=column, value=quoted(found.iloc[bad[0]])
                ),
                hint=_("write dates as YYYY-MM-DD"),
                names=[column],
            )
        order = np.argsort(np.asarray(parsed.to_numpy()), kind="stable")
        stamps = pandas.DatetimeIndex(np.asarray(parsed.to_numpy())[order])
        whole_days = bool(stamps.normalize().equals(stamps))
        monthly = (
            whole_days
            and len(stamps) > 1
            and (bool((stamps.day == 1).all()) or bool(stamps.is_month_end.all()))
        )
        if monthly:
            months = np.asarray(stamps.year * 12 + stamps.month - 1, dtype=np.float64)
            grid, step = _regular(months, steps=(12, 3, 1))
            if grid is not None:
                return cls._sorted(codes, found, order, grid, "month", step, stamps[0])
        days = np.asarray((stamps - stamps[0]) / pandas.Timedelta(days=1), dtype=np.float64)
        grid, step = _regular(days, steps=(7, 1)) if whole_days else (None, 1)
        kind = "day" if grid is not None else "label"
        if grid is None:
            grid = np.arange(len(stamps))
        return cls._sorted(codes, found, order, grid, kind, step, stamps[0])

    def label(self, grid_place: int) -> str:
        """The period at a place of the calendar, for messages (a missing one too)."""
        import pandas

        if self.kind == "label":
            return period_label(self.uniques[grid_place])
        if self.kind == "number":
            return period_label(float(self.origin) + grid_place * self.step)
        places = self.grid.tolist()
        if grid_place in places:
            return period_label(self.uniques[places.index(grid_place)])
        origin = pandas.Timestamp(self.origin)
        if self.kind == "month":
            month = origin.year * 12 + origin.month - 1 + grid_place * self.step
            return f"{month // 12:04d}-{month % 12 + 1:02d}"
        stamp = origin + pandas.Timedelta(days=grid_place * self.step)
        return str(stamp.strftime("%Y-%m-%d"))


def _unordered(column: str, kind: type) -> ValueTypeError:
    return ValueTypeError(
        _("the periods in column `{column}` cannot be put in order ({type})").format(
            column=column, type=kind.__name__
        ),
        hint=_("give dates, numbers or text labels that sort (`2026-10`, `Q1`)"),
        names=[column],
    )


def _family(kind: type) -> str:
    """The kind of a period value's type: text, number, date or its own type's name."""
    import datetime
    import numbers

    if issubclass(kind, str):
        return "text"
    if issubclass(kind, bool):
        return "bool"
    if issubclass(kind, numbers.Real):
        return "number"
    if issubclass(kind, datetime.date) or kind.__name__ in ("Timestamp", "datetime64"):
        return "date"
    return kind.__name__


def _regular(numbers: Any, steps: Sequence[int] = ()) -> tuple[Any, int]:
    """Places on a calendar of a fixed step for sorted distinct numbers; None if irregular.

    With `steps` (a calendar's: 7 then 1 days; 12, 3, then 1 months) the step is the
    largest that every difference is a multiple of; without, the smallest difference.
    """
    import numpy as np

    if len(numbers) < 2:
        return np.zeros(len(numbers), dtype=np.int64), 1
    if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
        return None, 1
    diffs = np.diff(numbers)
    if steps:
        step = float(next(s for s in steps if np.all(np.mod(diffs, s) == 0)))
    else:
        step = float(diffs.min())
    if step <= 0 or not np.all(np.mod(diffs, step) == 0):
        return None, 1
    return ((numbers - numbers[0]) // step).astype(np.int64), int(step)


def _segment_codes(columns: Sequence[Any], rows: int) -> tuple[Any, int]:
    """One code per row for its segment (the combination of the `by` columns), in order."""
    import numpy as np
    import pandas

    if not columns:
        return np.zeros(rows, dtype=np.int64), 1
    if len(columns) == 1:  # the codes of one column are its segments' already
        values = columns[0] if isinstance(columns[0], pandas.Series) else pandas.Series(columns[0])
        try:
            own, uniques = pandas.factorize(values, sort=True, use_na_sentinel=False)
        except TypeError:
            own, uniques = pandas.factorize(values.astype(str), sort=True, use_na_sentinel=False)
        return np.asarray(own, dtype=np.int64), len(uniques)
    codes = np.zeros(rows, dtype=np.int64)
    for column in columns:
        values = column if isinstance(column, pandas.Series) else pandas.Series(column)
        try:
            own, uniques = pandas.factorize(values, sort=True, use_na_sentinel=False)
        except TypeError:  # values of types that do not compare: ordered by their text
            own, uniques = pandas.factorize(values.astype(str), sort=True, use_na_sentinel=False)
        codes = codes * len(uniques) + np.asarray(own, dtype=np.int64)
    renumbered, distinct = pandas.factorize(codes, sort=True)
    return renumbered.astype(np.int64), len(distinct)


def _check_duplicates(
    segments: Any,
    periods: Any,
    rows: Any,
    raw: Mapping[str, Any],
    keys: Sequence[str],
    order: Any,
    others: Sequence[str] = (),
) -> None:
    """Refuse rows with the same key; `others` are text columns that may be segments."""
    import numpy as np

    if len(periods) < 2:
        return
    same = (segments[1:] == segments[:-1]) & (periods[1:] == periods[:-1])
    if not same.any():
        return
    previous = np.concatenate(([False], same[:-1]))
    starts = np.flatnonzero(same & ~previous).tolist()
    following = np.concatenate((same[1:], [False]))
    ends = np.flatnonzero(same & ~following).tolist()
    groups = {a: rows.labels(a, b + 2) for a, b in zip(starts, ends, strict=True)}
    described = []
    for start in starts[:_SHOWN]:
        position = order[start]
        key = ", ".join(f"{k}={period_label(_at(raw[k], position))}" for k in keys)
        described.append(
            _("{key} in rows {rows}").format(key=key, rows=", ".join(map(str, groups[start])))
        )
    more = len(starts) - _SHOWN
    text = "; ".join(described) + (_("; and {n} more").format(n=more) if more > 0 else "")
    if len(keys) == 1:
        reason = ngettext(
            "a period has more than one row: {listed}",
            "{n} periods have more than one row: {listed}",
            len(starts),
        )
    else:
        reason = ngettext(
            "a period and segment has more than one row: {listed}",
            "{n} periods and segments have more than one row: {listed}",
            len(starts),
        )
    hint = _("keep one row per {keys}: aggregate the rows first (tree.rollup)").format(
        keys=", ".join(keys)
    )
    if others:
        hint = _("if the rows are segments, pass by={columns}; else {rest}").format(
            columns=repr(list(others)), rest=hint
        )
    raise ArgumentError(reason.format(n=len(starts), listed=text), hint=hint, names=list(keys))


def _text_columns(data: Any, kind: str, tree: Graph, keys: Sequence[str]) -> list[str]:
    """Columns of text that are not keys nor nodes: segments the caller may have meant."""
    import pandas

    out = []
    for name in data.columns:
        if name in keys or name in tree:
            continue
        dtype = data[name].dtype if kind == "pandas" else data.get_column(name).dtype
        text = (
            str(dtype) in ("String", "Utf8", "Categorical")
            if kind != "pandas"
            else (
                pandas.api.types.is_string_dtype(dtype) or pandas.api.types.is_object_dtype(dtype)
            )
        )
        if text:
            out.append(str(name))
    return out


@attrs.frozen
class _Rows:
    """Row labels in sorted order, looked up only for a message."""

    index: Any
    order: Any

    def labels(self, start: int, stop: int) -> list[Any]:
        """The labels of sorted rows `start` to `stop` (not included)."""
        return list(self.index[self.order[start:stop]])


def _at(values: Any, position: int) -> Any:
    return values.iloc[position] if hasattr(values, "iloc") else values[position]


def _check_gaps(
    segments: Any,
    grid: Any,
    periods: _Periods,
    names: Sequence[str],
    raw: Mapping[str, Any],
    order: Any,
) -> None:
    import numpy as np

    if len(grid) < 2:
        return
    jump = np.diff(grid)
    gap = (segments[1:] == segments[:-1]) & (jump > 1)
    if not gap.any():
        return
    missing: list[tuple[str, str]] = []
    total = 0
    for i in np.flatnonzero(gap):
        segment = ", ".join(f"{n}={period_label(_at(raw[n], order[i]))}" for n in names)
        count = int(jump[i]) - 1
        for place in range(int(grid[i]) + 1, int(grid[i]) + 1 + min(count, _SHOWN)):
            if len(missing) < _SHOWN:
                missing.append((segment, periods.label(place)))
        total += count
    shown_ = ", ".join(f"{p} ({s})" if s else p for s, p in missing)
    if total > len(missing):
        shown_ += _(" and {n} more").format(n=format_number(total - len(missing)))
    raise MissingValueError(
        ngettext(
            "a period is missing in column `{column}`: {periods}",
            "{n} periods are missing in column `{column}`: {periods}",
            total,
        ).format(n=format_number(total), column=_period_column(raw), periods=shown_),
        hint=_(
            "track never fills in periods: add the rows (leaf values may be empty, "
            "which leaves the norms unknown there), or track each stretch apart"
        ),
        names=[_period_column(raw)],
    )


def _period_column(raw: Mapping[str, Any]) -> str:
    """The period column's name: the first key read."""
    return next(iter(raw))


def _listed(rows: Sequence[Any]) -> str:
    shown_ = ", ".join(str(r) for r in rows[:_SHOWN])
    if len(rows) > _SHOWN:
        shown_ += _(" and {n} more").format(n=format_number(len(rows) - _SHOWN))
    return shown_


# -- checks ---------------------------------------------------------------------------------


@attrs.frozen
class Check:
    """One thing checked per row: a node against its norm, or a KPI's measured standard.

    Attributes:
        node: the node (for a standard, its KPI).
        standard: the standard's name; None for the node's own norm.
        owner: whose it is (a standard is its KPI's owner's).
        norm: the norm.
        values: per row (sorted by segment and period), the value; NaN when unknown.
        below: per row, whether the value is known and does not meet the norm.
    """

    node: str
    standard: str | None
    owner: str | None
    norm: Norm
    values: Any = attrs.field(repr=False, eq=False)
    below: Any = attrs.field(repr=False, eq=False)

    @property
    def label(self) -> str:
        """The node's name, or `<kpi>.<standard>` for a standard."""
        return self.node if self.standard is None else f"{self.node}.{self.standard}"


def _checks(
    tree: Graph,
    values: Mapping[str, Any],
    standards: Sequence[tuple[KPI, Any, str]],
    data: Any,
    kind: str,
    order: Any,
) -> list[Check]:
    measured: dict[str, list[tuple[Any, str]]] = {}
    for kpi, standard, column in standards:
        measured.setdefault(kpi.name, []).append((standard, column))
    out = []
    for node in tree:
        norm = getattr(node, "norm", None)
        owner = getattr(node, "owner", None)
        if norm is not None:
            out.append(_check(node.name, None, owner, norm, values[node.name]))
        for standard, column in measured.get(node.name, []):
            array = leaf_values(_column(data, kind, column, numeric=True), column)[order]
            out.append(_check(node.name, standard.name, owner, standard.norm, array))
    return out


def _check(node: str, standard: str | None, owner: str | None, norm: Norm, values: Any) -> Check:
    return Check(node, standard, owner, norm, values, below_norm(norm, values))


def below_norm(norm: Norm, values: Any) -> Any:
    """Whether each value is below its norm, vectorized; NaN (unknown) never is.

    Examples:
        >>> import numpy as np
        >>> below_norm(AtLeast(0.8), np.array([0.7, 0.8, np.nan])).tolist()
        [True, False, False]
    """
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if isinstance(norm, AtLeast):
            return v < norm.threshold
        if isinstance(norm, AtMost):
            return v > norm.threshold
        if isinstance(norm, Between):
            return (v < norm.low) | (v > norm.high)
    # A norm of another kind: its own method, value by value.
    ok = np.array([bool(norm.ok(x)) for x in v.tolist()], dtype=bool)
    return ~ok & ~np.isnan(v)


def norm_gaps(norm: Norm, values: Any) -> Any:
    """How far each value must move to meet the norm (`Norm.gap`), vectorized; NaN stays NaN.

    Examples:
        >>> import numpy as np
        >>> norm_gaps(AtMost(15), np.array([20.0, 10.0])).tolist()
        [-5.0, 0.0]
    """
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if isinstance(norm, AtLeast):
        gaps = np.maximum(0.0, norm.threshold - v)
    elif isinstance(norm, AtMost):
        gaps = np.minimum(0.0, norm.threshold - v)
    elif isinstance(norm, Between):
        gaps = np.where(v < norm.low, norm.low - v, np.where(v > norm.high, norm.high - v, 0.0))
    else:
        gaps = np.array([norm.gap(x) for x in v.tolist()], dtype=np.float64)
    return np.where(np.isnan(v), np.nan, gaps)


# -- plans ----------------------------------------------------------------------------------


def _read_plan(tree: Graph, plan: Any, fact: Track) -> Any:
    """Check a plan table and return it as pandas: keys, then a column per node."""
    import pandas

    kind = frame_kind(plan)
    if kind == "lazy":
        plan = plan.collect()
        kind = "polars"
    if kind == "mapping":
        plan = pandas.DataFrame(plan)
    elif kind == "polars":
        plan = pandas.DataFrame({c: plan.get_column(c).to_numpy() for c in plan.columns})
    columns = [str(c) for c in plan.columns]
    check_unique(columns, columns)
    if fact.period not in columns:
        raise UnknownNameError(
            _("the plan has no period column `{column}`").format(column=fact.period),
            hint=did_you_mean(fact.period, columns)
            or _("a plan has a row per period, in a column named like the data's"),
            names=[fact.period],
        )
    keys = [fact.period, *(s for s in fact.by if s in columns)]
    targets = [c for c in columns if c not in keys]
    unknown = [c for c in targets if c not in tree]
    if unknown:
        guesses = [f"`{n}`: {g}" for n in unknown if (g := did_you_mean(n, tree.names))]
        raise UnknownNameError(
            ngettext(
                "the plan has a column that is not a node of the tree: {listed}",
                "the plan has {n} columns that are not nodes of the tree: {listed}",
                len(unknown),
            ).format(n=len(unknown), listed=", ".join(f"`{n}`" for n in unknown)),
            hint="; ".join(
                [*guesses, _("a plan's columns are the period, segments and node names")]
            ),
            names=unknown,
        )
    if not targets:
        raise ArgumentError(
            _("the plan has no column for a node, only {keys}").format(keys=", ".join(keys)),
            hint=_("add a column per planned node, e.g. `{name}`").format(name=tree.names[0]),
        )
    import numpy as np

    for name in targets:
        plan[name] = leaf_values(plan[name], name)
    periods = _Periods.read(plan[fact.period], fact.period, _row_labels(plan, "pandas"))
    if _comparable(periods.kind) != _comparable(fact.period_kind):
        raise ValueTypeError(
            _("the plan's periods are {got}, the data's are {expected}").format(
                got=_kind_word(periods.kind), expected=_kind_word(fact.period_kind)
            ),
            hint=_("write the plan's periods like the data's"),
            names=[fact.period],
        )
    segments = list(keys[1:])
    for name in segments:
        data_numbers = pandas.api.types.is_numeric_dtype(fact.keys[name].dtype)
        if pandas.api.types.is_numeric_dtype(plan[name].dtype) != data_numbers:
            raise ValueTypeError(
                _("the plan's column `{column}` holds {got}, the data's holds {expected}").format(
                    column=name,
                    got=plan[name].dtype,
                    expected=fact.keys[name].dtype,
                ),
                hint=_("write the plan's segments like the data's"),
                names=[name],
            )
    codes, _count = _segment_codes([plan[s] for s in segments], len(plan))
    order = np.lexsort((periods.codes, codes))
    _check_duplicates(
        codes[order],
        periods.codes[order],
        _Rows(_row_labels(plan, "pandas"), order),
        {k: plan[k] for k in keys},
        keys,
        order,
    )
    plan = plan.copy()
    plan[fact.period] = canonical_periods(plan[fact.period], periods.kind)
    return plan[[*keys, *targets]]


def _comparable(kind: str) -> str:
    return "date" if kind in ("day", "month") else kind


def _kind_word(kind: str) -> str:
    return {
        "day": _("dates"),
        "month": _("dates"),
        "number": _("numbers"),
        "label": _("labels"),
    }.get(kind, kind)


def canonical_periods(values: Any, kind: str) -> Any:
    """Periods in one form for joining a plan: dates as timestamps, others as given.

    `kind` is the kind of the track's periods (`Track.period_kind`): `"day"` and
    `"month"` are dates, written as text (`2026-10-01`, `2026-10`) or as dates.

    Examples:
        >>> [str(d)[:10] for d in canonical_periods(["2026-10", "2026-11"], "month")]
        ['2026-10-01', '2026-11-01']
        >>> canonical_periods(["Q1", "Q2"], "label").tolist()
        ['Q1', 'Q2']
    """
    import numpy as np
    import pandas

    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if kind in ("day", "month") and len(array):
        dates = pandas.Series(array)
        if isinstance(dates.iloc[0], str) and len(dates.iloc[0]) == 7:  # an ISO month
            dates = dates.astype(str) + "-01"
        return pandas.to_datetime(dates).to_numpy()
    return array


# -- the result -----------------------------------------------------------------------------


@attrs.frozen(repr=False)
class Track(Result):
    """Every node per period (and segment), with its norms checked on every row.

    Rows are sorted by segment, then period. The frames it gives are pandas DataFrames.

    Attributes:
        tree: the tree.
        period: the period column.
        by: the segment columns.
        checks: what is checked on each row: nodes with norms and measured standards.
        segments: how many segments there are (1 without `by`).
    """

    tree: Graph = attrs.field(eq=False)
    period: str
    by: tuple[str, ...]
    keys: _Keys = attrs.field(eq=False)
    values: Mapping[str, Any] = attrs.field(eq=False)
    checks: tuple[Check, ...]
    segment_codes: Any = attrs.field(eq=False)
    period_codes: Any = attrs.field(eq=False)
    last_code: int
    segments: int
    period_kind: str
    plan_: Any = attrs.field(default=None, eq=False)

    # -- frames

    def to_frame(self) -> pandas.DataFrame:
        """Return a row per period and segment: the keys, then every node in tree order."""
        import pandas

        columns = dict(self.keys.items())
        columns.update(self.values)
        return pandas.DataFrame(columns)

    def rows(self) -> list[dict[str, Any]]:
        """Return `to_frame()` as records."""
        return self.to_frame().to_dict("records")  # type: ignore[no-any-return]

    @functools.cached_property
    def status(self) -> pandas.DataFrame:
        """Every check on every row: period, segments, node, standard, owner, value, norm, ok.

        `ok` is True when the norm is met, False when not, and missing (`pd.NA`) when the
        value is unknown.
        """
        import numpy as np
        import pandas

        n = len(self.period_codes)
        parts = []
        for i, c in enumerate(self.checks):
            ok = pandas.array(~c.below, dtype="boolean")
            ok[np.isnan(c.values)] = pandas.NA
            part = dict(self.keys.items())
            part.update(
                node=self._about("node", np.full(n, i)),
                standard=self._about("standard", np.full(n, i)),
                owner=self._about("owner", np.full(n, i)),
                value=c.values,
                norm=self._about("norm", np.full(n, i)),
                ok=ok,
            )
            parts.append(pandas.DataFrame(part))
        if not parts:
            return pandas.DataFrame(
                columns=[*self.keys, "node", "standard", "owner", "value", "norm", "ok"]
            )
        return pandas.concat(parts, ignore_index=True)

    @functools.cached_property
    def breaches(self) -> pandas.DataFrame:
        """The rows below norm: period, segments, node, standard, owner, value, norm, gap.

        Sorted by period, then segment, then tree order of the checks.
        """
        import numpy as np
        import pandas

        rows: list[Any] = [np.zeros(0, dtype=np.int64)]
        check_index: list[Any] = [np.zeros(0, dtype=np.int64)]
        values: list[Any] = [np.zeros(0)]
        gaps: list[Any] = [np.zeros(0)]
        for i, c in enumerate(self.checks):
            at = np.flatnonzero(c.below)
            rows.append(at)
            check_index.append(np.full(len(at), i, dtype=np.int64))
            values.append(c.values[at])
            gaps.append(norm_gaps(c.norm, values[-1]))
        where = np.concatenate(rows)
        which = np.concatenate(check_index)
        # One integer key: period, then segment, then check (all distinct: no stable sort).
        segments = int(self.segment_codes.max()) + 1 if len(where) else 1
        key = (self.period_codes[where] * segments + self.segment_codes[where]) * len(
            self.checks
        ) + which
        order = np.argsort(key)
        where, which = where[order], which[order]
        frame = {k: self.keys.take(k, where) for k in self.keys}
        frame["node"] = self._about("node", which)
        frame["standard"] = self._about("standard", which)
        frame["owner"] = self._about("owner", which)
        frame["value"] = np.concatenate(values)[order]
        frame["norm"] = self._about("norm", which)
        frame["gap"] = np.concatenate(gaps)[order]
        return pandas.DataFrame(frame)

    @functools.cached_property
    def streaks(self) -> pandas.DataFrame:
        """Runs of consecutive periods below norm, per check and segment.

        Columns: the segments, node, standard, owner, start, end (periods), length (how
        many periods), ongoing (whether the run reaches the last period of the data).
        A period where the value is unknown ends a run.
        """
        import numpy as np
        import pandas

        seg = self.segment_codes
        same_next = np.zeros(len(seg), dtype=bool)
        if len(seg) > 1:
            same_next[:-1] = seg[1:] == seg[:-1]
        starts_all: list[Any] = []
        ends_all: list[Any] = []
        which: list[Any] = []
        for i, c in enumerate(self.checks):
            below = c.below
            run_next = np.zeros(len(below), dtype=bool)
            run_next[:-1] = below[1:] & below[:-1] & same_next[:-1]
            run_prev = np.zeros(len(below), dtype=bool)
            run_prev[1:] = run_next[:-1]
            starts = np.flatnonzero(below & ~run_prev)
            ends = np.flatnonzero(below & ~run_next)
            starts_all.append(starts)
            ends_all.append(ends)
            which.append(np.full(len(starts), i, dtype=np.int64))
        start = np.concatenate(starts_all) if which else np.zeros(0, dtype=np.int64)
        end = np.concatenate(ends_all) if which else np.zeros(0, dtype=np.int64)
        index = np.concatenate(which) if which else np.zeros(0, dtype=np.int64)
        # Runs by check, then segment, then start: one integer key (rows are distinct).
        order = np.argsort(index * len(self.segment_codes) + start)
        start, end, index = start[order], end[order], index[order]
        frame: dict[str, Any] = {s: self.keys.take(s, start) for s in self.by}
        frame["node"] = self._about("node", index)
        frame["standard"] = self._about("standard", index)
        frame["owner"] = self._about("owner", index)
        frame["start"] = self.keys.take(self.period, start)
        frame["end"] = self.keys.take(self.period, end)
        frame["length"] = (end - start + 1).astype(np.int64)
        frame["ongoing"] = self.period_codes[end] == self.last_code
        return pandas.DataFrame(frame)

    @functools.cached_property
    def vs_plan(self) -> pandas.DataFrame:
        """Fact against plan per period, segment and planned node.

        Columns: period, segments, node, fact, plan, variance (fact − plan) and
        variance_pct (variance / |plan| as a fraction: 0.05 is 5%; NaN where the plan
        is 0). A row per planned value; a period of the plan without data has fact NaN.

        Raises:
            ArgumentError: the track was made without `plan=`.
        """
        import numpy as np
        import pandas

        if self.plan_ is None:
            raise ArgumentError(
                _("this track has no plan"),
                hint=_("pass the per-period targets: {call}").format(
                    call="tree.track(data, plan=plan_frame)"
                ),
            )
        plan = self.plan_
        keys = [c for c in plan.columns if c == self.period or c in self.by]
        targets = [c for c in plan.columns if c not in keys]
        fact = pandas.DataFrame(dict(self.keys.items()))
        fact["_period"] = canonical_periods(fact[self.period], self.period_kind)
        for name in targets:
            fact[name] = self.values[name]
        left = plan.rename(columns={self.period: "_period"})
        joined = left.merge(
            fact.drop(columns=[self.period]),
            how="left",
            on=["_period", *keys[1:]],
            suffixes=("_plan", ""),
            sort=False,
        )
        # The plan's period as written in the data where there is data.
        joined[self.period] = _period_as_data(joined["_period"], fact, self.period)
        parts = []
        for name in targets:
            planned = joined[f"{name}_plan"].to_numpy(dtype=np.float64)
            got = joined[name].to_numpy(dtype=np.float64)
            keep = ~np.isnan(planned)
            with np.errstate(all="ignore"):
                variance = got - planned
                pct = np.where(planned == 0, np.nan, variance / np.abs(planned))
            part = {self.period: joined[self.period].to_numpy()[keep]}
            for s in self.by:
                if s in joined.columns:
                    part[s] = joined[s].to_numpy()[keep]
            part["node"] = np.full(int(keep.sum()), name, dtype=object)
            part.update(
                fact=got[keep], plan=planned[keep], variance=variance[keep], variance_pct=pct[keep]
            )
            parts.append(pandas.DataFrame(part))
        out = pandas.concat(parts, ignore_index=True)
        sort = [self.period, *(s for s in self.by if s in out.columns)]
        order = np.lexsort(tuple(pandas.factorize(out[c], sort=True)[0] for c in reversed(sort)))
        return out.iloc[order].reset_index(drop=True)

    # -- summaries

    @property
    def periods(self) -> list[Any]:
        """The distinct periods, in order."""
        import numpy as np

        _codes, first = np.unique(self.period_codes, return_index=True)
        return list(self.keys[self.period][first])

    @property
    def last(self) -> Any:
        """The last period of the data (None when there are no rows)."""
        periods = self.periods
        return periods[-1] if periods else None

    def below_at(self, period: Any = None) -> pandas.DataFrame:
        """The breaches at one period (the last by default), each with its streak's start.

        Columns: as `breaches`, and `since` (the first period of the run of periods below
        norm that reaches this one) and `periods` (its length so far).
        """
        import numpy as np

        breaches = self.breaches
        if period is None:
            period = self.last
        at = breaches[breaches[self.period] == period]
        if not len(at):
            return at.assign(since=[], periods=np.zeros(0, dtype=np.int64))
        streaks = self.streaks
        ending = streaks[streaks["end"] == period]
        keys = [*self.by, "node", "standard"]
        merged = at.merge(
            ending[[*keys, "start", "length"]].astype({"standard": object}),
            how="left",
            on=keys,
        )
        return merged.rename(columns={"start": "since", "length": "periods"})

    def to_dict(self) -> dict[str, Any]:
        """Return the track as plain data: periods, the last period's breaches, streaks.

        With a plan, `vs_plan` too. The values of every row are in `to_frame()`.
        """
        last = self.below_at() if self.last is not None else None
        out = {
            "period": self.period,
            "by": list(self.by),
            "periods": len(self.periods),
            "first": None if self.last is None else period_label(self.periods[0]),
            "last": None if self.last is None else period_label(self.last),
            "segments": self.segments,
            "checks": [c.label for c in self.checks],
            "below_norm_at_last": [] if last is None else _records(last),
            "breaches": _records(self.breaches),
            "streaks": _records(self.streaks),
        }
        if self.plan_ is not None:
            out["vs_plan"] = _records(self.vs_plan)
        return out

    def plot(self, name: str, *, segment: Any = None, ax: Any = None) -> Any:
        """Draw `name` over the periods with its norm band and breaches marked; return Axes.

        Args:
            name: a node, or `<kpi>.<standard>` for a measured standard.
            segment: with `by`, the segment to draw (a value, or a tuple of values for
                several `by` columns); without it every segment is a line (at most 12).
            ax: matplotlib Axes to draw on; a new figure when None.
        """
        return render(self, "plot", name=name, segment=segment, ax=ax)

    def series(self, name: str) -> tuple[Any, Any, Check | None]:
        """The values of a node or measured standard per row, and its check if it has one.

        Raises:
            UnknownNameError: no node or measured standard of that name.
        """
        for c in self.checks:
            if name == c.label or (c.standard is not None and name == c.standard):
                return self.keys[self.period], c.values, c
        if name in self.values:
            found = next((c for c in self.checks if c.node == name and c.standard is None), None)
            return self.keys[self.period], self.values[name], found
        candidates = [*self.values, *(c.label for c in self.checks)]
        raise UnknownNameError(
            _("the track has no node or measured standard `{name}`").format(name=name),
            hint=did_you_mean(name, candidates),
            names=[name],
        )

    def __str__(self) -> str:
        if not len(self.period_codes):
            return _("no rows to track")
        periods = self.periods
        count = len(periods)
        head = ngettext("{n} period", "{n} periods", count).format(n=format_number(count))
        span = (
            period_label(periods[0])
            if count == 1
            else _("{first} to {last}").format(
                first=period_label(periods[0]), last=period_label(periods[-1])
            )
        )
        lines = [f"{head}: {span}"]
        if self.by:
            lines[0] += " · " + ngettext(
                "{n} segment ({by})", "{n} segments ({by})", self.segments
            ).format(n=format_number(self.segments), by=", ".join(self.by))
        if not self.checks:
            lines.append(_("no KPI or metric of this tree has a norm"))
            return "\n".join(lines)
        now = self.below_at()
        last = period_label(self.last)
        if not len(now):
            lines.append(_("at {period}: all norms met").format(period=last))
        else:
            lines.append(
                _("at {period}: {below}").format(
                    period=last,
                    below=ngettext("{n} below norm", "{n} below norm", len(now)).format(
                        n=format_number(len(now))
                    ),
                )
            )
        unknown = self._unknown_at_last()
        if unknown:
            lines[-1] += ngettext("; {n} value unknown", "; {n} values unknown", unknown).format(
                n=format_number(unknown)
            )
        if len(now):
            body = []
            for r in now.head(_LISTED).itertuples(index=False):
                record = r._asdict()
                label = record["node"] if record["standard"] is None else f"  {record['standard']}"
                if record["standard"] is None:
                    value = format_value(record["value"], self.tree, record["node"])
                    norm = format_norm(
                        self._norm(record["node"], None), self.tree.unit(record["node"])
                    )
                else:
                    value = format_number(record["value"])
                    norm = format_norm(self._norm(record["node"], record["standard"]), None)
                length = record["periods"]
                length = 1 if length is None or _nan(length) else int(length)
                since = _("since {period}").format(period=period_label(record["since"]))
                row = [norm_mark(False), label]
                if self.by:
                    row.append(", ".join(period_label(record[s]) for s in self.by))
                row += [
                    value,
                    norm,
                    record["owner"] or "—",
                    since,
                    ngettext("{n} period", "{n} periods", length).format(n=format_number(length)),
                ]
                body.append(row)
            header = ["", _("name")]
            if self.by:
                header.append(_("segment"))
            header += [_("value"), _("norm"), _("owner"), _("below norm"), _("for")]
            lines.append(table(body, header, cut=(1,)))
            if len(now) > _LISTED:
                lines.append(
                    ngettext("… {n} more row", "… {n} more rows", len(now) - _LISTED).format(
                        n=format_number(len(now) - _LISTED)
                    )
                )
        breaches = len(self.breaches)
        if breaches:
            streaks = self.streaks
            longest = streaks.iloc[int(streaks["length"].to_numpy().argmax())]
            where = (
                longest["node"]
                if longest["standard"] is None
                else (f"{longest['node']}.{longest['standard']}")
            )
            if self.by:
                where += " (" + ", ".join(period_label(longest[s]) for s in self.by) + ")"
            lines.append(
                _(
                    "over the span: {breaches}; longest run: {name}, {length}, {first} to {last}"
                ).format(
                    breaches=ngettext("{n} breach", "{n} breaches", breaches).format(
                        n=format_number(breaches)
                    ),
                    name=where,
                    length=ngettext("{n} period", "{n} periods", int(longest["length"])).format(
                        n=format_number(int(longest["length"]))
                    ),
                    first=period_label(longest["start"]),
                    last=period_label(longest["end"]),
                )
            )
        if self.plan_ is not None:
            lines.extend(self._plan_lines())
        return "\n".join(lines)

    def _unknown_at_last(self) -> int:
        """How many checks have no value at the last period (missing or undefined)."""
        import numpy as np

        at = self.period_codes == self.last_code
        return sum(int(np.isnan(c.values[at]).sum()) for c in self.checks)

    def _plan_lines(self) -> list[str]:
        """The text of `plan_table`."""
        found = self.plan_table()
        if isinstance(found, str):
            return [found]
        header, body, more = found
        lines = [table(body, header)]
        if more:
            lines.append(
                ngettext("… {n} more row", "… {n} more rows", more).format(n=format_number(more))
            )
        return lines

    def plan_table(self) -> str | tuple[list[str], list[list[str]], int]:
        """The plan at its last period with facts: the rows furthest below plan first.

        Returns the header, the rows (at most `_PLAN_ROWS`) and how many more there are;
        or a sentence when no period of the plan has facts yet.
        """
        import numpy as np

        plan = self.vs_plan
        known = plan[~np.isnan(plan["fact"].to_numpy(dtype=np.float64))]
        if not len(known):
            return _("plan: no period of the plan has data yet")
        at = known[known[self.period] == known[self.period].iloc[-1]]
        period = period_label(at[self.period].iloc[0])
        segments = [c for c in self.by if c in at.columns]
        worst = np.argsort(at["variance_pct"].to_numpy(dtype=np.float64), kind="stable")
        body = []
        for record in at.iloc[worst[:_PLAN_ROWS]].to_dict("records"):
            node = str(record["node"])
            pct = record["variance_pct"]
            row = [node]
            if segments:
                row.append(", ".join(period_label(record[c]) for c in segments))
            row += [
                format_value(record["fact"], self.tree, node),
                format_value(record["plan"], self.tree, node),
                "" if _nan(pct) else format_number(pct, percent=True, signed=True),
            ]
            body.append(row)
        header = [_("plan at {period}").format(period=period)]
        if segments:
            header.append(_("segment"))
        header += [_("fact"), _("plan"), _("variance")]
        return header, body, max(0, len(at) - _PLAN_ROWS)

    def _about(self, field: str, checks: Any) -> Any:
        """A column of the checks' node, standard, owner or norm: one per index in `checks`."""
        import numpy as np
        import pandas

        items, dtype, codes = self._columns[field]
        indices = np.asarray(checks, dtype=np.int64)
        if dtype is None:
            return pandas.Series(items[indices], dtype=object)
        return pandas.Categorical.from_codes(codes[indices], dtype=dtype)

    @functools.cached_property
    def _columns(self) -> dict[str, tuple[Any, Any, Any]]:
        """Per field: the checks' values, a categorical type, and each check's code.

        Categorical: a few names over many rows. Where one of the values is None, objects
        that keep None instead (pandas' string type would make it NaN).
        """
        import numpy as np

        out: dict[str, tuple[Any, Any, Any]] = {}
        for field in ("node", "standard", "owner", "norm"):
            items = [getattr(c, field) for c in self.checks]
            if field == "norm":
                items = [str(v) for v in items]
            array = np.array(items, dtype=object)
            if not items or any(v is None for v in items):
                out[field] = (array, None, None)
                continue
            categories = tuple(dict.fromkeys(items))
            codes = np.array([categories.index(v) for v in items], dtype=np.int64)
            out[field] = (array, _categories(categories), codes)
        return out

    def _norm(self, node: str, standard: str | None) -> Norm | None:
        for c in self.checks:
            if c.node == node and c.standard == standard:
                return c.norm
        return None


@functools.lru_cache(maxsize=256)
def _categories(names: tuple[str, ...]) -> Any:
    """The categorical type of a column of these names (made once: a tree tracked daily)."""
    import pandas

    return pandas.CategoricalDtype(list(names))


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _records(frame: Any) -> list[dict[str, Any]]:
    """A frame as JSON-ready records: periods as text, NaN as None."""
    out = []
    for record in frame.to_dict("records"):
        row = {}
        for k, v in record.items():
            if hasattr(v, "item") and not isinstance(v, str):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif not isinstance(v, str | int | float | bool) and v is not None:
                v = period_label(v)
            row[str(k)] = v
        out.append(row)
    return out


def _period_as_data(canonical: Any, fact: Any, column: str) -> Any:
    """The data's spelling of each canonical period (a plan-only period: its own)."""
    import numpy as np
    import pandas

    spelled = dict(zip(pandas.Series(fact["_period"]).tolist(), fact[column].tolist(), strict=True))
    values = pandas.Series(canonical).tolist()
    return np.array([spelled.get(v, period_label(v)) for v in values], dtype=object)
