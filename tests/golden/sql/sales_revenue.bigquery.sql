WITH `_kpitree_1` AS (
  SELECT
    *,
    CASE
      WHEN ABS(
        CAST(`managers` AS FLOAT64) * CAST(`calls_per_day` AS FLOAT64) * CAST(`working_days` AS FLOAT64)
      ) <= 1.7976931348623157e+308
      THEN CAST(`managers` AS FLOAT64) * CAST(`calls_per_day` AS FLOAT64) * CAST(`working_days` AS FLOAT64)
    END AS `calls`
  FROM `kpis`
), `_kpitree_2` AS (
  SELECT
    *,
    CASE
      WHEN ABS(`calls` * CAST(`call_to_purchase` AS FLOAT64)) <= 1.7976931348623157e+308
      THEN `calls` * CAST(`call_to_purchase` AS FLOAT64)
    END AS `purchases`
  FROM `_kpitree_1`
), `_kpitree_3` AS (
  SELECT
    *,
    CASE
      WHEN ABS(`purchases` * CAST(`avg_order_value` AS FLOAT64)) <= 1.7976931348623157e+308
      THEN `purchases` * CAST(`avg_order_value` AS FLOAT64)
    END AS `revenue`
  FROM `_kpitree_2`
)
SELECT
  *
FROM `_kpitree_3`
