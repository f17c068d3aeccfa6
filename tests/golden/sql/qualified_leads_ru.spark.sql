WITH `_kpitree_1` AS (
  SELECT
    *,
    CAST(`лиды` AS DOUBLE) * CAST(`конверсия_в_квал` AS DOUBLE) AS `_kpitree_v1`
  FROM `kpis`
), `_kpitree_2` AS (
  SELECT
    *,
    CASE WHEN ABS(`_kpitree_v1`) <= 1.7976931348623157e+308 THEN `_kpitree_v1` END AS `квал_лиды`
  FROM `_kpitree_1`
)
SELECT
  *
  EXCEPT (`_kpitree_v1`)
FROM `_kpitree_2`
