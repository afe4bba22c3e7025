-- Intervals: literal forms, output format, arithmetic, multiplication and division, EXTRACT, comparison, aggregates of intervals and intervals from timestamp differences.

SELECT interval '1 day', interval '1 day 2 hours', interval '2 hours 30 minutes', interval '1 week', interval '1 mon', interval '100 seconds', interval '0.5 seconds', interval '1 millisecond';

SELECT interval 'P1Y2M3DT4H5M6S', interval 'PT36H', interval 'P2W', interval '1-2', interval '3 4:05:06', interval '04:05', interval '-1 day +2 hours';

SELECT interval '1' day, interval '90' minute, interval '2' year, interval '1:30' hour to minute, interval '1 year 2 months 3 days' day to second;

SELECT interval '1.5 hours', interval '1.5 days', interval '1.5 months', interval '1.5 years', interval '0.1 days', interval '2.25 weeks';

SELECT interval '1 year 2 months 3 days 04:05:06.789', interval '-1 year -2 months', interval '-04:05:06', interval '27 hours', interval '1440 minutes', interval '86400 seconds';

SELECT interval '1 day' + interval '1 hour', interval '1 day' - interval '1 hour', interval '1 month' - interval '1 day', -interval '1 day 02:00', interval '2 hours' + interval '-3 hours';

SELECT interval '1 day' * 2, interval '1 hour' * 1.5, interval '1 month' * 1.5, interval '1 day' / 2, interval '1 month' / 2, interval '1 hour' / 3, 3 * interval '20 minutes';

SELECT interval '1 year' / 12, interval '10 days' / 7, interval '1 minute' * 0.01, interval '1 day 12:00:00' * 3, interval '45 minutes' * 10;

SELECT EXTRACT(epoch FROM interval '1 day 2 hours'), EXTRACT(epoch FROM interval '1 month'), EXTRACT(epoch FROM interval '1 year'), EXTRACT(epoch FROM interval '90 minutes 30.5 seconds');

SELECT EXTRACT(hour FROM interval '26 hours'), EXTRACT(day FROM interval '1 month 3 days'), EXTRACT(month FROM interval '14 months'), EXTRACT(year FROM interval '14 months'), EXTRACT(minute FROM interval '2 hours 75 minutes'), EXTRACT(second FROM interval '1 minute 2.5 seconds');

SELECT date_part('epoch', interval '1 day'), date_part('hour', interval '36 hours'), date_part('day', interval '36 hours'), date_part('month', interval '1 year 5 months');

SELECT interval '1 day' = interval '24 hours', interval '1 month' = interval '30 days', interval '1 year' > interval '360 days', interval '1 year' = interval '12 months', interval '2 hours' < interval '119 minutes', interval '1 day' <> interval '1 day 1 second';

SELECT i FROM (VALUES (interval '1 day'), (interval '23 hours'), (interval '1 month'), (interval '29 days'), (interval '-1 hour'), (interval '1 year')) AS t(i) ORDER BY i;

SELECT greatest(interval '1 day', interval '25 hours'), least(interval '1 month', interval '31 days'), max(i), min(i) FROM (VALUES (interval '2 days'), (interval '47 hours')) AS t(i);

SELECT sum(i), avg(i), count(i) FROM (VALUES (interval '1 hour'), (interval '90 minutes'), (interval '1 day'), (NULL)) AS t(i);

SELECT CAST(interval '3 days 04:05:06' AS text), interval '1 year 2 mons' || '', (interval '36 hours')::text, to_char(interval '26 hours 5 minutes 7 seconds', 'HH24:MI:SS'), to_char(interval '3 days 04:05', 'DD "days" HH24 "h"');

SELECT make_interval(days => 3), make_interval(hours => 1, mins => 30), make_interval(years => 1, months => 6), make_interval(weeks => 2, secs => 1.5);

SELECT interval '1 day' * 0, interval '0 seconds', interval '1 hour' - interval '1 hour', interval '1 day' - interval '24 hours', interval '1 month' - interval '30 days' = interval '0';

SELECT timestamp '2024-01-31 10:00' + interval '1 month', timestamp '2024-02-29 10:00' + interval '1 year', timestamp '2024-03-31' - interval '1 month', date '2024-01-01' + interval '1 year 1 month 1 day 1 hour';

SELECT timestamp '2024-03-10 00:00' + interval '1.5 days', timestamp '2024-03-10 00:00' - interval '90 minutes', timestamp '2024-01-01' + 100 * interval '1 day', timestamp '2024-01-01' + interval '1 day' * 0.5;

SELECT (timestamp '2024-03-10 12:00' - timestamp '2024-03-01 08:30') / 2, EXTRACT(epoch FROM timestamp '2024-03-10 12:00' - timestamp '2024-03-01 08:30') / 3600 AS hours, date_part('day', timestamp '2024-03-10 12:00' - timestamp '2024-03-01 08:30');

SELECT justify_hours(interval '50 hours') = interval '50 hours', justify_days(interval '60 days'), justify_interval(interval '-1 mon 40 days'), justify_interval(interval '1 day -25 hours');

SELECT session_id, min(event_ts) AS started, max(event_ts) - min(event_ts) AS duration, count(*) AS events FROM lake.web_events GROUP BY session_id ORDER BY session_id LIMIT 8;

SELECT max(duration), min(duration), sum(duration), avg(duration), count(*) FILTER (WHERE duration > interval '2 minutes') AS long_sessions FROM (SELECT session_id, max(event_ts) - min(event_ts) AS duration FROM lake.web_events GROUP BY session_id) s;

SELECT duration, count(*) FROM (SELECT session_id, max(event_ts) - min(event_ts) AS duration FROM lake.web_events GROUP BY session_id) s GROUP BY duration ORDER BY duration LIMIT 6;

SELECT customer_id, min(order_ts) AS first_order, max(order_ts) AS last_order, max(order_ts) - min(order_ts) AS active_span, age(max(order_ts), min(order_ts)) AS active_age FROM lake.orders GROUP BY customer_id HAVING count(*) > 3 ORDER BY customer_id LIMIT 6;

SELECT o.order_id, o.order_ts - c.signup_date AS since_signup, EXTRACT(day FROM o.order_ts - c.signup_date) AS days, round(EXTRACT(epoch FROM o.order_ts - c.signup_date) / 86400, 2) AS days_exact FROM lake.orders o JOIN lake.customers c ON c.customer_id = o.customer_id ORDER BY o.order_id LIMIT 5;

SELECT order_id, order_ts, order_ts + interval '3 days' AS ships_by, order_ts + interval '30 days' AS return_deadline, (order_ts + interval '1 month')::date AS next_month_same_day FROM lake.orders ORDER BY order_id LIMIT 4;

SELECT count(*) FROM lake.orders WHERE order_ts >= timestamp '2024-12-31 00:00' - interval '90 days';

SELECT a.order_id, b.order_id AS next_order_id, b.order_ts - a.order_ts AS gap FROM lake.orders a JOIN lake.orders b ON b.customer_id = a.customer_id AND b.order_id = (SELECT min(order_id) FROM lake.orders x WHERE x.customer_id = a.customer_id AND x.order_id > a.order_id) ORDER BY a.order_id LIMIT 6;

SELECT interval '1 day' AS day_interval, interval '1 day'::text AS day_text, interval '1 day' + time '10:00' AS day_plus_time, time '23:00' + interval '2 hours' AS wraps, time '10:00' - time '08:30' AS time_diff;

SELECT customer_id, count(*) AS gaps, avg(gap) AS avg_gap, justify_hours(avg(gap)) AS justified, max(gap) AS longest FROM (SELECT customer_id, order_ts - lag(order_ts) OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS gap FROM lake.orders) t WHERE gap IS NOT NULL GROUP BY customer_id ORDER BY customer_id LIMIT 5;
