-- Common table expressions (plain, chained, recursive) and subqueries (scalar, IN, EXISTS, correlated, ANY/ALL, LATERAL, derived tables).

WITH completed AS (SELECT * FROM lake.orders WHERE status = 'completed') SELECT country, count(*) FROM completed GROUP BY country ORDER BY count(*) DESC, country LIMIT 5;

WITH line_totals AS (SELECT order_id, sum(quantity * unit_price) AS gross FROM lake.order_lines GROUP BY order_id), order_totals AS (SELECT o.order_id, o.customer_id, o.shipping, t.gross, t.gross + o.shipping AS total FROM lake.orders o JOIN line_totals t USING (order_id)) SELECT customer_id, count(*) AS orders, sum(total) AS spent, max(total) AS biggest FROM order_totals GROUP BY customer_id ORDER BY spent DESC, customer_id LIMIT 5;

WITH t AS (SELECT 1 AS a), u AS (SELECT a + 1 AS b FROM t), v AS (SELECT b * 10 AS c FROM u) SELECT a, b, c FROM t, u, v;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT i, i * i AS square FROM n ORDER BY i;

WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0::bigint, 1::bigint UNION ALL SELECT n + 1, b, a + b FROM fib WHERE n < 15) SELECT n, a FROM fib ORDER BY n;

WITH RECURSIVE days(d) AS (SELECT date '2024-12-20' UNION ALL SELECT d + 1 FROM days WHERE d < date '2024-12-31') SELECT d, (SELECT count(*) FROM lake.orders o WHERE o.order_ts::date = days.d) AS orders FROM days ORDER BY d;

WITH RECURSIVE fact(n, f) AS (SELECT 0, 1::numeric UNION ALL SELECT n + 1, f * (n + 1) FROM fact WHERE n < 25) SELECT n, f FROM fact WHERE n IN (0, 5, 10, 20, 25) ORDER BY n;

WITH RECURSIVE tree(id, parent, name) AS (VALUES (1, NULL::int, 'root'), (2, 1, 'apparel'), (3, 1, 'home'), (4, 2, 'shoes'), (5, 4, 'sneakers'), (6, 3, 'kitchen')), walk(id, name, depth, path) AS (SELECT id, name, 0, name::text FROM tree WHERE parent IS NULL UNION ALL SELECT t.id, t.name, w.depth + 1, w.path || ' > ' || t.name FROM tree t JOIN walk w ON t.parent = w.id) SELECT id, depth, path FROM walk ORDER BY path;

WITH RECURSIVE s(x) AS (SELECT 1 UNION SELECT (x * 3) % 7 FROM s) SELECT x FROM s ORDER BY x;

WITH RECURSIVE months(m) AS (SELECT timestamp '2024-01-01' UNION ALL SELECT m + interval '1 month' FROM months WHERE m < timestamp '2024-12-01') SELECT m::date AS month, coalesce(r.orders, 0) AS orders FROM months LEFT JOIN (SELECT date_trunc('month', order_ts) AS m, count(*) AS orders FROM lake.orders GROUP BY 1) r USING (m) ORDER BY month;

WITH x AS MATERIALIZED (SELECT customer_id, count(*) AS n FROM lake.orders GROUP BY customer_id) SELECT n, count(*) AS customers FROM x GROUP BY n ORDER BY n;

WITH x AS NOT MATERIALIZED (SELECT * FROM lake.products WHERE price > 100) SELECT count(*), min(price) FROM x;

-- a CTE used twice
WITH spend AS (SELECT customer_id, sum(quantity * unit_price) AS total FROM lake.order_lines GROUP BY customer_id) SELECT s.customer_id, s.total, round(s.total / (SELECT avg(total) FROM spend), 2) AS vs_average FROM spend s ORDER BY s.total DESC, s.customer_id LIMIT 5;

SELECT product_id, price, (SELECT round(avg(price), 2) FROM lake.products) AS avg_price, price - (SELECT round(avg(price), 2) FROM lake.products) AS diff FROM lake.products WHERE price > (SELECT avg(price) * 3 FROM lake.products) ORDER BY product_id;

SELECT (SELECT count(*) FROM lake.customers) AS customers, (SELECT count(*) FROM lake.orders) AS orders, (SELECT count(DISTINCT customer_id) FROM lake.orders) AS buyers, (SELECT max(price) FROM lake.products WHERE category = 'books') AS max_book_price;

SELECT customer_id, name FROM lake.customers WHERE customer_id IN (SELECT customer_id FROM lake.orders WHERE coupon_code = 'SAVE20') ORDER BY customer_id;

SELECT count(*) AS never_ordered FROM lake.customers c WHERE customer_id NOT IN (SELECT customer_id FROM lake.orders);

SELECT count(*) FROM lake.customers c WHERE EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = c.customer_id AND o.status = 'returned');

SELECT c.customer_id, c.signup_date FROM lake.customers c WHERE NOT EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = c.customer_id) AND c.signup_date < '2022-01-01' ORDER BY c.customer_id LIMIT 10;

-- correlated scalar subqueries
SELECT c.customer_id, (SELECT count(*) FROM lake.orders o WHERE o.customer_id = c.customer_id) AS orders, (SELECT max(o.order_ts) FROM lake.orders o WHERE o.customer_id = c.customer_id) AS last_order FROM lake.customers c ORDER BY c.customer_id LIMIT 8;

SELECT p.product_id, p.category, p.price FROM lake.products p WHERE p.price = (SELECT max(p2.price) FROM lake.products p2 WHERE p2.category = p.category) ORDER BY p.category, p.product_id;

SELECT o.order_id, o.shipping FROM lake.orders o WHERE (SELECT sum(quantity) FROM lake.order_lines l WHERE l.order_id = o.order_id) >= 5 ORDER BY o.order_id LIMIT 10;

SELECT product_id, price FROM lake.products WHERE price > ALL (SELECT price FROM lake.products WHERE category = 'grocery') AND category = 'books' ORDER BY product_id;

SELECT product_id, price FROM lake.products WHERE price = ANY (SELECT unit_price FROM lake.order_lines WHERE quantity >= 5) ORDER BY product_id;

SELECT 5 = ANY (ARRAY[1, 5, 9]), 5 > ALL (ARRAY[1, 2, 3]), 5 < SOME (SELECT * FROM generate_series(1, 4)), 1 = ALL (SELECT 1 WHERE false), 1 = ANY (SELECT 1 WHERE false);

SELECT c.customer_id, t.order_id, t.order_ts FROM lake.customers c CROSS JOIN LATERAL (SELECT o.order_id, o.order_ts FROM lake.orders o WHERE o.customer_id = c.customer_id ORDER BY o.order_ts DESC, o.order_id DESC LIMIT 2) t WHERE c.customer_id <= 12 ORDER BY c.customer_id, t.order_ts DESC, t.order_id DESC;

SELECT c.customer_id, f.first_order, f.orders FROM lake.customers c LEFT JOIN LATERAL (SELECT min(o.order_ts) AS first_order, count(*) AS orders FROM lake.orders o WHERE o.customer_id = c.customer_id) f ON true ORDER BY c.customer_id LIMIT 6;

SELECT p.category, top.product_id, top.price FROM (SELECT DISTINCT category FROM lake.products) p, LATERAL (SELECT product_id, price FROM lake.products x WHERE x.category = p.category ORDER BY price, product_id LIMIT 1) top ORDER BY p.category;

SELECT s.n, s.n * 2 AS doubled FROM (SELECT generate_series(1, 3) AS n) s ORDER BY s.n;

SELECT tier, customers FROM (SELECT loyalty_tier AS tier, count(*) AS customers FROM lake.customers GROUP BY loyalty_tier) t WHERE customers > 5 ORDER BY customers DESC, tier;

SELECT avg(orders) AS avg_orders_per_buyer, max(orders) FROM (SELECT customer_id, count(*) AS orders FROM lake.orders GROUP BY customer_id) per_customer;

SELECT order_id FROM lake.orders WHERE customer_id = (SELECT customer_id FROM lake.orders GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1) ORDER BY order_id LIMIT 5;

SELECT EXISTS (SELECT 1 FROM lake.orders WHERE status = 'cancelled') AS any_cancelled, EXISTS (SELECT 1 FROM lake.orders WHERE status = 'lost') AS any_lost, (SELECT count(*) FROM lake.orders WHERE false) AS none;

WITH RECURSIVE top AS (SELECT customer_id FROM lake.orders GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1), chain(order_id, customer_id, step) AS (SELECT min(o.order_id), o.customer_id, 1 FROM lake.orders o JOIN top USING (customer_id) GROUP BY o.customer_id UNION ALL SELECT (SELECT min(o.order_id) FROM lake.orders o WHERE o.customer_id = c.customer_id AND o.order_id > c.order_id), c.customer_id, c.step + 1 FROM chain c WHERE c.step < 5) SELECT step, order_id FROM chain ORDER BY step;

SELECT x, (SELECT string_agg(y::text, ',' ORDER BY y) FROM generate_series(1, x) AS y) AS upto FROM generate_series(1, 4) AS x ORDER BY x;
