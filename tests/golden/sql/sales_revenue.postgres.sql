WITH "_kpitree_1" AS (
  SELECT
    *,
    CASE
      WHEN ABS(
        CAST("managers" AS DOUBLE PRECISION) * CAST("calls_per_day" AS DOUBLE PRECISION) * CAST("working_days" AS DOUBLE PRECISION)
      ) <= 1.7976931348623157e+308
      THEN CAST("managers" AS DOUBLE PRECISION) * CAST("calls_per_day" AS DOUBLE PRECISION) * CAST("working_days" AS DOUBLE PRECISION)
    END AS "calls"
  FROM "kpis"
), "_kpitree_2" AS (
  SELECT
    *,
    CASE
      WHEN ABS("calls" * CAST("call_to_purchase" AS DOUBLE PRECISION)) <= 1.7976931348623157e+308
      THEN "calls" * CAST("call_to_purchase" AS DOUBLE PRECISION)
    END AS "purchases"
  FROM "_kpitree_1"
), "_kpitree_3" AS (
  SELECT
    *,
    CASE
      WHEN ABS("purchases" * CAST("avg_order_value" AS DOUBLE PRECISION)) <= 1.7976931348623157e+308
      THEN "purchases" * CAST("avg_order_value" AS DOUBLE PRECISION)
    END AS "revenue"
  FROM "_kpitree_2"
)
SELECT
  *
FROM "_kpitree_3"
