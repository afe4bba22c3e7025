-- Aggregates: count/sum/avg/min/max and their result types, statistics, boolean and ordered-set aggregates, string_agg/array_agg, FILTER, HAVING, ROLLUP/CUBE/GROUPING SETS.

SELECT count(*), count(coupon_code), count(DISTINCT coupon_code), count(DISTINCT customer_id), count(DISTINCT (customer_id, channel)) FROM lake.orders;

-- sum of integer is bigint, sum of bigint is numeric, avg of integers is numeric
SELECT sum(quantity), pg_typeof(sum(quantity)), sum(order_id), pg_typeof(sum(order_id)), avg(quantity), pg_typeof(avg(quantity)), avg(line_no) FROM lake.order_lines;

SELECT sum(unit_price), avg(unit_price), min(unit_price), max(unit_price), sum(discount), avg(discount) FROM lake.order_lines;

SELECT round(avg(unit_price), 2), round(avg(quantity), 4), avg(quantity::float8), avg(unit_price)::numeric(10,3), avg(shipping) FROM lake.order_lines, (SELECT avg(shipping) AS shipping FROM lake.orders) s;

SELECT stddev(quantity), stddev_pop(quantity), stddev_samp(quantity), variance(quantity), var_pop(quantity), var_samp(quantity) FROM lake.order_lines;

SELECT round(stddev(unit_price), 4), round(stddev_pop(unit_price), 4), round(variance(unit_price), 4), round(var_pop(unit_price), 4) FROM lake.order_lines;

SELECT stddev(x), variance(x), stddev_pop(x), var_samp(x), avg(x), sum(x) FROM (VALUES (2.0::float8), (4.0), (4.0), (4.0), (5.0), (5.0), (7.0), (9.0)) AS t(x);

SELECT stddev(x), variance(x), stddev_pop(x), avg(x) FROM (VALUES (1), (2), (3), (4)) AS t(x);

SELECT stddev(x), variance(x), stddev_pop(x), var_pop(x) FROM (VALUES (42)) AS t(x);

SELECT bool_and(marketing_opt_in), bool_or(marketing_opt_in), every(marketing_opt_in), bool_and(birth_year > 1940), bool_or(gender = 'X') FROM lake.customers;

SELECT loyalty_tier, count(*), bool_or(marketing_opt_in) AS any_opt_in, bool_and(email IS NOT NULL) AS all_have_email FROM lake.customers GROUP BY loyalty_tier ORDER BY loyalty_tier;

SELECT category, string_agg(product_id::text, ',' ORDER BY product_id) AS ids FROM lake.products WHERE price > 60 GROUP BY category ORDER BY category;

SELECT string_agg(DISTINCT country, '|' ORDER BY country), string_agg(DISTINCT channel, ', ' ORDER BY channel DESC) FROM lake.orders;

SELECT customer_id, array_agg(order_id ORDER BY order_ts, order_id) AS orders, array_agg(DISTINCT channel ORDER BY channel) AS channels FROM lake.orders WHERE customer_id <= 12 GROUP BY customer_id ORDER BY customer_id;

SELECT array_agg(x ORDER BY x DESC), string_agg(y, '-' ORDER BY x), array_agg(y ORDER BY y NULLS FIRST) FROM (VALUES (1, 'a'), (3, NULL), (2, 'c')) AS t(x, y);

SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY price), percentile_disc(0.5) WITHIN GROUP (ORDER BY price), percentile_cont(0.9) WITHIN GROUP (ORDER BY price), percentile_disc(0.9) WITHIN GROUP (ORDER BY price) FROM lake.products;

SELECT category, percentile_cont(0.25) WITHIN GROUP (ORDER BY price) AS p25, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS median, percentile_cont(0.75) WITHIN GROUP (ORDER BY price) AS p75 FROM lake.products GROUP BY category ORDER BY category;

SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_disc(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.4) WITHIN GROUP (ORDER BY x DESC), percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2), (3), (4), (10)) AS t(x);

SELECT mode() WITHIN GROUP (ORDER BY quantity), mode() WITHIN GROUP (ORDER BY country), mode() WITHIN GROUP (ORDER BY product_id) FROM lake.order_lines;

SELECT country, count(*) AS orders, count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'returned') AS returned, count(*) FILTER (WHERE coupon_code IS NOT NULL) AS with_coupon FROM lake.orders GROUP BY country ORDER BY orders DESC, country;

SELECT sum(quantity * unit_price) FILTER (WHERE discount > 0) AS discounted_gross, sum(quantity * unit_price) FILTER (WHERE discount = 0) AS full_price_gross, avg(quantity) FILTER (WHERE quantity > 1) AS avg_multi FROM lake.order_lines;

SELECT EXTRACT(year FROM order_ts) AS year, count(*), sum(shipping), round(avg(shipping), 3) FROM lake.orders GROUP BY EXTRACT(year FROM order_ts) ORDER BY year;

SELECT channel, count(*) AS orders FROM lake.orders GROUP BY channel HAVING count(*) >= 20 ORDER BY orders DESC, channel;

SELECT customer_id, count(*) AS orders, sum(shipping) AS shipping_paid FROM lake.orders GROUP BY customer_id HAVING count(*) >= 5 AND sum(shipping) > 0 ORDER BY orders DESC, customer_id LIMIT 10;

SELECT status, count(*) FROM lake.orders GROUP BY status HAVING max(order_ts) > '2024-06-01' ORDER BY status;

SELECT count(*), sum(quantity), avg(quantity), min(quantity), max(quantity), string_agg(country, ',' ORDER BY country), array_agg(order_id ORDER BY order_id), bool_and(quantity > 0) FROM lake.order_lines WHERE false;

-- GROUP BY without aggregates on an empty input returns no rows
SELECT country FROM lake.orders WHERE false GROUP BY country;

SELECT category, brand, count(*), sum(price) FROM lake.products WHERE category IN ('books', 'toys') GROUP BY ROLLUP (category, brand) ORDER BY category NULLS LAST, brand NULLS LAST, grouping(brand);

SELECT status, channel, count(*), grouping(status, channel) AS g FROM lake.orders WHERE channel IN ('email', 'organic') GROUP BY CUBE (status, channel) ORDER BY g, status, channel;

SELECT country, EXTRACT(year FROM order_ts) AS year, count(*) FROM lake.orders WHERE country IN ('US', 'GB') GROUP BY GROUPING SETS ((country), (EXTRACT(year FROM order_ts)), ()) ORDER BY country NULLS FIRST, year NULLS FIRST;

SELECT CASE WHEN grouping(loyalty_tier) = 1 THEN 'all tiers' ELSE loyalty_tier END AS tier, count(*), sum(CASE WHEN marketing_opt_in THEN 1 ELSE 0 END) AS opted_in FROM lake.customers GROUP BY ROLLUP (loyalty_tier) ORDER BY grouping(loyalty_tier), loyalty_tier;

SELECT gender, count(*), count(birth_year), min(birth_year), max(birth_year), round(avg(birth_year), 1) FROM lake.customers GROUP BY gender ORDER BY gender NULLS LAST;

SELECT count(*) AS lines, count(DISTINCT order_id) AS orders, round(count(*)::numeric / count(DISTINCT order_id), 3) AS lines_per_order, sum(quantity) / count(DISTINCT order_id) AS int_division FROM lake.order_lines;

SELECT max(price) - min(price) AS range, max(name), min(category), max(brand), min(brand) FROM lake.products;

SELECT corr(quantity, unit_price) IS NOT NULL AS has_corr, round(corr(x, y)::numeric, 6), round(regr_slope(y, x)::numeric, 6), round(regr_intercept(y, x)::numeric, 6), covar_pop(x, y), covar_samp(x, y), regr_count(y, x) FROM lake.order_lines, (VALUES (1, 2), (2, 4), (3, 7)) AS t(x, y) WHERE order_id = 1;

SELECT sum(x), avg(x), sum(DISTINCT x), avg(DISTINCT x), count(DISTINCT x) FROM (VALUES (1), (1), (2), (NULL), (4)) AS t(x);

SELECT max(order_ts), min(order_ts::date), max(status), min(coupon_code), max(coupon_code) FROM lake.orders;

-- avg of integers and numerics is a numeric rounded half away from zero; sum of bigint widens
SELECT avg(x), avg(x::numeric(6,2)), avg(-x) FROM (VALUES (1), (1), (3)) AS t(x);
SELECT sum(x), pg_typeof(sum(x)), avg(x) FROM (VALUES (9223372036854775807::bigint), (9223372036854775807)) AS t(x);
SELECT customer_id, count(DISTINCT order_id) AS orders, sum(quantity) AS units, sum(order_id) AS id_sum, avg(quantity) AS avg_units FROM lake.order_lines GROUP BY customer_id ORDER BY customer_id LIMIT 5;
SELECT x, avg(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS moving, sum(x::bigint) OVER w AS running FROM (VALUES (1), (2), (4), (7)) AS t(x) WINDOW w AS (ORDER BY x ROWS 2 PRECEDING) ORDER BY x;

-- mode() WITHIN GROUP: the most frequent value, the smallest of equally frequent ones (PostgreSQL's sorted scan keeps the first)
SELECT mode() WITHIN GROUP (ORDER BY status) FROM lake.orders;
SELECT country, mode() WITHIN GROUP (ORDER BY channel) AS channel, mode() WITHIN GROUP (ORDER BY coupon_code) AS coupon FROM lake.orders GROUP BY country ORDER BY country;
SELECT mode() WITHIN GROUP (ORDER BY x) AS m FROM (VALUES (3), (1), (3), (1), (NULL), (NULL), (NULL)) AS t(x);
