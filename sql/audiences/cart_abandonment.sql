-- audience.cart_abandonment: known, opted-in customers who put a product in their cart in
-- the last day and bought nothing in the hour after (no purchase event, no order since),
-- with the last product they left behind. One row per customer (key: customer_id); a
-- customer leaves when they buy or the cart is more than a day old, so an `entered` export
-- reaches each abandoned cart once.
-- "Now" is the newest web event in the lake: the demo (a snapshot ending 2024-12-31)
-- and a live event feed both work; put now() there when the feed is live.
-- schedule: */15 * * * *
WITH clock AS (
    SELECT max(event_ts) AS now FROM lake.web_events
),
carts AS (
    SELECT e.customer_id, e.session_id, e.product_id, e.event_ts
    FROM lake.web_events AS e CROSS JOIN clock
    WHERE e.event_type = 'add_to_cart'
      AND e.customer_id IS NOT NULL
      AND e.event_ts > clock.now - INTERVAL '25 hours'
      AND e.event_ts <= clock.now - INTERVAL '1 hour'
),
purchases AS (
    SELECT customer_id, event_ts AS ts
    FROM lake.web_events
    WHERE event_type = 'purchase' AND customer_id IS NOT NULL
    UNION ALL
    SELECT customer_id, order_ts FROM lake.orders
),
abandoned AS (
    SELECT c.*,
        row_number() OVER (PARTITION BY c.customer_id ORDER BY c.event_ts DESC) AS latest
    FROM carts AS c
    WHERE NOT EXISTS (
        SELECT 1 FROM purchases AS p
        WHERE p.customer_id = c.customer_id AND p.ts >= c.event_ts
    )
)
SELECT
    a.customer_id,
    cu.name,
    cu.email,
    cu.marketing_opt_in,
    a.product_id,
    p.name AS product_name,
    p.price,
    a.event_ts AS added_to_cart_at
FROM abandoned AS a
JOIN lake.customers AS cu ON cu.customer_id = a.customer_id
JOIN lake.products AS p ON p.product_id = a.product_id
WHERE a.latest = 1 AND cu.marketing_opt_in
