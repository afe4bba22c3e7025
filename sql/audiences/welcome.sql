-- audience.welcome: customers whose first order (cancelled ones aside) was in the last
-- day, for the welcome e-mail. One row per customer (key: customer_id); they leave a day
-- later, so an `entered` export welcomes each new customer once.
-- "Now" is the newest order in the lake: the demo (a snapshot ending 2024-12-31) and a
-- live lake both work; put now() there when orders arrive continuously.
WITH clock AS (
    SELECT max(order_ts) AS now FROM lake.orders
)
SELECT
    c.customer_id,
    c.name,
    c.email,
    c.country,
    c.marketing_opt_in,
    c.acquisition_channel,
    c.first_order_ts,
    c.revenue
FROM warehouse.customers AS c CROSS JOIN clock
WHERE c.first_order_ts > clock.now - INTERVAL '1 day'
