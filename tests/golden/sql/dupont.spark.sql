WITH `_kpitree_1` AS (
  SELECT
    *,
    CASE
      WHEN ABS(
        CAST(`net_income` AS DOUBLE) / NULLIF(
          CASE
            WHEN ABS(CAST(`revenue` AS DOUBLE)) <= 1.7976931348623157e+308
            THEN CAST(`revenue` AS DOUBLE)
          END,
          0.0
        )
      ) <= 1.7976931348623157e+308
      THEN CAST(`net_income` AS DOUBLE) / NULLIF(
        CASE
          WHEN ABS(CAST(`revenue` AS DOUBLE)) <= 1.7976931348623157e+308
          THEN CAST(`revenue` AS DOUBLE)
        END,
        0.0
      )
    END AS `net_margin`,
    CASE
      WHEN ABS(
        CAST(`revenue` AS DOUBLE) / NULLIF(
          CASE
            WHEN ABS(CAST(`assets` AS DOUBLE)) <= 1.7976931348623157e+308
            THEN CAST(`assets` AS DOUBLE)
          END,
          0.0
        )
      ) <= 1.7976931348623157e+308
      THEN CAST(`revenue` AS DOUBLE) / NULLIF(
        CASE
          WHEN ABS(CAST(`assets` AS DOUBLE)) <= 1.7976931348623157e+308
          THEN CAST(`assets` AS DOUBLE)
        END,
        0.0
      )
    END AS `asset_turnover`,
    CASE
      WHEN ABS(
        CAST(`assets` AS DOUBLE) / NULLIF(
          CASE
            WHEN ABS(CAST(`equity` AS DOUBLE)) <= 1.7976931348623157e+308
            THEN CAST(`equity` AS DOUBLE)
          END,
          0.0
        )
      ) <= 1.7976931348623157e+308
      THEN CAST(`assets` AS DOUBLE) / NULLIF(
        CASE
          WHEN ABS(CAST(`equity` AS DOUBLE)) <= 1.7976931348623157e+308
          THEN CAST(`equity` AS DOUBLE)
        END,
        0.0
      )
    END AS `equity_multiplier`
  FROM `kpis`
), `_kpitree_2` AS (
  SELECT
    *,
    CASE
      WHEN ABS(`net_margin` * `asset_turnover` * `equity_multiplier`) <= 1.7976931348623157e+308
      THEN `net_margin` * `asset_turnover` * `equity_multiplier`
    END AS `roe`
  FROM `_kpitree_1`
)
SELECT
  *
FROM `_kpitree_2`
