-- warehouse.daily_sales: orders, buying customers, items and revenue per day and
-- country (cancelled orders excluded).
-- Inputs: warehouse.orders.  Grain: (order_date, country).
CREATE TABLE warehouse.daily_sales AS
SELECT
    order_date,
    country,
    COUNT(*) AS orders,
    COUNT(DISTINCT customer_id) AS customers,
    SUM(items) AS items,
    SUM(net_revenue) AS revenue
FROM warehouse.orders
WHERE status <> 'cancelled'
GROUP BY order_date, country
