"""Spark: a tree applied to a Spark DataFrame through Spark SQL expressions.

For data that outgrows one machine. Each metric is the SQL expression
`kpitree.backends.sql` writes for the `spark` dialect (same undefined rule: NULL on the
rows where a division by zero, a log of a non-positive number or an overflow happens),
added with `withColumns` one level of the tree at a time, so every metric is computed
once and Spark plans the whole as one projection. pyspark is imported only here
(`pip install kpitree[spark]`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kpitree.backends.frames import free_name, not_numbers, plan
from kpitree.backends.sql import metric_sql
from kpitree.errors import ValueTypeError, require
from kpitree.i18n import _

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["evaluate"]

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

    # By what it can do, not its class: Spark Connect's DataFrame is another class.
    if not all(hasattr(data, a) for a in ("columns", "dtypes", "withColumns", "select")):
        raise ValueTypeError(
            _("data must be a Spark DataFrame, got {type}").format(type=type(data).__name__),
            hint=_("{call} makes one; for pandas or polars frames use {frames}").format(
                call="spark.createDataFrame(pandas_frame)", frames="tree.evaluate_frame(...)"
            ),
        )

    steps = plan(tree, metrics)
    columns = list(data.columns)
    types = dict(data.dtypes)
    for leaf in steps.leaves:
        kind = types.get(leaf)
        if kind is not None and not kind.startswith(_NUMERIC):
            raise not_numbers(leaf, kind)
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
