WITH "_kpitree_1" AS (
  SELECT
    *,
    CAST("customers" AS DOUBLE) * (
      1.0 - CAST("churn_rate" AS DOUBLE)
    ) AS "_kpitree_v1"
  FROM "kpis"
), "_kpitree_2" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v1") THEN "_kpitree_v1" END AS "retained_customers"
  FROM "_kpitree_1"
), "_kpitree_3" AS (
  SELECT
    *,
    "retained_customers" + CAST("new_customers" AS DOUBLE) AS "_kpitree_v2"
  FROM "_kpitree_2"
), "_kpitree_4" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v2") THEN "_kpitree_v2" END AS "customers_next"
  FROM "_kpitree_3"
), "_kpitree_5" AS (
  SELECT
    *,
    "customers_next" * CAST("arpa" AS DOUBLE) * (
      1.0 + CAST("expansion_rate" AS DOUBLE)
    ) AS "_kpitree_v3"
  FROM "_kpitree_4"
), "_kpitree_6" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v3") THEN "_kpitree_v3" END AS "mrr"
  FROM "_kpitree_5"
)
SELECT
  *
  EXCLUDE ("_kpitree_v1", "_kpitree_v2", "_kpitree_v3")
FROM "_kpitree_6"
