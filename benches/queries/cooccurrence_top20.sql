-- Item-item co-occurrence over orders in plain SQL, what `item_cooccurrence(order_lines,
-- 'order_id', 'product_id')` computes with its defaults: each product once per order,
-- orders of more than 100 distinct products left out, pairs seen in at least 2 orders,
-- cosine = co / sqrt(n_a * n_b), the 20 best partners per product (cosine, then
-- co-occurrence count, descending; then product id).
WITH b AS (
    SELECT DISTINCT order_id, product_id FROM order_lines
), kept AS (
    SELECT order_id FROM b GROUP BY order_id HAVING count(*) <= 100
), kb AS (
    SELECT b.order_id, b.product_id FROM b JOIN kept ON kept.order_id = b.order_id
), n AS (
    SELECT product_id, count(*) AS n FROM kb GROUP BY product_id
), pairs AS (
    SELECT x.product_id AS a, y.product_id AS b, count(*) AS co
    FROM kb AS x JOIN kb AS y ON x.order_id = y.order_id AND x.product_id <> y.product_id
    GROUP BY x.product_id, y.product_id
    HAVING count(*) >= 2
), ranked AS (
    SELECT p.a, p.b, p.co,
           row_number() OVER (PARTITION BY p.a
                              ORDER BY p.co / sqrt(CAST(na.n * nb.n AS DOUBLE)) DESC, p.co DESC, p.b) AS rank
    FROM pairs AS p
    JOIN n AS na ON na.product_id = p.a
    JOIN n AS nb ON nb.product_id = p.b
)
SELECT a, b, co, rank FROM ranked WHERE rank <= 20 ORDER BY a, rank
