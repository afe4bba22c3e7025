-- JSON and JSONB: building (json_build_object, json_agg, row_to_json, to_json), extracting (-> ->> #> #>>), typing, containment and text output.

SELECT json_build_object('a', 1, 'b', 'two', 'c', true, 'd', NULL, 'e', 1.50);

SELECT jsonb_build_object('b', 1, 'a', 2, 'aa', 3), json_build_object('b', 1, 'a', 2, 'aa', 3);

SELECT json_build_array(1, 'a', NULL, true, 2.5), jsonb_build_array(1, 'a', NULL, true, 2.5), json_build_array(), json_build_object();

SELECT to_json('text'::text), to_json(42), to_json(1.50), to_json(true), to_json(NULL::text), to_json(ARRAY[1, 2, 3]), to_json('say "hi"'::text);

SELECT to_json(timestamp '2024-03-05 14:07:09.5'), to_json(date '2024-03-05'), to_json(timestamptz '2024-03-05 14:07:09+00'), to_jsonb(timestamp '2024-03-05 14:07:09');

SELECT '{"a": 1, "b": {"c": [10, 20, 30]}}'::json -> 'a', '{"a": 1, "b": {"c": [10, 20, 30]}}'::json -> 'b', '{"a": 1, "b": {"c": [10, 20, 30]}}'::json -> 'b' -> 'c' -> 1, '{"a": 1}'::json -> 'missing';

SELECT '{"a": "x", "n": 5}'::json ->> 'a', '{"a": "x", "n": 5}'::json ->> 'n', '{"a": "x", "n": 5}'::json -> 'a', '[1, "two", null]'::json ->> 2, '[1, "two", null]'::json -> 2, '[1, 2, 3]'::json ->> -1;

SELECT '{"a": {"b": {"c": "deep"}}}'::json #> '{a,b}', '{"a": {"b": {"c": "deep"}}}'::json #>> '{a,b,c}', '{"a": [1, {"x": 9}]}'::jsonb #>> '{a,1,x}', '{"a": 1}'::jsonb #> '{b,c}';

SELECT json_typeof('1'), json_typeof('"s"'), json_typeof('true'), json_typeof('null'), json_typeof('[]'), json_typeof('{}'), jsonb_typeof('1.5'), jsonb_typeof('{"a": 1}'::jsonb -> 'a');

-- json keeps the input text, jsonb normalises it
SELECT '{"b": 1,   "a": [1,2]}'::json, '{"b": 1,   "a": [1,2]}'::jsonb, '{"a": 1, "a": 2}'::json, '{"a": 1, "a": 2}'::jsonb, '1.50'::jsonb, '1e3'::jsonb;

SELECT '{"a": 1, "b": 2}'::jsonb @> '{"a": 1}', '{"a": 1}'::jsonb <@ '{"a": 1, "b": 2}', '{"a": 1, "b": 2}'::jsonb ? 'b', '{"a": 1}'::jsonb ?| ARRAY['x', 'a'], '{"a": 1}'::jsonb ?& ARRAY['x', 'a'], '[1, 2, 3]'::jsonb @> '[3, 1]';

SELECT '{"a": 1}'::jsonb || '{"b": 2}', '{"a": 1, "b": 2}'::jsonb - 'a', '[1, 2, 3]'::jsonb - 0, jsonb_set('{"a": {"b": 1}}', '{a,b}', '42'), jsonb_set('{"a": 1}', '{c}', '"new"'), '[1, 2]'::jsonb || '[3]';

SELECT json_array_length('[1, 2, 3]'), jsonb_array_length('[]'), jsonb_strip_nulls('{"a": 1, "b": null}'), jsonb_extract_path_text('{"a": {"b": "x"}}', 'a', 'b'), json_extract_path('{"a": {"b": "x"}}', 'a');

SELECT key, value FROM jsonb_each('{"b": 2, "a": "one", "c": [1]}') ORDER BY key;

SELECT key, value FROM json_each_text('{"b": 2, "a": "one", "c": null}') ORDER BY key;

SELECT k FROM jsonb_object_keys('{"b": 1, "a": 2, "c": 3}') AS k ORDER BY k;

SELECT value, pg_typeof(value) FROM jsonb_array_elements('[3, "x", {"k": 1}, null]') WITH ORDINALITY AS t(value, n) ORDER BY n;

SELECT x FROM jsonb_array_elements_text('["b", "a", "c"]') AS x ORDER BY x;

SELECT row_to_json(t) FROM (SELECT 1 AS id, 'a' AS name, NULL::int AS missing, 2.50 AS price) t;

SELECT row_to_json(p) FROM (SELECT product_id, name, category, brand, price FROM lake.products ORDER BY product_id LIMIT 3) p ORDER BY p.product_id;

SELECT json_build_object('id', customer_id, 'country', country, 'tier', loyalty_tier, 'opt_in', marketing_opt_in, 'signup', signup_date) AS doc FROM lake.customers ORDER BY customer_id LIMIT 4;

SELECT to_jsonb(o) - 'coupon_code' AS doc FROM (SELECT order_id, customer_id, order_ts, status, coupon_code, shipping FROM lake.orders ORDER BY order_id LIMIT 2) o ORDER BY o.order_id;

SELECT category, json_agg(product_id ORDER BY product_id) AS ids FROM lake.products WHERE price > 80 GROUP BY category ORDER BY category;

SELECT customer_id, json_agg(json_build_object('order', order_id, 'status', status) ORDER BY order_id) AS orders FROM lake.orders WHERE customer_id IN (SELECT customer_id FROM lake.orders GROUP BY customer_id HAVING count(*) BETWEEN 2 AND 6 ORDER BY customer_id LIMIT 2) GROUP BY customer_id ORDER BY customer_id;

SELECT (SELECT jsonb_agg(DISTINCT channel ORDER BY channel) FROM lake.orders) AS channels, json_object_agg(status, n ORDER BY status) AS by_status FROM (SELECT status, count(*) AS n FROM lake.orders GROUP BY status) s;

SELECT json_object_agg(country, customers ORDER BY country) FROM (SELECT country, count(*) AS customers FROM lake.customers GROUP BY country) c;

SELECT jsonb_object_agg(event_type, n ORDER BY event_type) FROM (SELECT event_type, count(*) AS n FROM lake.web_events GROUP BY event_type) e;

WITH docs AS (SELECT order_id, json_build_object('id', order_id, 'shipping', shipping, 'country', country, 'coupon', coupon_code) AS doc FROM lake.orders) SELECT doc ->> 'country' AS country, count(*), sum((doc ->> 'shipping')::numeric) AS shipping, count(doc ->> 'coupon') AS with_coupon FROM docs GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;

WITH events(payload) AS (VALUES ('{"type": "click", "meta": {"page": "/home", "ms": 120}}'::jsonb), ('{"type": "view", "meta": {"page": "/cart", "ms": 80}}'), ('{"type": "click", "meta": {"page": "/cart"}}')) SELECT payload ->> 'type' AS type, payload #>> '{meta,page}' AS page, (payload #>> '{meta,ms}')::int AS ms FROM events ORDER BY type, page;

SELECT ('{"price": "19.99"}'::json ->> 'price')::numeric * 2, ('{"n": 7}'::jsonb -> 'n')::int + 1, ('{"ok": true}'::jsonb -> 'ok')::boolean, ('[1.5]'::json -> 0)::text;

SELECT json_build_object('total', sum(quantity * unit_price), 'lines', count(*), 'avg_qty', round(avg(quantity), 2)) FROM lake.order_lines;

SELECT jsonb_pretty('{"a": 1}') = E'{\n    "a": 1\n}' AS pretty_format, '{"a":1}'::jsonb = '{ "a" : 1 }'::jsonb AS jsonb_equal, '[1,2]'::jsonb = '[2,1]'::jsonb AS order_matters;

SELECT to_json(1e20::float8), to_json('NaN'::float8), to_json(0.1::float8 + 0.2::float8), to_jsonb(123456789012345678901234567890), to_json(interval '1 day 2 hours');

SELECT json_build_object('month', to_char(date_trunc('month', order_ts), 'YYYY-MM'), 'orders', count(*), 'shipping', sum(shipping)) AS doc FROM lake.orders WHERE order_ts >= '2024-10-01' GROUP BY date_trunc('month', order_ts) ORDER BY date_trunc('month', order_ts);

SELECT jsonb_build_object('tier', loyalty_tier, 'n', count(*), 'opt_in', bool_or(marketing_opt_in)) AS doc FROM lake.customers GROUP BY loyalty_tier ORDER BY loyalty_tier;
