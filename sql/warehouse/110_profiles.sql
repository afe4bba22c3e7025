-- warehouse.profiles: one row per person of warehouse.identity_graph (customers and the
-- prospects who only browsed or bought as guests), with computed traits as SQL: first
-- and last seen (web sessions, orders, guest orders), completed orders and lifetime
-- revenue (their own orders plus guest checkouts on their devices), favourite category
-- (the most frequent of their order lines), last product viewed, devices, the channels
-- they ordered through, their RFM segment and predicted 12-month value.
-- Inputs: warehouse.identity_graph, warehouse.orders, warehouse.customer_rfm,
-- warehouse.customer_clv, lake.web_events, lake.guest_orders, lake.order_lines,
-- lake.products.  Grain: person_id.
CREATE TABLE warehouse.profiles AS
WITH persons AS (
    SELECT person_id,
           min(CASE WHEN id_type = 'customer_id' THEN CAST(id AS BIGINT) END) AS customer_id,
           min(CASE WHEN id_type = 'email' THEN id END) AS email,
           count(CASE WHEN id_type = 'anonymous_id' THEN 1 END) AS devices
    FROM warehouse.identity_graph
    GROUP BY person_id
),
devices AS (
    SELECT person_id, id AS anonymous_id
    FROM warehouse.identity_graph
    WHERE id_type = 'anonymous_id'
),
browsing AS (
    SELECT d.person_id,
           min(e.event_ts) AS first_seen,
           max(e.event_ts) AS last_seen,
           max_by(e.product_id, e.event_ts) FILTER (WHERE e.event_type = 'product_view')
               AS last_product_viewed
    FROM lake.web_events AS e
    JOIN devices AS d ON d.anonymous_id = e.anonymous_id
    GROUP BY d.person_id
),
guest AS (
    SELECT d.person_id,
           count(*) AS guest_orders,
           sum(g.amount) AS guest_revenue,
           min(g.order_ts) AS first_guest_order,
           max(g.order_ts) AS last_guest_order
    FROM lake.guest_orders AS g
    JOIN devices AS d ON d.anonymous_id = g.anonymous_id
    GROUP BY d.person_id
),
purchases AS (
    SELECT customer_id,
           count(*) AS orders,
           sum(net_revenue) AS revenue,
           min(order_ts) AS first_order,
           max(order_ts) AS last_order,
           array_to_string(array_agg(DISTINCT channel ORDER BY channel), ',') AS channels
    FROM warehouse.orders
    WHERE status = 'completed'
    GROUP BY customer_id
),
categories AS (
    SELECT l.customer_id, mode() WITHIN GROUP (ORDER BY p.category) AS favourite_category
    FROM lake.order_lines AS l
    JOIN lake.products AS p ON p.product_id = l.product_id
    GROUP BY l.customer_id
)
SELECT
    p.person_id,
    p.customer_id,
    p.email,
    p.devices,
    least(b.first_seen, o.first_order, g.first_guest_order) AS first_seen,
    greatest(b.last_seen, o.last_order, g.last_guest_order) AS last_seen,
    coalesce(o.orders, 0) + coalesce(g.guest_orders, 0) AS orders,
    coalesce(o.revenue, 0) + coalesce(g.guest_revenue, 0) AS lifetime_revenue,
    c.favourite_category,
    b.last_product_viewed,
    o.channels,
    r.segment AS rfm_segment,
    v.clv AS predicted_clv
FROM persons AS p
LEFT JOIN browsing AS b ON b.person_id = p.person_id
LEFT JOIN guest AS g ON g.person_id = p.person_id
LEFT JOIN purchases AS o ON o.customer_id = p.customer_id
LEFT JOIN categories AS c ON c.customer_id = p.customer_id
LEFT JOIN warehouse.customer_rfm AS r ON r.customer_id = p.customer_id
LEFT JOIN warehouse.customer_clv AS v ON v.customer_id = p.customer_id
