-- warehouse.orders: one row per order, with its order lines summed.
-- Inputs: lake.orders, lake.order_lines.  Grain: order_id.
-- Revenue is quantity * (unit_price - discount); shipping is kept apart.
CREATE TABLE warehouse.orders AS
SELECT
    o.order_id,
    o.customer_id,
    o.order_ts,
    CAST(o.order_ts AS DATE) AS order_date,
    o.country,
    o.channel,
    o.status,
    o.coupon_code,
    l.lines,
    l.items,
    l.gross_revenue,
    l.discount,
    l.net_revenue,
    o.shipping
FROM lake.orders AS o
JOIN (
    SELECT
        order_id,
        COUNT(*) AS lines,
        SUM(quantity) AS items,
        SUM(quantity * unit_price) AS gross_revenue,
        SUM(quantity * discount) AS discount,
        SUM(quantity * (unit_price - discount)) AS net_revenue
    FROM lake.order_lines
    GROUP BY order_id
) AS l ON l.order_id = o.order_id
