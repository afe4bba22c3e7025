-- Segment migration: where the customers of each segment on 2024-07-01 stood on
-- 2025-01-01 (orders after an analysis date are ignored, so each side sees only its
-- own past). Customers without an order by the earlier date show as 'new'.
WITH before AS (
    SELECT customer, segment
    FROM rfm('SELECT customer_id, order_ts, order_id, net_revenue FROM warehouse.orders WHERE status = ''completed''',
             'customer_id', 'order_ts', 'net_revenue', DATE '2024-07-01', order_column => 'order_id')
),
after AS (
    SELECT customer, segment
    FROM rfm('SELECT customer_id, order_ts, order_id, net_revenue FROM warehouse.orders WHERE status = ''completed''',
             'customer_id', 'order_ts', 'net_revenue', DATE '2025-01-01', order_column => 'order_id')
)
SELECT
    coalesce(b.segment, 'new') AS segment_2024_07_01,
    a.segment AS segment_2025_01_01,
    count(*) AS customers
FROM after AS a
LEFT JOIN before AS b ON b.customer = a.customer
GROUP BY 1, 2
ORDER BY 1, 3 DESC;
