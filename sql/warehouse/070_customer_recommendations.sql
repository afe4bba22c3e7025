-- warehouse.customer_recommendations: the 10 products each customer is most likely to
-- buy next and has not bought yet, ready for a campaign, with the customer's contact and
-- opt-in and the product's name, category and price. Scored by implicit ALS over
-- completed purchases (weight = order lines of the product), the method that did best
-- in sql/examples/recommendation_evaluation.sql on the demo data.
-- Inputs: lake.order_lines, warehouse.orders, warehouse.customers, lake.products.
-- Grain: (customer_id, rank).
CREATE TABLE warehouse.customer_recommendations AS
SELECT
    r.customer AS customer_id,
    c.name,
    c.email,
    c.marketing_opt_in,
    r.rank,
    r.item AS product_id,
    p.name AS product_name,
    p.category,
    p.price,
    r.score
FROM als_recommend(
    $interactions$
    SELECT l.customer_id, l.product_id, count(*) AS purchases
    FROM lake.order_lines AS l
    JOIN warehouse.orders AS o ON o.order_id = l.order_id
    WHERE o.status = 'completed'
    GROUP BY l.customer_id, l.product_id
    $interactions$,
    k => 10, rank => 16, reg => 0.1, alpha => 5, iterations => 15, seed => 42
) AS r
JOIN warehouse.customers AS c ON c.customer_id = r.customer
JOIN lake.products AS p ON p.product_id = r.item
