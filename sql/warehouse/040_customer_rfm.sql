-- warehouse.customer_rfm: one row per customer who completed an order, with RFM as of
-- 2025-01-01 (the day after the demo data's last order): recency in days, frequency =
-- distinct completed orders, monetary = net revenue; quintile scores (5 = best, ties
-- split by customer_id), the RFM code, the segment on the canonical 125-code map and on
-- the R×F grid. Inputs: warehouse.orders, warehouse.customers.  Grain: customer_id.
CREATE TABLE warehouse.customer_rfm AS
SELECT
    r.customer AS customer_id,
    c.name,
    c.email,
    c.country,
    c.marketing_opt_in,
    r.recency_days,
    r.frequency,
    r.monetary,
    r.r,
    r.f,
    r.m,
    r.rfm_code,
    r.segment,
    r.segment_rf
FROM rfm(
    'SELECT customer_id, order_ts, order_id, net_revenue FROM warehouse.orders WHERE status = ''completed''',
    'customer_id', 'order_ts', 'net_revenue', DATE '2025-01-01',
    order_column => 'order_id'
) AS r
JOIN warehouse.customers AS c ON c.customer_id = r.customer
