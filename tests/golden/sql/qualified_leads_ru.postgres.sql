WITH "_kpitree_1" AS (
  SELECT
    *,
    CASE
      WHEN ABS(CAST("лиды" AS DOUBLE PRECISION) * CAST("конверсия_в_квал" AS DOUBLE PRECISION)) <= 1.7976931348623157e+308
      THEN CAST("лиды" AS DOUBLE PRECISION) * CAST("конверсия_в_квал" AS DOUBLE PRECISION)
    END AS "квал_лиды"
  FROM "kpis"
)
SELECT
  *
FROM "_kpitree_1"
