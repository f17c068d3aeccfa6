WITH "_kpitree_1" AS (
  SELECT
    *,
    CAST("leads" AS DOUBLE) * CAST("lead_to_ql" AS DOUBLE) AS "_kpitree_v1"
  FROM "kpis"
), "_kpitree_2" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v1") THEN "_kpitree_v1" END AS "qualified_leads"
  FROM "_kpitree_1"
)
SELECT
  *
  EXCLUDE ("_kpitree_v1")
FROM "_kpitree_2"
