-- Math functions and operators on integers, numerics and doubles, alone and over table columns.

-- round on numeric rounds half away from zero, on double precision half to even
SELECT round(2.5), round(3.5), round(-2.5), round(2.5::float8), round(3.5::float8), round(-0.5::float8);

SELECT round(1234.5678, 2), round(1234.5678, 0), round(1234.5678, -2), round(1250, -2), round(0.125, 2), round(-0.125, 2);

SELECT trunc(1234.5678, 2), trunc(-1234.5678, 1), trunc(1234.5678), trunc(-7.9::float8), trunc(1299, -2);

SELECT ceil(1.2), ceil(-1.2), ceiling(1.0), floor(1.8), floor(-1.2), ceil(2.5::float8), floor(-2.5::float8);

SELECT abs(-3), abs(-3.50), abs(-2.5::float8), abs(-9223372036854775807), sign(-3.5), sign(0), sign(7::float8), sign(-2);

SELECT mod(7, 3), mod(-7, 3), mod(7, -3), mod(7.5, 2), mod(10::bigint, 4), 17 % 5;

SELECT div(7, 2), div(-7, 2), div(7.9, 2), div(-7.9, 2.5);

SELECT power(2, 10), power(2.0, 10), power(2, 0.5), power(10, -2), power(9.0, 0.5), pow(3, 3);

SELECT sqrt(2), sqrt(16), sqrt(2.0), sqrt(16.0), sqrt(0.25::float8), cbrt(27), cbrt(-8::float8), cbrt(2);

SELECT exp(1), exp(1.0), exp(0), exp(2.5::float8), ln(10), ln(10.0), ln(1);

SELECT log(100), log(100.0), log(2, 8), log(2.0, 1024), log10(1000), log10(2), log(0.001);

SELECT pi(), degrees(pi()), radians(180), degrees(1), radians(45.0);

SELECT sin(0), cos(0), round(sin(pi() / 6)::numeric, 6), round(cos(pi() / 3)::numeric, 6), round(atan2(1, 1)::numeric, 10), round(tan(pi() / 4)::numeric, 10);

SELECT greatest(1, 2.5, 2), least(3, 1.5, 2), greatest('b', 'a', 'c'), least(date '2024-01-05', date '2023-12-31'), greatest(1, NULL, 3), least(NULL::int, NULL);

SELECT width_bucket(5.35, 0.024, 10.06, 5), width_bucket(0, 0, 100, 10), width_bucket(100, 0, 100, 10), width_bucket(-1, 0, 100, 10), width_bucket(50::float8, 0, 100, 4);

SELECT gcd(12, 18), lcm(4, 6), gcd(0, 5), factorial(5), factorial(20);

SELECT 5 & 3, 5 | 3, 5 # 3, ~5, 1 << 4, 256 >> 2;

SELECT scale(1.500), scale(10), trim_scale(1.500), trim_scale(2.000), min_scale(1.2300);

SELECT 1::numeric / 7, 22::numeric / 7, 1 / 7::float8, 22 / 7::float8, 1000000::numeric / 3, 0.001::numeric / 3;

SELECT 1e300::float8 * 1e8, 1e-300::float8 / 1e10, 'Infinity'::float8 + 1, 'Infinity'::float8 - 'Infinity'::float8;

SELECT -2147483648, -2147483647 - 1, 2147483647 * 2::bigint, 3000000000 * 3, -(-9223372036854775807);

-- price statistics (numeric arithmetic stays exact)
SELECT category, count(*), min(price), max(price), sum(price), round(avg(price), 2), max(price) - min(price) AS spread FROM lake.products GROUP BY category ORDER BY category;

SELECT product_id, price, round(price), ceil(price), floor(price), trunc(price, 1), round(price / 7, 3), mod(price, 10) FROM lake.products ORDER BY product_id LIMIT 6;

SELECT width_bucket(price, 0, 200, 4) AS bucket, count(*), min(price), max(price) FROM lake.products GROUP BY 1 ORDER BY 1;

SELECT floor(price / 25) * 25 AS price_band, count(*) FROM lake.products GROUP BY 1 ORDER BY 1;

SELECT order_id, line_no, quantity, unit_price, discount, quantity * (unit_price - discount) AS net, round(discount / unit_price * 100, 1) AS discount_pct FROM lake.order_lines WHERE discount > 0 ORDER BY order_id, line_no LIMIT 8;

SELECT sum(quantity), sum(quantity) / count(*), sum(quantity)::numeric / count(*), round(sum(quantity)::numeric / count(*), 3) FROM lake.order_lines;

SELECT product_id, price::float8 * 1.1, sqrt(price), ln(price), log10(price), exp(price / 100) FROM lake.products ORDER BY product_id LIMIT 4;

SELECT product_id, round(sqrt(price)::numeric, 4), round(ln(price::float8)::numeric, 4), round(power(price, 2), 2), abs(price - 50) FROM lake.products ORDER BY product_id LIMIT 5;

SELECT greatest(max(price), 100), least(min(price), 5), greatest(count(*), 10) FROM lake.products;

SELECT quantity, count(*), sum(quantity * unit_price) FROM lake.order_lines GROUP BY quantity ORDER BY quantity;

SELECT x, x / 3, x % 3, x::float8 / 3, round(x::numeric / 3, 2), power(x, 2), sqrt(abs(x)) FROM generate_series(-3, 6) AS x ORDER BY x;

SELECT x, round(x, 0), round(x::float8), trunc(x), ceil(x), floor(x) FROM (VALUES (-1.5), (-0.5), (0.5), (1.5), (2.5), (2.4999)) AS t(x) ORDER BY x;

SELECT n, factorial(n), power(2, n)::bigint, 2 ^ n FROM generate_series(0, 10, 2) AS n ORDER BY n;

SELECT sum(x), sum(x::float8), avg(x::float8), sum(x::numeric) / 3 FROM (VALUES (0.1), (0.2), (0.3)) AS t(x);

SELECT customer_id, sum(quantity * unit_price) AS gross, round(sum(quantity * unit_price) * 1.19, 2) AS with_vat, trunc(sum(quantity * unit_price) / 100) * 100 AS hundreds FROM lake.order_lines GROUP BY customer_id ORDER BY gross DESC, customer_id LIMIT 5;

SELECT round(avg(price), 2) AS mean, round(sum(price) / count(*), 2) AS mean2, round(exp(avg(ln(price))), 2) AS geometric_mean, round(count(*) / sum(1 / price), 2) AS harmonic_mean FROM lake.products;

SELECT width_bucket(quantity * unit_price, ARRAY[0, 25, 50, 100, 250]::numeric[]) AS bucket, count(*), min(quantity * unit_price), max(quantity * unit_price) FROM lake.order_lines GROUP BY 1 ORDER BY 1;
