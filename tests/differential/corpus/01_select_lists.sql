-- Select lists: PostgreSQL's column names for unaliased expressions, aliases, star expansion, DISTINCT, LIMIT/OFFSET.

-- count(*) is named "count"
SELECT count(*) FROM lake.orders;

-- an operator expression is named "?column?"
SELECT 1 + 1;

-- several unnamed columns share the name "?column?"
SELECT 1, 2.5, 'three';

SELECT 1 AS one, 'two' AS two, 3.0 AS three;

-- a cast is named after the type ("text", "int8", "numeric") unless it casts a column
SELECT 'hello'::text, CAST(42 AS bigint), 42::numeric(10,2);

SELECT true, false, NULL;

-- typed literals are named after their type
SELECT int '42', numeric '1.50', date '2024-01-31', text 'x', float8 '2.5', bigint '9000000000';

SELECT order_id, status FROM lake.orders ORDER BY order_id LIMIT 5;

SELECT o.order_id AS id, o.shipping + 1 FROM lake.orders o ORDER BY o.order_id LIMIT 3;

SELECT * FROM lake.products ORDER BY product_id LIMIT 5;

SELECT p.* FROM lake.products p WHERE p.product_id <= 3 ORDER BY p.product_id;

SELECT * FROM lake.order_lines ORDER BY order_id, line_no LIMIT 3;

-- aggregate columns are named after the function
SELECT max(price), min(price), sum(price) FROM lake.products;

SELECT count(*), count(brand), count(DISTINCT brand) FROM lake.products;

SELECT upper(category), length(name), category FROM lake.products ORDER BY product_id LIMIT 3;

-- the same column twice keeps both
SELECT customer_id, customer_id FROM lake.customers ORDER BY 1 LIMIT 3;

-- alias without AS, ORDER BY an alias
SELECT price * 2 doubled, price FROM lake.products ORDER BY doubled DESC, product_id LIMIT 3;

SELECT DISTINCT category FROM lake.products ORDER BY category;

SELECT DISTINCT country, channel FROM lake.orders ORDER BY country, channel LIMIT 10;

SELECT DISTINCT ON (category) category, product_id, price FROM lake.products ORDER BY category, price DESC, product_id;

SELECT order_id FROM lake.orders ORDER BY order_id LIMIT 5 OFFSET 10;

SELECT order_id FROM lake.orders ORDER BY order_id OFFSET 5 ROWS FETCH FIRST 3 ROWS ONLY;

-- quoted identifiers keep their case, unquoted ones are folded to lower case
SELECT "customer_id", country AS "Country Code", city AS City FROM lake.customers ORDER BY customer_id LIMIT 3;

SELECT 1 AS "select", 2 AS "from", 3 AS "Mixed Case";

-- CASE is named "case", coalesce "coalesce", EXTRACT "extract"
SELECT CASE WHEN price > 50 THEN 'high' ELSE 'low' END, coalesce(brand, 'none'), EXTRACT(year FROM date '2024-05-06') FROM lake.products ORDER BY product_id LIMIT 3;

-- a cast of a column keeps the column's name
SELECT price::int, price::text, order_ts::date FROM lake.products, lake.orders WHERE product_id = 1 AND order_id = 1;

-- unary minus and concatenation are "?column?"
SELECT -price, 'x' || category FROM lake.products ORDER BY product_id LIMIT 2;

-- a scalar subquery is named after its output column
SELECT (SELECT max(order_id) FROM lake.orders), (SELECT 1);

-- ARRAY[...] is "array", ROW(...) is "row"
SELECT ARRAY[1, 2, 3], ROW(1, 'a');

-- nullif, greatest, least, position, substring keep their names; trim is named "btrim"
SELECT nullif(1, 1), greatest(1, 2), least(3, 4), position('b' IN 'abc'), substring('hello' FROM 2 FOR 3), trim('  x  ');

-- VALUES columns are column1, column2
SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v ORDER BY 1;

VALUES (1, 'one'), (2, 'two'), (3, 'three') ORDER BY 1 DESC;

SELECT t.x, t.y FROM (VALUES (10, 'ten'), (20, 'twenty')) AS t(x, y) ORDER BY t.x;

SELECT t.* FROM (SELECT 1 AS a, 2 AS b) t;

-- WHERE false returns no rows but still has columns
SELECT 1 AS a WHERE false;

SELECT count(*) AS completed_orders FROM lake.orders WHERE status = 'completed';

SELECT sum(quantity) total_qty, count(*) lines FROM lake.order_lines;

-- ORDER BY an expression not in the select list
SELECT product_id, name FROM lake.products ORDER BY price * -1, product_id LIMIT 4;

-- ORDER BY position and by a name that is both an alias and a column
SELECT customer_id AS country, country AS customer_id FROM lake.customers ORDER BY 2, 1 LIMIT 5;
