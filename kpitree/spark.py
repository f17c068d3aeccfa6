"""Apply a tree to a Spark DataFrame: `kpitree.spark.evaluate(tree, spark_df)` (extra `spark`)."""

from kpitree.backends.spark import evaluate

__all__ = ["evaluate"]
