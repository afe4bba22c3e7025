-- warehouse.product_pairs: for each product, the 10 products most often bought in the
-- same order (cosine similarity of the orders that hold them; pairs seen in at least 2
-- completed orders), with both products' names and categories: "customers who bought
-- this also bought". Inputs: lake.order_lines, warehouse.orders, lake.products.
-- Grain: (product_id, rank).
CREATE TABLE warehouse.product_pairs AS
SELECT
    p.item_a AS product_id,
    a.name AS product_name,
    a.category AS product_category,
    p.rank,
    p.item_b AS paired_product_id,
    b.name AS paired_product_name,
    b.category AS paired_category,
    p.co_count AS orders_together,
    p.n_a AS product_orders,
    p.score AS cosine
FROM item_cooccurrence(
    'SELECT l.order_id, l.product_id FROM lake.order_lines AS l JOIN warehouse.orders AS o ON o.order_id = l.order_id WHERE o.status = ''completed''',
    'order_id', 'product_id',
    min_support => 2, metric => 'cosine', top_k => 10
) AS p
JOIN lake.products AS a ON a.product_id = p.item_a
JOIN lake.products AS b ON b.product_id = p.item_b
