-- Joins: inner, left, right, full, cross, USING, NATURAL, self joins, anti and semi joins, non-equi joins, joins to VALUES and generate_series.

SELECT o.order_id, o.customer_id, c.country, c.loyalty_tier, o.status FROM lake.orders o JOIN lake.customers c ON c.customer_id = o.customer_id ORDER BY o.order_id LIMIT 6;

SELECT l.order_id, l.line_no, p.name, p.category, l.quantity, l.unit_price, p.price = l.unit_price AS list_price FROM lake.order_lines l INNER JOIN lake.products p ON p.product_id = l.product_id ORDER BY l.order_id, l.line_no LIMIT 6;

SELECT c.loyalty_tier, count(DISTINCT o.order_id) AS orders, count(DISTINCT c.customer_id) AS buyers FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id GROUP BY c.loyalty_tier ORDER BY orders DESC, c.loyalty_tier;

SELECT c.customer_id, count(o.order_id) AS orders, coalesce(sum(o.shipping), 0) AS shipping FROM lake.customers c LEFT JOIN lake.orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id ORDER BY c.customer_id LIMIT 10;

SELECT count(*) AS customers, count(o.customer_id) AS with_orders, count(*) - count(o.customer_id) AS without_orders FROM lake.customers c LEFT JOIN (SELECT DISTINCT customer_id FROM lake.orders) o ON o.customer_id = c.customer_id;

-- a condition on the right table in ON keeps unmatched rows, in WHERE drops them
SELECT count(*) FROM lake.customers c LEFT JOIN lake.orders o ON o.customer_id = c.customer_id AND o.status = 'returned';

SELECT count(*) FROM lake.customers c LEFT JOIN lake.orders o ON o.customer_id = c.customer_id WHERE o.status = 'returned';

SELECT p.product_id, p.category, count(l.order_id) AS times_ordered FROM lake.order_lines l RIGHT JOIN lake.products p ON p.product_id = l.product_id GROUP BY p.product_id, p.category HAVING count(l.order_id) = 0 ORDER BY p.product_id LIMIT 10;

SELECT a.k, a.va, b.vb FROM (VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')) AS a(k, va) FULL JOIN (VALUES (2, 'b2'), (3, 'b3'), (4, 'b4')) AS b(k, vb) ON a.k = b.k ORDER BY coalesce(a.k, b.k);

-- FULL JOIN USING merges the key column
SELECT * FROM (VALUES (1, 'a1'), (2, 'a2'), (NULL, 'anull')) AS a(k, va) FULL JOIN (VALUES (2, 'b2'), (4, 'b4'), (NULL, 'bnull')) AS b(k, vb) USING (k) ORDER BY k NULLS LAST, va NULLS LAST, vb NULLS LAST;

SELECT * FROM (VALUES (1, 'x'), (2, 'y')) AS a(id, v) NATURAL JOIN (VALUES (1, 'x'), (2, 'z')) AS b(id, v) ORDER BY id;

SELECT * FROM (VALUES (1, 'x'), (2, 'y')) AS a(id, av) NATURAL JOIN (VALUES (1, 10), (3, 30)) AS b(id, bv) ORDER BY id;

SELECT * FROM (VALUES (1), (2)) AS a(x) CROSS JOIN (VALUES ('p'), ('q'), ('r')) AS b(y) ORDER BY x, y;

SELECT o.order_id, customer_id, c.country AS customer_country, o.country AS order_country FROM lake.orders o JOIN lake.customers c USING (customer_id) ORDER BY o.order_id LIMIT 4;

SELECT l.order_id, l.line_no, o.order_ts, l.order_ts = o.order_ts AS same_ts FROM lake.order_lines l JOIN lake.orders o USING (order_id) ORDER BY l.order_id, l.line_no LIMIT 5;

SELECT count(*) AS lines_with_mismatched_customer FROM lake.order_lines l JOIN lake.orders o USING (order_id) WHERE l.customer_id <> o.customer_id OR l.country <> o.country;

-- self join: pairs of products bought in the same order
SELECT a.product_id AS product_a, b.product_id AS product_b, count(*) AS together FROM lake.order_lines a JOIN lake.order_lines b ON a.order_id = b.order_id AND a.product_id < b.product_id GROUP BY a.product_id, b.product_id ORDER BY together DESC, product_a, product_b LIMIT 10;

SELECT c1.customer_id, c2.customer_id AS same_city_customer, c1.city FROM lake.customers c1 JOIN lake.customers c2 ON c1.city = c2.city AND c1.customer_id < c2.customer_id WHERE c1.customer_id <= 5 ORDER BY c1.customer_id, c2.customer_id LIMIT 12;

-- anti join three ways
SELECT count(*) FROM lake.products p LEFT JOIN lake.order_lines l ON l.product_id = p.product_id WHERE l.product_id IS NULL;

SELECT count(*) FROM lake.products p WHERE NOT EXISTS (SELECT 1 FROM lake.order_lines l WHERE l.product_id = p.product_id);

SELECT count(*) FROM lake.products p WHERE p.product_id NOT IN (SELECT product_id FROM lake.order_lines);

-- semi join
SELECT p.category, count(*) AS products_sold FROM lake.products p WHERE EXISTS (SELECT 1 FROM lake.order_lines l WHERE l.product_id = p.product_id) GROUP BY p.category ORDER BY p.category;

-- non-equi join into price bands
SELECT b.band, count(p.product_id) AS products FROM (VALUES ('budget', 0, 20), ('mid', 20, 60), ('premium', 60, 1000)) AS b(band, lo, hi) LEFT JOIN lake.products p ON p.price >= b.lo AND p.price < b.hi GROUP BY b.band, b.lo ORDER BY b.lo;

SELECT d.day::date AS day, count(o.order_id) AS orders FROM generate_series(timestamp '2024-12-18', timestamp '2024-12-26', interval '1 day') AS d(day) LEFT JOIN lake.orders o ON o.order_ts >= d.day AND o.order_ts < d.day + interval '1 day' GROUP BY d.day ORDER BY d.day;

SELECT c.country, count(DISTINCT c.customer_id) AS customers, count(DISTINCT o.order_id) AS orders, count(DISTINCT l.product_id) AS distinct_products FROM lake.customers c LEFT JOIN lake.orders o ON o.customer_id = c.customer_id LEFT JOIN lake.order_lines l ON l.order_id = o.order_id GROUP BY c.country ORDER BY customers DESC, c.country LIMIT 8;

SELECT p.category, c.acquisition_channel, sum(l.quantity) AS units FROM lake.order_lines l JOIN lake.products p ON p.product_id = l.product_id JOIN lake.customers c ON c.customer_id = l.customer_id WHERE c.acquisition_channel IN ('organic', 'social') GROUP BY p.category, c.acquisition_channel ORDER BY p.category, c.acquisition_channel;

SELECT e.event_id, e.event_type, p.category, c.loyalty_tier FROM lake.web_events e LEFT JOIN lake.products p ON p.product_id = e.product_id LEFT JOIN lake.customers c ON c.customer_id = e.customer_id ORDER BY e.event_id LIMIT 10;

SELECT count(*) AS events, count(e.customer_id) AS identified, count(c.customer_id) AS matched_customers, count(e.product_id) AS with_product FROM lake.web_events e LEFT JOIN lake.customers c ON c.customer_id = e.customer_id;

SELECT a.x, b.y FROM generate_series(1, 3) AS a(x) JOIN generate_series(2, 5) AS b(y) ON b.y = a.x * 2 ORDER BY a.x;

SELECT t.tier, t.rank_order, count(c.customer_id) AS customers FROM (VALUES ('none', 1), ('bronze', 2), ('silver', 3), ('gold', 4), ('platinum', 5), ('diamond', 6)) AS t(tier, rank_order) LEFT JOIN lake.customers c ON c.loyalty_tier = t.tier GROUP BY t.tier, t.rank_order ORDER BY t.rank_order;

SELECT o.order_id, o.status, r.refund_rate FROM lake.orders o JOIN (VALUES ('completed', 0.0), ('returned', 1.0), ('cancelled', 1.0)) AS r(status, refund_rate) ON r.status = o.status WHERE o.order_id <= 5 ORDER BY o.order_id;

SELECT x.n, y.n FROM (VALUES (1), (NULL)) AS x(n) JOIN (VALUES (1), (NULL)) AS y(n) ON x.n = y.n ORDER BY x.n;

SELECT x.n, y.n FROM (VALUES (1), (NULL)) AS x(n) JOIN (VALUES (1), (NULL)) AS y(n) ON x.n IS NOT DISTINCT FROM y.n ORDER BY x.n NULLS LAST;

SELECT count(*) FROM lake.orders o1 JOIN lake.orders o2 ON o1.customer_id = o2.customer_id AND o2.order_ts > o1.order_ts AND o2.order_ts <= o1.order_ts + interval '30 days';

SELECT p.brand, count(DISTINCT l.order_id) AS orders, sum(l.quantity) AS units FROM lake.products p JOIN lake.order_lines l ON l.product_id = p.product_id GROUP BY p.brand ORDER BY units DESC, p.brand NULLS LAST;
