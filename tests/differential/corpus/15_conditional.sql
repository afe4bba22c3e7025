-- Conditional expressions and boolean logic: simple and searched CASE, CASE result types, conditional aggregation, BETWEEN, IN, boolean columns.

SELECT CASE WHEN 1 > 0 THEN 'yes' ELSE 'no' END, CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END, CASE WHEN false THEN 1 END;

-- CASE result type resolution: integer and numeric give numeric
SELECT CASE WHEN true THEN 1 ELSE 2.5 END, pg_typeof(CASE WHEN true THEN 1 ELSE 2.5 END), CASE WHEN false THEN 1 ELSE NULL END, pg_typeof(CASE WHEN true THEN 'a' END);

SELECT x, CASE WHEN x < 0 THEN 'negative' WHEN x = 0 THEN 'zero' WHEN x < 10 THEN 'small' ELSE 'large' END AS size FROM (VALUES (-5), (0), (3), (10), (NULL)) AS t(x) ORDER BY x NULLS FIRST;

SELECT x, CASE x WHEN 1 THEN 'one' WHEN NULL THEN 'null?' ELSE 'other' END FROM (VALUES (1), (2), (NULL)) AS t(x) ORDER BY x NULLS LAST;

SELECT x, CASE WHEN x = 0 THEN NULL ELSE 100 / x END AS safe_div FROM (VALUES (0), (3), (-7)) AS t(x) ORDER BY x;

SELECT 5 BETWEEN 1 AND 10, 5 BETWEEN 10 AND 1, 5 BETWEEN SYMMETRIC 10 AND 1, 5 NOT BETWEEN 5 AND 6, 'b' BETWEEN 'a' AND 'c', date '2024-03-01' BETWEEN '2024-01-01' AND '2024-03-01';

SELECT 3 IN (1, 2, 3), 'x' IN ('a', 'b'), 3 NOT IN (1, 2), (1, 2) IN ((1, 2), (3, 4)), (1, 2) = (1, 2), (1, 2) < (1, 3);

SELECT true AND false, true OR false, NOT true, true AND NOT false OR false, (true OR false) AND false, true OR false AND false;

SELECT 1 < 2 AS lt, 2 <= 2 AS le, 3 <> 4 AS ne, 3 != 3 AS ne2, 'abc' = 'abc' AS eq, 1 = 1.0 AS int_numeric, 0.1::float8 + 0.2::float8 = 0.3::float8 AS float_eq;

SELECT product_id, price, CASE WHEN price < 20 THEN 'budget' WHEN price < 60 THEN 'mid' ELSE 'premium' END AS tier FROM lake.products ORDER BY product_id LIMIT 8;

SELECT CASE WHEN price < 20 THEN 'budget' WHEN price < 60 THEN 'mid' ELSE 'premium' END AS tier, count(*), min(price), max(price) FROM lake.products GROUP BY 1 ORDER BY min(price);

SELECT status, CASE status WHEN 'completed' THEN 1 WHEN 'returned' THEN -1 ELSE 0 END AS sign, count(*) FROM lake.orders GROUP BY status ORDER BY status;

SELECT country, sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed, sum(CASE WHEN status <> 'completed' THEN 1 ELSE 0 END) AS not_completed, round(avg(CASE WHEN coupon_code IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS coupon_rate FROM lake.orders GROUP BY country ORDER BY country;

SELECT EXTRACT(year FROM order_ts) AS year, count(CASE WHEN channel = 'organic' THEN 1 END) AS organic, count(CASE WHEN channel = 'paid_search' THEN 1 END) AS paid_search, count(CASE WHEN channel NOT IN ('organic', 'paid_search') THEN 1 END) AS other FROM lake.orders GROUP BY 1 ORDER BY 1;

SELECT customer_id, marketing_opt_in, NOT marketing_opt_in AS opted_out, marketing_opt_in AND email IS NOT NULL AS reachable, CASE WHEN marketing_opt_in THEN 'email ok' ELSE 'do not email' END AS policy FROM lake.customers ORDER BY customer_id LIMIT 6;

SELECT marketing_opt_in, count(*) FROM lake.customers GROUP BY marketing_opt_in ORDER BY marketing_opt_in;

SELECT count(*) FILTER (WHERE marketing_opt_in) AS opted_in, count(*) FILTER (WHERE NOT marketing_opt_in) AS opted_out, count(*) FILTER (WHERE marketing_opt_in IS TRUE AND loyalty_tier <> 'none') AS loyal_opted_in FROM lake.customers;

SELECT customer_id, loyalty_tier, CASE loyalty_tier WHEN 'platinum' THEN 0.15 WHEN 'gold' THEN 0.10 WHEN 'silver' THEN 0.05 ELSE 0 END AS member_discount FROM lake.customers ORDER BY customer_id LIMIT 8;

SELECT loyalty_tier FROM lake.customers GROUP BY loyalty_tier ORDER BY CASE loyalty_tier WHEN 'platinum' THEN 1 WHEN 'gold' THEN 2 WHEN 'silver' THEN 3 WHEN 'bronze' THEN 4 ELSE 5 END;

SELECT order_id, quantity, unit_price, discount, CASE WHEN discount = 0 THEN 'full price' WHEN discount / unit_price >= 0.25 THEN 'deep discount' ELSE 'discount' END AS pricing FROM lake.order_lines ORDER BY order_id, line_no LIMIT 10;

SELECT CASE WHEN quantity >= 3 THEN '3+' ELSE quantity::text END AS qty_bucket, count(*), sum(quantity) FROM lake.order_lines GROUP BY 1 ORDER BY 1;

SELECT product_id, price > 50 AS expensive, price > 50 AND category = 'electronics' AS expensive_electronics, category IN ('books', 'toys') AS kids_or_books, brand IS NULL AS unbranded FROM lake.products ORDER BY product_id LIMIT 6;

SELECT count(*) FROM lake.order_lines WHERE (quantity > 2 OR discount > 0) AND NOT (country = 'US');

SELECT count(*) FROM lake.orders WHERE order_ts BETWEEN '2024-11-01' AND '2024-11-30 23:59:59' AND status IN ('completed', 'returned') AND coupon_code IS NULL;

SELECT CASE WHEN count(*) > 100 THEN 'many' ELSE 'few' END AS volume, CASE WHEN min(price) > 0 THEN max(price) / min(price) END AS ratio FROM lake.products;

SELECT x, y, CASE WHEN x > y THEN x ELSE y END AS max_xy, greatest(x, y), CASE WHEN x IS NULL OR y IS NULL THEN NULL ELSE x + y END AS sum_xy FROM (VALUES (1, 2), (5, 3), (NULL, 4)) AS t(x, y) ORDER BY x NULLS LAST;

SELECT CASE WHEN true THEN 'a' WHEN 1 / 0 = 1 THEN 'b' END, coalesce(1, 1 / 0), CASE WHEN false THEN 1 / 0 ELSE 0 END;

SELECT event_type, sum(CASE WHEN customer_id IS NULL THEN 1 ELSE 0 END) AS anonymous, sum(CASE WHEN customer_id IS NOT NULL THEN 1 ELSE 0 END) AS known FROM lake.web_events GROUP BY event_type ORDER BY event_type;

SELECT CASE WHEN birth_year IS NULL THEN 'unknown' WHEN birth_year < 1965 THEN 'boomer' WHEN birth_year < 1981 THEN 'gen x' WHEN birth_year < 1997 THEN 'millennial' ELSE 'gen z' END AS generation, count(*) FROM lake.customers GROUP BY 1 ORDER BY count(*) DESC, 1;

SELECT num, CASE WHEN num % 15 = 0 THEN 'FizzBuzz' WHEN num % 3 = 0 THEN 'Fizz' WHEN num % 5 = 0 THEN 'Buzz' ELSE num::text END AS fb FROM generate_series(1, 15) AS num ORDER BY num;

SELECT CASE WHEN x THEN 'T' WHEN NOT x THEN 'F' ELSE 'N' END, x::text, coalesce(x, false) FROM (VALUES (true), (false), (NULL)) AS t(x) ORDER BY x NULLS LAST;

SELECT bool_or(price > 200) AS has_luxury, bool_and(price > 1) AS all_above_1, count(*) FILTER (WHERE price::int % 2 = 0) AS even_prices FROM lake.products;
