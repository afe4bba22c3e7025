-- warehouse.customer_clv: one row per customer who completed an order, with what the
-- next 12 months are worth: the purchase history in weeks up to 2024-12-31 (the demo
-- data's last order day; frequency = repeat purchase days, recency and t in weeks,
-- monetary_value = mean net revenue of the repeat purchase days), BG/NBD and
-- Gamma-Gamma fitted on all customers, then P(alive), expected purchases and expected
-- spend per purchase over the next 12 months and their value discounted 1% a month.
-- Inputs: warehouse.orders, warehouse.customers.  Grain: customer_id.
CREATE TABLE warehouse.customer_clv AS
SELECT
    v.customer AS customer_id,
    c.name,
    c.email,
    c.country,
    c.marketing_opt_in,
    v.frequency,
    v.recency,
    v.t,
    v.monetary_value,
    v.p_alive,
    v.expected_purchases,
    v.expected_spend,
    v.clv
FROM customer_clv(
    'SELECT customer_id, order_ts, net_revenue FROM warehouse.orders WHERE status = ''completed''',
    'customer_id', 'order_ts', 'net_revenue', DATE '2024-12-31',
    months => 12, monthly_discount => 0.01, period => 'week'
) AS v
JOIN warehouse.customers AS c ON c.customer_id = v.customer
