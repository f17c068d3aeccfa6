"""A tree's formulas lowered into other languages: frames, SQL, Spark, sympy."""
