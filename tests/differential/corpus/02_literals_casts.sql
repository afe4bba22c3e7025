-- Literal typing (integer, bigint, numeric, float) and casts between numbers, text, booleans, dates, timestamps and intervals.

-- integer literals widen to bigint and then numeric as they grow
SELECT 1, 2147483647, 2147483648, 9223372036854775807, 9223372036854775808;

SELECT pg_typeof(1), pg_typeof(2147483648), pg_typeof(9223372036854775808), pg_typeof(0.1), pg_typeof(1.5e3), pg_typeof(1e3);

-- numeric literals keep their written scale
SELECT 0.1, 1.50, 1.5e3, 1e-3, .5, 5., 100.000;

-- integer division truncates, numeric division does not
SELECT 7 / 2, 7.0 / 2, 7::numeric / 2, 7 / 2.0, -7 / 2, 7 / -2;

SELECT 7 % 3, -7 % 3, 7 % -3, -7.5 % 2, 7.5 % 2;

-- ^ on integers is double precision, on numerics it is numeric
SELECT 2 ^ 10, 2.0 ^ 10, 2 ^ 0.5, 2 ^ -1, (-2) ^ 3;

SELECT 1::numeric / 3, 10::numeric / 4, 1.0 / 3, 2 / 3.0, 100.0 / 7;

SELECT 0.1 + 0.2, 0.1::float8 + 0.2::float8, 0.1::float8 * 3, 1 / 3::float8;

-- numeric to integer rounds half away from zero
SELECT 1.5::int, 2.5::int, (-2.5)::int, 0.5::int, 0.49::int, 2.5::bigint;

-- float to integer rounds half to even
SELECT 2.5::float8::int, 3.5::float8::int, (-2.5)::float8::int, 0.5::float8::bigint;

SELECT '42'::int, ' 42 '::int, '+42'::int, '-0'::int, '007'::bigint;

SELECT '3.14159'::numeric(5,2), '3.145'::numeric(5,2), 1234.5678::numeric(10,1), (-3.145)::numeric(5,2);

SELECT '1e3'::float8, '1.5'::real, 'Infinity'::float8, '-Infinity'::float8, 'NaN'::float8, 'nan'::numeric;

SELECT 1.1::real, 1.1::real::float8, 1.1::float8, 0.1::real + 0.2::real;

-- float8 text output: shortest exact digits, exponent form for large and small values
SELECT 1.5e3::float8::text, 1e20::float8::text, 1e-5::float8::text, 123456789012345678::float8::text, 1e15::float8::text, 1e16::float8::text, 0.0001::float8::text;

SELECT 100::text, 1.50::text, (-0.0)::text, (-0.0)::float8::text, 3.0::float8::text;

SELECT CAST(3.7 AS integer), CAST('2024-02-29' AS date), CAST('12:30' AS time), CAST('7' AS numeric(5,2));

SELECT 'true'::boolean, 'yes'::boolean, 'off'::boolean, 't'::boolean, '0'::boolean, ' TRUE '::boolean, 'n'::boolean;

SELECT true::text, false::text, true::int, 0::boolean, 5::boolean, CAST(false AS varchar);

SELECT '2024-03-01'::date, '2024-03-01 12:34:56'::timestamp, '2024-03-01 12:34:56.789'::timestamp, '2024-03-01'::timestamp, '2024-03-01T08:00:00'::timestamp;

-- timestamptz is shown in the session time zone (UTC)
SELECT '2024-03-01 12:00:00+02'::timestamptz, '2024-03-01 12:00:00'::timestamptz, '2024-03-01 12:00:00-05:30'::timestamptz;

SELECT '2024-03-01 12:00:00'::timestamp::timestamptz, '2024-03-01 10:00:00+00'::timestamptz::timestamp, '2024-03-01 23:59:59.999'::timestamp::date, '2024-03-01'::date::timestamptz;

SELECT '1 day'::interval, '90 minutes'::interval, '1 year 2 months'::interval, '36 hours'::interval, interval '1.5 days', '-1 day'::interval;

SELECT CAST(1.5::float8 AS text), CAST(interval '3 days 04:05:06' AS text), CAST(timestamp '2024-01-02 03:04:05' AS text), CAST(12.50 AS text), CAST(true AS text), CAST(date '2024-01-02' AS text);

SELECT CAST(timestamp '2024-01-02 03:04:05.5' AS text), CAST(timestamptz '2024-01-02 03:04:05+01' AS text), CAST(time '08:09:10' AS text), CAST(0.1::real AS text);

SELECT product_id, price, price::int, price::bigint, price::float8, price::real, price::text, price::numeric(10,1) FROM lake.products ORDER BY product_id LIMIT 5;

SELECT customer_id::int, customer_id::text || '-' || country, birth_year::text, birth_year::numeric / 10 FROM lake.customers ORDER BY customer_id LIMIT 4;

SELECT order_id, order_ts::date, order_ts::text, order_ts::time, order_ts::timestamptz FROM lake.orders ORDER BY order_id LIMIT 3;

SELECT customer_id, signup_date::timestamp, signup_date::text, signup_date::timestamptz FROM lake.customers ORDER BY customer_id LIMIT 3;

SELECT customer_id, marketing_opt_in, marketing_opt_in::text, marketing_opt_in::int FROM lake.customers ORDER BY customer_id LIMIT 4;

SELECT 2147483647::bigint + 1, 9223372036854775807::numeric + 1, 32767::smallint, 3::int2 + 1, pg_typeof(3::int2 + 1);

-- numeric scale propagation in products and quotients of money columns
SELECT order_id, line_no, quantity * unit_price, quantity * 1.0, unit_price * 0.9, unit_price / 3, unit_price - discount FROM lake.order_lines ORDER BY order_id, line_no LIMIT 5;

SELECT product_id, price * 0.9, round(price * 0.9, 2), price / 3, price / 3.0, price * 100 / 100 FROM lake.products ORDER BY product_id LIMIT 4;

SELECT 10 / 4, 10 / 4.0, 10::float8 / 4, 10 / 4::float8, 10::real / 4, 10::bigint / 4;

SELECT 0.000001::numeric, 1000000.0::numeric, 123.4500::numeric, 0.0, -0.0, 1e-10::numeric, 1.23e+5::numeric;

SELECT 12345678901234567890123456789.123::numeric * 2, 99999999999999999999::numeric + 1;

SELECT '  12.5 '::numeric, '1e2'::numeric, '-.5'::numeric, '+3.'::numeric;

SELECT 'abc'::varchar(2), 'abc'::char(5) || '|', length('ab '::char(5)), octet_length('ab'::char(5)), 'ab'::char(5) = 'ab';

SELECT 1.0::float8, 100::float8, 1e100::float8, 2.5e-7::float8, 1::float4 / 3;

SELECT order_id, shipping, shipping::text, shipping::float8, shipping::int, (shipping * 100)::bigint AS cents FROM lake.orders ORDER BY order_id LIMIT 4;

SELECT sum(unit_price)::float8, sum(unit_price)::bigint, avg(quantity)::int, avg(quantity)::numeric(6,3), count(*)::text FROM lake.order_lines;

SELECT event_id, event_ts::date, event_ts::time, CAST(event_ts AS text), CAST(session_id AS text) || ':' || event_id AS ref FROM lake.web_events ORDER BY event_id LIMIT 3;
