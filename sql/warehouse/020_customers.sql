-- warehouse.customers: one row per customer with first/last order, order count and
-- revenue (cancelled orders excluded). Customers who never ordered have orders = 0.
-- Inputs: lake.customers, warehouse.orders.  Grain: customer_id.
CREATE TABLE warehouse.customers AS
SELECT
    c.customer_id,
    c.name,
    c.email,
    c.country,
    c.city,
    c.signup_date,
    c.loyalty_tier,
    c.acquisition_channel,
    c.marketing_opt_in,
    o.first_order_ts,
    o.last_order_ts,
    COALESCE(o.orders, 0) AS orders,
    COALESCE(o.revenue, 0) AS revenue
FROM lake.customers AS c
LEFT JOIN (
    SELECT
        customer_id,
        MIN(order_ts) AS first_order_ts,
        MAX(order_ts) AS last_order_ts,
        COUNT(*) AS orders,
        SUM(net_revenue) AS revenue
    FROM warehouse.orders
    WHERE status <> 'cancelled'
    GROUP BY customer_id
) AS o ON o.customer_id = c.customer_id
