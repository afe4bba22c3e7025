-- String functions and operators: length, case, substrings, padding, trimming, replacing, splitting, concatenation, format, LIKE/ILIKE/SIMILAR TO.

-- character length versus byte length of non-ASCII text
SELECT length('München'), char_length('München'), character_length('東京'), octet_length('München'), octet_length('東京'), bit_length('abc');

SELECT upper('hello World'), lower('Hello WORLD'), initcap('hello wORLD foo-bar 3rd');

SELECT substr('hello world', 7), substr('hello world', 1, 5), substr('hello', 0, 3), substr('hello', -1, 3), substr('hello', 4, 100);

SELECT substring('hello world' FROM 7), substring('hello world' FROM 1 FOR 5), substring('hello' FOR 2), substring('hello', 2, 3);

SELECT position('lo' IN 'hello'), position('z' IN 'hello'), position('' IN 'hello'), strpos('München', 'chen'), strpos('abcabc', 'c');

SELECT left('abcdef', 2), right('abcdef', 2), left('abcdef', -2), right('abcdef', -2), left('Łódź', 2), right('São Paulo', 5);

SELECT lpad('42', 5, '0'), rpad('ab', 5, '-'), lpad('abc', 2), rpad('abc', 6), lpad('x', 7, 'ab'), lpad('', 3, '*') || '|';

SELECT trim('  both  ') || '|', ltrim('  left') || '|', rtrim('right  ') || '|', btrim('xxhixx', 'x'), ltrim('0001200', '0'), rtrim('0001200', '0');

SELECT trim(BOTH 'x' FROM 'xxaxx'), trim(LEADING 'x' FROM 'xxaxx'), trim(TRAILING 'x' FROM 'xxaxx'), trim(BOTH FROM '  a  ') || '|';

SELECT replace('hello world', 'o', '0'), replace('aaa', 'a', 'bb'), replace('abc', '', 'x'), translate('12345', '143', 'ax'), translate('hello', 'el', 'ip');

SELECT repeat('ab', 3), repeat('x', 0) || '|', reverse('abc'), reverse('Łódź'), repeat('-', 10);

SELECT split_part('a,b,c', ',', 2), split_part('a,b,c', ',', 4) || '|', split_part('a,b,c', ',', -1), split_part('one  two', ' ', 2) || '|', split_part('2024-03-15', '-', 1)::int;

-- concat skips NULLs, || with NULL is NULL, || converts non-text operands
SELECT concat('a', NULL, 1, 2.50, true), concat_ws(', ', 'a', NULL, 'b', 3), 'a' || NULL, 'a' || 1, 1 || 'a', 'n=' || 2.50 || '!';

SELECT concat_ws('-', 2024, 3, 15), concat_ws(NULL, 'a', 'b'), concat(NULL) || '|', concat('', '') || '|';

SELECT format('%s has %s items', 'cart', 3), format('%s|%s', NULL, 'x'), format('%5s|%-5s|', 'ab', 'cd'), format('%I.%I', 'lake', 'Order Lines'), format('%L, %L', 'O''Brien', NULL);

SELECT format('%1$s %2$s %1$s', 'a', 'b'), format('100%%'), format('%s', 1.50), format('%s', ARRAY[1, 2]);

SELECT md5('abc'), md5(''), md5('München'), starts_with('datapunk', 'data'), starts_with('datapunk', 'punk');

SELECT ascii('A'), ascii('é'), ascii(''), chr(65), chr(233), chr(26481), to_hex(255), to_hex(-1), to_hex(9223372036854775807);

SELECT quote_ident('orders'), quote_ident('Order Lines'), quote_ident('select'), quote_literal('O''Brien'), quote_literal(42), quote_nullable(NULL), quote_nullable('x');

-- LIKE with % and _, the default backslash escape and a custom ESCAPE
SELECT 'abc' LIKE 'a%', 'abc' LIKE 'a_c', 'abc' LIKE 'A%', 'abc' ILIKE 'A%', 'a_c' LIKE 'a\_c', 'abc' LIKE 'a\_c', '50%' LIKE '50!%' ESCAPE '!', '5000' LIKE '50!%' ESCAPE '!';

SELECT 'abc' NOT LIKE '%b%', 'ABC' NOT ILIKE '%b%', 'abc' ~~ 'a%', 'abc' ~~* 'A%', 'abc' !~~ 'b%', '' LIKE '%', 'x' LIKE '';

SELECT 'abc' SIMILAR TO 'a(b|c)c', 'abc' SIMILAR TO '%(b|d)%', 'abc' SIMILAR TO 'b%', 'aaa' SIMILAR TO 'a{2,3}', 'ab1' SIMILAR TO '[a-z]+[0-9]', 'abc' NOT SIMILAR TO 'a%';

SELECT product_id, name, upper(category), initcap(category), length(name), left(category, 3), split_part(name, ' ', 3)::int AS n FROM lake.products ORDER BY product_id LIMIT 5;

SELECT customer_id, name, length(name), octet_length(name), split_part(name, ' ', 1) AS first_name, split_part(name, ' ', 2) AS last_name, left(name, 1) AS initial, reverse(name) FROM lake.customers ORDER BY customer_id LIMIT 8;

SELECT split_part(email, '@', 2) AS domain, count(*) FROM lake.customers GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST;

SELECT customer_id, email, substr(email, 1, strpos(email, '@') - 1) AS local_part, replace(email, '@example.com', '') AS short, lpad(customer_id::text, 6, '0') AS code FROM lake.customers ORDER BY customer_id LIMIT 5;

SELECT city, count(*), length(city), octet_length(city) FROM lake.customers GROUP BY city ORDER BY count(*) DESC, min(customer_id) LIMIT 10;

SELECT count(*) FILTER (WHERE name LIKE 'A%') AS a_names, count(*) FILTER (WHERE name LIKE '%ü%') AS with_umlaut, count(*) FILTER (WHERE name LIKE '%''%') AS with_quote, count(*) FILTER (WHERE name ILIKE '%smith%') AS smiths FROM lake.customers;

SELECT category, string_agg(DISTINCT brand, ', ' ORDER BY brand) AS brands FROM lake.products GROUP BY category ORDER BY category;

SELECT channel, upper(left(channel, 1)) || substr(channel, 2) AS label, replace(channel, '_', ' ') AS pretty, length(channel) FROM lake.orders GROUP BY channel ORDER BY channel;

SELECT coupon_code, substring(coupon_code FROM 5)::int AS percent_off, count(*) FROM lake.orders WHERE coupon_code LIKE 'SAVE%' GROUP BY coupon_code ORDER BY percent_off;

SELECT event_type, translate(event_type, '_', '-'), initcap(replace(event_type, '_', ' ')), position('_' IN event_type), rpad(event_type, 14, '.') || '|' FROM lake.web_events GROUP BY event_type ORDER BY event_type;

SELECT country, city, country || '/' || city AS path, concat_ws(' - ', country, city, NULL) AS label FROM lake.customers ORDER BY customer_id LIMIT 5;

SELECT product_id, format('%s (%s) at %s', name, coalesce(brand, 'no brand'), price) AS label FROM lake.products ORDER BY product_id LIMIT 4;

SELECT 'a' < 'b', 'abc' = 'abc ', 'abc' < 'abd', 'a' || 'b' = 'ab', '10' < '9', 'abc' <> 'ABC';

SELECT loyalty_tier, upper(loyalty_tier), length(loyalty_tier), lpad(count(*)::text, 4, '0') AS n FROM lake.customers GROUP BY loyalty_tier ORDER BY loyalty_tier;

SELECT acquisition_channel, string_agg(DISTINCT country, ',' ORDER BY country) AS countries FROM lake.customers GROUP BY acquisition_channel ORDER BY acquisition_channel;
