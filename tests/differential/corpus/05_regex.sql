-- POSIX regular expressions: ~ ~* !~ !~*, regexp_replace with flags, regexp_match(es), regexp splits, substring FROM pattern, PostgreSQL 15 regexp_count/instr/like/substr.

SELECT 'abc123' ~ '\d+', 'abc' ~ '^b', 'ABC' ~* 'abc', 'ABC' !~ 'abc', 'ABC' !~* 'abc', 'a.c' ~ 'a\.c', 'abc' ~ 'a.c';

SELECT 'foo@example.com' ~ '^[a-z0-9.]+@[a-z]+\.[a-z]{2,}$', 'not an email' ~ '@', '2024-03-15' ~ '^\d{4}-\d{2}-\d{2}$', '' ~ '^$';

SELECT regexp_replace('hello world', 'o', '0'), regexp_replace('hello world', 'o', '0', 'g'), regexp_replace('Hello HELLO', 'hello', 'bye', 'gi'), regexp_replace('abc', 'x', 'y');

SELECT regexp_replace('2024-03-15', '(\d+)-(\d+)-(\d+)', '\3/\2/\1'), regexp_replace('  many   spaces  here ', '\s+', ' ', 'g'), regexp_replace('a1b22c333', '[0-9]+', '#', 'g'), regexp_replace('abc', '(b)', '[\1\1]');

SELECT regexp_replace('aaa', 'a', 'b', 2), regexp_replace('aaa', 'a*', 'X', 'g'), regexp_replace('phone: 555-1234', '\D', '', 'g'), regexp_replace('CamelCaseString', '([a-z])([A-Z])', '\1_\2', 'g');

SELECT regexp_match('abc123def456', '\d+'), regexp_match('abc123def456', '([a-z]+)(\d+)'), regexp_match('abc', '\d'), (regexp_match('key=value', '(\w+)=(\w+)'))[2];

SELECT regexp_match('Order #12345 shipped', '#(\d+)'), (regexp_match('v1.22.333', '(\d+)\.(\d+)\.(\d+)'))[3]::int, regexp_match('ABC', 'b', 'i');

SELECT m FROM regexp_matches('a1b22c333', '\d+', 'g') AS m ORDER BY length(m[1]);

SELECT m[1] AS letter, m[2] AS digits FROM regexp_matches('a1b22c333d', '([a-z])(\d*)', 'g') AS m ORDER BY m[1];

-- no match: a set-returning function yields no rows
SELECT regexp_matches('no digits', '\d+', 'g') AS m ORDER BY 1;

SELECT regexp_split_to_array('a,b|c d', '[,| ]'), regexp_split_to_array('one  two   three', '\s+'), regexp_split_to_array('abc', ''), regexp_split_to_array('', ',');

SELECT part FROM regexp_split_to_table('the quick brown fox', ' ') AS part ORDER BY part;

SELECT part, length(part) FROM regexp_split_to_table('2024-03-15T10:20:30', '[-T:]') AS part ORDER BY length(part) DESC, part;

SELECT substring('Order #12345 shipped' FROM '\d+'), substring('abc-def' FROM '-(.*)$'), substring('no match' FROM '\d+'), substring('price: $19.99' FROM '\$([0-9.]+)')::numeric;

SELECT substring('foobar' FROM 'o(.)b'), substring('XY2024-05' FROM '(\d{4})-(\d{2})'), substring('aaa' FROM 'a+?');

SELECT regexp_count('a1b22c333', '\d'), regexp_count('banana', 'an'), regexp_count('abc', 'x'), regexp_instr('hello world', 'o'), regexp_instr('hello world', 'o', 1, 2), regexp_like('Hello', '^h', 'i'), regexp_substr('abc123def456', '\d+', 1, 2);

SELECT 'abcabc' ~ '(abc)\1', 'ab' ~ '^(a|b)+$', 'aXb' ~ 'a[^a-z]b', E'tab\there' ~ '\t', 'x' ~ '[[:digit:]]', '7' ~ '[[:digit:]]', 'A' ~ '[[:upper:]]';

SELECT email, email ~ '^c\d+@example\.com$' AS well_formed, substring(email FROM '^c(\d+)@')::int AS id_from_email FROM lake.customers WHERE customer_id <= 5 ORDER BY customer_id;

SELECT count(*) FILTER (WHERE email ~ '^c[0-9]+@') AS matching, count(*) FILTER (WHERE email !~ '^c[0-9]+@') AS not_matching, count(*) FILTER (WHERE email IS NULL) AS no_email FROM lake.customers;

SELECT product_id, name, substring(name FROM '\d+$')::int AS number_in_name, regexp_replace(name, ' item ', '#') AS sku FROM lake.products ORDER BY product_id LIMIT 5;

SELECT category, count(*) FROM lake.products WHERE category ~ '^(s|b)' GROUP BY category ORDER BY category;

SELECT category, count(*) FROM lake.products WHERE name ~* '^(SHOES|TOYS) ITEM 1' GROUP BY category ORDER BY category;

SELECT event_type, count(*) FROM lake.web_events WHERE event_type ~ '_view$' GROUP BY event_type ORDER BY event_type;

SELECT regexp_replace(event_type, '_(.)', '-\1', 'g') AS kebab, count(*) FROM lake.web_events GROUP BY 1 ORDER BY 1;

SELECT channel, regexp_split_to_array(channel, '_') AS words, array_length(regexp_split_to_array(channel, '_'), 1) AS n_words FROM lake.orders GROUP BY channel ORDER BY channel;

SELECT coupon_code, (regexp_match(coupon_code, '^([A-Z]+)(\d+)$'))[1] AS prefix, (regexp_match(coupon_code, '^([A-Z]+)(\d+)$'))[2]::int AS value FROM lake.orders WHERE coupon_code IS NOT NULL GROUP BY coupon_code ORDER BY value;

SELECT customer_id, name, name ~ '[^ -~]' AS has_non_ascii, regexp_replace(name, '[^ -~]', '?', 'g') AS ascii_only FROM lake.customers ORDER BY customer_id LIMIT 8;

SELECT count(*) FILTER (WHERE name ~ '[^ -~]') AS non_ascii_names, count(*) FILTER (WHERE city ~ '[^ -~]') AS non_ascii_cities, count(*) FILTER (WHERE name ~ '''') AS apostrophes FROM lake.customers;

SELECT w, count(*) FROM lake.products, regexp_split_to_table(name, ' ') AS w WHERE product_id <= 20 GROUP BY w ORDER BY count(*) DESC, w LIMIT 6;

SELECT to_char(order_ts, 'YYYY-MM-DD') ~ '^2024-1[12]' AS holiday_season, count(*) FROM lake.orders GROUP BY 1 ORDER BY 1;

SELECT regexp_replace('Ünïcödé', '[^a-zA-Z]', '_', 'g'), regexp_replace('東京 Tokyo', '[^ -~]+', 'JP'), 'Łódź' ~ '^Ł', length(regexp_replace('São Paulo', 'ã', 'a'));

SELECT regexp_replace('x1y2', '(\d)', '<\&>', 'g'), regexp_replace('a.b.c', '.', '-', 'g'), regexp_replace('a.b.c', '\.', '-', 'g'), regexp_replace('path/to/file', '/', '\\', 'g');
