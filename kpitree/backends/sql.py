"""SQL: a tree compiled to one SELECT over a table of leaf columns, in any sqlglot dialect.

The query is built as sqlglot expressions, never by pasting text: every identifier is
quoted (Cyrillic names and names that are SQL keywords work), constants are literals,
and each metric is computed once — a chain of CTEs, each adding the columns whose inputs
the CTEs below have computed. No expression is written twice: a metric's raw value is a
column of one CTE (`_kpitree_v1`, ...) and its guard reads that column in the next, and
so are the parts a domain test reads twice (a divisor checked for infinity, the argument
of `LN`). The internal columns are left out of the result with `* EXCLUDE`/`* EXCEPT`, or
by listing the columns; an engine with neither (PostgreSQL, without `columns=`) gets the
guards written out in place.

The rule for undefined values is the one of `kpitree.engine.evaluate`, written out in
SQL so that every engine gives NULL on the same rows:

=====================  ================================================================
formula                SQL
=====================  ================================================================
``a / b``              ``a / NULLIF(b, 0)``
``log(x)``             ``CASE WHEN x > 0 THEN LN(x) END``
``sqrt(x)``            ``CASE WHEN x >= 0 THEN SQRT(x) END``
``exp(x)``             ``CASE WHEN x <= 709.78... THEN EXP(x) END`` (no overflow)
``x ** -2``            ``POWER(NULLIF(x, 0), -2)``; a fractional power needs ``x >= 0``
``min(a, b)``          ``LEAST(a, b)`` only when every argument is a finite number:
                       engines that skip NULLs in LEAST and GREATEST would otherwise
                       hide an undefined argument
each metric ``m``      ``CASE WHEN ABS(m) <= 1.797...e308 THEN m END``: infinity and NaN
                       (from an overflow, or a NaN stored in a leaf column) are NULL;
                       DuckDB's own ``ISFINITE(m)`` is the same test, in DuckDB's SQL
=====================  ================================================================

Leaf columns are cast to DOUBLE where they are used, so integer columns neither divide
as integers nor overflow. Engines that raise on a float overflow instead of giving
infinity (PostgreSQL) raise there too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.backends.frames import (
    Aggregation,
    aggregations,
    check_keys,
    check_leaf_columns,
    not_numbers,
    plan,
)
from kpitree.errors import (
    ArgumentError,
    DuplicateNameError,
    KPITreeError,
    MissingValueError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
    require,
)
from kpitree.i18n import _
from kpitree.language.expr import (
    Add,
    Call,
    Div,
    Expr,
    Mul,
    Neg,
    Pow,
    Ref,
    Sub,
    constant_value,
    refs,
)
from kpitree.language.table import FUNCTIONS
from kpitree.model.nodes import Leaf, Metric, raise_all

if TYPE_CHECKING:
    import pandas
    from sqlglot import exp

    from kpitree.model.graph import Graph

__all__ = [
    "DIALECTS",
    "Mixes",
    "attribution_sql",
    "checks_sql",
    "evaluate_sql",
    "metric_sql",
    "to_sql",
]

#: The dialects kpitree is tested on; any other sqlglot dialect may work too.
DIALECTS = ("duckdb", "spark", "bigquery", "snowflake", "postgres")

_MAX = 1.7976931348623157e308  # the largest finite double
_PREFIX = "_kpitree_"


def to_sql(
    tree: Graph,
    metrics: Iterable[str] | str | None = None,
    table: str = "kpis",
    dialect: str = "duckdb",
    *,
    gradient_of: str | None = None,
    group_by: Iterable[str] | str | None = None,
    order_by: str | None = None,
    columns: Iterable[str] | None = None,
    defaults: bool = False,
    pretty: bool = True,
) -> str:
    """Return a SELECT that computes the metrics from a table of leaf columns.

    Args:
        tree: the tree.
        metrics: the metrics to compute (one may be a string); None means all.
        table: the table, `name` or `schema.name` (each part is quoted).
        dialect: a sqlglot dialect: `duckdb`, `spark`, `bigquery`, `snowflake`,
            `postgres`, ...
        gradient_of: a metric; adds a column `d_<metric>_d_<leaf>` per leaf with the
            partial derivative, row by row.
        group_by: columns to roll up by: the leaves are aggregated per group by their
            declared aggregation and the metrics computed from the aggregates (a ratio
            of sums, never a mean of ratios). `[]` gives one total row.
        order_by: the column that orders rows for leaves that aggregate as `last`.
        columns: the table's columns, when known: a leaf the metrics need must be
            one of them, and the result lists them explicitly. Without it, every leaf
            the metrics need is taken to be a column and the result is `*` plus the
            metrics.
        defaults: with `columns`, let a leaf missing from them take its model value as
            a literal, with a `DefaultsWarning` naming it (see `evaluate_frame`).
        pretty: format over several lines.

    Returns:
        The SQL text. Without `group_by` the result has the table's columns and one
        column per requested metric; with it, the group columns, the aggregated
        leaves and the metrics, ordered by the group columns.

    Raises:
        UnknownNameError: an unknown metric or dialect.
        MissingValueError: a leaf missing from `columns` (with `defaults=True`, one
            without a model value either).
        ValueTypeError: a dialect or table that is not text.
        ArgumentError: a table of more than three parts (`catalog.schema.name`), or
            something the dialect cannot express (see the message).
        DuplicateNameError: `columns` naming one node twice; two columns of the result
            whose names differ only in case (a metric `X` beside a column `x`): DuckDB,
            Spark and BigQuery take them for one. Intermediate metrics are computed under
            internal names and never collide.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(to_sql(qualified_leads()))
        WITH "_kpitree_1" AS (
          SELECT
            *,
            CAST("leads" AS DOUBLE) * CAST("lead_to_ql" AS DOUBLE) AS "_kpitree_v1"
          FROM "kpis"
        ), "_kpitree_2" AS (
          SELECT
            *,
            CASE WHEN ISFINITE("_kpitree_v1") THEN "_kpitree_v1" END AS "qualified_leads"
          FROM "_kpitree_1"
        )
        SELECT
          *
          EXCLUDE ("_kpitree_v1")
        FROM "_kpitree_2"
    """
    require("sqlglot", extra="sql", feature="SQL generation")
    query = _query(
        tree,
        metrics,
        table=table,
        dialect=dialect,
        gradient_of=gradient_of,
        group_by=group_by,
        order_by=order_by,
        columns=columns,
        defaults=defaults,
    )
    return _render(query, dialect, pretty=pretty)


def metric_sql(
    tree: Graph,
    metrics: Iterable[str] | str | None = None,
    *,
    dialect: str = "spark",
    columns: Iterable[str] | None = None,
    defaults: bool = False,
) -> list[list[tuple[str, str]]]:
    """Return the SQL expression of each metric, layer by layer, for an engine's own API.

    Each expression uses leaf columns and columns of earlier layers by name, so adding
    the layers in order as columns (Spark's `withColumns(F.expr(...))`) computes every
    metric once. A metric's raw value is a column of its own (`_kpitree_v1`, ...: a
    prefix no column or node starts with), guarded in the next layer, so no expression
    is written twice; the caller drops those columns at the end. `columns` and
    `defaults` are checked as in `to_sql`. Metrics whose names differ only in case from
    each other or from a column are refused (`DuplicateNameError`): Spark matches column
    names without regard to case.

    Examples:
        >>> from kpitree.examples import sales_revenue
        >>> layers = metric_sql(sales_revenue(), ["calls"], dialect="spark")
        >>> for layer in layers:
        ...     print(layer)
        [('_kpitree_v1', 'CAST(`managers` AS DOUBLE) * CAST(`calls_per_day` AS DOUBLE) * ...')]
        [('calls', 'CASE WHEN ABS(`_kpitree_v1`) <= 1.797...e+308 THEN `_kpitree_v1` END')]
    """
    require("sqlglot", extra="sql", feature="SQL generation")
    _check_dialect(dialect)
    steps = plan(tree, metrics)
    known = None if columns is None else [_column_name(c) for c in columns]
    if known is not None:
        check_leaf_columns(tree, steps.leaves, known, defaults=defaults)
    # Every metric computed becomes a column of its own name beside the data's columns
    # (the caller sets aside those of exactly the same name): none may differ from
    # another, or from a column, only in case.
    computed = [name for layer in steps.layers for name in layer]
    present = steps.leaves if known is None else [c for c in known if c not in set(computed)]
    _check_case([*present, *computed])
    # Shared parts are columns of their own, under names no column or node starts with.
    prefix = _free_prefix([*tree.names, *(known or [])])
    compiler = _Compiler(tree, known, prefix=prefix)
    for name in computed:
        compiler.add(name, compiler.metric(name))
    return [
        [(name, _render(e, dialect, pretty=False)) for name, e in layer]
        for layer in compiler.columns_at()
    ]


def evaluate_sql(
    tree: Graph,
    con_or_path: Any,
    table: str = "kpis",
    metrics: Iterable[str] | str | None = None,
    *,
    group_by: Iterable[str] | str | None = None,
    order_by: str | None = None,
    defaults: bool = False,
) -> pandas.DataFrame:
    """Run the tree's SQL in DuckDB on a table of leaf columns; return a pandas DataFrame.

    Args:
        tree: the tree.
        con_or_path: a DuckDB connection, or the path of a DuckDB database file
            (opened read-only for the query).
        table: the table holding the leaf columns.
        metrics: the metrics to compute; None means all.
        group_by: roll up by these columns (see `to_sql`).
        order_by: orders rows for leaves that aggregate as `last`.
        defaults: let a leaf without a column take its model value (with a
            `DefaultsWarning`); otherwise a missing leaf column is an error naming it.

    Returns:
        The table's columns (or the groups and aggregated leaves) and a column per
        metric; undefined values (NULL) are NaN.

    Raises:
        ValueTypeError: `con_or_path` is neither a DuckDB connection nor a path.
        ArgumentError: no file at the path, a file DuckDB cannot open, a closed
            connection; and the errors of `to_sql`.
        UnknownNameError: the database has no such table.

    Examples:
        >>> import duckdb
        >>> from kpitree.examples import qualified_leads
        >>> con = duckdb.connect()
        >>> _ = con.execute("CREATE TABLE kpis AS SELECT * FROM (VALUES (1000, 0.8), "
        ...                 "(0, 0.5)) AS t(leads, lead_to_ql)")
        >>> evaluate_sql(qualified_leads(), con)
           leads  lead_to_ql  qualified_leads
        0   1000         0.8            800.0
        1      0         0.5              0.0
    """
    require("duckdb", extra="sql", feature="running SQL in DuckDB")
    import duckdb

    if isinstance(con_or_path, str | os.PathLike):
        with _open_database(os.fspath(con_or_path)) as con:
            return evaluate_sql(
                tree, con, table, metrics, group_by=group_by, order_by=order_by, defaults=defaults
            )
    if not isinstance(con_or_path, duckdb.DuckDBPyConnection):
        raise ValueTypeError(
            _(
                "con_or_path must be a DuckDB connection or the path of a DuckDB database "
                "file, got {type}"
            ).format(type=type(con_or_path).__name__),
            hint=_("{connection} or {path}; for another engine, run {call} there").format(
                connection="evaluate_sql(tree, duckdb.connect('kpis.duckdb'))",
                path="evaluate_sql(tree, 'kpis.duckdb')",
                call="to_sql(...)",
            ),
        )
    con = con_or_path
    from sqlglot import exp

    probe = exp.select(exp.Star()).from_(_table(table)).limit(0)
    try:
        relation = con.sql(_render(probe, "duckdb", pretty=False))
    except duckdb.ConnectionException as exc:
        raise ArgumentError(
            _("the DuckDB connection cannot be used: {reason}").format(reason=exc),
            hint=_("pass an open connection ({call})").format(call="duckdb.connect(...)"),
        ) from None
    except duckdb.CatalogException:
        raise UnknownNameError(
            _("the database has no table `{table}`").format(table=table),
            hint=_("create it first, or pass table=... with its name"),
            names=[table],
        ) from None
    names = [str(c) for c in relation.columns]
    types = dict(zip(names, (str(t) for t in relation.types), strict=True))
    steps = plan(tree, metrics)
    for leaf in steps.leaves:
        kind = types.get(leaf)
        if kind is not None and not _numeric(kind):
            raise not_numbers(leaf, kind)
    sql = to_sql(
        tree,
        steps.metrics,
        table=table,
        dialect="duckdb",
        group_by=group_by,
        order_by=order_by,
        columns=names,
        defaults=defaults,
        pretty=False,
    )
    return con.execute(sql).df()


def _open_database(path: str) -> Any:
    """Open a DuckDB database file read-only, or say why it cannot be."""
    import duckdb

    if not os.path.isfile(path):
        message = (
            _("there is a folder at `{path}`, where a DuckDB database file was expected")
            if os.path.isdir(path)
            else _("there is no file at `{path}`, where a DuckDB database file was expected")
        )
        raise ArgumentError(
            message.format(path=path),
            hint=_("give the path of an existing DuckDB file, or an open duckdb connection"),
            names=[path],
        )
    try:
        return duckdb.connect(path, read_only=True)
    except duckdb.Error as exc:
        raise ArgumentError(
            _("`{path}` cannot be opened as a DuckDB database: {reason}").format(
                path=path, reason=exc
            ),
            hint=_(
                "give a file made by DuckDB (a CSV or Parquet file is read with "
                "duckdb's read_csv or read_parquet into a table first)"
            ),
            names=[path],
        ) from None


def _numeric(duckdb_type: str) -> bool:
    return duckdb_type.startswith("DECIMAL") or duckdb_type in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
    }


# -- building the query ---------------------------------------------------------------------


def _query(
    tree: Graph,
    metrics: Iterable[str] | str | None,
    *,
    table: str,
    dialect: str,
    gradient_of: str | None,
    group_by: Iterable[str] | str | None,
    order_by: str | None,
    columns: Iterable[str] | None,
    defaults: bool,
) -> exp.Select:
    """Build the statement: a CTE per level of the tree, then the final SELECT.

    Built with `copy=False` throughout: sqlglot's builders copy the whole statement on
    every call by default, which made assembly quadratic in the number of levels.
    """
    from sqlglot import exp

    _check_dialect(dialect)
    source = _table(table)
    requested = plan(tree, metrics)
    known = None if columns is None else [_column_name(c) for c in columns]
    derivatives = _derivatives(tree, gradient_of) if gradient_of is not None else {}
    # The derivatives use metrics below `gradient_of`: those are computed too.
    used = {r.name for d in derivatives.values() for r in refs(d)}
    steps = plan(tree, [*requested.metrics, *(m for m in used if isinstance(tree[m], Metric))])
    wanted = {*steps.leaves, *used}
    leaves = [n for n in tree._order if n in wanted and isinstance(tree[n], Leaf)]
    if known is not None:
        check_leaf_columns(tree, leaves, known, defaults=defaults)
    added = [*requested.metrics, *derivatives]
    shown_metrics = set(added)
    hidden = [name for layer in steps.layers for name in layer if name not in shown_metrics]
    prefix = _free_prefix([*tree.names, *(known or []), *table.split(".")])
    # Metrics the result does not show are computed under internal names: engines that
    # fold the case of quoted identifiers (DuckDB, Spark) would take an intermediate `Rev`
    # and a column `rev` for one column. Only the names the result shows must differ.
    sql_names = {name: name for name in added}
    sql_names.update((name, f"{prefix}m{i}") for i, name in enumerate(hidden, start=1))
    # Raw values in one CTE, their guards in the next, so no expression is written twice;
    # that needs the shared parts left out of the result, by name or with `* EXCEPT`.
    staged = group_by is not None or known is not None or dialect in _STAR_EXCEPT
    compiler = _Compiler(tree, known, sql_names, prefix=prefix if staged else None)
    for level in steps.layers:
        for name in level:
            compiler.add(sql_names[name], compiler.metric(name))
    for name, derivative in derivatives.items():
        compiler.add(name, compiler.guarded(derivative))
    layers = compiler.columns_at()
    internal = compiler.internal

    keys: list[str] = []
    ctes: list[exp.Select] = []
    if group_by is not None:
        keys = check_keys(tree, group_by, order_by, known)
        present = [n for n in leaves if known is None or n in known]
        ctes.append(_aggregate(tree, present, keys, order_by, source, known, dialect, f"{prefix}r"))
        keep: list[str] | None = [*keys, *present]
        source = _identifier_table(f"{prefix}0")
        first: list[exp.Expr] = [exp.Star()]
        shown = [*keys, *present, *added]
    else:
        keep = None if known is None else [c for c in known if c not in shown_metrics]
        first = _star_or(keep)
        ctes.append(exp.select(*first, copy=False).from_(source, copy=False))
        # Without the table's columns, the leaves are the columns known to be there.
        shown = [*(leaves if keep is None else keep), *added]
    _check_case(shown)
    for i, layer in enumerate(layers, start=1):
        columns_in = first if i == 1 else [exp.Star()]
        frm = source if i == 1 else _identifier_table(f"{prefix}{i - 1}")
        select = exp.select(*columns_in, *(_alias(e, n) for n, e in layer), copy=False)
        ctes.append(select.from_(frm, copy=False))
    if not layers and group_by is None:
        return ctes[0]
    last = _identifier_table(f"{prefix}{len(ctes) - 1}")
    if keep is not None:
        picked = [*_star_or(keep), *(_quoted_column(n) for n in added)]
    elif hidden or internal:
        if dialect not in _STAR_EXCEPT:
            raise ArgumentError(
                _(
                    "the {dialect} dialect cannot leave out the intermediate metrics "
                    "{names} from `SELECT *`"
                ).format(dialect=dialect, names=", ".join(f"`{n}`" for n in hidden)),
                hint=_(
                    "give the table's columns (columns=[...]) so that the result lists "
                    "them, or ask for every metric (metrics=None)"
                ),
                names=hidden,
            )
        left_out = [*(sql_names[n] for n in hidden), *internal]
        picked = [exp.Star(except_=[_quoted_column(n) for n in left_out])]
    else:
        picked = [exp.Star()]
    final = exp.select(*picked, copy=False).from_(last, copy=False)
    if keys:  # `group_by=[]` is one total row: nothing to order, and `ORDER BY` alone is no SQL
        final = final.order_by(
            *(exp.Ordered(this=_quoted_column(k), nulls_first=False) for k in keys), copy=False
        )
    first_cte = 0 if group_by is not None else 1
    with_ = exp.With(
        expressions=[
            exp.CTE(
                this=ctes[i],
                alias=exp.TableAlias(this=exp.to_identifier(f"{prefix}{i}", quoted=True)),
            )
            for i in range(first_cte, len(ctes))
        ]
    )
    final.set("with_", with_)
    return final


def _free_prefix(names: Iterable[str]) -> str:
    """`_kpitree_`, longer by leading underscores until no given name starts with it.

    Internal names (the CTEs, the hidden metrics) then differ from every node, column
    and table name, in any case.
    """
    folded = [name.casefold() for name in names]
    prefix = _PREFIX
    while any(name.startswith(prefix) for name in folded):
        prefix = f"_{prefix}"
    return prefix


def _check_case(names: Iterable[str]) -> None:
    """Refuse result columns whose names differ only in case, naming both.

    DuckDB, Spark and BigQuery match even quoted identifiers without regard to case, so
    two such columns are one to them: a metric `X` beside a column `x` would read back
    the column. The rule holds for every dialect, so the SQL means the same anywhere.
    """
    seen: dict[str, str] = {}
    problems: list[KPITreeError] = []
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            problems.append(
                DuplicateNameError(
                    _(
                        "`{other}` and `{name}` differ only in case: SQL engines that ignore "
                        "the case of names (DuckDB, Spark, BigQuery) take them for one column"
                    ).format(other=other, name=name),
                    hint=_("rename the metric, or the column ({code} in a view)").format(
                        code="`SELECT x AS x_raw`"
                    ),
                    names=[other, name],
                )
            )
    raise_all(problems)


#: Dialects with `SELECT * EXCLUDE/EXCEPT (...)`.
_STAR_EXCEPT = frozenset({"duckdb", "snowflake", "bigquery", "spark", "databricks"})
#: Dialects with ARG_MAX / MAX_BY, which `last` rollups need.
_ARG_MAX = frozenset({"duckdb", "snowflake", "bigquery", "spark", "databricks", "clickhouse"})


def _star_or(names: Sequence[str] | None) -> list[exp.Expr]:
    from sqlglot import exp

    return [exp.Star()] if names is None else [_quoted_column(n) for n in names]


def _alias(expression: exp.Expr, name: str) -> exp.Expr:
    from sqlglot import exp

    return exp.alias_(expression, exp.to_identifier(name, quoted=True), copy=False)


def _quoted_column(name: str) -> exp.Column:
    from sqlglot import exp

    return exp.column(exp.to_identifier(name, quoted=True))


def _identifier_table(name: str) -> exp.Table:
    from sqlglot import exp

    return exp.Table(this=exp.to_identifier(name, quoted=True))


def _table(table: str) -> exp.Table:
    from sqlglot import exp

    if not isinstance(table, str):
        raise ValueTypeError(
            _("table must be text, a name like `kpis` or `schema.kpis`, got {type}").format(
                type=type(table).__name__
            ),
            hint='table="kpis"',
        )
    parts = table.split(".")
    if not all(parts) or len(parts) > 3:
        raise ArgumentError(
            (
                _(
                    "table must be a name like `kpis`, `schema.kpis` or "
                    "`catalog.schema.kpis`, got {table} ({n} parts)"
                )
                if all(parts)
                else _(
                    "table must be a name like `kpis`, `schema.kpis` or "
                    "`catalog.schema.kpis`, got {table}"
                )
            ).format(table=repr(table), n=len(parts)),
            hint=_("each part is quoted as given; a table whose name has a dot needs a view"),
            names=[table],
        )
    quoted = [exp.to_identifier(p, quoted=True) for p in parts]
    args = dict(zip(("this", "db", "catalog"), reversed(quoted), strict=False))
    return exp.Table(**args)


def _column_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueTypeError(
            _("a column name must be non-empty text, got {name}").format(name=repr(name))
        )
    return name


def _check_dialect(dialect: str) -> None:
    from sqlglot.dialects.dialect import Dialect

    if not isinstance(dialect, str) or not dialect:
        raise ValueTypeError(
            _("dialect must be the name of a SQL dialect, got {dialect}").format(
                dialect=f"{dialect!r:.60}"
            ),
            hint=_("one of {dialects} (any dialect sqlglot knows)").format(
                dialects=", ".join(DIALECTS)
            ),
        )
    try:
        Dialect.get_or_raise(dialect)
    except ValueError:
        raise UnknownNameError(
            _("`{dialect}` is not a SQL dialect sqlglot knows").format(dialect=dialect),
            hint=did_you_mean(str(dialect), DIALECTS)
            or _("try one of {dialects}").format(dialects=", ".join(DIALECTS)),
            names=[str(dialect)],
        ) from None


def _render(expression: exp.Expr, dialect: str, *, pretty: bool) -> str:
    from sqlglot.errors import ErrorLevel, UnsupportedError

    if dialect == "duckdb":
        expression = _duckdb_finite_tests(expression)
    try:
        # Every statement is built for one rendering: no copy is needed (and copying
        # the whole statement is the single largest cost of a big tree).
        return expression.sql(
            dialect=dialect, pretty=pretty, unsupported_level=ErrorLevel.RAISE, copy=False
        )
    except UnsupportedError as exc:
        raise ArgumentError(
            _("the {dialect} dialect cannot express this query: {reason}").format(
                dialect=dialect, reason=exc
            ),
            hint=_("see the message for the construct; another dialect may have it"),
        ) from None


def _aggregate(
    tree: Graph,
    leaves: Sequence[str],
    keys: Sequence[str],
    order_by: str | None,
    source: exp.Table,
    known: Sequence[str] | None,
    dialect: str,
    alias: str = f"{_PREFIX}r",
) -> exp.Select:
    """The rollup's first step: one row per group, each leaf aggregated its own way.

    `alias` names the subquery that reads the leaves (each once, finite or NULL).
    """
    from sqlglot import exp

    ways = aggregations(tree, leaves)
    for way in ways.values():
        if way.weight is not None and known is not None and way.weight not in known:
            raise MissingValueError(
                _("the weight `{name}` has no column in the table").format(name=way.weight),
                hint=_("a weighted rollup needs the weight per row: add `{name}`").format(
                    name=way.weight
                ),
                names=[way.weight],
            )
    if order_by is None and any(w.how == "last" for w in ways.values()):
        lasts = [n for n, w in ways.items() if w.how == "last"]
        raise ArgumentError(
            _("`{name}` aggregates as `last`, and SQL rows have no order").format(name=lasts[0]),
            hint=_("pass order_by=<a date or time column>"),
            names=lasts,
        )
    if any(w.how == "last" for w in ways.values()) and dialect not in _ARG_MAX:
        raise ArgumentError(
            _("a `last` rollup needs ARG_MAX or MAX_BY, which the {dialect} dialect lacks").format(
                dialect=dialect
            ),
            hint=_("use one of {dialects}, or declare another aggregation").format(
                dialects=", ".join(sorted(_ARG_MAX))
            ),
        )
    # Each value is made a finite number or NULL once, in a subquery the aggregates read.
    read = dict.fromkeys([*ways, *(w.weight for w in ways.values() if w.weight is not None)])
    passed = dict.fromkeys([*keys, *([] if order_by is None else [order_by])])
    finite = exp.select(
        *(_quoted_column(k) for k in passed),
        *(_alias(_finite_value(n), n) for n in read),
        copy=False,
    ).from_(source, copy=False)
    inner = exp.Subquery(
        this=finite, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
    )
    columns = [_aggregate_leaf(name, way, order_by) for name, way in ways.items()]
    select = exp.select(
        *(_quoted_column(k) for k in keys),
        *(_alias(c, n) for n, c in zip(ways, columns, strict=True)),
    ).from_(inner)
    if keys:
        select = select.group_by(*(_quoted_column(k) for k in keys))
    return select


def _finite_value(name: str) -> exp.Expr:
    """A leaf's value as DOUBLE, NULL when it is NULL, NaN or infinite (left out)."""
    from sqlglot import exp

    value = _double(_quoted_column(name))
    return exp.Case(ifs=[exp.If(this=_is_finite(value), true=value.copy())])


def _aggregate_leaf(name: str, way: Aggregation, order_by: str | None) -> exp.Expr:
    """A leaf's aggregate over columns already finite or NULL (see `_aggregate`)."""
    from sqlglot import exp

    x = _quoted_column(name)
    if way.how == "weighted":
        assert way.weight is not None
        w = _quoted_column(way.weight)
        numerator = exp.Sum(this=exp.Mul(this=x, expression=w))
        weight = exp.Sum(
            this=exp.Case(
                ifs=[
                    exp.If(
                        this=exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null())),
                        true=w.copy(),
                    )
                ]
            )
        )
        return exp.Div(this=numerator, expression=exp.Nullif(this=weight, expression=_number(0)))
    if way.how == "last":
        assert order_by is not None
        when = exp.Case(
            ifs=[
                exp.If(
                    this=exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null())),
                    true=_quoted_column(order_by),
                )
            ]
        )
        return exp.ArgMax(this=x, expression=when)
    function: type[exp.Expr] = {
        "sum": exp.Sum,
        "mean": exp.Avg,
        "min": exp.Min,
        "max": exp.Max,
    }[way.how]
    return function(this=x)


# -- formulas -------------------------------------------------------------------------------

_SUM, _PRODUCT, _UNARY, _ATOM = 1, 2, 3, 4


def _precedence(e: exp.Expr) -> int:
    from sqlglot import exp

    if isinstance(e, exp.Add | exp.Sub):
        return _SUM
    if isinstance(e, exp.Mul | exp.Div):
        return _PRODUCT
    if isinstance(e, exp.Neg) or (isinstance(e, exp.Literal) and e.this.startswith("-")):
        return _UNARY
    return _ATOM


def _paren(e: exp.Expr) -> exp.Expr:
    from sqlglot import exp

    return exp.Paren(this=e)


def _binary(kind: type[exp.Binary], left: exp.Expr, right: exp.Expr, level: int) -> exp.Expr:
    # Float arithmetic is not associative: keep the formula's grouping exactly.
    if _precedence(left) < level:
        left = _paren(left)
    if _precedence(right) <= level:
        right = _paren(right)
    return kind(this=left, expression=right)


def _number(value: float) -> exp.Expr:
    from sqlglot import exp

    return exp.Literal.number(repr(float(value)))


def _double(e: exp.Expr) -> exp.Cast:
    from sqlglot import exp

    return exp.Cast(this=e, to=exp.DataType.build("double"))


def _is_finite(e: exp.Expr) -> exp.Expr:
    from sqlglot import exp

    # NULL, NaN and ±inf all fail this test in every engine (NaN compares as largest,
    # or compares false).
    return exp.LTE(this=exp.Abs(this=e.copy()), expression=_number(_MAX))


def _duckdb_finite_tests(expression: exp.Expr) -> exp.Expr:
    """Write each `_is_finite` test as DuckDB's ISFINITE: the same test, and cheaper.

    DuckDB computes ISFINITE(x) without ABS and a comparison; over a funnel of five
    metrics the guards cost about 4% less of the query's time at 10^6 and 10^7 rows
    (`benchmarks/bench_to_sql.py`). NULL stays NULL, so a CASE still yields NULL for it.
    """
    from sqlglot import exp

    limit = _number(_MAX)
    for test in list(expression.find_all(exp.LTE)):
        if isinstance(test.this, exp.Abs) and test.expression == limit:
            test.replace(exp.Anonymous(this="ISFINITE", expressions=[test.this.this]))
    return expression


def _when(condition: exp.Expr | exp.Condition, value: exp.Expr) -> exp.Case:
    from sqlglot import exp

    return exp.Case(ifs=[exp.If(this=condition, true=value)])


class _Compiler:
    """Turns formulas into sqlglot expressions; leaves are columns or default constants.

    With a `prefix`, no expression is written twice: a value that a guard or a domain
    test needs more than once (a metric's raw value, the divisor a `CASE` checks, the
    argument of `LN`) becomes a column of its own, `<prefix>v<i>`, computed one step
    earlier, and the guard reads that column. `columns_at` gives those columns and the
    metrics step by step (a metric is one step after its raw value), so the query is a
    chain of CTEs: raw values in one, their guards in the next. Columns, constants and a
    column's cast to DOUBLE are written as often as they are used. Without a prefix the
    guards repeat their expressions inline (for engines that cannot leave internal
    columns out of `SELECT *`).
    """

    def __init__(
        self,
        tree: Graph,
        columns: Sequence[str] | None,
        names: Mapping[str, str] | None = None,
        *,
        prefix: str | None = None,
    ) -> None:
        self.tree = tree
        self.columns = None if columns is None else set(columns)
        self.names = {} if names is None else names  # a metric's column, when not its name
        self.prefix = prefix
        self.steps: dict[str, int] = {}  # a computed column: its step (leaf columns are 0)
        self.added: list[tuple[str, exp.Expr]] = []  # every computed column, in order
        self.internal: list[str] = []  # the columns that hold shared parts
        self._finite: dict[str, exp.Expr] = {}  # a leaf's checked column, made once

    def metric(self, name: str) -> exp.Expr:
        metric = self.tree[name]
        assert isinstance(metric, Metric)
        return self.guarded(metric.formula)

    def guarded(self, formula: Expr) -> exp.Expr:
        """The formula's value, NULL where it is not a finite number."""
        value = self.expr(formula)
        if constant_value(formula) is not None:
            return _double(value)  # checked finite when the metric was made
        value = self.shared(value)
        return _when(_is_finite(value), value.copy())

    def checked(self, e: Expr) -> exp.Expr:
        """A part where an undefined value could vanish (`1 / inf` is 0): NULL if undefined.

        See `kpitree.engine.codegen.python_code` for where; metrics (finite or NULL when
        computed) and constants need no test, and NULL then carries on by itself. A leaf's
        column does: a table may hold an infinity, and `1 / inf` must not become 0.
        """
        if (isinstance(e, Ref) and isinstance(self.tree[e.name], Metric)) or (
            constant_value(e) is not None
        ):
            return self.expr(e)
        leaf = e.name if isinstance(e, Ref) and self.prefix is not None else None
        if leaf is not None and leaf in self._finite:
            return self._finite[leaf].copy()
        value = self.shared(self.expr(e))
        test = _when(_is_finite(value), value.copy())
        if leaf is None:
            return test
        self._finite[leaf] = self.shared(test, always=True)
        return self._finite[leaf].copy()

    def shared(self, e: exp.Expr, *, always: bool = False) -> exp.Expr:
        """`e` as something to write more than once: a column of its own, unless it is small.

        Without a prefix, `e` itself (the caller copies it for each further use).
        """
        if self.prefix is None or (not always and _atomic(e)):
            return e
        name = f"{self.prefix}v{len(self.internal) + 1}"
        self.internal.append(name)
        self.add(name, e)
        return _quoted_column(name)

    def add(self, name: str, e: exp.Expr) -> None:
        """Make `e` the column `name`, one step after the latest column it reads."""
        from sqlglot import exp

        before = (self.steps.get(c.name, 0) for c in e.find_all(exp.Column))
        self.steps[name] = max(before, default=0) + 1
        self.added.append((name, e))

    def columns_at(self) -> list[list[tuple[str, exp.Expr]]]:
        """The added columns step by step: each step reads only columns of earlier ones."""
        out: list[list[tuple[str, exp.Expr]]] = []
        for name, e in self.added:
            step = self.steps[name]
            while len(out) < step:
                out.append([])
            out[step - 1].append((name, e))
        return out

    def ref(self, name: str) -> exp.Expr:
        node = self.tree[name]
        if isinstance(node, Metric):
            return _quoted_column(self.names.get(name, name))
        assert isinstance(node, Leaf)
        if self.columns is None or name in self.columns:
            return _double(_quoted_column(name))
        assert node.value is not None  # filled with defaults=True, see check_leaf_columns
        return _number(node.value)

    def expr(self, e: Expr) -> exp.Expr:
        from sqlglot import exp

        if not isinstance(e, Ref):
            constant = constant_value(e)
            if constant is not None:
                return _number(constant)
        if isinstance(e, Ref):
            return self.ref(e.name)
        if isinstance(e, Add | Mul):
            kind, level = (exp.Add, _SUM) if isinstance(e, Add) else (exp.Mul, _PRODUCT)
            parts = e.terms if isinstance(e, Add) else e.factors
            result = self.expr(parts[0])
            for part in parts[1:]:
                result = _binary(kind, result, self.expr(part), level)
            return result
        if isinstance(e, Sub):
            return _binary(exp.Sub, self.expr(e.left), self.expr(e.right), _SUM)
        if isinstance(e, Div):
            divisor = self.checked(e.right)
            if not _nonzero_constant(e.right):
                divisor = exp.Nullif(this=divisor, expression=_number(0))
            return _binary(exp.Div, self.expr(e.left), divisor, _PRODUCT)
        if isinstance(e, Neg):
            operand = self.expr(e.operand)
            return exp.Neg(this=operand if _precedence(operand) == _ATOM else _paren(operand))
        if isinstance(e, Pow):
            return self.power(e)
        assert isinstance(e, Call)
        return self.call(e)

    def power(self, e: Pow) -> exp.Expr:
        from sqlglot import exp

        exponent = constant_value(e.exponent)
        # inf ** -1 is 0 and nan ** 0 is 1: there the base must be defined first.
        base = self.expr(e.base) if exponent is not None and exponent > 0 else self.checked(e.base)
        if exponent is not None and exponent.is_integer():
            if exponent < 0:  # 0 ** -n divides by zero
                base = exp.Nullif(this=base, expression=_number(0))
            return exp.Pow(this=base, expression=_number(exponent))
        base = self.shared(base)
        if exponent is not None:  # a fractional power: no negative base (nor 0 ** -x)
            test = exp.GTE if exponent > 0 else exp.GT
            return _when(
                test(this=base.copy(), expression=_number(0)),
                exp.Pow(this=base, expression=_number(exponent)),
            )
        power = self.shared(self.checked(e.exponent))  # 1 ** nan is 1
        zero = _number(0)
        defined = exp.or_(
            exp.GT(this=base.copy(), expression=zero.copy()),
            exp.and_(
                exp.EQ(this=base.copy(), expression=zero.copy()),
                exp.GTE(this=power.copy(), expression=zero.copy()),
            ),
            exp.and_(
                exp.LT(this=base.copy(), expression=zero.copy()),
                # ROUND, not FLOOR: FLOOR of a double is a BIGINT in Spark, which overflows.
                exp.EQ(this=power.copy(), expression=exp.Round(this=power.copy())),
            ),
        )
        return _when(defined, exp.Pow(this=base, expression=power))

    def call(self, e: Call) -> exp.Expr:
        from sqlglot import exp

        function = FUNCTIONS[e.func]
        # LEAST and GREATEST test all their arguments below; exp tests its own here.
        part = self.checked if function.absorbs and not function.variadic else self.expr
        args = [part(a) for a in e.args]
        kind: type[exp.Func] = getattr(exp, function.sql)
        if function.variadic:
            args = [
                self.shared(a) if constant_value(raw) is None else a
                for a, raw in zip(args, e.args, strict=True)
            ]
            tests = [
                _is_finite(a)
                for a, raw in zip(args, e.args, strict=True)
                if constant_value(raw) is None
            ]
            picked = kind(this=args[0], expressions=args[1:], ignore_nulls=True)
            return _when(exp.and_(*tests), picked) if tests else picked
        (arg,) = args
        domain = function.domain
        if domain is None:
            return kind(this=arg)
        arg = self.shared(arg)
        compare = {">": exp.GT, ">=": exp.GTE, "<=": exp.LTE}[domain.op]
        test = compare(this=arg.copy(), expression=_number(domain.bound))
        return _when(test, kind(this=arg))


def _atomic(e: exp.Expr) -> bool:
    """A column, a constant, or a column's cast: small enough to write at each use."""
    from sqlglot import exp

    if isinstance(e, exp.Cast):
        e = e.this
    return isinstance(e, exp.Column | exp.Literal)


def _nonzero_constant(e: Expr) -> bool:
    value = constant_value(e)
    return value is not None and value != 0 and math.isfinite(value)


def _derivatives(tree: Graph, metric: str) -> dict[str, Expr]:
    """Columns `d_<metric>_d_<leaf>`: the partial derivatives, from the calculus module."""
    from kpitree.engine.derivatives import gradient_exprs

    plan(tree, [metric])  # a metric of the tree, or a clear error
    out: dict[str, Expr] = {}
    for leaf, derivative in gradient_exprs(tree, metric).items():
        name = f"d_{metric}_d_{leaf}"
        if name in tree:
            raise ArgumentError(
                _("the gradient column `{name}` has the name of a node").format(name=name),
                hint=_("rename the node, or compute the gradient with {call}").format(
                    call="tree.gradient"
                ),
                names=[name],
            )
        out[name] = derivative
    return out


# -- attribution per segment, in the engine ---------------------------------------------------


@attrs.frozen
class Mixes:
    """Points between each segment's before and after values, and how to weigh them.

    The one shape every method run in SQL has: the metric (or its slopes) is evaluated at a
    few mixes of the two periods, and each leaf's contribution is a weighted sum over them.

    Attributes:
        leaves: the leaves that move (in some segment); the others keep their values.
        fractions: per mix, per moving leaf: how far it has moved, 0 (before) to 1 (after).
        weights: per mix, per moving leaf: the mix's weight in that leaf's contribution.
        before: per mix: its weight in the metric's value before (1 at the all-before mix).
        after: per mix: the same for the value after.
        slopes: the weights multiply `∂metric/∂leaf` at the mix times the leaf's change
            (a quadrature of the path integral), not the metric's value (a game's values).
        coarse: slopes only: per mix, the weight of a second, coarser quadrature (the same
            for every leaf); the query then says per row whether the two estimates agree
            and the contributions sum to the change (see `attribution_sql`).
    """

    leaves: tuple[str, ...]
    fractions: tuple[tuple[float, ...], ...]
    weights: tuple[tuple[float, ...], ...]
    before: tuple[float, ...]
    after: tuple[float, ...]
    slopes: bool
    coarse: tuple[float, ...] | None = None


@attrs.frozen
class Terms:
    """A metric as a sum of products of leaf powers, split term by term (LMDI, proportional).

    Attributes:
        method: ``"lmdi"`` or ``"proportional"``.
        monomials: per term, its (leaf, exponent) pairs and its coefficient, as
            `kpitree.analyses.attribution.lmdi.monomials` expands the metric.
    """

    method: str
    monomials: tuple[tuple[tuple[tuple[str, float], ...], float], ...]


def checks_sql(
    tree: Graph,
    leaves: Sequence[str],
    *,
    table: str,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str],
    dialect: str,
) -> dict[str, str]:
    """Queries that check the periods' rows before attributing in the engine.

    `"counts"` gives one row: the rows of each period (`before_rows`, `after_rows`), the
    segments missing from each (`missing_before`, `missing_after`), the (period, segment)
    keys repeated (`repeated`), and per leaf whether it moves (`moves<i>`: it differs
    between the periods in some segment, a missing value counting as a move, as NaN does
    in pandas). `"repeated"`, `"missing_before"` and `"missing_after"` give one example
    row each, for the error that names it.
    """
    from sqlglot import exp

    prefix = _free_prefix([*tree.names, *by, period, *table.split(".")])
    pairs = _pairs(
        leaves, table=table, period=period, before=before, after=after, by=by, prefix=prefix
    )
    keys = [_quoted_column(k) for k in [period, *by]]
    counted = (
        exp.select(*keys, _alias(exp.Count(this=exp.Star()), f"{prefix}n"), copy=False)
        .from_(_table(table), copy=False)
        .where(
            exp.In(
                this=_quoted_column(period),
                expressions=[exp.convert(before), exp.convert(after)],
            ),
            copy=False,
        )
        .group_by(*keys, copy=False)
    )
    over = exp.GT(this=_quoted_column(f"{prefix}n"), expression=exp.Literal.number(1))

    def count_where(condition: exp.Expr) -> exp.Expr:
        return exp.Sum(
            this=exp.Case(
                ifs=[exp.If(this=condition, true=exp.Literal.number(1))],
                default=exp.Literal.number(0),
            )
        )

    def absent(side: str) -> exp.Expr:
        return exp.Is(this=_quoted_column(f"{prefix}{side}m"), expression=exp.Null())

    def rows_of(value: Any) -> exp.Expr:
        return exp.Subquery(
            this=exp.select(exp.Count(this=exp.Star()), copy=False)
            .from_(_table(table), copy=False)
            .where(exp.EQ(this=_quoted_column(period), expression=exp.convert(value)), copy=False)
        )

    moves = [
        exp.Max(
            this=exp.Case(
                ifs=[
                    exp.If(
                        this=exp.NullSafeEQ(
                            this=_quoted_column(f"{prefix}b{i}"),
                            expression=_quoted_column(f"{prefix}a{i}"),
                        ),
                        true=exp.Literal.number(0),
                    )
                ],
                default=exp.Literal.number(1),
            )
        )
        for i in range(len(leaves))
    ]
    repeated_count = (
        exp.select(exp.Count(this=exp.Star()), copy=False)
        .from_(exp.Subquery(this=counted.copy(), alias=_table_alias(f"{prefix}c")), copy=False)
        .where(over, copy=False)
    )
    counts = exp.select(
        _alias(rows_of(before), "before_rows"),
        _alias(rows_of(after), "after_rows"),
        _alias(exp.Subquery(this=repeated_count), "repeated"),
        _alias(count_where(absent("a")), "missing_after"),
        _alias(count_where(absent("b")), "missing_before"),
        *(_alias(m, f"moves{i}") for i, m in enumerate(moves)),
        copy=False,
    ).from_(exp.Subquery(this=pairs.copy(), alias=_table_alias(f"{prefix}p")), copy=False)
    repeated = (
        exp.select(*keys, copy=False)
        .from_(exp.Subquery(this=counted, alias=_table_alias(f"{prefix}c")), copy=False)
        .where(over, copy=False)
        .limit(1, copy=False)
    )
    out = {
        "counts": _render(counts, dialect, pretty=False),
        "repeated": _render(repeated, dialect, pretty=False),
    }
    for side, name in (("b", "missing_before"), ("a", "missing_after")):
        example = (
            exp.select(*(_quoted_column(k) for k in by), copy=False)
            .from_(exp.Subquery(this=pairs.copy(), alias=_table_alias(f"{prefix}p")), copy=False)
            .where(absent(side), copy=False)
            .limit(1, copy=False)
        )
        out[name] = _render(example, dialect, pretty=False)
    return out


def _table_alias(name: str) -> exp.TableAlias:
    from sqlglot import exp

    return exp.TableAlias(this=exp.to_identifier(name, quoted=True))


def attribution_sql(
    tree: Graph,
    metric: str,
    mixes: Mixes,
    *,
    table: str,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str],
    owners: Mapping[str, str],
    dialect: str,
    terms: Terms | None = None,
    hierarchy: Hierarchy | None = None,
    only: str | None = None,
    flag: str | None = None,
) -> str:
    """A SELECT that attributes `metric`'s change per segment by the weighted `mixes`.

    The periods' rows are paired per segment (a full outer join on `by`: a segment in one
    period only has NULL values in the other), crossed with the mixes, the tree (and for
    slopes its gradient) computed on every mixed row as `to_sql` computes it, and the
    weighted sums taken per segment. A segment where the metric or a slope is NULL at any
    mix gets NULL throughout, as its row is NaN in `attribute_frame`. The last step is the
    documented exact step of `kpitree.analyses.attribution`, in SQL: parts within 1e-12 of
    the change's size are 0, and the rounding residual is spread by absolute size. The
    columns are those of `attribute_frame`, ordered by the segment columns.

    With `terms`, the mixes are the two ends only and each leaf's part comes from the
    terms' before and after values by the method's formula (`_term_layers`); with
    `hierarchy` likewise, from every node's two values (`_hierarchy_layers`). With
    `mixes.coarse`, one more column comes last: 1 where the row's two quadratures agree to
    `_SETTLE` of its size and its parts sum to its change to `_SUM_TOLERANCE` of its size,
    else 0, named `flag`. `only` names a table of `by` columns: only those segments are attributed.
    """
    from sqlglot import exp

    leaves = [leaf.name for leaf in tree.leaves]
    prefix = _free_prefix([*tree.names, *by, period, *table.split("."), *owners.values()])
    pairs = _pairs(
        leaves, table=table, period=period, before=before, after=after, by=by, prefix=prefix
    )
    if only is not None:
        pairs = _restricted(pairs, only, by, prefix)
    index = {leaf: i for i, leaf in enumerate(leaves)}
    moving = [index[leaf] for leaf in mixes.leaves]
    names = [
        *(f"{prefix}f{i}" for i in moving),
        *(f"{prefix}w{i}" for i in moving),
        f"{prefix}wb",
        f"{prefix}wa",
        *([f"{prefix}c"] if mixes.coarse is not None else []),
    ]
    coarse_weights = mixes.coarse if mixes.coarse is not None else [None] * len(mixes.before)
    rows = [
        exp.Tuple(
            expressions=[_number(float(v)) for v in (*f, *w, b, a, *([c] if c is not None else []))]
        )
        for f, w, b, a, c in zip(
            mixes.fractions, mixes.weights, mixes.before, mixes.after, coarse_weights, strict=True
        )
    ]
    table_of_mixes = exp.select(*(_quoted_column(c) for c in names), copy=False).from_(
        exp.Values(
            expressions=rows,
            alias=exp.TableAlias(
                this=exp.to_identifier(f"{prefix}v", quoted=True),
                columns=[exp.to_identifier(c, quoted=True) for c in names],
            ),
        ),
        copy=False,
    )

    def side(kind: str, i: int) -> exp.Expr:
        return _double(_quoted_column(f"{prefix}{kind}{i}"))

    mixed: list[exp.Expr] = []
    for leaf, i in index.items():
        if i in moving:
            f = _quoted_column(f"{prefix}f{i}")
            between = exp.Add(
                this=exp.Mul(
                    this=side("b", i),
                    expression=exp.Paren(this=exp.Sub(this=exp.Literal.number(1), expression=f)),
                ),
                expression=exp.Mul(this=side("a", i), expression=f),
            )
            # The ends exactly, and without the other period's value (NULL × 0 is NULL).
            value: exp.Expr = exp.Case(
                ifs=[
                    exp.If(this=exp.EQ(this=f, expression=_number(0.0)), true=side("b", i)),
                    exp.If(this=exp.EQ(this=f, expression=_number(1.0)), true=side("a", i)),
                ],
                default=between,
            )
        else:
            value = side("b", i)
        mixed.append(_alias(value, leaf))
    keys = [_quoted_column(k) for k in by]
    carried = [*by, *(f"{prefix}{k}{i}" for i in moving for k in "ba"), *names]
    path = (
        exp.select(*(_quoted_column(c) for c in carried), *mixed, copy=False)
        .from_(_identifier_table(f"{prefix}pairs"), copy=False)
        .join(_identifier_table(f"{prefix}mixes"), join_type="cross", copy=False)
    )
    inner = _query(
        tree,
        [metric] if hierarchy is None else [m.name for m in tree.metrics],
        table=f"{prefix}path",
        dialect=dialect,
        gradient_of=metric if mixes.slopes else None,
        group_by=None,
        order_by=None,
        columns=[*carried, *leaves],
        defaults=False,
    )
    inner_ctes = list(inner.args["with_"].expressions) if inner.args.get("with_") else []
    inner.set("with_", None)

    metric_value = _quoted_column(metric)
    defined = [exp.EQ(this=exp.Count(this=metric_value), expression=exp.Count(this=exp.Star()))]

    def at_end(weight: str) -> exp.Expr:
        # The metric at the one mix of weight 1: NULL when it is undefined there.
        marked = exp.NEQ(this=_quoted_column(weight), expression=_number(0.0))
        return exp.Max(this=_when(marked, metric_value))

    ends = [(f"{prefix}before", at_end(f"{prefix}wb")), (f"{prefix}after", at_end(f"{prefix}wa"))]
    sums: list[tuple[str, exp.Expr]] = []
    coarse: list[tuple[str, exp.Expr]] = []
    if terms is None and hierarchy is None:
        for i in moving:
            weight = _quoted_column(f"{prefix}w{i}")
            if mixes.slopes:
                slope = _quoted_column(f"d_{metric}_d_{leaves[i]}")
                defined.append(
                    exp.EQ(this=exp.Count(this=slope), expression=exp.Count(this=exp.Star()))
                )
                change = exp.Sub(
                    this=exp.Max(this=side("a", i)), expression=exp.Max(this=side("b", i))
                )
                part: exp.Expr = exp.Mul(
                    this=exp.Paren(this=change),
                    expression=exp.Sum(this=exp.Mul(this=weight, expression=slope)),
                )
                if mixes.coarse is not None:
                    # Both quadratures again, NULL only where a slope is at one of their
                    # points (not at the two ends, which they do not use): what is checked.
                    for name, column in (("chk", f"{prefix}w{i}"), ("alt", f"{prefix}c")):
                        used = exp.NEQ(this=_quoted_column(column), expression=_number(0.0))
                        slope_known = exp.EQ(
                            this=exp.Count(this=_when(used.copy(), slope.copy())),
                            expression=exp.Count(this=_when(used.copy(), exp.Literal.number(1))),
                        )
                        estimate = exp.Mul(
                            this=exp.Paren(this=change.copy()),
                            expression=exp.Sum(
                                this=exp.Mul(this=_quoted_column(column), expression=slope.copy())
                            ),
                        )
                        coarse.append((f"{prefix}{name}{i}", _when(slope_known.copy(), estimate)))
            else:
                part = exp.Sum(this=exp.Mul(this=weight, expression=metric_value))
            sums.append((f"{prefix}raw{i}", part))
    elif hierarchy is not None:
        # Every node's values at both ends; the formulas are split from them below.
        position = {name: k for k, name in enumerate(tree.names)}
        for name in hierarchy.nodes():
            at_node = position[name]
            for end, kind, mark in (("0", "b", f"{prefix}wb"), ("1", "a", f"{prefix}wa")):
                if isinstance(tree[name], Metric):
                    marked = exp.NEQ(this=_quoted_column(mark), expression=_number(0.0))
                    value = exp.Max(this=_when(marked, _quoted_column(name)))
                elif index[name] in moving:
                    value = exp.Max(this=side(kind, index[name]))
                else:
                    value = exp.Max(this=_double(_quoted_column(name)))
                sums.append((f"{prefix}y{end}_{at_node}", value))
    else:
        assert terms is not None
        # The leaves' values at both ends; the terms are split from them below.
        for leaf in dict.fromkeys(name for key, _coef in terms.monomials for name, _e in key):
            i = index[leaf]
            for end, kind in (("0", "b"), ("1", "a")):
                value = side(kind, i) if i in moving else _double(_quoted_column(leaf))
                sums.append((f"{prefix}x{end}_{i}", exp.Max(this=value)))
    ok = exp.and_(*defined, copy=False)
    summed = exp.select(
        *keys,
        *(_alias(e, name) for name, e in ends),
        *(_alias(_when(ok, e), name) for name, e in sums),
        *(_alias(e, name) for name, e in coarse),
        copy=False,
    ).from_(_identifier_table(f"{prefix}grad"), copy=False)
    if keys:
        summed = summed.group_by(*keys, copy=False)
    last = f"{prefix}sums"
    layered: list[tuple[str, exp.Select]] = []
    if terms is not None or hierarchy is not None:
        split = (
            _term_layers(terms, index, moving, prefix)
            if terms is not None
            else _hierarchy_layers(tree, metric, hierarchy, index, moving, prefix)  # type: ignore[arg-type]
        )
        for j, layer in enumerate(split):
            name = f"{prefix}t{j}"
            layered.append(
                (
                    name,
                    exp.select(exp.Star(), *(_alias(e, n) for n, e in layer), copy=False).from_(
                        _identifier_table(last), copy=False
                    ),
                )
            )
            last = name

    # The exact step: tiny parts are 0, the residual spread by absolute size.
    total = exp.Sub(
        this=_quoted_column(f"{prefix}after"), expression=_quoted_column(f"{prefix}before")
    )
    raw = [_quoted_column(f"{prefix}raw{i}") for i in moving]
    size = _greatest([_sum_of([exp.Abs(this=r) for r in raw]), exp.Abs(this=total)])
    kept = [
        _alias(
            exp.Case(
                ifs=[
                    exp.If(
                        this=exp.LTE(
                            this=exp.Abs(this=r),
                            expression=exp.Mul(this=_number(1e-12), expression=size),
                        ),
                        true=_number(0.0),
                    )
                ],
                default=r,
            ),
            f"{prefix}k{i}",
        )
        for r, i in zip(raw, moving, strict=True)
    ]
    settled: list[exp.Expr] = []
    if mixes.coarse is not None:
        # Two quadratures that agree, and parts that add up to the change: else refined.
        # numpy's rule: a row with an undefined slope at a point is done (NaN); one with
        # an end undefined has no size to be within, so its estimates must agree exactly.
        chk = [_quoted_column(f"{prefix}chk{i}") for i in moving]
        alt = [_quoted_column(f"{prefix}alt{i}") for i in moving]
        ends_of = [_quoted_column(f"{prefix}{e}") for e in ("before", "after")]
        scale_of = _greatest(
            [
                _sum_of([exp.Abs(this=c.copy()) for c in chk]),
                exp.Abs(this=total.copy()),
                *(exp.Abs(this=e.copy()) for e in ends_of),
            ]
        )
        within = [
            exp.LTE(
                this=exp.Abs(
                    this=exp.Sub(this=_sum_of(chk), expression=exp.Paren(this=total.copy()))
                ),
                expression=exp.Mul(this=_number(_SUM_TOLERANCE), expression=scale_of.copy()),
            ),
            *(
                exp.LTE(
                    this=exp.Abs(this=exp.Sub(this=c.copy(), expression=a.copy())),
                    expression=exp.Mul(this=_number(_SETTLE), expression=scale_of.copy()),
                )
                for c, a in zip(chk, alt, strict=True)
            ),
        ]
        known = exp.and_(
            *(exp.Not(this=exp.Is(this=e.copy(), expression=exp.Null())) for e in ends_of)
        )
        unknown_slope = exp.or_(
            *(exp.Is(this=e.copy(), expression=exp.Null()) for e in [*chk, *alt]), copy=False
        )
        exact = exp.and_(
            *(exp.EQ(this=c.copy(), expression=a.copy()) for c, a in zip(chk, alt, strict=True)),
            copy=False,
        )
        test = exp.or_(
            unknown_slope,
            exp.and_(known, *within, copy=False),
            exp.and_(exp.Not(this=exp.Paren(this=known.copy())), exact, copy=False),
            copy=False,
        )
        settled.append(
            _alias(
                exp.Case(
                    ifs=[exp.If(this=test, true=exp.Literal.number(1))],
                    default=exp.Literal.number(0),
                ),
                f"{prefix}settled",
            )
        )
        assert flag is not None  # the caller names the column it reads
    stepped = exp.select(
        *keys,
        _alias(_quoted_column(f"{prefix}before"), f"{prefix}before"),
        _alias(_quoted_column(f"{prefix}after"), f"{prefix}after"),
        *kept,
        *settled,
        copy=False,
    ).from_(_identifier_table(last), copy=False)
    kept_cols = [_quoted_column(f"{prefix}k{i}") for i in moving]
    scale = _sum_of([exp.Abs(this=k) for k in kept_cols])
    residual = exp.Sub(this=total, expression=_sum_of(kept_cols))
    adjust = exp.Case(
        ifs=[
            exp.If(
                this=exp.GT(this=scale, expression=_number(0.0)),
                true=exp.Div(this=exp.Paren(this=residual), expression=scale),
            )
        ],
        default=_number(0.0),
    )
    parts: dict[str, exp.Expr] = {}
    for leaf, i in index.items():
        if i in moving:
            k = _quoted_column(f"{prefix}k{i}")
            parts[leaf] = exp.Add(
                this=k, expression=exp.Mul(this=exp.Abs(this=k), expression=exp.Paren(this=adjust))
            )
        else:
            parts[leaf] = exp.Mul(
                this=_number(0.0), expression=exp.Paren(this=total)
            )  # NULL where undefined
    columns: list[exp.Expr] = [
        *keys,
        _alias(_quoted_column(f"{prefix}before"), f"{metric}_before"),
        _alias(_quoted_column(f"{prefix}after"), f"{metric}_after"),
        _alias(total, f"{metric}_change"),
        *(_alias(e, leaf) for leaf, e in parts.items()),
    ]
    for owner in dict.fromkeys(owners.values()):
        columns.append(
            _alias(
                _sum_of([parts[leaf] for leaf in leaves if owners[leaf] == owner]), f"owner_{owner}"
            )
        )
    if settled:
        assert flag is not None
        columns.append(_alias(_quoted_column(f"{prefix}settled"), flag))
    final = exp.select(*columns, copy=False).from_(
        _identifier_table(f"{prefix}stepped"), copy=False
    )
    if keys:
        final = final.order_by(*(exp.Ordered(this=k, nulls_first=False) for k in keys), copy=False)
    ctes = [
        (f"{prefix}pairs", pairs),
        (f"{prefix}mixes", table_of_mixes),
        (f"{prefix}path", path),
        *((str(c.alias), c.this) for c in inner_ctes),
        (f"{prefix}grad", inner),
        (f"{prefix}sums", summed),
        *layered,
        (f"{prefix}stepped", stepped),
    ]
    final.set(
        "with_",
        exp.With(
            expressions=[
                exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
                for name, body in ctes
            ]
        ),
    )
    return _render(final, dialect, pretty=False)


def _pairs(
    leaves: Sequence[str],
    *,
    table: str,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str],
    prefix: str,
) -> exp.Select:
    """Each segment's leaf values before (`<prefix>b<i>`) and after (`<prefix>a<i>`)."""
    from sqlglot import exp

    def side(value: Any, alias: str) -> exp.Subquery:
        picked = [
            *(_quoted_column(k) for k in by),
            _alias(exp.Literal.number(1), f"{prefix}{alias}m"),
            *(_alias(_quoted_column(leaf), f"{prefix}{alias}{i}") for i, leaf in enumerate(leaves)),
        ]
        select = (
            exp.select(*picked, copy=False)
            .from_(_table(table), copy=False)
            .where(exp.EQ(this=_quoted_column(period), expression=exp.convert(value)), copy=False)
        )
        return exp.Subquery(
            this=select,
            alias=exp.TableAlias(this=exp.to_identifier(f"{prefix}{alias}", quoted=True)),
        )

    low, high = side(before, "b"), side(after, "a")

    def key(alias: str, name: str) -> exp.Column:
        return exp.column(
            exp.to_identifier(name, quoted=True),
            table=exp.to_identifier(f"{prefix}{alias}", quoted=True),
        )

    picked = [
        *(_alias(exp.Coalesce(this=key("b", k), expressions=[key("a", k)]), k) for k in by),
        _quoted_column(f"{prefix}bm"),
        _quoted_column(f"{prefix}am"),
        *(_quoted_column(f"{prefix}{s}{i}") for i in range(len(leaves)) for s in "ba"),
    ]
    select = exp.select(*picked, copy=False).from_(low, copy=False)
    if by:
        condition = exp.and_(
            *(exp.EQ(this=key("b", k), expression=key("a", k)) for k in by), copy=False
        )
        return select.join(high, on=condition, join_type="full outer", copy=False)
    return select.join(high, join_type="cross", copy=False)


def _sum_of(terms: Sequence[exp.Expr]) -> exp.Expr:
    from sqlglot import exp

    if not terms:
        return _number(0.0)
    out = terms[0]
    for term in terms[1:]:
        out = exp.Add(this=out, expression=term)
    return exp.Paren(this=out)


def _greatest(terms: Sequence[exp.Expr]) -> exp.Expr:
    from sqlglot import exp

    return exp.Greatest(this=terms[0], expressions=list(terms[1:]))


_SUM_TOLERANCE = 1e-9  # the integral's parts must sum to the change to this, relative
_SETTLE = 1e-12  # a quadrature and its coarser half agree to this, of the row's size


@attrs.frozen
class LocalTerm:
    """One additive term of a metric's formula, for the hierarchical split.

    Attributes:
        names: the children it uses.
        expr: the whole term (None for a bare child: its part is `sign` × its change).
        sign: a bare child's sign; a product's constant coefficient.
        players: the children in `names` that move: the game's players.
        factors: for a product of one-child factors (the closed form), one expression per
            name, whose product times `sign` is the term; else empty.
        nodes: with `factors`, the Gauss–Legendre (node, weight) pairs on [0, 1] that
            integrate the closed form exactly.
    """

    names: tuple[str, ...]
    expr: Expr | None
    sign: float
    players: tuple[str, ...]
    factors: tuple[Expr, ...] = ()
    nodes: tuple[tuple[float, float], ...] = ()


@attrs.frozen
class Hierarchy:
    """Hierarchical attribution: each moving metric's split over its children.

    Attributes:
        metrics: per metric with a moving child, parents before children: its name, its
            children and its terms.
    """

    metrics: tuple[tuple[str, tuple[str, ...], tuple[LocalTerm, ...]], ...]

    def nodes(self) -> list[str]:
        """Every node whose two values the split reads."""
        return list(dict.fromkeys(n for m, kids, _t in self.metrics for n in (m, *kids)))


def _hierarchy_layers(
    tree: Graph,
    metric: str,
    hierarchy: Hierarchy,
    index: Mapping[str, int],
    moving: Sequence[int],
    prefix: str,
) -> list[list[tuple[str, exp.Expr]]]:
    """The columns, layer by layer, of `kpitree.analyses.attribution.hierarchical`.

    Each metric's change split over its children by Shapley, term by term (a game over the
    term's moving children, or the closed form for a product of one-child factors), the
    documented exact step per metric, then the metric's share passed down by
    `share / change` (1 at the target when its change is 0, else 0).
    """
    from sqlglot import exp

    position = {name: k for k, name in enumerate(tree.names)}

    def col(name: str) -> exp.Column:
        return _quoted_column(f"{prefix}{name}")

    def value(end: str, name: str) -> exp.Column:
        return col(f"y{end}_{position[name]}")

    def at(formula: Expr, high: Sequence[str]) -> exp.Expr:
        """`formula` with the nodes in `high` at their after values, the others before."""
        compiled = _Compiler(tree, None).guarded(formula)
        chosen = {n: value("1" if n in high else "0", n) for n in tree.names}

        def swap(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Column) and not node.table and node.name in chosen:
                return chosen[node.name].copy()
            return node

        return compiled.transform(swap, copy=True)

    def diff(a: exp.Expr, b: exp.Expr) -> exp.Expr:
        return exp.Paren(this=exp.Sub(this=a, expression=exp.Paren(this=b)))

    games: list[tuple[str, exp.Expr]] = []
    parts: list[tuple[str, exp.Expr]] = []
    for m, (_name, children, terms) in enumerate(hierarchy.metrics):
        contributions: dict[str, list[exp.Expr]] = {child: [] for child in children}
        for j, term in enumerate(terms):
            if term.expr is None:
                (child,) = term.names
                change = diff(value("1", child), value("0", child))
                contributions[child].append(
                    change
                    if term.sign == 1
                    else exp.Mul(this=_number(term.sign), expression=change)
                )
                continue
            if not term.players:
                continue
            if term.factors:
                # phi_i = k (h_i(after) - h_i(before)) Σ_q w_q Π_{j≠i} h_j((1 - t_q) ...).
                lows, highs = [], []
                for i, (child, factor) in enumerate(zip(term.names, term.factors, strict=True)):
                    games.append((f"h0_{m}_{j}_{i}", at(factor, ())))
                    games.append((f"h1_{m}_{j}_{i}", at(factor, (child,))))
                    lows.append(col(f"h0_{m}_{j}_{i}"))
                    highs.append(col(f"h1_{m}_{j}_{i}"))
                for i, child in enumerate(term.names):
                    integral = []
                    for t, w in term.nodes:
                        mixed = [
                            exp.Paren(
                                this=exp.Add(
                                    this=exp.Mul(this=lows[k].copy(), expression=_number(1 - t)),
                                    expression=exp.Mul(this=highs[k].copy(), expression=_number(t)),
                                )
                            )
                            for k in range(len(term.names))
                            if k != i
                        ]
                        running: exp.Expr = _number(w)
                        for mix in mixed:
                            running = exp.Mul(this=running, expression=mix)
                        integral.append(running)
                    contributions[child].append(
                        exp.Mul(
                            this=exp.Mul(
                                this=_number(term.sign),
                                expression=diff(highs[i].copy(), lows[i].copy()),
                            ),
                            expression=_sum_of(integral),
                        )
                    )
                continue
            players = term.players
            n = len(players)
            for mask in range(1 << n):
                high = [p for b, p in enumerate(players) if (mask >> b) & 1]
                games.append((f"g{m}_{j}_{mask}", at(term.expr, high)))
            weight = [1.0 / (n * math.comb(n - 1, size)) for size in range(n)]
            for b, player in enumerate(players):
                sums = []
                for mask in range(1 << n):
                    if not (mask >> b) & 1:
                        continue
                    members = bin(mask).count("1")
                    step = diff(col(f"g{m}_{j}_{mask}"), col(f"g{m}_{j}_{mask ^ (1 << b)}"))
                    sums.append(exp.Mul(this=_number(weight[members - 1]), expression=step))
                contributions[player].append(_sum_of(sums))
        for c, child in enumerate(children):
            terms_of = contributions[child]
            parts.append((f"p{m}_{c}", _sum_of(terms_of) if terms_of else _number(0.0)))
    # The exact step of each metric's split.
    kept: list[tuple[str, exp.Expr]] = []
    local: list[tuple[str, exp.Expr]] = []
    for m, (name, children, _terms) in enumerate(hierarchy.metrics):
        change = diff(value("1", name), value("0", name))
        raw = [col(f"p{m}_{c}") for c in range(len(children))]
        bound = _greatest([_sum_of([exp.Abs(this=r.copy()) for r in raw]), exp.Abs(this=change)])
        for c, r in enumerate(raw):
            small = exp.LTE(
                this=exp.Abs(this=r.copy()),
                expression=exp.Mul(this=_number(1e-12), expression=bound.copy()),
            )
            kept.append(
                (f"q{m}_{c}", exp.Case(ifs=[exp.If(this=small, true=_number(0.0))], default=r))
            )
        ks = [col(f"q{m}_{c}") for c in range(len(children))]
        scale = _sum_of([exp.Abs(this=q.copy()) for q in ks])
        residual = exp.Sub(this=change.copy(), expression=_sum_of(ks))
        adjust = exp.Case(
            ifs=[
                exp.If(
                    this=exp.GT(this=scale, expression=_number(0.0)),
                    true=exp.Div(this=exp.Paren(this=residual), expression=scale.copy()),
                )
            ],
            default=_number(0.0),
        )
        for c, q in enumerate(ks):
            local.append(
                (
                    f"l{m}_{c}",
                    exp.Add(
                        this=q.copy(),
                        expression=exp.Mul(
                            this=exp.Abs(this=q.copy()), expression=exp.Paren(this=adjust.copy())
                        ),
                    ),
                )
            )
    layers = [games, parts, kept, local]
    # Shares passed down, one metric at a time (its parents are done before it).
    given: dict[str, list[exp.Expr]] = {}
    for m, (name, children, _terms) in enumerate(hierarchy.metrics):
        change = diff(value("1", name), value("0", name))
        if name == metric:
            ratio: exp.Expr = exp.Case(
                ifs=[exp.If(this=exp.NEQ(this=change, expression=_number(0.0)), true=_number(1.0))],
                default=_number(1.0),
            )
        else:
            share = _sum_of(given.get(name, []))
            ratio = exp.Case(
                ifs=[
                    exp.If(
                        this=exp.NEQ(this=change.copy(), expression=_number(0.0)),
                        true=exp.Div(this=share, expression=change.copy()),
                    )
                ],
                default=_number(0.0),
            )
        layers.append([(f"ratio{m}", ratio)])
        for c, child in enumerate(children):
            given.setdefault(child, []).append(
                exp.Mul(this=col(f"ratio{m}"), expression=col(f"l{m}_{c}"))
            )
    undefined = exp.or_(*(exp.Is(this=col(e), expression=exp.Null()) for e in ("before", "after")))
    leaves = {i: leaf for leaf, i in index.items()}
    layers.append(
        [
            (
                f"raw{i}",
                exp.Case(
                    ifs=[exp.If(this=undefined.copy(), true=exp.Null())],
                    default=_sum_of(given.get(leaves[i], [])),
                ),
            )
            for i in moving
        ]
    )
    return [[(f"{prefix}{name}", e) for name, e in layer] for layer in layers if layer]


def _restricted(pairs: exp.Select, only: str, by: Sequence[str], prefix: str) -> exp.Select:
    """The pairs of the segments listed in the table `only` (its `by` columns)."""
    from sqlglot import exp

    def key(alias: str, name: str) -> exp.Column:
        return exp.column(
            exp.to_identifier(name, quoted=True),
            table=exp.to_identifier(f"{prefix}{alias}", quoted=True),
        )

    listed = exp.Subquery(
        this=exp.select(*(_quoted_column(k) for k in by), copy=False).from_(
            _table(only), copy=False
        ),
        alias=_table_alias(f"{prefix}o"),
    )
    return (
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(f"{prefix}q", quoted=True)))
        .from_(exp.Subquery(this=pairs, alias=_table_alias(f"{prefix}q")), copy=False)
        .join(
            listed,
            on=exp.and_(*(exp.EQ(this=key("q", k), expression=key("o", k)) for k in by)),
            join_type="inner",
            copy=False,
        )
    )


def _term_layers(
    terms: Terms, index: Mapping[str, int], moving: Sequence[int], prefix: str
) -> list[list[tuple[str, exp.Expr]]]:
    """The columns, layer by layer, that split `terms` into `<prefix>raw<i>` per moving leaf.

    The formulas of `kpitree.analyses.attribution.lmdi.lmdi` and `.proportional`, on the
    leaves' values `<prefix>x0_<i>` (before) and `<prefix>x1_<i>` (after) of one row.
    """
    from sqlglot import exp

    def col(name: str) -> exp.Column:
        return _quoted_column(f"{prefix}{name}")

    def value(end: str, leaf: str) -> exp.Expr:
        return col(f"x{end}_{index[leaf]}")

    def power(end: str, leaf: str, e: float) -> exp.Expr:
        base = value(end, leaf)
        return base if e == 1 else exp.Pow(this=base, expression=_number(e))

    def product(factors: Sequence[exp.Expr]) -> exp.Expr:
        if not factors:
            return _number(1.0)
        out = factors[0]
        for factor in factors[1:]:
            out = exp.Mul(this=exp.Paren(this=out), expression=exp.Paren(this=factor))
        return exp.Paren(this=out)

    def case(condition: exp.Expr, then: exp.Expr, otherwise: exp.Expr) -> exp.Expr:
        return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)

    def eq0(e: exp.Expr) -> exp.Expr:
        return exp.EQ(this=e.copy(), expression=_number(0.0))

    def ne0(e: exp.Expr) -> exp.Expr:
        return exp.NEQ(this=e.copy(), expression=_number(0.0))

    def div(a: exp.Expr, b: exp.Expr) -> exp.Expr:
        return exp.Div(this=exp.Paren(this=a), expression=exp.Paren(this=b))

    def ln(e: exp.Expr) -> exp.Expr:
        # NULL, not an engine's error, outside the logarithm's domain (undefined rows).
        return _when(exp.GT(this=e.copy(), expression=_number(0.0)), exp.Ln(this=e))

    moving_leaves = {leaf for leaf, i in index.items() if i in moving}
    parts: dict[int, list[exp.Expr]] = {i: [] for i in moving}
    first: list[tuple[str, exp.Expr]] = []
    second: list[tuple[str, exp.Expr]] = []
    terms_of = [(j, key, coef) for j, (key, coef) in enumerate(terms.monomials) if key]
    if terms.method == "lmdi":
        for j, key, coef in terms_of:
            for end in "01":
                factors = [power(end, leaf, e) for leaf, e in key]
                first.append(
                    (f"v{end}_{j}", exp.Mul(this=_number(coef), expression=product(factors)))
                )
        for j, key, _coef in terms_of:
            v0, v1 = col(f"v0_{j}"), col(f"v1_{j}")
            # The logarithmic mean L(v1, v0) = v0 * t / log1p(t), t = (v1 - v0) / v0, with
            # log1p(t) = ln(u) * t / (u - 1), u = 1 + t (exact where u rounds to 1).
            t = div(exp.Sub(this=v1.copy(), expression=v0.copy()), v0.copy())
            u = exp.Add(this=_number(1.0), expression=exp.Paren(this=t.copy()))
            mean = case(
                exp.or_(eq0(t), exp.EQ(this=u.copy(), expression=_number(1.0))),
                v0.copy(),
                div(
                    exp.Mul(
                        this=v0.copy(),
                        expression=exp.Paren(this=exp.Sub(this=u.copy(), expression=_number(1.0))),
                    ),
                    ln(u.copy()),
                ),
            )
            regular = exp.and_(ne0(v0), ne0(v1))
            second.append((f"lw_{j}", case(regular, mean, _number(0.0))))
            zeros = [
                exp.Mul(
                    this=case(
                        eq0(v0),
                        case(eq0(value("0", leaf)), _number(1.0), _number(0.0)),
                        case(eq0(value("1", leaf)), _number(1.0), _number(0.0)),
                    ),
                    expression=_number(e),
                )
                for leaf, e in key
            ]
            second.append((f"zw_{j}", _sum_of(zeros)))
        for j, key, _coef in terms_of:
            v0, v1 = col(f"v0_{j}"), col(f"v1_{j}")
            regular = exp.and_(ne0(v0), ne0(v1))
            zero_weight = col(f"zw_{j}")
            limit = exp.and_(
                exp.NEQ(this=exp.Paren(this=eq0(v0)), expression=exp.Paren(this=eq0(v1))),
                exp.GT(this=zero_weight, expression=_number(0.0)),
            )
            for leaf, e in key:
                if leaf not in moving_leaves:
                    continue
                low, high = value("0", leaf), value("1", leaf)
                logged = case(
                    exp.and_(regular.copy(), ne0(low)),
                    exp.Mul(
                        this=exp.Mul(this=col(f"lw_{j}"), expression=_number(e)),
                        expression=ln(div(high, low.copy())),
                    ),
                    _number(0.0),
                )
                zero = case(
                    eq0(v0),
                    case(eq0(low), _number(e), _number(0.0)),
                    case(eq0(high), _number(e), _number(0.0)),
                )
                spread = case(
                    limit.copy(),
                    div(
                        exp.Mul(
                            this=exp.Paren(this=exp.Sub(this=v1.copy(), expression=v0.copy())),
                            expression=zero,
                        ),
                        zero_weight.copy(),
                    ),
                    _number(0.0),
                )
                parts[index[leaf]].append(exp.Add(this=logged, expression=spread))
        layers = [first, second]
    else:
        third: list[tuple[str, exp.Expr]] = []
        for j, key, coef in terms_of:
            names = [leaf for leaf, _e in key if leaf in moving_leaves]
            if not names:
                continue
            powers = dict(key)
            for leaf, e in key:
                first.append((f"s{j}_{index[leaf]}", power("0", leaf, e)))
                first.append((f"e{j}_{index[leaf]}", power("1", leaf, e)))

            def start(leaf: str, j: int = j) -> exp.Column:
                return col(f"s{j}_{index[leaf]}")

            def finish(leaf: str, j: int = j) -> exp.Column:
                return col(f"e{j}_{index[leaf]}")

            rest = exp.Mul(
                this=_number(coef),
                expression=product([start(leaf) for leaf in powers if leaf not in names]),
            )
            second.append((f"r{j}", rest))
            for leaf in names:
                own = exp.Mul(
                    this=exp.Mul(
                        this=col(f"r{j}"),
                        expression=exp.Paren(
                            this=exp.Sub(this=finish(leaf), expression=start(leaf))
                        ),
                    ),
                    expression=product([start(other) for other in names if other != leaf]),
                )
                second.append((f"o{j}_{index[leaf]}", own))
            change = exp.Mul(
                this=col(f"r{j}"),
                expression=exp.Paren(
                    this=exp.Sub(
                        this=product([finish(n) for n in names]),
                        expression=product([start(n) for n in names]),
                    )
                ),
            )
            owns = [col(f"o{j}_{index[leaf]}") for leaf in names]
            third.append((f"jt{j}", exp.Sub(this=change, expression=_sum_of(owns))))
            third.append((f"sz{j}", _sum_of([exp.Abs(this=o.copy()) for o in owns])))
            moved = [
                case(exp.NEQ(this=finish(n), expression=start(n)), _number(1.0), _number(0.0))
                for n in names
            ]
            third.append((f"n{j}", _greatest([_sum_of(moved), _number(1.0)])))
            for leaf in names:
                own_col = col(f"o{j}_{index[leaf]}")
                size = col(f"sz{j}")
                weight = case(
                    exp.GT(this=size, expression=_number(0.0)),
                    div(exp.Abs(this=own_col.copy()), size.copy()),
                    div(
                        case(
                            exp.NEQ(this=finish(leaf), expression=start(leaf)),
                            _number(1.0),
                            _number(0.0),
                        ),
                        col(f"n{j}"),
                    ),
                )
                parts[index[leaf]].append(
                    exp.Add(
                        this=own_col.copy(),
                        expression=exp.Mul(this=col(f"jt{j}"), expression=exp.Paren(this=weight)),
                    )
                )
        layers = [first, second, third]
    ok = exp.or_(*(exp.Is(this=col(e), expression=exp.Null()) for e in ("before", "after")))
    layers.append(
        [
            (f"raw{i}", case(ok, exp.Null(), _sum_of(parts[i]) if parts[i] else _number(0.0)))
            for i in moving
        ]
    )
    return [[(f"{prefix}{name}", e) for name, e in layer] for layer in layers if layer]


def sign_changes_sql(
    leaves: Sequence[str],
    checked: Sequence[str],
    *,
    table: str,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str],
    dialect: str,
) -> dict[str, str]:
    """Queries for LMDI's refusal: the segments where a leaf of `checked` changes sign.

    `"counts"` gives one row, `flips<i>` per leaf of `checked`: how many segments have
    `before * after < 0`; `"example<i>"` the first of them in the order of the `by`
    columns (its `by` values, `before` and `after`).
    """
    from sqlglot import exp

    prefix = _free_prefix([*leaves, *by, period, *table.split(".")])
    pairs = _pairs(
        leaves, table=table, period=period, before=before, after=after, by=by, prefix=prefix
    )
    index = {leaf: i for i, leaf in enumerate(leaves)}

    def flips(leaf: str) -> exp.Expr:
        i = index[leaf]
        return exp.LT(
            this=exp.Mul(
                this=_double(_quoted_column(f"{prefix}b{i}")),
                expression=_double(_quoted_column(f"{prefix}a{i}")),
            ),
            expression=_number(0.0),
        )

    source = exp.Subquery(this=pairs, alias=_table_alias(f"{prefix}p"))
    counts = exp.select(
        *(
            _alias(
                exp.Sum(
                    this=exp.Case(
                        ifs=[exp.If(this=flips(leaf), true=exp.Literal.number(1))],
                        default=exp.Literal.number(0),
                    )
                ),
                f"flips{j}",
            )
            for j, leaf in enumerate(checked)
        ),
        copy=False,
    ).from_(source.copy(), copy=False)
    out = {"counts": _render(counts, dialect, pretty=False)}
    for j, leaf in enumerate(checked):
        i = index[leaf]
        example = (
            exp.select(
                *(_quoted_column(k) for k in by),
                _alias(_double(_quoted_column(f"{prefix}b{i}")), "before"),
                _alias(_double(_quoted_column(f"{prefix}a{i}")), "after"),
                copy=False,
            )
            .from_(source.copy(), copy=False)
            .where(flips(leaf), copy=False)
        )
        if by:
            example = example.order_by(
                *(exp.Ordered(this=_quoted_column(k), nulls_first=False) for k in by), copy=False
            )
        out[f"example{j}"] = _render(example.limit(1, copy=False), dialect, pretty=False)
    return out


def settled_sql(
    tables: Sequence[str], columns: Sequence[str], by: Sequence[str], flag: str, dialect: str
) -> dict[str, str]:
    """Queries over the rounds of a refined quadrature (tables from `attribution_sql`).

    `"count"`: the rows of the last table that did not settle; `"keys"`: their `by`
    columns; `"result"`: every round's settled rows, with `columns`, ordered by `by`.
    """
    from sqlglot import exp

    unsettled = exp.EQ(this=_quoted_column(flag), expression=exp.Literal.number(0))
    settled = exp.EQ(this=_quoted_column(flag), expression=exp.Literal.number(1))
    count = (
        exp.select(_alias(exp.Count(this=exp.Star()), "n"), copy=False)
        .from_(_table(tables[-1]), copy=False)
        .where(unsettled.copy(), copy=False)
    )
    keys = (
        exp.select(*(_quoted_column(k) for k in by), copy=False)
        .from_(_table(tables[-1]), copy=False)
        .where(unsettled.copy(), copy=False)
    )
    rounds: exp.Expr = exp.select(exp.Star(), copy=False).from_(_table(tables[0]), copy=False)
    rounds = rounds.where(settled.copy(), copy=False)  # type: ignore[attr-defined]
    for name in tables[1:]:
        rounds = exp.union(
            rounds,
            exp.select(exp.Star(), copy=False)
            .from_(_table(name), copy=False)
            .where(settled.copy(), copy=False),
            distinct=False,
        )
    result = exp.select(*(_quoted_column(c) for c in columns), copy=False).from_(
        exp.Subquery(this=rounds, alias=_table_alias("r")), copy=False
    )
    if by:
        result = result.order_by(
            *(exp.Ordered(this=_quoted_column(k), nulls_first=False) for k in by), copy=False
        )
    return {
        "count": _render(count, dialect, pretty=False),
        "keys": _render(keys, dialect, pretty=False),
        "result": _render(result, dialect, pretty=False),
    }
