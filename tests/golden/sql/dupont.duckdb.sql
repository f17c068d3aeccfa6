WITH "_kpitree_1" AS (
  SELECT
    *,
    CASE WHEN ISFINITE(CAST("revenue" AS DOUBLE)) THEN CAST("revenue" AS DOUBLE) END AS "_kpitree_v1",
    CASE WHEN ISFINITE(CAST("assets" AS DOUBLE)) THEN CAST("assets" AS DOUBLE) END AS "_kpitree_v3",
    CASE WHEN ISFINITE(CAST("equity" AS DOUBLE)) THEN CAST("equity" AS DOUBLE) END AS "_kpitree_v5"
  FROM "kpis"
), "_kpitree_2" AS (
  SELECT
    *,
    CAST("net_income" AS DOUBLE) / NULLIF("_kpitree_v1", 0.0) AS "_kpitree_v2",
    CAST("revenue" AS DOUBLE) / NULLIF("_kpitree_v3", 0.0) AS "_kpitree_v4",
    CAST("assets" AS DOUBLE) / NULLIF("_kpitree_v5", 0.0) AS "_kpitree_v6"
  FROM "_kpitree_1"
), "_kpitree_3" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v2") THEN "_kpitree_v2" END AS "net_margin",
    CASE WHEN ISFINITE("_kpitree_v4") THEN "_kpitree_v4" END AS "asset_turnover",
    CASE WHEN ISFINITE("_kpitree_v6") THEN "_kpitree_v6" END AS "equity_multiplier"
  FROM "_kpitree_2"
), "_kpitree_4" AS (
  SELECT
    *,
    "net_margin" * "asset_turnover" * "equity_multiplier" AS "_kpitree_v7"
  FROM "_kpitree_3"
), "_kpitree_5" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v7") THEN "_kpitree_v7" END AS "roe"
  FROM "_kpitree_4"
)
SELECT
  *
  EXCLUDE ("_kpitree_v1", "_kpitree_v2", "_kpitree_v3", "_kpitree_v4", "_kpitree_v5", "_kpitree_v6", "_kpitree_v7")
FROM "_kpitree_5"
