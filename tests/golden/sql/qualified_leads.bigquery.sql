WITH `_kpitree_1` AS (
  SELECT
    *,
    CASE
      WHEN ABS(CAST(`leads` AS FLOAT64) * CAST(`lead_to_ql` AS FLOAT64)) <= 1.7976931348623157e+308
      THEN CAST(`leads` AS FLOAT64) * CAST(`lead_to_ql` AS FLOAT64)
    END AS `qualified_leads`
  FROM `kpis`
)
SELECT
  *
FROM `_kpitree_1`
