-- Which recommender to trust: train on purchases before 2024-07-01, hold out the new
-- products (not bought before) each customer bought from then on, and compare four
-- methods at k = 10 with rec_eval: item-item co-occurrence (cosine over customers'
-- histories), association rules (pairs, confidence), implicit ALS, and the popularity
-- baseline (best sellers the customer has not bought). Every method leaves out what the
-- customer already bought, and only customers with a history are evaluated.
SELECT method, users, k, round(precision, 4) AS precision, round(recall, 4) AS recall,
       round(hit_rate, 4) AS hit_rate, round(map, 4) AS map, round(ndcg, 4) AS ndcg,
       round(coverage, 4) AS coverage
FROM (
SELECT 'item-item cosine' AS method, e.*
FROM rec_eval(
    $recs$
    SELECT customer, item, rank FROM recommend_items(
        $train$ SELECT DISTINCT customer_id, product_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01' $train$,
        $sim$ SELECT item_a, item_b, score FROM item_cooccurrence(
            $t$ SELECT customer_id, product_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01' $t$,
            'customer_id', 'product_id', min_support => 2, top_k => 50, max_basket_size => 1000) $sim$,
        k => 10)
    $recs$,
    $holdout$
    SELECT DISTINCT h.customer_id, h.product_id FROM lake.order_lines AS h
    WHERE h.order_ts >= TIMESTAMP '2024-07-01'
      AND h.customer_id IN (SELECT customer_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01')
      AND NOT EXISTS (SELECT 1 FROM lake.order_lines AS t
                      WHERE t.customer_id = h.customer_id AND t.product_id = h.product_id
                        AND t.order_ts < TIMESTAMP '2024-07-01')
    $holdout$,
    k => 10, catalogue => 'SELECT product_id FROM lake.products') AS e
UNION ALL
SELECT 'association rules' AS method, e.*
FROM rec_eval(
    $recs$
    SELECT customer, item, rank FROM recommend_items(
        $train$ SELECT DISTINCT customer_id, product_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01' $train$,
        $sim$ SELECT antecedent[1] AS item_a, consequent[1] AS item_b, confidence AS score FROM association_rules(
            $t$ SELECT customer_id, product_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01' $t$,
            'customer_id', 'product_id', min_support => 0.005, min_confidence => 0.02, max_len => 2) $sim$,
        k => 10)
    $recs$,
    $holdout$
    SELECT DISTINCT h.customer_id, h.product_id FROM lake.order_lines AS h
    WHERE h.order_ts >= TIMESTAMP '2024-07-01'
      AND h.customer_id IN (SELECT customer_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01')
      AND NOT EXISTS (SELECT 1 FROM lake.order_lines AS t
                      WHERE t.customer_id = h.customer_id AND t.product_id = h.product_id
                        AND t.order_ts < TIMESTAMP '2024-07-01')
    $holdout$,
    k => 10, catalogue => 'SELECT product_id FROM lake.products') AS e
UNION ALL
SELECT 'ALS (implicit)' AS method, e.*
FROM rec_eval(
    $recs$
    SELECT customer, item, rank FROM als_recommend(
        $train$ SELECT customer_id, product_id, count(*) AS purchases FROM lake.order_lines
                WHERE order_ts < TIMESTAMP '2024-07-01' GROUP BY customer_id, product_id $train$,
        k => 10, rank => 16, reg => 0.1, alpha => 5, iterations => 15, seed => 42)
    $recs$,
    $holdout$
    SELECT DISTINCT h.customer_id, h.product_id FROM lake.order_lines AS h
    WHERE h.order_ts >= TIMESTAMP '2024-07-01'
      AND h.customer_id IN (SELECT customer_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01')
      AND NOT EXISTS (SELECT 1 FROM lake.order_lines AS t
                      WHERE t.customer_id = h.customer_id AND t.product_id = h.product_id
                        AND t.order_ts < TIMESTAMP '2024-07-01')
    $holdout$,
    k => 10, catalogue => 'SELECT product_id FROM lake.products') AS e
UNION ALL
SELECT 'popularity baseline' AS method, e.*
FROM rec_eval(
    $recs$
    WITH bought AS (
        SELECT DISTINCT customer_id, product_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01'
    ), popular AS (
        SELECT product_id, count(*) AS buyers FROM bought GROUP BY product_id
    ), ranked AS (
        SELECT c.customer_id, p.product_id,
               row_number() OVER (PARTITION BY c.customer_id ORDER BY p.buyers DESC, p.product_id) AS rank
        FROM (SELECT DISTINCT customer_id FROM bought) AS c
        CROSS JOIN popular AS p
        WHERE NOT EXISTS (SELECT 1 FROM bought AS b
                          WHERE b.customer_id = c.customer_id AND b.product_id = p.product_id)
    )
    SELECT customer_id, product_id, rank FROM ranked WHERE rank <= 10
    $recs$,
    $holdout$
    SELECT DISTINCT h.customer_id, h.product_id FROM lake.order_lines AS h
    WHERE h.order_ts >= TIMESTAMP '2024-07-01'
      AND h.customer_id IN (SELECT customer_id FROM lake.order_lines WHERE order_ts < TIMESTAMP '2024-07-01')
      AND NOT EXISTS (SELECT 1 FROM lake.order_lines AS t
                      WHERE t.customer_id = h.customer_id AND t.product_id = h.product_id
                        AND t.order_ts < TIMESTAMP '2024-07-01')
    $holdout$,
    k => 10, catalogue => 'SELECT product_id FROM lake.products') AS e
) AS evaluated
ORDER BY hit_rate DESC, method;
