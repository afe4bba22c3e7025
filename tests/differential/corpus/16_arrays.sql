-- Arrays: constructors and literals, length/cardinality/dims, subscripts and slices, unnest, search, concatenation, string conversion, containment and aggregation into arrays.

SELECT ARRAY[1, 2, 3], ARRAY['a', 'b'], ARRAY[1.5, 2], ARRAY[]::int[], '{1,2,3}'::int[], '{a,"b c",NULL}'::text[];

-- text arrays quote elements that need it
SELECT ARRAY['a b', 'c,d', NULL, '', 'e"f', 'NULL', 'x\y'], ARRAY['München', '東京'], ARRAY[true, false], ARRAY[date '2024-01-01'];

SELECT array_length(ARRAY[1, 2, 3], 1), array_length(ARRAY[]::int[], 1), cardinality(ARRAY[1, 2, 3]), cardinality(ARRAY[]::int[]), cardinality(ARRAY[[1, 2], [3, 4]]), array_ndims(ARRAY[[1, 2], [3, 4]]);

SELECT array_lower(ARRAY[1, 2, 3], 1), array_upper(ARRAY[1, 2, 3], 1), array_dims(ARRAY[1, 2, 3]), array_dims(ARRAY[[1, 2, 3], [4, 5, 6]]), array_upper(ARRAY[[1, 2, 3], [4, 5, 6]], 2);

SELECT (ARRAY[10, 20, 30])[1], (ARRAY[10, 20, 30])[3], (ARRAY[10, 20, 30])[4], (ARRAY[10, 20, 30])[0], (ARRAY[[1, 2], [3, 4]])[2][1];

SELECT (ARRAY[10, 20, 30, 40])[2:3], (ARRAY[10, 20, 30, 40])[:2], (ARRAY[10, 20, 30, 40])[3:], (ARRAY[10, 20, 30, 40])[5:6], (ARRAY[10, 20, 30, 40])[0:1];

SELECT ARRAY[1, 2] || ARRAY[3], ARRAY[1, 2] || 3, 0 || ARRAY[1, 2], array_append(ARRAY[1], 2), array_prepend(0, ARRAY[1]), array_cat(ARRAY[1], ARRAY[2, 3]), ARRAY[[1, 2]] || ARRAY[3, 4];

SELECT array_remove(ARRAY[1, 2, 1, 3], 1), array_replace(ARRAY[1, 2, 1], 1, 9), array_position(ARRAY['a', 'b', 'c', 'b'], 'b'), array_position(ARRAY['a', 'b', 'c', 'b'], 'b', 3), array_positions(ARRAY[1, 2, 1, 1], 1), array_position(ARRAY[1], 5);

SELECT 2 = ANY (ARRAY[1, 2, 3]), 5 = ANY (ARRAY[1, 2, 3]), 5 <> ALL (ARRAY[1, 2, 3]), 2 > ANY ('{1,5}'::int[]), 'b' = ANY ('{a,b}'::text[]), NULL::int = ANY (ARRAY[1]);

SELECT ARRAY[1, 2, 3] @> ARRAY[2, 3], ARRAY[1, 2] <@ ARRAY[1, 2, 3], ARRAY[1, 2] && ARRAY[2, 5], ARRAY[1, 2] && ARRAY[7], ARRAY[1, 2, 2] @> ARRAY[2, 2, 2];

SELECT ARRAY[1, 2, 3] = ARRAY[1, 2, 3], ARRAY[1, 2] < ARRAY[1, 3], ARRAY[1, 2] < ARRAY[1, 2, 0], ARRAY[2] > ARRAY[1, 9], ARRAY[1, NULL] = ARRAY[1, NULL];

SELECT array_to_string(ARRAY[1, 2, 3], ','), array_to_string(ARRAY['a', NULL, 'c'], '-'), array_to_string(ARRAY['a', NULL, 'c'], '-', '*'), array_to_string(ARRAY[]::text[], ',') || '|';

SELECT string_to_array('a,b,c', ','), string_to_array('a,,c', ','), string_to_array('a b c', ' ', 'b'), string_to_array('abc', NULL), string_to_array('', ','), string_to_array('1,2,3', ',')::int[];

SELECT x FROM unnest(ARRAY[3, 1, 2]) AS x ORDER BY x;

SELECT x, n FROM unnest(ARRAY['c', 'a', 'b']) WITH ORDINALITY AS t(x, n) ORDER BY n;

SELECT a, b FROM unnest(ARRAY[1, 2, 3], ARRAY['x', 'y']) AS t(a, b) ORDER BY a;

SELECT unnest(ARRAY[10, 20, 30]) AS v ORDER BY v DESC;

SELECT x FROM unnest(ARRAY[[1, 2], [3, 4]]) AS x ORDER BY x;

SELECT i, (ARRAY['a', 'b', 'c'])[i] FROM generate_subscripts(ARRAY['a', 'b', 'c'], 1) AS i ORDER BY i;

SELECT array_agg(x ORDER BY x), array_agg(DISTINCT x ORDER BY x), array_agg(x ORDER BY x DESC) FILTER (WHERE x > 1) FROM (VALUES (3), (1), (2), (3)) AS t(x);

SELECT customer_id, array_agg(DISTINCT p.category ORDER BY p.category) AS categories, count(DISTINCT p.category) AS n_categories FROM lake.order_lines l JOIN lake.products p USING (product_id) WHERE customer_id <= 15 GROUP BY customer_id ORDER BY customer_id;

SELECT category, (array_agg(product_id ORDER BY price DESC, product_id))[1] AS priciest, (array_agg(product_id ORDER BY price DESC, product_id))[1:3] AS top3 FROM lake.products GROUP BY category ORDER BY category;

SELECT order_id, array_agg(product_id ORDER BY line_no) AS products, array_length(array_agg(product_id ORDER BY line_no), 1) AS n FROM lake.order_lines GROUP BY order_id HAVING count(*) >= 3 ORDER BY order_id LIMIT 8;

SELECT session_id, array_agg(event_type ORDER BY event_ts, event_id) AS path FROM lake.web_events WHERE session_id <= 6 GROUP BY session_id ORDER BY session_id;

SELECT session_id, array_to_string(array_agg(left(event_type, 2) ORDER BY event_ts, event_id), '>') AS path FROM lake.web_events GROUP BY session_id HAVING count(*) >= 4 ORDER BY session_id LIMIT 8;

SELECT count(*) FROM lake.orders WHERE channel = ANY (ARRAY['email', 'social']);

SELECT count(*) FROM lake.products WHERE product_id = ANY ('{1,2,3,4,5}'::int[]) AND NOT category = ANY (ARRAY['shoes']);

SELECT t.tag, count(*) FROM lake.products p CROSS JOIN LATERAL unnest(ARRAY[p.category, lower(coalesce(p.brand, 'unbranded'))]) AS t(tag) WHERE p.product_id <= 30 GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT 8;

SELECT word, count(*) FROM lake.products, unnest(string_to_array(name, ' ')) AS word WHERE product_id <= 10 GROUP BY word ORDER BY count(*) DESC, word LIMIT 5;

SELECT ARRAY(SELECT product_id FROM lake.products WHERE price > 150 ORDER BY product_id) AS premium_ids, ARRAY(SELECT x * x FROM generate_series(1, 4) AS x ORDER BY x) AS squares;

SELECT array_fill(0, ARRAY[3]), array_fill('x'::text, ARRAY[2, 2]), trim_array(ARRAY[1, 2, 3, 4], 2), array_to_string(ARRAY(SELECT chr(64 + i) FROM generate_series(1, 5) AS i ORDER BY i), '');

SELECT ARRAY[1, 2, 3]::text[], ARRAY['1', '2']::int[], ARRAY[1.5, 2.5]::int[], pg_typeof(ARRAY[1, 2]), pg_typeof(ARRAY[1, 2.5]), ARRAY[1, 2]::text;

SELECT ARRAY[[1, 2], [3, 4]], ARRAY[ARRAY[1, 2], ARRAY[3, 4]], '{{1,2},{3,4}}'::int[], (ARRAY[[1, 2], [3, 4]])[1:1], (ARRAY[[1, 2], [3, 4]])[2:2][2:2];

SELECT customer_id, array_agg(DISTINCT channel ORDER BY channel) AS channels FROM lake.orders GROUP BY customer_id HAVING count(DISTINCT channel) >= 3 ORDER BY customer_id LIMIT 5;

SELECT s.session_id, s.products[1] AS first_product, cardinality(s.products) AS n FROM (SELECT session_id, array_agg(product_id ORDER BY event_ts, event_id) FILTER (WHERE product_id IS NOT NULL) AS products FROM lake.web_events GROUP BY session_id) s WHERE cardinality(s.products) >= 2 ORDER BY s.session_id LIMIT 6;
