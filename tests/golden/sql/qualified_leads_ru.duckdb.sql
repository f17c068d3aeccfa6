WITH "_kpitree_1" AS (
  SELECT
    *,
    CAST("лиды" AS DOUBLE) * CAST("конверсия_в_квал" AS DOUBLE) AS "_kpitree_v1"
  FROM "kpis"
), "_kpitree_2" AS (
  SELECT
    *,
    CASE WHEN ISFINITE("_kpitree_v1") THEN "_kpitree_v1" END AS "квал_лиды"
  FROM "_kpitree_1"
)
SELECT
  *
  EXCLUDE ("_kpitree_v1")
FROM "_kpitree_2"
