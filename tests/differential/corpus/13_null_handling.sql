-- NULL semantics: coalesce, nullif, IS [NOT] DISTINCT FROM, three-valued logic, NULL in arithmetic/concatenation/aggregates, NULLS FIRST/LAST ordering.

SELECT coalesce(NULL, 1), coalesce(NULL, NULL, 'x'), coalesce(1, 2), coalesce(NULL::int, 0) + 1, coalesce(NULL, 2.5, 1);

SELECT nullif(1, 1), nullif(1, 2), nullif('', ''), nullif('a', ''), nullif(NULL, 1), nullif(0, 0.0);

SELECT NULL = NULL, NULL <> NULL, NULL IS NULL, NULL IS NOT NULL, 1 = NULL, NULL > 0;

SELECT NULL IS DISTINCT FROM NULL, 1 IS DISTINCT FROM NULL, 1 IS DISTINCT FROM 1, NULL IS NOT DISTINCT FROM NULL, 2 IS NOT DISTINCT FROM 3;

SELECT NULL AND false, NULL AND true, NULL OR true, NULL OR false, NOT NULL::boolean, true AND NULL IS NULL;

SELECT (NULL::boolean) IS TRUE, (NULL::boolean) IS NOT TRUE, (NULL::boolean) IS UNKNOWN, false IS FALSE, true IS NOT FALSE, (NULL::boolean) IS NOT UNKNOWN;

SELECT 1 + NULL, NULL * 0, NULL / 0, 'a' || NULL, concat('a', NULL), length(NULL), upper(NULL), abs(NULL::int);

SELECT greatest(1, NULL, 3), least(NULL, 2, 1), greatest(NULL::int, NULL), coalesce(greatest(NULL::int, NULL), -1);

SELECT 1 IN (1, NULL), 2 IN (1, NULL), 2 NOT IN (1, NULL), NULL IN (1, 2), 1 = ANY (ARRAY[NULL, 1]), 2 <> ALL (ARRAY[1, NULL]);

SELECT count(*), count(x), sum(x), avg(x), min(x), max(x), count(DISTINCT x) FROM (VALUES (1), (NULL), (3), (NULL)) AS t(x);

SELECT count(*), count(x), sum(x), avg(x), bool_and(x > 0), string_agg(x::text, ',' ORDER BY x) FROM (VALUES (NULL::int), (NULL)) AS t(x);

SELECT coalesce(sum(x), 0), coalesce(max(x), -1), count(x) FROM (VALUES (NULL::int)) AS t(x);

SELECT x FROM (VALUES (2), (NULL), (1), (NULL), (3)) AS t(x) ORDER BY x;

-- DESC puts NULLs first by default
SELECT x FROM (VALUES (2), (NULL), (1), (3)) AS t(x) ORDER BY x DESC;

SELECT x FROM (VALUES (2), (NULL), (1), (3)) AS t(x) ORDER BY x NULLS FIRST;

SELECT x FROM (VALUES (2), (NULL), (1), (3)) AS t(x) ORDER BY x DESC NULLS LAST;

SELECT x, y FROM (VALUES (1, NULL), (1, 'b'), (NULL, 'a'), (NULL, NULL), (2, 'a')) AS t(x, y) ORDER BY x DESC NULLS LAST, y NULLS FIRST;

-- GROUP BY and DISTINCT treat NULLs as one group
SELECT x, count(*) FROM (VALUES (1), (NULL), (1), (NULL), (NULL)) AS t(x) GROUP BY x ORDER BY x NULLS FIRST;

SELECT DISTINCT x FROM (VALUES (1), (NULL), (1), (NULL)) AS t(x) ORDER BY x;

SELECT count(*) AS customers, count(email) AS with_email, count(birth_year) AS with_birth_year, count(gender) AS with_gender, count(*) - count(gender) AS gender_missing FROM lake.customers;

SELECT count(*) AS orders, count(coupon_code) AS with_coupon, count(*) FILTER (WHERE coupon_code IS NULL) AS without_coupon, count(DISTINCT coupon_code) AS coupon_kinds FROM lake.orders;

SELECT customer_id, email, coalesce(email, 'unknown') AS email_or_unknown, birth_year, coalesce(birth_year::text, 'n/a') AS birth, gender, coalesce(gender, '?') AS g FROM lake.customers WHERE email IS NULL OR birth_year IS NULL OR gender IS NULL ORDER BY customer_id LIMIT 10;

SELECT gender, count(*) FROM lake.customers GROUP BY gender ORDER BY gender DESC;

SELECT gender, count(*) FROM lake.customers GROUP BY gender ORDER BY gender NULLS FIRST;

SELECT brand, count(*) FROM lake.products GROUP BY brand ORDER BY brand DESC NULLS LAST;

SELECT coupon_code, count(*), round(avg(shipping), 2) FROM lake.orders GROUP BY coupon_code ORDER BY coupon_code NULLS FIRST;

SELECT count(*) FROM lake.customers WHERE gender = NULL;

SELECT count(*) FROM lake.customers WHERE gender IS NULL;

SELECT count(*) FROM lake.customers WHERE gender <> 'F';

SELECT count(*) FROM lake.customers WHERE gender IS DISTINCT FROM 'F';

SELECT count(*) FROM lake.web_events WHERE customer_id NOT IN (SELECT customer_id FROM lake.orders);

-- NOT IN with a NULL in the list matches nothing
SELECT count(*) FROM lake.customers WHERE customer_id NOT IN (SELECT customer_id FROM lake.web_events);

SELECT event_type, count(*) AS events, count(customer_id) AS identified, count(product_id) AS with_product, round(100.0 * count(customer_id) / count(*), 1) AS identified_pct FROM lake.web_events GROUP BY event_type ORDER BY event_type;

SELECT product_id, brand, brand || ' / ' || category AS label, concat(brand, ' / ', category) AS label2, concat_ws(' / ', brand, category) AS label3 FROM lake.products WHERE brand IS NULL ORDER BY product_id LIMIT 5;

SELECT customer_id, birth_year, 2024 - birth_year AS age, CASE WHEN birth_year IS NULL THEN 'unknown' WHEN 2024 - birth_year < 30 THEN 'under 30' ELSE '30+' END AS age_group FROM lake.customers ORDER BY customer_id LIMIT 10;

SELECT ROW(NULL, NULL) IS NULL, ROW(1, NULL) IS NULL, ROW(1, NULL) IS NOT NULL, ROW(1, 2) IS NOT NULL, ROW(NULL, 1) = ROW(NULL, 1);

SELECT NULL::text AS t, NULL::int AS i, NULL::date AS d, NULL::numeric AS n, NULL::boolean AS b, pg_typeof(NULL);

SELECT array_agg(x ORDER BY x NULLS FIRST), array_length(ARRAY[NULL, NULL]::int[], 1), array_position(ARRAY[1, NULL, 3], NULL), cardinality(ARRAY[NULL]::int[]) FROM (VALUES (2), (NULL), (1)) AS t(x);

SELECT c.customer_id, c.gender, c.birth_year, o.order_id, o.status FROM lake.customers c LEFT JOIN lake.orders o ON o.customer_id = c.customer_id WHERE o.order_id IS NULL ORDER BY c.customer_id LIMIT 5;

SELECT count(DISTINCT customer_id) AS identified_visitors, count(*) FILTER (WHERE customer_id IS NULL) AS anonymous_events, count(DISTINCT product_id) AS products_seen, min(product_id), max(customer_id) FROM lake.web_events;
