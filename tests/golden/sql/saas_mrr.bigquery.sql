WITH `_kpitree_1` AS (
  SELECT
    *,
    CASE
      WHEN ABS(CAST(`customers` AS FLOAT64) * (
        1.0 - CAST(`churn_rate` AS FLOAT64)
      )) <= 1.7976931348623157e+308
      THEN CAST(`customers` AS FLOAT64) * (
        1.0 - CAST(`churn_rate` AS FLOAT64)
      )
    END AS `retained_customers`
  FROM `kpis`
), `_kpitree_2` AS (
  SELECT
    *,
    CASE
      WHEN ABS(`retained_customers` + CAST(`new_customers` AS FLOAT64)) <= 1.7976931348623157e+308
      THEN `retained_customers` + CAST(`new_customers` AS FLOAT64)
    END AS `customers_next`
  FROM `_kpitree_1`
), `_kpitree_3` AS (
  SELECT
    *,
    CASE
      WHEN ABS(
        `customers_next` * CAST(`arpa` AS FLOAT64) * (
          1.0 + CAST(`expansion_rate` AS FLOAT64)
        )
      ) <= 1.7976931348623157e+308
      THEN `customers_next` * CAST(`arpa` AS FLOAT64) * (
        1.0 + CAST(`expansion_rate` AS FLOAT64)
      )
    END AS `mrr`
  FROM `_kpitree_2`
)
SELECT
  *
FROM `_kpitree_3`
