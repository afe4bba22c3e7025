-- Dates and timestamps: date_trunc, date_part/EXTRACT of every common field, to_char/to_date/to_timestamp, make_*, date arithmetic, age, justify_*, generate_series over time.

SELECT date_trunc('year', timestamp '2024-05-17 13:45:12.5'), date_trunc('quarter', timestamp '2024-05-17 13:45:12.5'), date_trunc('month', timestamp '2024-05-17 13:45:12.5'), date_trunc('week', timestamp '2024-05-17 13:45:12.5');

SELECT date_trunc('day', timestamp '2024-05-17 13:45:12.5'), date_trunc('hour', timestamp '2024-05-17 13:45:12.5'), date_trunc('minute', timestamp '2024-05-17 13:45:12.5'), date_trunc('second', timestamp '2024-05-17 13:45:12.5');

-- date_trunc of a date goes through timestamptz
SELECT date_trunc('month', date '2024-03-15'), date_trunc('week', date '2024-03-15'), date_trunc('year', date '2024-03-15')::date, date_trunc('quarter', date '2024-08-31')::date;

-- week starts on Monday, including across a year boundary
SELECT date_trunc('week', timestamp '2024-01-01 00:00'), date_trunc('week', timestamp '2023-12-31 23:59'), date_trunc('week', timestamp '2025-01-01 10:00');

-- EXTRACT returns numeric, date_part double precision
SELECT EXTRACT(year FROM timestamp '2024-05-17 13:45:12.5'), EXTRACT(month FROM timestamp '2024-05-17 13:45:12.5'), EXTRACT(day FROM timestamp '2024-05-17 13:45:12.5'), EXTRACT(hour FROM timestamp '2024-05-17 13:45:12.5'), EXTRACT(minute FROM timestamp '2024-05-17 13:45:12.5'), EXTRACT(second FROM timestamp '2024-05-17 13:45:12.5');

SELECT date_part('year', timestamp '2024-05-17 13:45:12.5'), date_part('month', timestamp '2024-05-17 13:45:12.5'), date_part('second', timestamp '2024-05-17 13:45:12.5'), date_part('epoch', timestamp '2024-05-17 13:45:12.5'), date_part('dow', date '2024-05-17');

SELECT EXTRACT(dow FROM date '2024-05-19'), EXTRACT(isodow FROM date '2024-05-19'), EXTRACT(doy FROM date '2024-12-31'), EXTRACT(week FROM date '2024-12-30'), EXTRACT(isoyear FROM date '2024-12-30'), EXTRACT(quarter FROM date '2024-11-01');

SELECT EXTRACT(epoch FROM timestamp '2024-01-01 00:00:00'), EXTRACT(epoch FROM timestamp '1970-01-01 00:00:01.25'), EXTRACT(epoch FROM date '2024-01-01'), EXTRACT(epoch FROM timestamptz '2024-01-01 00:00:00+01');

SELECT EXTRACT(century FROM date '2024-01-01'), EXTRACT(decade FROM date '2024-01-01'), EXTRACT(millennium FROM date '2024-01-01'), EXTRACT(milliseconds FROM timestamp '2024-01-01 00:00:05.123'), EXTRACT(microseconds FROM timestamp '2024-01-01 00:00:05.123456');

SELECT EXTRACT(week FROM date '2021-01-03'), EXTRACT(isoyear FROM date '2021-01-03'), EXTRACT(week FROM date '2026-01-01'), EXTRACT(dow FROM date '2024-02-29'), EXTRACT(day FROM date '2024-02-29');

SELECT to_char(timestamp '2024-03-05 14:07:09.123456', 'YYYY-MM-DD HH24:MI:SS'), to_char(timestamp '2024-03-05 14:07:09', 'DD/MM/YYYY'), to_char(timestamp '2024-03-05 14:07:09', 'YYYY-MM'), to_char(timestamp '2024-03-05 14:07:09', 'YYYYMMDD');

SELECT to_char(timestamp '2024-03-05 14:07:09', 'Mon YYYY'), to_char(timestamp '2024-03-05 14:07:09', 'Month') || '|', to_char(timestamp '2024-03-05 14:07:09', 'FMMonth DD, YYYY'), to_char(timestamp '2024-03-05 14:07:09', 'Day') || '|', to_char(timestamp '2024-03-05 14:07:09', 'Dy DD Mon');

SELECT to_char(timestamp '2024-03-05 14:07:09', 'HH12:MI AM'), to_char(timestamp '2024-03-05 02:07:09', 'HH:MI:SS pm'), to_char(timestamp '2024-03-05 14:07:09.123456', 'HH24:MI:SS.MS'), to_char(timestamp '2024-03-05 14:07:09.123456', 'US');

SELECT to_char(date '2024-12-30', 'IYYY-IW'), to_char(date '2024-12-30', 'YYYY-WW'), to_char(date '2024-05-17', 'YYYY"Q"Q'), to_char(date '2024-05-17', 'D ID DDD'), to_char(date '2024-05-07', 'FMDD.FMMM.YY'), to_char(date '2024-05-17', 'MONTH YY') || '|';

SELECT to_char(date '2024-05-17', 'YYYY-MM-DD"T"00:00:00'), to_char(date '2024-01-09', 'DDth Mon'), to_char(date '2024-01-01', 'FMDDth'), to_char(date '2024-01-02', 'FMDDth'), to_char(date '2024-01-23', 'FMDDth');

SELECT to_date('2024-03-05', 'YYYY-MM-DD'), to_date('05 Mar 2024', 'DD Mon YYYY'), to_date('20240305', 'YYYYMMDD'), to_date('2024/3/5', 'YYYY/MM/DD');

SELECT to_timestamp('2024-03-05 14:30:00', 'YYYY-MM-DD HH24:MI:SS'), to_timestamp(1700000000), to_timestamp(0), to_timestamp(1700000000.5)::timestamp;

SELECT make_date(2024, 2, 29), make_timestamp(2024, 2, 29, 12, 30, 45.5), make_time(8, 15, 0), make_date(2023, 12, 31) + 1;

-- date +/- integer is a date, date - date an integer, date + interval a timestamp
SELECT date '2024-02-28' + 1, date '2023-02-28' + 1, date '2024-03-01' - 1, date '2024-12-31' - date '2024-01-01', date '2024-01-31' + interval '1 month', date '2024-03-31' - interval '1 month';

SELECT timestamp '2024-03-10 12:00' - timestamp '2024-03-01 08:30', timestamp '2024-03-01' - timestamp '2024-03-10 12:00', timestamp '2024-01-01 00:00' + interval '36 hours', date '2024-03-10' - timestamp '2024-03-09 18:00';

SELECT age(timestamp '2024-03-01', timestamp '2023-01-15'), age(date '2024-02-29', date '2020-02-29'), age(timestamp '2024-03-01 10:00', timestamp '2024-02-28 12:30'), age(timestamp '2023-01-15', timestamp '2024-03-01');

SELECT justify_days(interval '35 days'), justify_hours(interval '27 hours'), justify_interval(interval '1 mon -1 day'), justify_days(interval '-40 days'), justify_interval(interval '50 hours 90 minutes');

SELECT d FROM generate_series(date '2024-01-29', date '2024-03-04', interval '1 week') AS d ORDER BY d;

SELECT d::date AS day, to_char(d, 'Dy') AS weekday FROM generate_series(timestamp '2024-02-26', timestamp '2024-03-03', interval '1 day') AS d ORDER BY d;

SELECT ts FROM generate_series(timestamp '2024-03-01 00:00', timestamp '2024-03-01 23:59', interval '6 hours') AS ts ORDER BY ts;

SELECT m::date AS month_start, (m + interval '1 month - 1 day')::date AS month_end FROM generate_series(timestamp '2024-01-01', timestamp '2024-06-01', interval '1 month') AS m ORDER BY m;

SELECT date '2024-03-01' < timestamp '2024-03-01 00:00:01', date '2024-03-01' = timestamp '2024-03-01', '2024-03-01'::date BETWEEN '2024-01-01' AND '2024-12-31', timestamp '2024-03-01 10:00' > '2024-03-01';

SELECT date_bin(interval '15 minutes', timestamp '2024-03-05 14:07:09', timestamp '2000-01-01'), date_bin(interval '1 day', timestamp '2024-03-05 14:07:09', timestamp '2024-01-01 06:00');

SELECT timestamp '2024-03-10 12:00' AT TIME ZONE 'UTC', timestamptz '2024-03-10 12:00+00' AT TIME ZONE 'Europe/Berlin', timestamptz '2024-07-10 12:00+00' AT TIME ZONE 'America/New_York', timestamp '2024-07-10 12:00' AT TIME ZONE 'Asia/Tokyo';

SELECT min(order_ts), max(order_ts), min(order_ts)::date, max(order_ts)::date, max(order_ts::date) - min(order_ts::date) AS span_days FROM lake.orders;

SELECT date_trunc('month', order_ts) AS month, count(*) FROM lake.orders WHERE order_ts >= '2024-01-01' AND order_ts < '2024-07-01' GROUP BY 1 ORDER BY 1;

SELECT EXTRACT(year FROM order_ts) AS year, EXTRACT(quarter FROM order_ts) AS quarter, count(*) FROM lake.orders GROUP BY 1, 2 ORDER BY 1, 2;

SELECT EXTRACT(isodow FROM order_ts) AS isodow, to_char(order_ts, 'Dy') AS day, count(*) FROM lake.orders GROUP BY 1, 2 ORDER BY 1;

SELECT EXTRACT(hour FROM order_ts) AS hour, count(*) FROM lake.orders GROUP BY 1 ORDER BY 1 LIMIT 8;

SELECT order_id, order_ts, date_trunc('week', order_ts) AS week, to_char(order_ts, 'IYYY-"W"IW') AS iso_week, EXTRACT(doy FROM order_ts) AS doy, EXTRACT(epoch FROM order_ts) AS epoch FROM lake.orders ORDER BY order_id LIMIT 5;

SELECT customer_id, signup_date, signup_date + 30 AS trial_end, EXTRACT(year FROM signup_date) AS signup_year, date '2025-01-01' - signup_date AS tenure_days, age(date '2025-01-01', signup_date) AS tenure FROM lake.customers ORDER BY customer_id LIMIT 5;

SELECT to_char(order_ts, 'YYYY-MM') AS month, count(*) FROM lake.orders WHERE order_ts::date BETWEEN '2023-11-01' AND '2023-12-31' GROUP BY 1 ORDER BY 1;

SELECT count(*) FILTER (WHERE order_ts::date = '2024-12-24') AS christmas_eve, count(*) FILTER (WHERE EXTRACT(month FROM order_ts) = 12) AS december, count(*) FILTER (WHERE EXTRACT(dow FROM order_ts) IN (0, 6)) AS weekend FROM lake.orders;

SELECT o.order_id, c.signup_date, o.order_ts, o.order_ts::date - c.signup_date AS days_after_signup FROM lake.orders o JOIN lake.customers c USING (customer_id) ORDER BY o.order_id LIMIT 5;

SELECT date_trunc('quarter', signup_date)::date AS quarter, count(*) FROM lake.customers WHERE signup_date >= '2023-01-01' GROUP BY 1 ORDER BY 1;

SELECT to_char(signup_date, 'YYYY-MM') AS month, count(*) FROM lake.customers WHERE signup_date BETWEEN '2024-01-01' AND '2024-06-30' GROUP BY 1 ORDER BY 1;

SELECT EXTRACT(year FROM event_ts) AS y, EXTRACT(month FROM event_ts) AS m, count(DISTINCT session_id) AS sessions FROM lake.web_events WHERE event_ts >= '2024-07-01' GROUP BY 1, 2 ORDER BY 1, 2;
