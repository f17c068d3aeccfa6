"""Apply a tree to a Spark DataFrame (extra `spark`).

`kpitree.spark.evaluate(tree, spark_df)` adds a column per metric;
`kpitree.spark.rollup(tree, spark_df, by=[...])` aggregates per group and recomputes them.
"""

from kpitree.backends.spark import evaluate, rollup

__all__ = ["evaluate", "rollup"]
