-- Marketing analyst reports on the retail lake: revenue trends, cohorts and retention, top-N per group, web funnels, RFM-style segments, channel and coupon analysis.

-- monthly revenue, orders, buyers and average order value in 2024 (completed orders)
SELECT date_trunc('month', o.order_ts)::date AS month, count(DISTINCT o.order_id) AS orders, count(DISTINCT o.customer_id) AS buyers, sum(l.quantity * (l.unit_price - l.discount)) AS revenue, round(sum(l.quantity * (l.unit_price - l.discount)) / count(DISTINCT o.order_id), 2) AS aov FROM lake.orders o JOIN lake.order_lines l USING (order_id) WHERE o.status = 'completed' AND o.order_ts >= '2024-01-01' AND o.order_ts < '2025-01-01' GROUP BY 1 ORDER BY 1;

-- month-over-month growth
WITH m AS (SELECT date_trunc('month', order_ts) AS month, sum(quantity * (unit_price - discount)) AS revenue FROM lake.order_lines GROUP BY 1) SELECT to_char(month, 'YYYY-MM') AS month, revenue, lag(revenue) OVER (ORDER BY month) AS previous, round(100 * (revenue / lag(revenue) OVER (ORDER BY month) - 1), 1) AS growth_pct FROM m WHERE month >= '2024-01-01' ORDER BY month;

-- year-over-year by calendar month
SELECT EXTRACT(month FROM order_ts)::int AS month, sum(quantity * unit_price) FILTER (WHERE EXTRACT(year FROM order_ts) = 2023) AS revenue_2023, sum(quantity * unit_price) FILTER (WHERE EXTRACT(year FROM order_ts) = 2024) AS revenue_2024, round(100.0 * (sum(quantity * unit_price) FILTER (WHERE EXTRACT(year FROM order_ts) = 2024) / nullif(sum(quantity * unit_price) FILTER (WHERE EXTRACT(year FROM order_ts) = 2023), 0) - 1), 1) AS yoy_pct FROM lake.order_lines GROUP BY 1 ORDER BY 1;

-- revenue share by country
SELECT country, sum(quantity * (unit_price - discount)) AS revenue, round(100.0 * sum(quantity * (unit_price - discount)) / sum(sum(quantity * (unit_price - discount))) OVER (), 2) AS share_pct, rank() OVER (ORDER BY sum(quantity * (unit_price - discount)) DESC) AS rnk FROM lake.order_lines GROUP BY country ORDER BY revenue DESC, country;

-- category revenue pivoted by year
SELECT p.category, sum(l.quantity * l.unit_price) FILTER (WHERE l.order_ts < '2023-01-01') AS y2022, sum(l.quantity * l.unit_price) FILTER (WHERE l.order_ts >= '2023-01-01' AND l.order_ts < '2024-01-01') AS y2023, sum(l.quantity * l.unit_price) FILTER (WHERE l.order_ts >= '2024-01-01') AS y2024, sum(l.quantity * l.unit_price) AS total FROM lake.order_lines l JOIN lake.products p USING (product_id) GROUP BY p.category ORDER BY total DESC, p.category;

-- top 2 products per category by units sold
SELECT category, product_id, name, units, revenue FROM (SELECT p.category, p.product_id, p.name, sum(l.quantity) AS units, sum(l.quantity * l.unit_price) AS revenue, row_number() OVER (PARTITION BY p.category ORDER BY sum(l.quantity) DESC, sum(l.quantity * l.unit_price) DESC, p.product_id) AS rn FROM lake.order_lines l JOIN lake.products p USING (product_id) GROUP BY p.category, p.product_id, p.name) ranked WHERE rn <= 2 ORDER BY category, rn;

-- top 10 customers by lifetime value
SELECT c.customer_id, c.country, c.loyalty_tier, count(DISTINCT o.order_id) AS orders, sum(l.quantity * (l.unit_price - l.discount)) AS ltv, min(o.order_ts)::date AS first_order, max(o.order_ts)::date AS last_order FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id JOIN lake.order_lines l ON l.order_id = o.order_id WHERE o.status <> 'cancelled' GROUP BY c.customer_id, c.country, c.loyalty_tier ORDER BY ltv DESC, c.customer_id LIMIT 10;

-- quarterly cohorts by first order: buyers active 0..4 quarters later
WITH firsts AS (SELECT customer_id, date_trunc('quarter', min(order_ts)) AS cohort FROM lake.orders GROUP BY customer_id), activity AS (SELECT DISTINCT o.customer_id, f.cohort, (EXTRACT(year FROM date_trunc('quarter', o.order_ts)) - EXTRACT(year FROM f.cohort)) * 4 + (EXTRACT(quarter FROM o.order_ts) - EXTRACT(quarter FROM f.cohort)) AS q FROM lake.orders o JOIN firsts f USING (customer_id)) SELECT to_char(cohort, 'YYYY-"Q"Q') AS cohort, count(*) FILTER (WHERE q = 0) AS q0, count(*) FILTER (WHERE q = 1) AS q1, count(*) FILTER (WHERE q = 2) AS q2, count(*) FILTER (WHERE q = 3) AS q3, count(*) FILTER (WHERE q = 4) AS q4 FROM activity GROUP BY cohort ORDER BY cohort;

-- retention in percent of the cohort size, monthly cohorts of 2024
WITH firsts AS (SELECT customer_id, date_trunc('month', min(order_ts)) AS cohort FROM lake.orders GROUP BY customer_id), act AS (SELECT DISTINCT f.customer_id, f.cohort, (EXTRACT(year FROM o.order_ts) - EXTRACT(year FROM f.cohort)) * 12 + EXTRACT(month FROM o.order_ts) - EXTRACT(month FROM f.cohort) AS m FROM firsts f JOIN lake.orders o USING (customer_id)) SELECT cohort::date, count(*) FILTER (WHERE m = 0) AS size, round(100.0 * count(*) FILTER (WHERE m = 1) / count(*) FILTER (WHERE m = 0), 1) AS m1_pct, round(100.0 * count(DISTINCT customer_id) FILTER (WHERE m BETWEEN 1 AND 3) / count(*) FILTER (WHERE m = 0), 1) AS m1_3_pct FROM act WHERE cohort >= '2024-01-01' GROUP BY cohort ORDER BY cohort;

-- share of each signup year still buying in 2024
SELECT EXTRACT(year FROM c.signup_date) AS signup_year, count(*) AS customers, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = c.customer_id AND o.order_ts >= '2024-01-01')) AS active_2024, round(100.0 * count(*) FILTER (WHERE EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = c.customer_id AND o.order_ts >= '2024-01-01')) / count(*), 1) AS active_pct FROM lake.customers c GROUP BY 1 ORDER BY 1;

-- repeat purchase rate
SELECT count(*) AS buyers, count(*) FILTER (WHERE orders >= 2) AS repeat_buyers, round(100.0 * count(*) FILTER (WHERE orders >= 2) / count(*), 1) AS repeat_rate_pct, round(avg(orders), 2) AS avg_orders, max(orders) AS max_orders FROM (SELECT customer_id, count(*) AS orders FROM lake.orders GROUP BY customer_id) per_customer;

-- days from first to second order
WITH ranked AS (SELECT customer_id, order_ts, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS n FROM lake.orders), gaps AS (SELECT a.customer_id, b.order_ts::date - a.order_ts::date AS days FROM ranked a JOIN ranked b ON b.customer_id = a.customer_id AND a.n = 1 AND b.n = 2) SELECT count(*) AS customers, min(days), max(days), round(avg(days), 1) AS avg_days, percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median_days, count(*) FILTER (WHERE days <= 30) AS within_30_days FROM gaps;

-- web funnel: sessions reaching each step
SELECT count(DISTINCT session_id) AS sessions, count(DISTINCT session_id) FILTER (WHERE event_type = 'product_view') AS viewed_product, count(DISTINCT session_id) FILTER (WHERE event_type = 'add_to_cart') AS added_to_cart, count(DISTINCT session_id) FILTER (WHERE event_type = 'checkout') AS checked_out, count(DISTINCT session_id) FILTER (WHERE event_type = 'purchase') AS purchased FROM lake.web_events;

-- funnel with step conversion rates
WITH steps(step, event_type) AS (VALUES (1, 'page_view'), (2, 'product_view'), (3, 'add_to_cart'), (4, 'checkout'), (5, 'purchase')), reached AS (SELECT s.step, s.event_type, count(DISTINCT e.session_id) AS sessions FROM steps s LEFT JOIN lake.web_events e ON e.event_type = s.event_type GROUP BY s.step, s.event_type) SELECT step, event_type, sessions, round(100.0 * sessions / first_value(sessions) OVER (ORDER BY step), 1) AS pct_of_top, round(100.0 * sessions / nullif(lag(sessions) OVER (ORDER BY step), 0), 1) AS pct_of_previous FROM reached ORDER BY step;

-- ordered funnel: add to cart after a product view in the same session
WITH firsts AS (SELECT session_id, min(event_ts) FILTER (WHERE event_type = 'product_view') AS viewed, min(event_ts) FILTER (WHERE event_type = 'add_to_cart') AS carted, min(event_ts) FILTER (WHERE event_type IN ('checkout', 'purchase')) AS checked_out FROM lake.web_events GROUP BY session_id) SELECT count(*) FILTER (WHERE viewed IS NOT NULL) AS viewed, count(*) FILTER (WHERE carted > viewed) AS carted_after_view, count(*) FILTER (WHERE checked_out > carted AND carted > viewed) AS full_path FROM firsts;

-- cart abandonment by month of 2024
SELECT to_char(date_trunc('month', s.started), 'YYYY-MM') AS month, count(*) AS cart_sessions, count(*) FILTER (WHERE NOT s.converted) AS abandoned, round(100.0 * count(*) FILTER (WHERE NOT s.converted) / count(*), 1) AS abandonment_pct FROM (SELECT session_id, min(event_ts) AS started, bool_or(event_type IN ('checkout', 'purchase')) AS converted FROM lake.web_events GROUP BY session_id HAVING bool_or(event_type = 'add_to_cart')) s WHERE s.started >= '2024-01-01' GROUP BY 1 ORDER BY 1;

-- RFM scores with ntile over a fixed reporting date
WITH rfm AS (SELECT o.customer_id, date '2025-01-01' - max(o.order_ts)::date AS recency_days, count(DISTINCT o.order_id) AS frequency, sum(l.quantity * (l.unit_price - l.discount)) AS monetary FROM lake.orders o JOIN lake.order_lines l USING (order_id) GROUP BY o.customer_id), scored AS (SELECT customer_id, recency_days, frequency, monetary, ntile(3) OVER (ORDER BY recency_days DESC, customer_id) AS r, ntile(3) OVER (ORDER BY frequency, customer_id) AS f, ntile(3) OVER (ORDER BY monetary, customer_id) AS m FROM rfm) SELECT r, f, m, count(*) AS customers, round(avg(monetary), 2) AS avg_monetary FROM scored GROUP BY r, f, m ORDER BY r DESC, f DESC, m DESC LIMIT 20;

-- RFM-like segments with plain CASE thresholds
WITH rfm AS (SELECT customer_id, date '2025-01-01' - max(order_ts)::date AS recency_days, count(*) AS frequency FROM lake.orders GROUP BY customer_id) SELECT CASE WHEN recency_days <= 90 AND frequency >= 5 THEN 'champions' WHEN recency_days <= 90 THEN 'recent' WHEN recency_days <= 365 AND frequency >= 3 THEN 'loyal, cooling' WHEN recency_days <= 365 THEN 'occasional' ELSE 'lapsed' END AS segment, count(*) AS customers, round(avg(recency_days), 1) AS avg_recency, round(avg(frequency), 2) AS avg_frequency FROM rfm GROUP BY 1 ORDER BY customers DESC, segment;

-- new versus returning buyers per month of 2024
WITH firsts AS (SELECT customer_id, min(order_ts) AS first_ts FROM lake.orders GROUP BY customer_id) SELECT to_char(date_trunc('month', o.order_ts), 'YYYY-MM') AS month, count(DISTINCT o.customer_id) FILTER (WHERE date_trunc('month', f.first_ts) = date_trunc('month', o.order_ts)) AS new_buyers, count(DISTINCT o.customer_id) FILTER (WHERE date_trunc('month', f.first_ts) < date_trunc('month', o.order_ts)) AS returning_buyers FROM lake.orders o JOIN firsts f USING (customer_id) WHERE o.order_ts >= '2024-01-01' GROUP BY 1 ORDER BY 1;

-- average order value by acquisition channel
SELECT c.acquisition_channel, count(DISTINCT c.customer_id) AS buyers, count(DISTINCT o.order_id) AS orders, round(sum(l.quantity * (l.unit_price - l.discount)) / count(DISTINCT o.order_id), 2) AS aov, round(sum(l.quantity * (l.unit_price - l.discount)) / count(DISTINCT c.customer_id), 2) AS revenue_per_buyer FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id JOIN lake.order_lines l ON l.order_id = o.order_id GROUP BY c.acquisition_channel ORDER BY aov DESC, c.acquisition_channel;

-- coupon effect on order value
WITH order_value AS (SELECT o.order_id, o.coupon_code, sum(l.quantity * l.unit_price) AS gross, sum(l.quantity * l.discount) AS discounts FROM lake.orders o JOIN lake.order_lines l USING (order_id) GROUP BY o.order_id, o.coupon_code) SELECT coalesce(coupon_code, 'no coupon') AS coupon, count(*) AS orders, round(avg(gross), 2) AS avg_gross, round(avg(discounts), 2) AS avg_discount, round(100.0 * sum(discounts) / sum(gross), 2) AS discount_pct FROM order_value GROUP BY coupon_code ORDER BY coupon_code NULLS FIRST;

-- return rate by category
SELECT p.category, count(*) AS lines, count(*) FILTER (WHERE o.status = 'returned') AS returned_lines, round(100.0 * count(*) FILTER (WHERE o.status = 'returned') / count(*), 2) AS return_rate_pct FROM lake.order_lines l JOIN lake.orders o USING (order_id) JOIN lake.products p USING (product_id) GROUP BY p.category ORDER BY return_rate_pct DESC, p.category;

-- order channel mix per year
SELECT EXTRACT(year FROM order_ts) AS year, channel, count(*) AS orders, round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY EXTRACT(year FROM order_ts)), 1) AS pct FROM lake.orders GROUP BY 1, 2 ORDER BY 1, orders DESC, channel LIMIT 21;

-- basket size distribution
SELECT lines_in_order, count(*) AS orders, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct, sum(count(*)) OVER (ORDER BY lines_in_order) AS cumulative FROM (SELECT order_id, count(*) AS lines_in_order FROM lake.order_lines GROUP BY order_id) t GROUP BY lines_in_order ORDER BY lines_in_order;

-- market basket: product pairs with support and confidence
WITH baskets AS (SELECT DISTINCT order_id, product_id FROM lake.order_lines), pairs AS (SELECT a.product_id AS a, b.product_id AS b, count(*) AS together FROM baskets a JOIN baskets b ON a.order_id = b.order_id AND a.product_id < b.product_id GROUP BY 1, 2), singles AS (SELECT product_id, count(*) AS orders FROM baskets GROUP BY product_id) SELECT p.a, p.b, p.together, round(100.0 * p.together / (SELECT count(DISTINCT order_id) FROM baskets), 2) AS support_pct, round(1.0 * p.together / s.orders, 3) AS confidence_a_to_b FROM pairs p JOIN singles s ON s.product_id = p.a WHERE p.together >= 2 ORDER BY p.together DESC, p.a, p.b LIMIT 10;

-- Pareto: revenue share of the top 20 percent of customers
WITH spend AS (SELECT customer_id, sum(quantity * (unit_price - discount)) AS revenue FROM lake.order_lines GROUP BY customer_id), ranked AS (SELECT customer_id, revenue, ntile(5) OVER (ORDER BY revenue DESC, customer_id) AS quintile FROM spend) SELECT quintile, count(*) AS customers, sum(revenue) AS revenue, round(100.0 * sum(revenue) / (SELECT sum(revenue) FROM spend), 1) AS share_pct FROM ranked GROUP BY quintile ORDER BY quintile;

-- running revenue through December 2024
SELECT order_ts::date AS day, sum(quantity * (unit_price - discount)) AS revenue, sum(sum(quantity * (unit_price - discount))) OVER (ORDER BY order_ts::date) AS month_to_date FROM lake.order_lines WHERE order_ts >= '2024-12-01' AND order_ts < '2024-12-16' GROUP BY order_ts::date ORDER BY day;

-- time from signup to first order
WITH firsts AS (SELECT c.customer_id, min(o.order_ts)::date - c.signup_date AS days FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id, c.signup_date) SELECT CASE WHEN days <= 7 THEN '0-7 days' WHEN days <= 30 THEN '8-30 days' WHEN days <= 180 THEN '31-180 days' ELSE 'over 180 days' END AS time_to_first_order, count(*) AS customers, min(days) AS min_days, max(days) AS max_days FROM firsts GROUP BY 1 ORDER BY min(days);

-- revenue by age group (ages as of 2024)
SELECT CASE WHEN c.birth_year IS NULL THEN 'unknown' WHEN 2024 - c.birth_year < 25 THEN '18-24' WHEN 2024 - c.birth_year < 35 THEN '25-34' WHEN 2024 - c.birth_year < 50 THEN '35-49' WHEN 2024 - c.birth_year < 65 THEN '50-64' ELSE '65+' END AS age_group, count(DISTINCT c.customer_id) AS customers, count(DISTINCT l.order_id) AS orders, coalesce(sum(l.quantity * l.unit_price), 0) AS revenue FROM lake.customers c LEFT JOIN lake.order_lines l ON l.customer_id = c.customer_id GROUP BY 1 ORDER BY 1;

-- loyalty tier: opt-in rate and revenue per customer
SELECT c.loyalty_tier, count(*) AS customers, round(100.0 * count(*) FILTER (WHERE c.marketing_opt_in) / count(*), 1) AS opt_in_pct, round(coalesce(sum(s.revenue), 0) / count(*), 2) AS revenue_per_customer FROM lake.customers c LEFT JOIN (SELECT customer_id, sum(quantity * unit_price) AS revenue FROM lake.order_lines GROUP BY customer_id) s ON s.customer_id = c.customer_id GROUP BY c.loyalty_tier ORDER BY revenue_per_customer DESC, c.loyalty_tier;

-- weekday by daypart heat map
SELECT to_char(order_ts, 'ID Dy') AS weekday, count(*) FILTER (WHERE EXTRACT(hour FROM order_ts) < 12) AS morning, count(*) FILTER (WHERE EXTRACT(hour FROM order_ts) >= 12 AND EXTRACT(hour FROM order_ts) < 18) AS afternoon, count(*) FILTER (WHERE EXTRACT(hour FROM order_ts) >= 18) AS evening FROM lake.orders GROUP BY 1 ORDER BY 1;

-- customers whose spend grew from 2023 to 2024
SELECT customer_id, spend_2023, spend_2024, spend_2024 - spend_2023 AS growth FROM (SELECT customer_id, sum(quantity * unit_price) FILTER (WHERE order_ts >= '2023-01-01' AND order_ts < '2024-01-01') AS spend_2023, sum(quantity * unit_price) FILTER (WHERE order_ts >= '2024-01-01') AS spend_2024 FROM lake.order_lines GROUP BY customer_id) t WHERE spend_2024 > spend_2023 ORDER BY growth DESC, customer_id LIMIT 10;

-- churned: bought in 2023 but not in 2024, by country
SELECT c.country, count(*) AS churned FROM lake.customers c WHERE EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = c.customer_id AND o.order_ts >= '2023-01-01' AND o.order_ts < '2024-01-01') AND NOT EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = c.customer_id AND o.order_ts >= '2024-01-01') GROUP BY c.country ORDER BY churned DESC, c.country;

-- win-back list: opted-in customers silent for more than 180 days, by lifetime value
SELECT c.customer_id, c.email, max(o.order_ts)::date AS last_order, date '2025-01-01' - max(o.order_ts)::date AS days_silent, count(DISTINCT o.order_id) AS orders, sum(l.quantity * l.unit_price) AS ltv FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id JOIN lake.order_lines l ON l.order_id = o.order_id WHERE c.marketing_opt_in AND c.email IS NOT NULL GROUP BY c.customer_id, c.email HAVING max(o.order_ts) < timestamp '2025-01-01' - interval '180 days' ORDER BY ltv DESC, c.customer_id LIMIT 10;

-- session engagement: identified versus anonymous visitors
SELECT customer_id IS NOT NULL AS identified, count(*) AS sessions, round(avg(events), 2) AS avg_events, max(events) AS max_events, round(avg(EXTRACT(epoch FROM duration)), 1) AS avg_seconds FROM (SELECT session_id, min(customer_id) AS customer_id, count(*) AS events, max(event_ts) - min(event_ts) AS duration FROM lake.web_events GROUP BY session_id) s GROUP BY 1 ORDER BY 1;

-- product views versus units sold
WITH views AS (SELECT product_id, count(*) AS views FROM lake.web_events WHERE event_type = 'product_view' GROUP BY product_id), sold AS (SELECT product_id, sum(quantity) AS units FROM lake.order_lines GROUP BY product_id) SELECT p.product_id, p.category, coalesce(v.views, 0) AS views, coalesce(s.units, 0) AS units FROM lake.products p LEFT JOIN views v USING (product_id) LEFT JOIN sold s USING (product_id) ORDER BY views DESC, units DESC, p.product_id LIMIT 10;

-- brand performance with average discount depth
SELECT coalesce(p.brand, '(no brand)') AS brand, count(*) AS lines, sum(l.quantity) AS units, sum(l.quantity * (l.unit_price - l.discount)) AS net_revenue, round(100.0 * sum(l.quantity * l.discount) / sum(l.quantity * l.unit_price), 2) AS discount_pct FROM lake.order_lines l JOIN lake.products p USING (product_id) GROUP BY p.brand ORDER BY net_revenue DESC, brand;

-- discount depth buckets
SELECT CASE WHEN discount = 0 THEN 'none' WHEN discount / unit_price < 0.15 THEN '<15%' WHEN discount / unit_price < 0.25 THEN '15-25%' ELSE '25%+' END AS depth, count(*) AS lines, sum(quantity * (unit_price - discount)) AS net_revenue, round(100.0 * sum(quantity * (unit_price - discount)) / sum(sum(quantity * (unit_price - discount))) OVER (), 1) AS share_pct FROM lake.order_lines GROUP BY 1 ORDER BY min(CASE WHEN discount = 0 THEN 0 ELSE discount / unit_price END);

-- free shipping share by country
SELECT country, count(*) AS orders, count(*) FILTER (WHERE shipping = 0) AS free_shipping, round(100.0 * count(*) FILTER (WHERE shipping = 0) / count(*), 1) AS free_pct, sum(shipping) AS shipping_revenue FROM lake.orders GROUP BY country HAVING count(*) >= 3 ORDER BY orders DESC, country;

-- three-month moving average of revenue
WITH monthly AS (SELECT date_trunc('month', order_ts) AS month, sum(quantity * (unit_price - discount)) AS revenue FROM lake.order_lines GROUP BY 1) SELECT to_char(month, 'YYYY-MM') AS month, revenue, round(avg(revenue) OVER (ORDER BY month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), 2) AS ma3 FROM monthly WHERE month >= '2023-07-01' ORDER BY month LIMIT 18;

-- breadth of purchase: customers by number of distinct categories bought
SELECT n_categories, count(*) AS customers, round(avg(revenue), 2) AS avg_revenue FROM (SELECT l.customer_id, count(DISTINCT p.category) AS n_categories, sum(l.quantity * l.unit_price) AS revenue FROM lake.order_lines l JOIN lake.products p USING (product_id) GROUP BY l.customer_id) t GROUP BY n_categories ORDER BY n_categories;

-- monthly active buyers and revenue per buyer in the holiday quarter
SELECT to_char(date_trunc('month', order_ts), 'YYYY-MM') AS month, count(DISTINCT customer_id) AS active_buyers, round(sum(quantity * unit_price) / count(DISTINCT customer_id), 2) AS revenue_per_buyer FROM lake.order_lines WHERE EXTRACT(quarter FROM order_ts) = 4 GROUP BY 1 ORDER BY 1;

-- holiday season share of yearly revenue
SELECT EXTRACT(year FROM order_ts) AS year, sum(quantity * unit_price) AS revenue, sum(quantity * unit_price) FILTER (WHERE EXTRACT(month FROM order_ts) IN (11, 12)) AS nov_dec, round(100.0 * sum(quantity * unit_price) FILTER (WHERE EXTRACT(month FROM order_ts) IN (11, 12)) / sum(quantity * unit_price), 1) AS holiday_share_pct FROM lake.order_lines GROUP BY 1 ORDER BY 1;

-- first-order category and whether the second order stayed in it
WITH lines AS (SELECT l.customer_id, l.order_id, p.category, dense_rank() OVER (PARTITION BY l.customer_id ORDER BY l.order_ts, l.order_id) AS order_rank FROM lake.order_lines l JOIN lake.products p USING (product_id)), first_cat AS (SELECT DISTINCT customer_id, category FROM lines WHERE order_rank = 1), second_cat AS (SELECT DISTINCT customer_id, category FROM lines WHERE order_rank = 2) SELECT f.category AS first_category, count(DISTINCT f.customer_id) AS customers, count(DISTINCT s.customer_id) AS repeated_category FROM first_cat f LEFT JOIN second_cat s ON s.customer_id = f.customer_id AND s.category = f.category GROUP BY f.category ORDER BY customers DESC, f.category;

-- daily orders with a calendar spine (days without orders show zero)
SELECT d::date AS day, to_char(d, 'Dy') AS weekday, count(o.order_id) AS orders, coalesce(sum(o.shipping), 0) AS shipping FROM generate_series(timestamp '2024-11-25', timestamp '2024-12-08', interval '1 day') AS d LEFT JOIN lake.orders o ON o.order_ts::date = d::date GROUP BY d ORDER BY d;

-- marketing reach: opted-in customers with an email by country and tier
SELECT country, count(*) FILTER (WHERE loyalty_tier IN ('gold', 'platinum')) AS top_tier, count(*) FILTER (WHERE loyalty_tier IN ('silver', 'bronze')) AS mid_tier, count(*) FILTER (WHERE loyalty_tier = 'none') AS no_tier, count(*) AS reachable FROM lake.customers WHERE marketing_opt_in AND email IS NOT NULL GROUP BY country ORDER BY reachable DESC, country LIMIT 8;

-- average order value by country for countries with at least 5 orders
SELECT o.country, count(DISTINCT o.order_id) AS orders, round(sum(l.quantity * (l.unit_price - l.discount)) / count(DISTINCT o.order_id), 2) AS aov, round(avg(o.shipping), 2) AS avg_shipping FROM lake.orders o JOIN lake.order_lines l USING (order_id) GROUP BY o.country HAVING count(DISTINCT o.order_id) >= 5 ORDER BY aov DESC, o.country;

-- weekly orders in December 2024 with week-over-week change
WITH w AS (SELECT date_trunc('week', order_ts)::date AS week, count(*) AS orders FROM lake.orders WHERE order_ts >= '2024-11-25' AND order_ts < '2025-01-01' GROUP BY 1) SELECT week, orders, orders - lag(orders) OVER (ORDER BY week) AS change FROM w ORDER BY week;

-- revenue by first-order year of the customer (acquisition cohorts)
WITH firsts AS (SELECT customer_id, EXTRACT(year FROM min(order_ts)) AS first_year FROM lake.orders GROUP BY customer_id) SELECT f.first_year, EXTRACT(year FROM l.order_ts) AS year, count(DISTINCT l.customer_id) AS buyers, sum(l.quantity * l.unit_price) AS revenue FROM lake.order_lines l JOIN firsts f USING (customer_id) GROUP BY 1, 2 ORDER BY 1, 2;

-- average days between orders by loyalty tier
WITH gaps AS (SELECT o.customer_id, o.order_ts::date - lag(o.order_ts::date) OVER (PARTITION BY o.customer_id ORDER BY o.order_ts, o.order_id) AS days FROM lake.orders o) SELECT c.loyalty_tier, count(g.days) AS gaps, round(avg(g.days), 1) AS avg_days_between_orders, min(g.days), max(g.days) FROM gaps g JOIN lake.customers c USING (customer_id) WHERE g.days IS NOT NULL GROUP BY c.loyalty_tier ORDER BY c.loyalty_tier;

-- marketing opt-in versus purchase behaviour
SELECT c.marketing_opt_in, count(DISTINCT c.customer_id) AS customers, count(DISTINCT o.customer_id) AS buyers, round(100.0 * count(DISTINCT o.customer_id) / count(DISTINCT c.customer_id), 1) AS buyer_pct, count(o.order_id) AS orders FROM lake.customers c LEFT JOIN lake.orders o ON o.customer_id = c.customer_id GROUP BY c.marketing_opt_in ORDER BY c.marketing_opt_in;
