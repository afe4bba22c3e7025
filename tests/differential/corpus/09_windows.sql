-- Window functions: ranking, distribution, lag/lead, first/last/nth_value, aggregates over partitions with ROWS/RANGE/GROUPS frames, named windows.

SELECT product_id, category, price, row_number() OVER (ORDER BY price DESC, product_id) AS rn FROM lake.products ORDER BY rn LIMIT 8;

SELECT product_id, category, price, rank() OVER (PARTITION BY category ORDER BY price DESC) AS rnk, dense_rank() OVER (PARTITION BY category ORDER BY price DESC) AS drnk, row_number() OVER (PARTITION BY category ORDER BY price DESC, product_id) AS rn FROM lake.products WHERE category IN ('books', 'grocery') ORDER BY category, rn LIMIT 20;

SELECT x, rank() OVER w, dense_rank() OVER w, percent_rank() OVER w, cume_dist() OVER w, ntile(3) OVER w, row_number() OVER w FROM (VALUES (10), (20), (20), (30), (40), (40), (40), (50)) AS t(x) WINDOW w AS (ORDER BY x) ORDER BY x, 7;

SELECT x, ntile(4) OVER (ORDER BY x), ntile(5) OVER (ORDER BY x), ntile(10) OVER (ORDER BY x) FROM generate_series(1, 7) AS x ORDER BY x;

SELECT x, lag(x) OVER (ORDER BY x), lead(x) OVER (ORDER BY x), lag(x, 2) OVER (ORDER BY x), lead(x, 2, -1) OVER (ORDER BY x), lag(x, 1, 0) OVER (ORDER BY x) FROM generate_series(1, 5) AS x ORDER BY x;

SELECT x, first_value(x) OVER (ORDER BY x), last_value(x) OVER (ORDER BY x), last_value(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), nth_value(x, 2) OVER (ORDER BY x), nth_value(x, 2) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM generate_series(1, 5) AS x ORDER BY x;

SELECT x, sum(x) OVER (ORDER BY x) AS running, sum(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS centered, sum(x) OVER () AS total, count(*) OVER (ORDER BY x RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS in_range FROM (VALUES (1), (2), (2), (5), (6), (9)) AS t(x) ORDER BY x, running, centered;

-- RANGE with peers versus ROWS
SELECT x, y, sum(y) OVER (ORDER BY x) AS range_sum, sum(y) OVER (ORDER BY x, y ROWS UNBOUNDED PRECEDING) AS rows_sum, sum(y) OVER (ORDER BY x GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS groups_sum FROM (VALUES (1, 10), (1, 20), (2, 5), (3, 1), (3, 2)) AS t(x, y) ORDER BY x, y;

SELECT x, sum(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) AS before, avg(x) OVER (ORDER BY x ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS moving_avg, max(x) OVER (ORDER BY x ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) AS next_max FROM generate_series(1, 6) AS x ORDER BY x;

SELECT order_id, customer_id, order_ts, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS order_number, count(*) OVER (PARTITION BY customer_id) AS customer_orders FROM lake.orders WHERE customer_id IN (SELECT customer_id FROM lake.orders GROUP BY customer_id HAVING count(*) BETWEEN 2 AND 6 ORDER BY customer_id LIMIT 3) ORDER BY customer_id, order_number;

SELECT order_id, customer_id, order_ts, lag(order_ts) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS previous_order, order_ts - lag(order_ts) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS gap FROM lake.orders WHERE customer_id IN (SELECT customer_id FROM lake.orders GROUP BY customer_id HAVING count(*) BETWEEN 2 AND 6 ORDER BY customer_id LIMIT 2) ORDER BY customer_id, order_ts, order_id;

SELECT order_id, customer_id, lead(order_id) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS next_order, lead(channel, 1, 'none') OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS next_channel FROM lake.orders WHERE customer_id <= 6 ORDER BY order_id;

SELECT customer_id, order_id, first_value(channel) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS first_channel, last_value(channel) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_channel, nth_value(order_id, 2) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second_order FROM lake.orders WHERE customer_id IN (SELECT customer_id FROM lake.orders GROUP BY customer_id HAVING count(*) BETWEEN 2 AND 6 ORDER BY customer_id LIMIT 3) ORDER BY customer_id, order_id;

SELECT month, revenue, sum(revenue) OVER (ORDER BY month) AS cumulative, round(avg(revenue) OVER (ORDER BY month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), 2) AS moving_avg_3m, revenue - lag(revenue) OVER (ORDER BY month) AS change FROM (SELECT date_trunc('month', order_ts) AS month, sum(quantity * (unit_price - discount)) AS revenue FROM lake.order_lines WHERE order_ts >= '2024-01-01' GROUP BY 1) m ORDER BY month;

SELECT category, product_id, price, round(100.0 * price / sum(price) OVER (PARTITION BY category), 2) AS pct_of_category, round(price / avg(price) OVER (PARTITION BY category), 3) AS vs_avg, max(price) OVER (PARTITION BY category) - price AS below_max FROM lake.products WHERE category = 'electronics' ORDER BY price DESC, product_id;

SELECT country, count(*) AS customers, rank() OVER (ORDER BY count(*) DESC) AS rnk, sum(count(*)) OVER () AS total, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct FROM lake.customers GROUP BY country ORDER BY rnk, country;

SELECT category, product_id, revenue, rn FROM (SELECT p.category, p.product_id, sum(l.quantity * l.unit_price) AS revenue, row_number() OVER (PARTITION BY p.category ORDER BY sum(l.quantity * l.unit_price) DESC, p.product_id) AS rn FROM lake.order_lines l JOIN lake.products p USING (product_id) GROUP BY p.category, p.product_id) t WHERE rn <= 2 ORDER BY category, rn;

SELECT customer_id, total, ntile(4) OVER (ORDER BY total DESC, customer_id) AS quartile, percent_rank() OVER (ORDER BY total) AS pr, cume_dist() OVER (ORDER BY total) AS cd FROM (SELECT customer_id, sum(quantity * unit_price) AS total FROM lake.order_lines GROUP BY customer_id) t ORDER BY total DESC, customer_id LIMIT 10;

SELECT day, orders, sum(orders) OVER (ORDER BY day RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW) AS trailing_7d FROM (SELECT order_ts::date AS day, count(*) AS orders FROM lake.orders WHERE order_ts >= '2024-12-01' AND order_ts < '2024-12-15' GROUP BY 1) d ORDER BY day;

SELECT session_id, event_id, event_type, row_number() OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS step, lag(event_type) OVER (PARTITION BY session_id ORDER BY event_ts, event_id) AS previous_event FROM lake.web_events WHERE session_id <= 3 ORDER BY session_id, step;

SELECT event_type, count(*), round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share, rank() OVER (ORDER BY count(*) DESC) AS popularity FROM lake.web_events GROUP BY event_type ORDER BY popularity, event_type;

SELECT customer_id, order_id, shipping, sum(shipping) OVER w AS running_shipping, avg(shipping) OVER w AS running_avg, count(*) OVER w AS n FROM lake.orders WHERE customer_id = (SELECT customer_id FROM lake.orders GROUP BY customer_id HAVING count(*) BETWEEN 5 AND 12 ORDER BY customer_id LIMIT 1) WINDOW w AS (PARTITION BY customer_id ORDER BY order_ts, order_id) ORDER BY order_id;

SELECT order_id, line_no, quantity, sum(quantity) OVER (PARTITION BY order_id) AS order_qty, quantity::numeric / sum(quantity) OVER (PARTITION BY order_id) AS share, count(*) OVER (PARTITION BY order_id) AS lines FROM lake.order_lines WHERE order_id <= 5 ORDER BY order_id, line_no;

SELECT product_id, price, lag(price) OVER (ORDER BY price, product_id) AS cheaper, lead(price) OVER (ORDER BY price, product_id) AS pricier, price - lag(price) OVER (ORDER BY price, product_id) AS step FROM lake.products WHERE category = 'toys' ORDER BY price, product_id;

SELECT year, revenue, lag(revenue) OVER (ORDER BY year) AS prev_year, round(100.0 * (revenue - lag(revenue) OVER (ORDER BY year)) / lag(revenue) OVER (ORDER BY year), 1) AS growth_pct FROM (SELECT EXTRACT(year FROM order_ts) AS year, sum(quantity * unit_price) AS revenue FROM lake.order_lines GROUP BY 1) y ORDER BY year;

SELECT status, order_id, dense_rank() OVER (ORDER BY status) AS status_rank, row_number() OVER (PARTITION BY status ORDER BY order_id DESC) AS latest_rank FROM lake.orders ORDER BY status, latest_rank LIMIT 12;

SELECT x, count(x) OVER (ORDER BY x), count(*) OVER (ORDER BY x), sum(x) OVER (ORDER BY x NULLS FIRST), first_value(x) OVER (ORDER BY x NULLS FIRST) FROM (VALUES (1), (NULL), (3), (NULL), (2)) AS t(x) ORDER BY x NULLS FIRST;

SELECT loyalty_tier, customer_id, signup_date, row_number() OVER (PARTITION BY loyalty_tier ORDER BY signup_date, customer_id) AS seniority FROM lake.customers WHERE loyalty_tier IN ('gold', 'platinum') ORDER BY loyalty_tier, seniority;

SELECT x, sum(x) OVER (ORDER BY x RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS neighbours, min(x) OVER (ORDER BY x RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS min_rest, array_agg(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS win FROM (VALUES (1), (2), (4), (5), (6), (10)) AS t(x) ORDER BY x;

SELECT d, v, sum(v) OVER (ORDER BY d RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS two_day, count(*) OVER (ORDER BY d RANGE BETWEEN CURRENT ROW AND INTERVAL '2 days' FOLLOWING) AS next_3_days FROM (VALUES (date '2024-01-01', 1), (date '2024-01-02', 2), (date '2024-01-04', 4), (date '2024-01-05', 8)) AS t(d, v) ORDER BY d;

SELECT customer_id, orders, rank() OVER (ORDER BY orders DESC) AS rnk, dense_rank() OVER (ORDER BY orders DESC) AS drnk, percent_rank() OVER (ORDER BY orders DESC) AS pr FROM (SELECT customer_id, count(*) AS orders FROM lake.orders GROUP BY customer_id) t ORDER BY orders DESC, customer_id LIMIT 12;

SELECT count(*) AS repeat_orders FROM (SELECT order_id, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS n FROM lake.orders) t WHERE n > 1;
