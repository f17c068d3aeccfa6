WITH `_kpitree_1` AS (
  SELECT
    *,
    CAST(`leads` AS FLOAT64) * CAST(`lead_to_ql` AS FLOAT64) AS `_kpitree_v1`
  FROM `kpis`
), `_kpitree_2` AS (
  SELECT
    *,
    CASE WHEN ABS(`_kpitree_v1`) <= 1.7976931348623157e+308 THEN `_kpitree_v1` END AS `qualified_leads`
  FROM `_kpitree_1`
)
SELECT
  *
  EXCEPT (`_kpitree_v1`)
FROM `_kpitree_2`
