WITH "_kpitree_1" AS (
  SELECT
    *,
    CASE
      WHEN ABS(CAST("leads" AS DOUBLE PRECISION) * CAST("lead_to_ql" AS DOUBLE PRECISION)) <= 1.7976931348623157e+308
      THEN CAST("leads" AS DOUBLE PRECISION) * CAST("lead_to_ql" AS DOUBLE PRECISION)
    END AS "qualified_leads"
  FROM "kpis"
)
SELECT
  *
FROM "_kpitree_1"
