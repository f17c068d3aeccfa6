"""Spark: a tree applied to a Spark DataFrame through Spark SQL expressions.

For data that outgrows one machine. Each metric is the SQL expression
`kpitree.backends.sql` writes for the `spark` dialect (same undefined rule: NULL on the
rows where a division by zero, a log of a non-positive number or an overflow happens),
added with `withColumns` one level of the tree at a time, so every metric is computed
once and Spark plans the whole as one projection. pyspark is imported only here
(`pip install kpitree[spark]`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kpitree.backends.frames import free_name, not_numbers, plan
from kpitree.backends.sql import metric_sql, to_sql
from kpitree.errors import ValueTypeError, require
from kpitree.i18n import _

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["evaluate", "rollup"]

_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


def evaluate(
    tree: Graph, data: Any, metrics: Iterable[str] | str | None = None, *, defaults: bool = False
) -> Any:
    """Return a Spark DataFrame with a column per metric, computed by Spark.

    Args:
        tree: the tree.
        data: a `pyspark.sql.DataFrame` whose columns include the leaves.
        metrics: the metrics to add; None adds every metric. The metrics they use are
            computed too but not added.
        defaults: let a leaf without a column take its model value (with a
            `DefaultsWarning`); otherwise a missing leaf column is an error naming it.

    Returns:
        A new DataFrame: the columns of `data` (a column named like a requested metric
        is replaced) and the metrics; undefined values are NULL.

    Raises:
        MissingValueError: a leaf without a column (with `defaults=True`, one without
            a model value either).
        ValueTypeError: `data` that is not a Spark DataFrame; a leaf column that does
            not hold numbers.
        DuplicateNameError: two columns named like one leaf or metric; a metric whose
            name differs only in case from another metric's or a column's (Spark matches
            names without regard to case).

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> evaluate(qualified_leads(), spark_df)  # doctest: +SKIP
        DataFrame[leads: bigint, lead_to_ql: double, qualified_leads: double]
    """
    require("pyspark", extra="spark", feature="Spark evaluation")
    from pyspark.sql import functions

    check_frame(data, "tree.evaluate_frame(...)")
    steps = plan(tree, metrics)
    columns = list(data.columns)
    check_numbers(data, steps.leaves)
    layers = metric_sql(tree, steps.metrics, dialect="spark", columns=columns, defaults=defaults)
    # A column named like an intermediate metric is the user's: set it aside meanwhile.
    aside = {n: free_name(n, columns) for n in steps.intermediate if n in columns}
    frame = data.withColumnsRenamed(aside) if aside else data
    for layer in layers:
        frame = frame.withColumns({name: functions.expr(sql) for name, sql in layer})
    if steps.intermediate:
        frame = frame.drop(*steps.intermediate)
    if aside:
        frame = frame.withColumnsRenamed({v: k for k, v in aside.items()})
    return frame.select(*columns, *(m for m in steps.metrics if m not in columns))


def rollup(
    tree: Graph,
    data: Any,
    by: Iterable[str] | str,
    metrics: Iterable[str] | str | None = None,
    *,
    order_by: str | None = None,
    defaults: bool = False,
) -> Any:
    """Aggregate the leaves per group in Spark by their declared aggregation; recompute metrics.

    The numbers of `tree.rollup` on pandas: each leaf combines by its `aggregate` (a rate
    weighted by what it is a rate of, so a conversion rolls up to a ratio of sums, never
    a mean of ratios), then the metrics are computed from the aggregates. The query is
    `to_sql(..., group_by=by, dialect="spark")`, run by `data.sparkSession.sql` over a
    temporary view of `data` (dropped again once Spark has analysed the query).

    Args:
        tree: the tree.
        data: a `pyspark.sql.DataFrame` whose columns include the leaves.
        by: the columns to group by (one name may be a string); `[]` gives one total row.
        metrics: the metrics to compute; None means all.
        order_by: the column that orders rows for leaves that aggregate as `last`
            (required for those: Spark rows have no order of their own).
        defaults: let a leaf without a column take its model value (with a
            `DefaultsWarning`); otherwise a missing leaf column is an error naming it.

    Returns:
        A Spark DataFrame: the `by` columns, the aggregated leaves and the metrics, one
        row per group, sorted by the group keys; undefined values are NULL.

    Raises:
        ValueTypeError: `data` that is not a Spark DataFrame; a leaf column that does
            not hold numbers.
        UnknownNameError: a `by` or `order_by` column that `data` lacks.
        MissingValueError: a leaf without a column; a weight without a column.
        ArgumentError: a leaf that aggregates as `last` without `order_by`.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> rollup(qualified_leads(), spark_df, by="week").collect()  # doctest: +SKIP
        [Row(week=1, leads=400.0, lead_to_ql=0.6, qualified_leads=240.0), ...]
    """
    require("pyspark", extra="spark", feature="Spark rollups")
    check_frame(data, "tree.rollup(...)")
    steps = plan(tree, metrics)
    check_numbers(data, steps.leaves)
    view = temporary_view(data)
    try:
        sql = to_sql(
            tree,
            steps.metrics,
            table=view,
            dialect="spark",
            group_by=by,
            order_by=order_by,
            columns=list(data.columns),
            defaults=defaults,
            pretty=False,
        )
        return data.sparkSession.sql(sql)
    finally:
        data.sparkSession.catalog.dropTempView(view)


_views = itertools.count(1)


def temporary_view(data: Any) -> str:
    """Register `data` as a temporary view under a name of its own; return the name."""
    name = f"_kpitree_view_{id(data):x}_{next(_views)}"
    data.createOrReplaceTempView(name)
    return name


def check_frame(data: Any, frames: str) -> None:
    """Refuse what is not a Spark DataFrame; `frames` names the call for pandas or polars."""
    # By what it can do, not its class: Spark Connect's DataFrame is another class.
    if not all(
        hasattr(data, a)
        for a in ("columns", "dtypes", "withColumns", "select", "createOrReplaceTempView")
    ):
        raise ValueTypeError(
            _("data must be a Spark DataFrame, got {type}").format(type=type(data).__name__),
            hint=_("{call} makes one; for pandas or polars frames use {frames}").format(
                call="spark.createDataFrame(pandas_frame)", frames=frames
            ),
        )


def check_numbers(data: Any, names: Iterable[str]) -> None:
    """Refuse a column among `names` whose Spark type is not a number."""
    types = dict(data.dtypes)
    for name in names:
        kind = types.get(name)
        if kind is not None and not kind.startswith(_NUMERIC):
            raise not_numbers(name, kind)
