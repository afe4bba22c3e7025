-- The per-customer CLV summary (weeks, calibration to 2024-12-31) in plain DuckDB SQL,
-- totalled so that only the computation is timed, not the transfer of its rows (recency
-- and T back in days, monetary value in cents):
-- frequency = distinct purchase days - 1, recency and T in weeks, monetary value = mean
-- value of the repeat purchase days.
WITH days AS (
    SELECT customer_id, CAST(order_ts AS DATE) AS day, SUM(quantity * unit_price) AS value
    FROM order_lines
    WHERE CAST(order_ts AS DATE) <= DATE '2024-12-31'
    GROUP BY customer_id, day
), summary AS (
    SELECT customer_id,
           COUNT(*) - 1 AS frequency,
           (MAX(day) - MIN(day)) / 7.0 AS recency,
           (DATE '2024-12-31' - MIN(day)) / 7.0 AS t,
           CASE WHEN COUNT(*) > 1
                THEN CAST(SUM(value) - arg_min(value, day) AS DOUBLE) / (COUNT(*) - 1)
                ELSE 0 END AS monetary_value
    FROM days
    GROUP BY customer_id
)
SELECT COUNT(*), SUM(frequency), CAST(ROUND(SUM(recency) * 7) AS BIGINT),
       CAST(ROUND(SUM(t) * 7) AS BIGINT), CAST(ROUND(SUM(monetary_value) * 100) AS BIGINT)
FROM summary
