-- audience.post_purchase_recommendations: customers who completed an order yesterday,
-- each with their top 3 recommended products (warehouse.customer_recommendations:
-- products they are most likely to buy next and have not bought yet) for the follow-up
-- e-mail. One row per customer (key: customer_id).
-- "Today" is the day of the newest order in the lake: the demo (a snapshot ending
-- 2024-12-31) and a live lake both work; put current_date there when orders arrive
-- continuously.
WITH clock AS (
    SELECT CAST(max(order_ts) AS DATE) AS today FROM lake.orders
),
buyers AS (
    SELECT DISTINCT o.customer_id
    FROM warehouse.orders AS o CROSS JOIN clock
    WHERE o.status = 'completed' AND o.order_date = clock.today - 1
)
SELECT
    r.customer_id,
    r.name,
    r.email,
    r.marketing_opt_in,
    max(CASE WHEN r.rank = 1 THEN r.product_id END) AS product_id_1,
    max(CASE WHEN r.rank = 1 THEN r.product_name END) AS product_name_1,
    max(CASE WHEN r.rank = 2 THEN r.product_id END) AS product_id_2,
    max(CASE WHEN r.rank = 2 THEN r.product_name END) AS product_name_2,
    max(CASE WHEN r.rank = 3 THEN r.product_id END) AS product_id_3,
    max(CASE WHEN r.rank = 3 THEN r.product_name END) AS product_name_3
FROM warehouse.customer_recommendations AS r
JOIN buyers AS b ON b.customer_id = r.customer_id
WHERE r.rank <= 3
GROUP BY r.customer_id, r.name, r.email, r.marketing_opt_in
