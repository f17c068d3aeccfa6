WITH `_kpitree_1` AS (
  SELECT
    *,
    CASE
      WHEN ABS(
        CAST(`managers` AS DOUBLE) * CAST(`calls_per_day` AS DOUBLE) * CAST(`working_days` AS DOUBLE)
      ) <= 1.7976931348623157e+308
      THEN CAST(`managers` AS DOUBLE) * CAST(`calls_per_day` AS DOUBLE) * CAST(`working_days` AS DOUBLE)
    END AS `calls`
  FROM `kpis`
), `_kpitree_2` AS (
  SELECT
    *,
    CASE
      WHEN ABS(`calls` * CAST(`call_to_purchase` AS DOUBLE)) <= 1.7976931348623157e+308
      THEN `calls` * CAST(`call_to_purchase` AS DOUBLE)
    END AS `purchases`
  FROM `_kpitree_1`
), `_kpitree_3` AS (
  SELECT
    *,
    CASE
      WHEN ABS(`purchases` * CAST(`avg_order_value` AS DOUBLE)) <= 1.7976931348623157e+308
      THEN `purchases` * CAST(`avg_order_value` AS DOUBLE)
    END AS `revenue`
  FROM `_kpitree_2`
)
SELECT
  *
FROM `_kpitree_3`
