-- Errors: every query here fails in PostgreSQL; the comment above each gives the expected SQLSTATE.

-- 22012 division by zero (integer)
SELECT 1 / 0;

-- 22012 division by zero (numeric)
SELECT 1.0 / 0;

-- 22012 modulo by zero
SELECT 5 % 0;

-- 22012 division by zero on table data
SELECT order_id, quantity / (quantity - quantity) FROM lake.order_lines ORDER BY order_id LIMIT 1;

-- 22012 division by zero in an aggregate
SELECT sum(quantity) / count(*) FILTER (WHERE false) FROM lake.order_lines;

-- 22003 integer out of range on addition
SELECT 2147483647 + 1;

-- 22003 bigint out of range
SELECT 9223372036854775807 + 1;

-- 22003 integer out of range on multiplication
SELECT 100000 * 100000;

-- 22003 integer out of range on negation of the minimum
SELECT (-2147483647 - 1) * -1;

-- 22003 integer column arithmetic overflows
SELECT sum(quantity * 2147483647) FROM lake.order_lines;

-- 22003 integer out of range on cast
SELECT 3000000000::int;

-- 22003 smallint out of range
SELECT 40000::smallint;

-- 22003 numeric field overflow
SELECT 12345.678::numeric(5,2);

-- 22003 double precision overflow
SELECT 1e308::float8 * 10;

-- 22003 double to integer out of range
SELECT 1e10::float8::int;

-- 22P02 invalid input syntax for type integer
SELECT 'abc'::int;

-- 22P02 a decimal string is not an integer
SELECT '12.5'::int;

-- 22P02 empty string is not an integer
SELECT ''::int;

-- 22P02 invalid input syntax for type boolean
SELECT 'maybe'::boolean;

-- 22P02 invalid input syntax for type numeric
SELECT 'x1'::numeric;

-- 22P02 casting a text column to integer
SELECT name::int FROM lake.customers;

-- 22P02 malformed array literal
SELECT '{1,2'::int[];

-- 22P02 invalid input syntax for type json
SELECT '{"a":'::json;

-- 22007 invalid input syntax for type date
SELECT 'not a date'::date;

-- 22008 date field value out of range
SELECT '2024-02-30'::date;

-- 22008 month out of range
SELECT '2024-13-01'::date;

-- 22008 make_date with an impossible day
SELECT make_date(2024, 2, 30);

-- 22007 invalid input syntax for type timestamp
SELECT 'yesterday-ish'::timestamp;

-- 22007 invalid input syntax for type interval
SELECT 'one day'::interval;

-- 22008 to_date with an impossible month
SELECT to_date('2024-99-01', 'YYYY-MM-DD');

-- 22023 unknown unit in date_trunc
SELECT date_trunc('fortnight', timestamp '2024-01-01');

-- 42703 unknown column
SELECT no_such_column FROM lake.orders;

-- 42703 unknown qualified column
SELECT o.amount FROM lake.orders o;

-- 42P01 unknown table
SELECT * FROM lake.no_such_table;

-- 42P01 missing FROM-clause entry
SELECT x.order_id FROM lake.orders o;

-- 42883 unknown function
SELECT no_such_function(1);

-- 42883 round(double precision, integer) does not exist
SELECT round(1.234::float8, 2);

-- 42883 operator does not exist: text + integer
SELECT 'a'::text + 1;

-- 42883 length(integer) does not exist
SELECT length(123);

-- 42883 date + date is not an operator
SELECT date '2024-01-01' + date '2024-01-02';

-- 42883 sum(text) does not exist
SELECT sum(country) FROM lake.orders;

-- 42601 syntax error
SELEC 1;

-- 42601 syntax error at end of input
SELECT 1 +;

-- 42601 unbalanced parenthesis
SELECT (1 + 2;

-- 42601 UNION branches with different column counts
SELECT 1, 2 UNION SELECT 1;

-- 42702 ambiguous column reference
SELECT customer_id FROM lake.orders o JOIN lake.customers c ON c.customer_id = o.customer_id;

-- 42712 table name specified more than once
SELECT * FROM lake.orders o JOIN lake.customers o ON true;

-- 42803 column must appear in GROUP BY
SELECT country, count(*) FROM lake.orders;

-- 42803 ungrouped column next to a grouped one
SELECT customer_id, sum(shipping) FROM lake.orders GROUP BY country;

-- 42803 aggregate in WHERE
SELECT order_id FROM lake.orders WHERE count(*) > 1;

-- 42803 nested aggregates
SELECT sum(count(*)) FROM lake.orders;

-- 42P20 window function in WHERE
SELECT order_id FROM lake.orders WHERE row_number() OVER (ORDER BY order_id) = 1;

-- 21000 scalar subquery returns more than one row
SELECT (SELECT order_id FROM lake.orders);

-- 21000 more than one row in a comparison subquery
SELECT count(*) FROM lake.customers WHERE customer_id = (SELECT customer_id FROM lake.orders);

-- 2201E logarithm of a negative number
SELECT ln(-1);

-- 2201E logarithm of zero
SELECT log(0);

-- 2201F square root of a negative number
SELECT sqrt(-1);

-- 2201F power of a negative number to a fractional exponent
SELECT power(-8.0, 0.5);

-- 22023 generate_series step of zero
SELECT * FROM generate_series(1, 10, 0);

-- 22011 negative substring length
SELECT substr('abc', 1, -1);

-- 22023 split_part field position zero
SELECT split_part('a,b', ',', 0);

-- 2201B invalid regular expression
SELECT 'a' ~ '(';

-- 22025 LIKE pattern ending with the escape character
SELECT 'ab' LIKE 'a\';

-- 42846 cannot cast boolean to date
SELECT true::date;

-- 42846 cannot cast interval to integer
SELECT interval '1 day'::int;

-- 42804 CASE types integer and text cannot be matched
SELECT CASE WHEN true THEN 1 ELSE 'x'::text END;

-- 42804 UNION types text and integer cannot be matched
SELECT NULL AS v UNION SELECT NULL UNION SELECT 1;

-- 42804 argument of WHERE must be boolean
SELECT count(*) FROM lake.orders WHERE 1;

-- 42P10 ORDER BY position out of range
SELECT order_id FROM lake.orders ORDER BY 5;

-- 42P10 ORDER BY expression not in the DISTINCT select list
SELECT DISTINCT order_id FROM lake.orders ORDER BY order_ts;

-- 42804 cannot subscript a type that is not an array
SELECT (1)[1];

-- 22008 make_timestamp with hour 25
SELECT make_timestamp(2024, 1, 1, 25, 0, 0);

-- 22008 time field out of range
SELECT '25:00'::time;

-- 2201G width_bucket count must be greater than zero
SELECT width_bucket(5, 0, 10, 0);

-- 2202E cannot concatenate incompatible arrays
SELECT ARRAY[1, 2] || ARRAY[[1]];

-- 22023 jsonb_array_length of an object
SELECT jsonb_array_length('{}');

-- 22P02 invalid input syntax for type jsonb
SELECT 'abc'::jsonb;

-- 22007 to_timestamp with text that does not match the pattern
SELECT to_timestamp('x', 'YYYY');

-- 22008 interval out of range
SELECT INTERVAL '1 day' * 1e300;

-- 22025 LIKE pattern ending with its escape character
SELECT 'a/' LIKE 'a/' ESCAPE '/';

-- 42704 unknown setting
SELECT current_setting('no_such_setting');
