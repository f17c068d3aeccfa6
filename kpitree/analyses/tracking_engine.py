"""Tracking in an engine: `tree.track(data, ..., engine="duckdb"|"spark")`.

The rows stay in the engine: DuckDB for a pandas or polars frame, Spark for a Spark
DataFrame. Every node with a norm is computed there by the tree's SQL
(`kpitree.backends.sql.to_sql`), every measured standard is read there, and each check
becomes a boolean with the rule of `status`: a value that is missing or undefined is
unknown, never a breach. The period checks of `track` run there too, as aggregates:
rows without a period, two rows with one period and segment, and gaps (a segment
skipping a place of the calendar its periods are on).

What comes back to Python is small:

- the distinct periods with their row counts (one row per period, NULL last);
- at most five duplicated keys and at most five gaps, only when there are some;
- the number of segments;
- per period, how many rows, checks below norm and unknown values there are;
- the rows with at least one check below norm, and the rows of the last period:
  period, segments and each check's value and flag. Other rows never leave the engine.

The checks are computed twice in the engine, once for the counts and once for the rows
that come back; a Spark DataFrame that is costly to compute is worth caching first.

From these the same `Track` is built as from a frame: `breaches`, `streaks`,
`below_at`, the text and `to_dict` equal those of `track` on the same rows. What needs
every row (`to_frame`, `status`, `series`, `plot`) is refused with a hint.

The queries are text put together from identifiers quoted by sqlglot (`_Sql.q`),
numbers written as `CAST('<repr of a float>' AS DOUBLE)`, whole numbers kpitree counted,
and the tree's own SQL from `to_sql`: nothing else from the data or the model enters
them.

Periods are placed on the calendar by the code of `track` (`_Periods`), run on the
distinct periods only; a small table of (rank, code, place) is handed back to the
engine and joined to the rows.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.tracking import (
    _SHOWN,
    Check,
    Track,
    _Keys,
    _Periods,
    _segment_codes,
    _segment_names,
    checked_columns,
    eager_frame,
)
from kpitree.backends.frames import (
    not_numbers,
)
from kpitree.errors import (
    ArgumentError,
    MissingValueError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
    require,
)
from kpitree.i18n import _, ngettext
from kpitree.model.labels import period_label
from kpitree.model.nodes import Leaf
from kpitree.model.norm import AtLeast, AtMost, Between, Norm
from kpitree.model.numbers import format_number

if TYPE_CHECKING:
    import pandas

    from kpitree.model.graph import Graph

__all__ = ["ENGINES", "EngineTrack", "is_spark_frame", "track_in_engine"]

ENGINES = ("duckdb", "spark")
_MAX = "1.7976931348623157e308"
_ids = itertools.count(1)


def is_spark_frame(data: Any) -> bool:
    """Whether `data` is a Spark DataFrame (by what it can do: Spark Connect's is another class)."""
    return all(hasattr(data, a) for a in ("sparkSession", "createOrReplaceTempView", "dtypes"))


def track_in_engine(
    tree: Graph,
    data: Any,
    period: str,
    by: Iterable[str] | str | None,
    engine: str | None,
    plan: Any = None,
) -> EngineTrack:
    """`track` with the rows in DuckDB or Spark; see the module's text for what comes back."""
    spark = is_spark_frame(data)
    if engine is None:
        engine = "spark" if spark else "duckdb"
    if engine not in ENGINES:
        raise UnknownNameError(
            _("no engine `{engine}` to track in").format(engine=engine),
            hint=did_you_mean(str(engine), ENGINES)
            or _("engines: {names}").format(names=", ".join(ENGINES)),
            names=[str(engine)],
        )
    if plan is not None:
        raise ArgumentError(
            _("a plan is compared with the facts on pandas or polars rows, not in {engine}").format(
                engine=engine
            ),
            hint=_("track without plan=, or without engine= on a pandas or polars frame"),
        )
    if engine == "spark" and not spark:
        raise ValueTypeError(
            _("engine='spark' tracks a Spark DataFrame, got {type}").format(
                type=type(data).__name__
            ),
            hint=_("{call} makes one; for pandas or polars frames use {frames}").format(
                call="spark.createDataFrame(pandas_frame)", frames="engine='duckdb'"
            ),
        )
    if engine == "duckdb" and spark:
        raise ValueTypeError(
            _("engine='duckdb' tracks a pandas or polars frame, got a Spark DataFrame"),
            hint=_("track a Spark DataFrame with {engine}").format(engine="engine='spark'"),
        )
    runner: _Engine = _Spark(data) if spark else _DuckDB(data)
    try:
        return _track(tree, runner, period, _segment_names(by), engine)
    finally:
        runner.close()


# -- engines --------------------------------------------------------------------------------


class _Engine:
    """Where the rows are: run SQL there, hand it a small table of integers."""

    dialect: str
    table: str
    columns: list[str]

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def run_first(self, sql: str) -> tuple[Any, list[tuple[Any, ...]]]:
        """Run `sql`: its first column as a pandas Series, and the rows."""
        import pandas

        rows = self.run(sql)
        return pandas.Series([r[0] for r in rows]), rows

    def types(self) -> dict[str, str]:
        raise NotImplementedError

    def numeric(self, kind: str) -> bool:
        raise NotImplementedError

    def register(self, name: str, rows: list[tuple[int, int, int]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _DuckDB(_Engine):
    dialect = "duckdb"

    def __init__(self, data: Any) -> None:
        require("duckdb", extra="sql", feature="tracking in DuckDB")
        import duckdb

        data, kind = eager_frame(data)
        self.data = data
        self.kind = "pandas" if kind == "pandas" else "polars"
        self.columns = [str(c) for c in data.columns]
        self.table = f"_kpitree_rows_{next(_ids)}"
        self.con = duckdb.connect()
        self.con.register(self.table, data)
        self._registered: list[str] = []

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def run_first(self, sql: str) -> tuple[Any, list[tuple[Any, ...]]]:
        """As pandas reads it (a DATE as datetime64, like a polars date column on pandas)."""
        frame = self.con.execute(sql).df()
        return frame.iloc[:, 0], list(frame.itertuples(index=False, name=None))

    def types(self) -> dict[str, str]:
        relation = self.con.sql(f'SELECT * FROM "{self.table}" LIMIT 0')  # noqa: S608
        return dict(zip(self.columns, (str(t) for t in relation.types), strict=True))

    def numeric(self, kind: str) -> bool:
        from kpitree.backends.sql import _numeric

        return _numeric(kind)

    def register(self, name: str, rows: list[tuple[int, int, int]]) -> None:
        import pandas

        frame = pandas.DataFrame(rows, columns=["_kt_rank", "_kt_code", "_kt_grid"], dtype="int64")
        self.con.register(name, frame)

    def close(self) -> None:
        self.con.close()


class _Spark(_Engine):
    dialect = "spark"

    def __init__(self, data: Any) -> None:
        require("pyspark", extra="spark", feature="tracking in Spark")
        from kpitree.backends.spark import temporary_view

        self.data = data
        self.session = data.sparkSession
        self.columns = [str(c) for c in data.columns]
        self.table = temporary_view(data)
        self._views = [self.table]

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.session.sql(sql).collect()]

    def types(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.data.dtypes}

    def numeric(self, kind: str) -> bool:
        from kpitree.backends.spark import _NUMERIC

        return kind.startswith(_NUMERIC)

    def register(self, name: str, rows: list[tuple[int, int, int]]) -> None:
        frame = self.session.createDataFrame(rows, "_kt_rank long, _kt_code long, _kt_grid long")
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def close(self) -> None:
        for view in self._views:
            self.session.catalog.dropTempView(view)


# -- the queries ----------------------------------------------------------------------------


@attrs.frozen
class _Sql:
    """Quoting and the pieces of SQL every query shares, in the engine's dialect."""

    dialect: str

    def q(self, name: str) -> str:
        from sqlglot import exp

        return str(exp.to_identifier(name, quoted=True).sql(dialect=self.dialect))

    def number(self, value: float) -> str:
        return f"CAST('{value!r}' AS DOUBLE)"

    def finite(self, value: str) -> str:
        """The value, or NULL where it is NaN or infinite (unknown, as in `track`)."""
        return f"CASE WHEN ABS({value}) <= CAST('{_MAX}' AS DOUBLE) THEN {value} END"

    def below(self, norm: Norm, value: str) -> str:
        """TRUE where the value is known and misses the norm; FALSE where unknown."""
        if isinstance(norm, AtLeast):
            test = f"{value} < {self.number(norm.threshold)}"
        elif isinstance(norm, AtMost):
            test = f"{value} > {self.number(norm.threshold)}"
        else:
            assert isinstance(norm, Between)
            low, high = self.number(norm.low), self.number(norm.high)
            test = f"({value} < {low} OR {value} > {high})"
        return f"COALESCE({test}, FALSE)"


def _track(
    tree: Graph, engine: _Engine, period: str, segments: list[str], name: str
) -> EngineTrack:
    import numpy as np
    import pandas

    from kpitree.backends.sql import to_sql

    columns = engine.columns
    keys, leaves, standards = checked_columns(tree, period, segments, columns)
    types = engine.types()
    for column in [*leaves, *(c for _k, _s, c in standards)]:
        if not engine.numeric(types[column]):
            raise not_numbers(column, types[column])
    if isinstance(engine, _DuckDB) and engine.kind == "pandas":
        column_ = engine.data[period]
        if column_.dtype == object:  # DuckDB would read mixed objects as text: check here
            _Periods.read(column_, period, engine.data.index)

    # What is checked, in the order of `track`: per node its norm, then its standards.
    measured: dict[str, list[tuple[Any, str]]] = {}
    for kpi, standard, column in standards:
        measured.setdefault(kpi.name, []).append((standard, column))
    sql = _Sql(engine.dialect)
    checks: list[tuple[str, str | None, str | None, Norm, str]] = []
    metrics: list[str] = []
    for node in tree:
        norm = getattr(node, "norm", None)
        owner = getattr(node, "owner", None)
        if norm is not None:
            _supported(node.name, norm)
            if isinstance(node, Leaf):
                value = f"CAST({sql.q(node.name)} AS DOUBLE)"
            else:
                metrics.append(node.name)
                value = sql.q(node.name)
            checks.append((node.name, None, owner, norm, sql.finite(value)))
        for standard, column in measured.get(node.name, []):
            _supported(f"{node.name}.{standard.name}", standard.norm)
            value = sql.finite(f"CAST({sql.q(column)} AS DOUBLE)")
            checks.append((node.name, standard.name, owner, standard.norm, value))

    table, p = sql.q(engine.table), sql.q(period)
    segs = [sql.q(s) for s in segments]

    # 1. The distinct periods, in the engine's order, NULL last; rows without a period.
    distinct, found = engine.run_first(
        f"SELECT {p}, COUNT(*) FROM {table} GROUP BY {p} ORDER BY {p} NULLS LAST"  # noqa: S608
    )  # noqa: RUF100, S608
    if len(distinct) and distinct.isna().iloc[-1]:
        missing = int(found[-1][1])
        raise MissingValueError(
            ngettext(
                "the period column `{column}` is empty in a row",
                "the period column `{column}` is empty in {n} rows",
                missing,
            ).format(column=period, n=format_number(missing)),
            hint=_("every row needs its period: fill the column or drop those rows"),
            names=[period],
        )
    distinct = distinct.reset_index(drop=True)
    periods = _Periods.read(distinct, period, pandas.RangeIndex(len(distinct)))
    # The engine's rank of each period -> its code (rank in `track`'s order) and place.
    rows_ = [(i, int(c), int(periods.grid[c])) for i, c in enumerate(periods.codes.tolist())]
    codes_table = f"_kpitree_periods_{next(_ids)}"
    engine.register(codes_table, rows_)
    ranked = (
        f"(SELECT {p}, ROW_NUMBER() OVER (ORDER BY {p}) - 1 AS {sql.q('_kt_sqlcode')} "  # noqa: S608
        f"FROM (SELECT DISTINCT {p} FROM {table} WHERE {p} IS NOT NULL) AS {sql.q('_kt_d')})"
    )

    def placed(source: str, picked: Sequence[str]) -> str:
        """The rows of `source` with each period's code and place on the calendar."""
        chosen = ", ".join(
            [*(f"{sql.q('_kt_s')}.{c}" for c in picked), "_kt_m._kt_code", "_kt_m._kt_grid"]
        )
        return (
            f"SELECT {chosen} FROM {source} AS {sql.q('_kt_s')} "  # noqa: S608
            f"JOIN {ranked} AS _kt_r ON {sql.q('_kt_s')}.{p} = _kt_r.{p} "
            f"JOIN {sql.q(codes_table)} AS _kt_m ON _kt_r.{sql.q('_kt_sqlcode')} = _kt_m._kt_rank"
        )

    key_list = ", ".join([p, *segs])
    # 2. Two rows with one period and segment.
    duplicated = engine.run(
        f"SELECT {key_list}, COUNT(*), COUNT(*) OVER () FROM {table} GROUP BY {key_list} "  # noqa: S608
        f"HAVING COUNT(*) > 1 ORDER BY {key_list} LIMIT {_SHOWN}"
    )
    if duplicated:
        _duplicates(duplicated, keys)
    # 3. Gaps: a segment's next period further than one place on.
    partition = f"PARTITION BY {', '.join(segs)} " if segs else ""
    seg_list = "".join(f"{s}, " for s in segs)
    gaps = engine.run(
        f"SELECT {seg_list}_kt_grid, _kt_next, SUM(_kt_next - _kt_grid - 1) OVER () FROM ("  # noqa: S608
        f"SELECT {seg_list}_kt_grid, "
        f"LEAD(_kt_grid) OVER ({partition}ORDER BY _kt_grid) AS _kt_next "
        f"FROM ({placed(table, segs)}) AS _kt_g) AS _kt_l "
        f"WHERE _kt_next - _kt_grid > 1 ORDER BY {seg_list}_kt_grid LIMIT {_SHOWN}"
    )
    if gaps:
        _gaps(gaps, segments, periods, period)
    # 4. How many segments.
    if segs:
        count = engine.run(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(segs)} FROM {table}) AS _kt_c"  # noqa: S608
        )
        segment_count = int(count[0][0])
    else:
        segment_count = 1

    # 5. The checks per row, computed in the engine.
    inner = (
        to_sql(
            tree, metrics, table=engine.table, dialect=engine.dialect, columns=columns, pretty=False
        )
        if metrics
        else f"SELECT * FROM {table}"  # noqa: S608
    )
    values = ", ".join(f"{c[4]} AS _kt_v{i}" for i, c in enumerate(checks))
    flags = ", ".join(f"{sql.below(c[3], f'_kt_v{i}')} AS _kt_b{i}" for i, c in enumerate(checks))
    evaluated = f"({inner}) AS {sql.q('_kt_e')}"
    valued = f"(SELECT {key_list}{', ' if values else ''}{values} FROM {evaluated})"  # noqa: S608
    with_values = placed(valued, [*segs, *(f"_kt_v{i}" for i in range(len(checks)))])
    flagged = f"(SELECT *{', ' if flags else ''}{flags} FROM ({with_values}) AS _kt_p)"  # noqa: S608
    n = len(checks)
    unknown = " + ".join(f"CASE WHEN _kt_v{i} IS NULL THEN 1 ELSE 0 END" for i in range(n)) or "0"
    below = " + ".join(f"CASE WHEN _kt_b{i} THEN 1 ELSE 0 END" for i in range(n)) or "0"
    counts = engine.run(
        f"SELECT _kt_code, COUNT(*), SUM({below}), SUM({unknown}) FROM {flagged} AS _kt_f "  # noqa: S608
        f"GROUP BY _kt_code ORDER BY _kt_code"
    )
    any_below = " OR ".join(f"_kt_b{i}" for i in range(n)) or "FALSE"
    picked = ", ".join(
        [
            *segs,
            "_kt_code",
            "_kt_grid",
            *(f"_kt_v{i}" for i in range(n)),
            *(f"_kt_b{i}" for i in range(n)),
        ]
    )
    # The rows below norm, and those of the last period (what the text tells of).
    last_code = len(periods.uniques) - 1
    returned = engine.run(
        f"SELECT {picked} FROM {flagged} AS _kt_f WHERE {any_below} OR _kt_code = {last_code}"  # noqa: S608
    )

    # The Track, from the rows that came back.
    k = len(segs)
    size = len(returned)
    code = np.array([r[k] for r in returned], dtype=np.int64)
    grid = np.array([r[k + 1] for r in returned], dtype=np.int64)
    seg_values = [pandas.Series([r[j] for r in returned], dtype=object) for j in range(k)]
    seg_codes, _count = _segment_codes(seg_values, size)
    order = np.argsort(seg_codes * (len(periods.uniques) + 1) + code, kind="stable")
    raw: dict[str, Any] = {period: pandas.Series(periods.uniques.take(code))}
    for s, v in zip(segments, seg_values, strict=True):
        raw[s] = pandas.Series(v.tolist()) if size else v
    made = []
    for i, (label, standard, owner, norm, _v) in enumerate(checks):
        v = np.array(
            [np.nan if r[k + 2 + i] is None else float(r[k + 2 + i]) for r in returned],
            dtype=np.float64,
        )[order]
        b = np.array([bool(r[k + 2 + n + i]) for r in returned], dtype=bool)[order]
        made.append(Check(label, standard, owner, norm, v, b))
    seg_sorted, grid_sorted, code_sorted = seg_codes[order], grid[order], code[order]
    per_period = pandas.DataFrame(
        {
            period: pandas.Series(periods.uniques.take([int(r[0]) for r in counts])),
            "rows": np.array([int(r[1]) for r in counts], dtype=np.int64),
            "below": np.array([int(r[2]) for r in counts], dtype=np.int64),
            "unknown": np.array([int(r[3]) for r in counts], dtype=np.int64),
        }
    )
    last_unknown = int(per_period["unknown"].iloc[-1]) if len(per_period) else 0
    return EngineTrack(
        tree=tree,
        period=period,
        by=tuple(segments),
        keys=_Keys(raw, order),
        values={},
        checks=tuple(made),
        segment_codes=_runs(seg_sorted, grid_sorted),
        period_codes=code_sorted,
        last_code=last_code,
        segments=segment_count,
        period_kind=periods.kind,
        engine=name,
        all_periods=tuple(periods.uniques),
        per_period=per_period,
        last_unknown=last_unknown,
    )


def _runs(segments: Any, grid: Any) -> Any:
    """Segment codes that also part a segment's rows where a period between is not there.

    Only rows below a norm come back, so two rows next to each other may be periods
    apart; `Track.streaks` joins rows next to each other with the same code. Within a
    segment, place − position is the same along consecutive periods and grows at a jump,
    so code × (places + 1) + (place − position) keeps the order by segment and period
    and differs exactly where the periods do not follow each other.
    """
    import numpy as np

    if not len(segments):
        return segments
    starts = np.flatnonzero(np.concatenate(([True], segments[1:] != segments[:-1])))
    lengths = np.diff(np.concatenate((starts, [len(segments)])))
    position = np.arange(len(segments)) - np.repeat(starts, lengths)
    return segments * (int(grid.max()) + 1) + (grid - position)


def _supported(label: str, norm: Norm) -> None:
    if not isinstance(norm, AtLeast | AtMost | Between):
        raise ArgumentError(
            _("the norm of `{name}` ({norm}) cannot be checked in SQL").format(
                name=label, norm=norm
            ),
            hint=_("norms of the forms >= x, <= x and a range are; track without engine="),
            names=[label],
        )


def _duplicates(found: list[tuple[Any, ...]], keys: Sequence[str]) -> None:
    total = int(found[0][-1])
    described = []
    for row in found:
        key = ", ".join(f"{k}={period_label(v)}" for k, v in zip(keys, row, strict=False))
        described.append(
            _("{key} in {n} rows").format(key=key, n=format_number(int(row[len(keys)])))
        )
    more = total - len(found)
    text = "; ".join(described) + (_("; and {n} more").format(n=more) if more > 0 else "")
    if len(keys) == 1:
        reason = ngettext(
            "a period has more than one row: {listed}",
            "{n} periods have more than one row: {listed}",
            total,
        )
    else:
        reason = ngettext(
            "a period and segment has more than one row: {listed}",
            "{n} periods and segments have more than one row: {listed}",
            total,
        )
    raise ArgumentError(
        reason.format(n=total, listed=text),
        hint=_("keep one row per {keys}: aggregate the rows first (tree.rollup)").format(
            keys=", ".join(keys)
        ),
        names=list(keys),
    )


def _gaps(
    found: list[tuple[Any, ...]], segments: Sequence[str], periods: _Periods, column: str
) -> None:
    k = len(segments)
    total = int(found[0][-1])
    missing: list[str] = []
    for row in found:
        segment = ", ".join(f"{s}={period_label(v)}" for s, v in zip(segments, row, strict=False))
        start, stop = int(row[k]), int(row[k + 1])
        for place in range(start + 1, stop):
            if len(missing) < _SHOWN:
                label = periods.label(place)
                missing.append(f"{label} ({segment})" if segment else label)
    shown = ", ".join(missing)
    if total > len(missing):
        shown += _(" and {n} more").format(n=format_number(total - len(missing)))
    raise MissingValueError(
        ngettext(
            "a period is missing in column `{column}`: {periods}",
            "{n} periods are missing in column `{column}`: {periods}",
            total,
        ).format(n=format_number(total), column=column, periods=shown),
        hint=_(
            "track never fills in periods: add the rows (leaf values may be empty, "
            "which leaves the norms unknown there), or track each stretch apart"
        ),
        names=[column],
    )


# -- the result -----------------------------------------------------------------------------


@attrs.frozen(repr=False)
class EngineTrack(Track):
    """A `Track` computed in an engine: only the rows below a norm (and the last period's).

    `breaches`, `streaks`, `below_at`, `periods`, the text and `to_dict` are those of
    `track` on the same rows; `to_frame`, `status`, `series` and `plot`, which need
    every row, are refused.

    Attributes:
        engine: "duckdb" or "spark".
        per_period: per period, how many rows, checks below norm and unknown values.
    """

    engine: str = attrs.field(default="duckdb", kw_only=True)
    all_periods: tuple[Any, ...] = attrs.field(default=(), kw_only=True, eq=False)
    per_period: Any = attrs.field(default=None, kw_only=True, eq=False)
    last_unknown: int = attrs.field(default=0, kw_only=True)

    @property
    def periods(self) -> list[Any]:
        """The distinct periods, in order (all of them, not only those below norm)."""
        return list(self.all_periods)

    def _unknown_at_last(self) -> int:
        return self.last_unknown

    def _every_row(self) -> ArgumentError:
        return ArgumentError(
            _(
                "this track ran in {engine}: only the rows below a norm came back, not every row"
            ).format(engine=self.engine),
            hint=_("track a pandas or polars frame without engine= for every row"),
        )

    def to_frame(self) -> pandas.DataFrame:
        """Refused: the rows that meet every norm stayed in the engine."""
        raise self._every_row()

    @functools.cached_property
    def status(self) -> pandas.DataFrame:
        """Refused: the rows that meet every norm stayed in the engine."""
        raise self._every_row()

    def series(self, name: str) -> tuple[Any, Any, Check | None]:
        """Refused: the rows that meet every norm stayed in the engine."""
        raise self._every_row()
