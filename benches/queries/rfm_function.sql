-- The anchor RFM query's per-segment summary (queries/rfm.sql), from datapunk's `rfm`
-- table function: frequency = distinct orders, monetary = quantity * unit_price,
-- analysis date 2025-01-01.
WITH rfm_segments AS (
    SELECT customer AS customer_id, recency_days, frequency, monetary,
           r AS r_score, f AS f_score, m AS m_score,
           CASE
               WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
               WHEN r >= 3 AND f >= 4            THEN 'loyal'
               WHEN r >= 4 AND f <= 2            THEN 'new_or_promising'
               WHEN r >= 3 AND f >= 2            THEN 'potential_loyalist'
               WHEN r <= 2 AND f >= 4            THEN 'at_risk'
               WHEN r <= 2 AND f >= 2            THEN 'needs_attention'
               ELSE 'hibernating'
           END AS segment
    FROM rfm('SELECT customer_id, order_ts, order_id, quantity * unit_price AS amount FROM lake.order_lines',
             'customer_id', 'order_ts', 'amount', DATE '2025-01-01', order_column => 'order_id')
)
SELECT segment,
       COUNT(*)                               AS customers,
       ROUND(AVG(recency_days), 1)            AS avg_recency_days,
       ROUND(AVG(frequency), 2)               AS avg_frequency,
       ROUND(CAST(AVG(monetary) AS NUMERIC(18, 2)), 2) AS avg_monetary,
       SUM(monetary)                          AS total_monetary
FROM rfm_segments
GROUP BY segment
ORDER BY segment;
