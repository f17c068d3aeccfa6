WITH "_kpitree_1" AS (
  SELECT
    *,
    CAST("managers" AS DOUBLE) * CAST("calls_per_day" AS DOUBLE) * CAST("working_days" AS DOUBLE) AS "_kpitree_v1"
  FROM "kpis"
), "_kpitree_2" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v1") THEN "_kpitree_v1" END AS "calls"
  FROM "_kpitree_1"
), "_kpitree_3" AS (
  SELECT
    *,
    "calls" * CAST("call_to_purchase" AS DOUBLE) AS "_kpitree_v2"
  FROM "_kpitree_2"
), "_kpitree_4" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v2") THEN "_kpitree_v2" END AS "purchases"
  FROM "_kpitree_3"
), "_kpitree_5" AS (
  SELECT
    *,
    "purchases" * CAST("avg_order_value" AS DOUBLE) AS "_kpitree_v3"
  FROM "_kpitree_4"
), "_kpitree_6" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v3") THEN "_kpitree_v3" END AS "revenue"
  FROM "_kpitree_5"
)
SELECT
  *
  EXCLUDE ("_kpitree_v1", "_kpitree_v2", "_kpitree_v3")
FROM "_kpitree_6"
