-- Set operations: UNION, UNION ALL, INTERSECT, EXCEPT (and ALL forms), their type resolution, column naming, precedence, ORDER BY and LIMIT.

SELECT 1 AS x UNION SELECT 2 UNION SELECT 1 ORDER BY x;

SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 1 ORDER BY x;

-- the result type of 1 UNION 2.5 is numeric
SELECT 1 AS v UNION ALL SELECT 2.5 ORDER BY v;

SELECT 1 AS v, pg_typeof(1) AS t UNION ALL SELECT 2.5, pg_typeof(2.5) ORDER BY v;

SELECT NULL::int AS v UNION SELECT NULL UNION SELECT 1 ORDER BY v;

-- column names come from the first branch
SELECT 'a' AS first_name, 1 AS n UNION ALL SELECT 'b' AS other, 2 AS m ORDER BY first_name;

SELECT * FROM (VALUES (1), (2), (2), (3), (3), (3)) AS a(x) INTERSECT SELECT * FROM (VALUES (2), (3), (3), (4)) AS b(x) ORDER BY x;

SELECT * FROM (VALUES (1), (2), (2), (3), (3), (3)) AS a(x) INTERSECT ALL SELECT * FROM (VALUES (2), (3), (3), (4)) AS b(x) ORDER BY x;

SELECT * FROM (VALUES (1), (2), (2), (3), (3), (3)) AS a(x) EXCEPT SELECT * FROM (VALUES (2), (4)) AS b(x) ORDER BY x;

SELECT * FROM (VALUES (1), (2), (2), (3), (3), (3)) AS a(x) EXCEPT ALL SELECT * FROM (VALUES (2), (3), (4)) AS b(x) ORDER BY x;

-- INTERSECT binds tighter than UNION
SELECT 1 AS x UNION SELECT 2 INTERSECT SELECT 3 ORDER BY x;

(SELECT 1 AS x UNION SELECT 2) INTERSECT SELECT 2 ORDER BY x;

-- EXCEPT is left-associative: no rows
SELECT 3 AS x EXCEPT SELECT 2 EXCEPT SELECT 3;

SELECT country FROM lake.customers UNION SELECT country FROM lake.orders ORDER BY country;

SELECT country FROM lake.customers EXCEPT SELECT country FROM lake.orders ORDER BY country;

SELECT customer_id FROM lake.customers INTERSECT SELECT customer_id FROM lake.orders WHERE status = 'returned' ORDER BY customer_id LIMIT 10;

SELECT count(*) FROM (SELECT customer_id FROM lake.customers EXCEPT SELECT customer_id FROM lake.orders) never_bought;

SELECT count(*) FROM (SELECT customer_id FROM lake.orders UNION ALL SELECT customer_id FROM lake.web_events WHERE customer_id IS NOT NULL) touches;

SELECT 'orders' AS source, count(*) AS n FROM lake.orders UNION ALL SELECT 'order_lines', count(*) FROM lake.order_lines UNION ALL SELECT 'customers', count(*) FROM lake.customers UNION ALL SELECT 'products', count(*) FROM lake.products UNION ALL SELECT 'web_events', count(*) FROM lake.web_events ORDER BY source;

SELECT 'high' AS segment, product_id, price FROM lake.products WHERE price >= 150 UNION ALL SELECT 'low', product_id, price FROM lake.products WHERE price < 3 ORDER BY segment, price DESC, product_id;

(SELECT product_id, price FROM lake.products ORDER BY price DESC, product_id LIMIT 3) UNION ALL (SELECT product_id, price FROM lake.products ORDER BY price, product_id LIMIT 3) ORDER BY price DESC, product_id;

SELECT product_id FROM lake.products WHERE category = 'books' UNION SELECT product_id FROM lake.order_lines WHERE quantity >= 4 ORDER BY product_id DESC LIMIT 5 OFFSET 2;

SELECT event_type AS kind FROM lake.web_events UNION SELECT status FROM lake.orders UNION SELECT channel FROM lake.orders ORDER BY kind;

SELECT customer_id, 'buyer' AS role FROM lake.orders WHERE order_ts >= '2024-12-20' UNION SELECT customer_id, 'visitor' FROM lake.web_events WHERE event_ts >= '2024-12-20' AND customer_id IS NOT NULL ORDER BY customer_id, role LIMIT 15;

SELECT x FROM generate_series(1, 10) AS x EXCEPT SELECT x * 2 FROM generate_series(1, 10) AS x INTERSECT SELECT y FROM generate_series(1, 20) AS y ORDER BY x;

SELECT date '2024-01-01' AS d UNION SELECT timestamp '2024-01-01 12:00' ORDER BY d;

SELECT 1::int AS v UNION ALL SELECT 2::bigint UNION ALL SELECT 3::smallint ORDER BY v;

SELECT 'a'::text AS v UNION SELECT 'a'::varchar UNION SELECT 'b' ORDER BY v;

SELECT x, y FROM (VALUES (1, 'a'), (2, NULL)) AS t(x, y) UNION SELECT 2, NULL ORDER BY x;

SELECT ARRAY[1, 2] AS a UNION SELECT ARRAY[1, 2] UNION SELECT ARRAY[2] ORDER BY a;

SELECT count(*), count(DISTINCT x) FROM (SELECT 1 AS x UNION ALL SELECT 1 UNION ALL SELECT NULL UNION ALL SELECT NULL) t;

WITH a AS (SELECT DISTINCT customer_id FROM lake.orders WHERE EXTRACT(year FROM order_ts) = 2023), b AS (SELECT DISTINCT customer_id FROM lake.orders WHERE EXTRACT(year FROM order_ts) = 2024) SELECT (SELECT count(*) FROM (SELECT * FROM a INTERSECT SELECT * FROM b) x) AS retained, (SELECT count(*) FROM (SELECT * FROM a EXCEPT SELECT * FROM b) x) AS churned, (SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM a) x) AS new_or_returning;

SELECT acquisition_channel AS channel FROM lake.customers INTERSECT SELECT channel FROM lake.orders ORDER BY channel;

SELECT 'customers' AS kind, count(*) FROM lake.customers WHERE country = 'US' UNION ALL SELECT 'orders', count(*) FROM lake.orders WHERE country = 'US' UNION ALL SELECT 'lines', count(*) FROM lake.order_lines WHERE country = 'US' ORDER BY kind;
