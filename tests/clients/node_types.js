// node-postgres (`pg`) type survey: one canonical JSON line per query, describing the
// result fields (name, dataTypeID) and every value with the JavaScript type `pg` gave it.
// Each type is queried as a plain query (simple protocol, text results) and, where it
// makes sense, as a parameterised query (extended protocol, `$1`). Meant to be run
// against datapunk and against a real PostgreSQL and the outputs diffed.
//
// Usage: node node_types.js CONNECTION_URL
//   e.g. node node_types.js postgres://x@127.0.0.1:5433/datapunk
//        node node_types.js 'postgres://me@127.0.0.1:5432/postgres?options=-c%20TimeZone%3DUTC'
// The session TimeZone should be UTC on the server; the Node process is forced to UTC
// below so that timestamp-without-time-zone values parse the same everywhere.
// Table queries (names starting with "table_") read lake.* tables; on a server that
// lacks them they simply report an error line.
process.env.TZ = "UTC";
const { Client } = require("pg");

// ---- canonical description of a value --------------------------------------------

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

function describe(v) {
  if (v === null) return { t: "null" };
  if (v === undefined) return { t: "undefined" };
  const t = typeof v;
  if (t === "string" || t === "boolean") return { t, v };
  if (t === "number") return { t, v: Number.isFinite(v) ? v : String(v) };
  if (t === "bigint") return { t, v: v.toString() };
  if (t !== "object") return { t, v: String(v) };
  const c = v.constructor ? v.constructor.name : "Object(null-proto)";
  if (v instanceof Date) return { t: "Date", v: Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString() };
  if (Buffer.isBuffer(v)) return { t: "Buffer", v: v.toString("hex") };
  if (Array.isArray(v)) return { t: "Array", v: v.map(describe) };
  if (c === "PostgresInterval") {
    const fields = {};
    for (const k of ["years", "months", "days", "hours", "minutes", "seconds", "milliseconds"]) {
      if (v[k] !== undefined && v[k] !== 0) fields[k] = v[k];
    }
    return { t: c, v: fields, iso: typeof v.toISOString === "function" ? v.toISOString() : undefined };
  }
  // json / jsonb objects (and anything else): constructor name plus canonical JSON
  let s;
  try {
    s = JSON.stringify(sortKeys(v));
  } catch (e) {
    s = String(v);
  }
  return { t: c, v: s };
}

// ---- the queries ------------------------------------------------------------------

const UUID = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
const Q = [];
// plain: simple-protocol query; param: same type through `$1`
function both(name, plain, paramSql, params) {
  Q.push({ name: `${name}`, sql: plain });
  if (paramSql) Q.push({ name: `${name}$`, sql: paramSql, params });
}

// integers
both("int2", "SELECT 42::int2 AS v, (-32768)::int2 AS lo", "SELECT $1::int2 AS v", [42]);
both("int4", "SELECT 42::int4 AS v, 2147483647::int4 AS hi", "SELECT $1::int4 AS v", [42]);
both("int8", "SELECT 42::int8 AS v, 9007199254740993::int8 AS big", "SELECT $1::int8 AS v", ["9007199254740993"]);
both("select_1", "SELECT 1", "SELECT $1::int AS one", [1]);
both("select_1_bigint", "SELECT 1::bigint", "SELECT $1::bigint", [1]);
both("select_untyped_param", "SELECT 'x'", "SELECT $1", ["x"]);
both("param_plus_1", "SELECT 41 + 1 AS v", "SELECT $1 + 1 AS v", [41]);
both("count_values", "SELECT count(*) FROM (VALUES (1),(2),(3)) AS t(x)",
  "SELECT count(*) FROM (VALUES (1),(2),(3)) AS t(x) WHERE x > $1", [1]);
both("sum_avg_int", "SELECT sum(x) AS s, avg(x) AS a FROM (VALUES (1),(2),(4)) AS t(x)",
  "SELECT sum(x) AS s, avg(x) AS a FROM (VALUES (1),(2),(4)) AS t(x) WHERE x >= $1", [1]);

// floats
both("float4", "SELECT 1.5::float4 AS v, 0.1::float4 AS tenth", "SELECT $1::float4 AS v", [0.1]);
both("float8", "SELECT 0.1::float8 AS v, 1e300::float8 AS big, (0.1::float8 + 0.2::float8) AS sum",
  "SELECT $1::float8 AS v", [0.1]);
both("float8_special", "SELECT 'NaN'::float8 AS nan, 'Infinity'::float8 AS inf, '-Infinity'::float8 AS ninf",
  "SELECT $1::float8 AS v", ["NaN"]);

// numeric
both("numeric_scale", "SELECT 1.50::numeric(10,2) AS v", "SELECT $1::numeric(10,2) AS v", ["1.5"]);
both("numeric_literal", "SELECT 0.1 AS v", "SELECT $1::numeric AS v", ["0.1"]);
both("numeric_sum", "SELECT 0.1 + 0.2 AS v, 10.00::numeric / 3 AS div", "SELECT $1::numeric + 0.2 AS v", [0.1]);
both("numeric_big", "SELECT 12345678901234567890.123456789::numeric AS v",
  "SELECT $1::numeric AS v", ["12345678901234567890.123456789"]);

// bool
both("bool", "SELECT true AS t, false AS f", "SELECT $1::bool AS v", [true]);

// character types
both("text", "SELECT 'héllo wörld'::text AS v", "SELECT $1::text AS v", ["héllo wörld"]);
both("varchar", "SELECT 'abc'::varchar(10) AS v", "SELECT $1::varchar(10) AS v", ["abc"]);
both("char_n", "SELECT 'ab'::char(5) AS v", "SELECT $1::char(5) AS v", ["ab"]);
both("char_internal", "SELECT 'a'::\"char\" AS v", "SELECT $1::\"char\" AS v", ["a"]);
both("name", "SELECT 'abc'::name AS v", "SELECT $1::name AS v", ["abc"]);

// date / time
both("date", "SELECT '2024-02-29'::date AS v", "SELECT $1::date AS v", ["2024-02-29"]);
Q.push({ name: "date$jsdate", sql: "SELECT $1::date AS v", params: [new Date(Date.UTC(2024, 1, 29))] });
both("time", "SELECT '13:45:06.789'::time AS v", "SELECT $1::time AS v", ["13:45:06.789"]);
both("timestamp", "SELECT '2024-02-29 13:45:06.789'::timestamp AS v",
  "SELECT $1::timestamp AS v", ["2024-02-29 13:45:06.789"]);
Q.push({ name: "timestamp$jsdate", sql: "SELECT $1::timestamp AS v",
  params: [new Date(Date.UTC(2024, 1, 29, 13, 45, 6, 789))] });
both("timestamptz", "SELECT '2024-02-29 13:45:06.789+02'::timestamptz AS v",
  "SELECT $1::timestamptz AS v", ["2024-02-29 13:45:06.789+02"]);
Q.push({ name: "timestamptz$jsdate", sql: "SELECT $1::timestamptz AS v",
  params: [new Date(Date.UTC(2024, 1, 29, 13, 45, 6, 789))] });
both("now_types", "SELECT pg_typeof(now())::text AS now_t, pg_typeof(current_date)::text AS cd_t", null);
both("interval", "SELECT '1 year 2 mons 3 days 04:05:06.5'::interval AS v, '-1 day'::interval AS neg",
  "SELECT $1::interval AS v", ["1 year 2 mons 3 days 04:05:06.5"]);
both("date_arith", "SELECT '2024-03-01'::date - '2024-02-01'::date AS days, '2024-03-01'::timestamp - '2024-02-01'::timestamp AS iv",
  "SELECT $1::date + 1 AS v", ["2024-02-29"]);

// misc scalar types
both("uuid", `SELECT '${UUID}'::uuid AS v`, "SELECT $1::uuid AS v", [UUID]);
both("json", `SELECT '{"b":1,"a":[1,2.5,"x",null]}'::json AS v`, "SELECT $1::json AS v", [{ b: 1, a: [1, 2.5, "x", null] }]);
both("jsonb", `SELECT '{"b":1,"a":[1,2.5,"x",null]}'::jsonb AS v`, "SELECT $1::jsonb AS v", [{ b: 1, a: [1, 2.5, "x", null] }]);
both("jsonb_scalar", `SELECT '42'::jsonb AS n, '"s"'::jsonb AS s`, "SELECT $1::jsonb AS v", ["42"]);
both("bytea", "SELECT '\\xdeadbeef'::bytea AS v", "SELECT $1::bytea AS v", [Buffer.from("deadbeef", "hex")]);
both("oid", "SELECT 1234::oid AS v", "SELECT $1::oid AS v", [1234]);

// arrays
both("int4_array", "SELECT ARRAY[1,2,NULL]::int4[] AS v, '{}'::int4[] AS empty", "SELECT $1::int4[] AS v", [[1, 2, null]]);
both("int8_array", "SELECT ARRAY[1,9007199254740993]::int8[] AS v", "SELECT $1::int8[] AS v", [["1", "9007199254740993"]]);
both("text_array", `SELECT ARRAY['a','b,c','d"e',NULL,'NULL','']::text[] AS v`, "SELECT $1::text[] AS v",
  [["a", "b,c", 'd"e', null, "NULL", ""]]);
both("float8_array", "SELECT ARRAY[0.1,1.5,NULL]::float8[] AS v", "SELECT $1::float8[] AS v", [[0.1, 1.5, null]]);
both("numeric_array", "SELECT ARRAY[1.50,0.1]::numeric[] AS v", "SELECT $1::numeric[] AS v", [["1.50", "0.1"]]);
both("bool_array", "SELECT ARRAY[true,false,NULL]::bool[] AS v", "SELECT $1::bool[] AS v", [[true, false, null]]);
both("date_array", "SELECT ARRAY['2024-02-29','2023-01-01']::date[] AS v", "SELECT $1::date[] AS v", [["2024-02-29", "2023-01-01"]]);
both("timestamp_array", "SELECT ARRAY['2024-02-29 13:45:06','2023-01-01 00:00:00']::timestamp[] AS v",
  "SELECT $1::timestamp[] AS v", [["2024-02-29 13:45:06", "2023-01-01 00:00:00"]]);
both("array_agg", "SELECT array_agg(x ORDER BY x) AS v FROM (VALUES (3),(1),(2)) AS t(x)",
  "SELECT array_agg(x ORDER BY x) AS v FROM (VALUES (3),(1),(2)) AS t(x) WHERE x >= $1", [1]);

// NULLs
both("null_untyped", "SELECT NULL AS v", "SELECT $1 AS v", [null]);
both("null_typed",
  "SELECT NULL::int4 AS i4, NULL::int8 AS i8, NULL::text AS t, NULL::numeric AS n, NULL::bool AS b, " +
    "NULL::date AS d, NULL::timestamp AS ts, NULL::timestamptz AS tz, NULL::float8 AS f8, NULL::int4[] AS a",
  "SELECT $1::int4 AS i4, $2::text AS t, $3::date AS d, $4::timestamp AS ts, $5::numeric AS n", [null, null, null, null, null]);

both("null_jsonb", "SELECT NULL::jsonb AS j", "SELECT $1::jsonb AS j", [null]);

// session settings (both servers should be UTC)
both("show_timezone", "SHOW TimeZone", null);
both("current_setting_timezone", "SELECT current_setting('TimeZone') AS tz", "SELECT current_setting($1) AS tz", ["TimeZone"]);

// a mixed row
both("mixed_row",
  "SELECT 1::int2 AS a, 2 AS b, 3::int8 AS c, 4.5::float8 AS d, 6.70::numeric(5,2) AS e, 'x' AS f, true AS g, " +
    "'2024-01-02'::date AS h, '2024-01-02 03:04:05'::timestamp AS i", null);

// ---- real tables (lake.*) ---------------------------------------------------------
both("table_customers",
  "SELECT customer_id, name, signup_date, birth_year, marketing_opt_in FROM lake.customers WHERE customer_id <= 3 ORDER BY customer_id",
  "SELECT customer_id, name, signup_date, birth_year, marketing_opt_in FROM lake.customers WHERE customer_id = $1", [2]);
both("table_orders",
  "SELECT order_id, customer_id, order_ts, channel, coupon_code, shipping FROM lake.orders WHERE order_id IN (1, 4, 9) ORDER BY order_id",
  "SELECT order_id, customer_id, order_ts, channel, coupon_code, shipping FROM lake.orders WHERE order_id = $1", [9]);
both("table_order_lines",
  "SELECT order_id, line_no, product_id, quantity, unit_price, discount, quantity * unit_price - discount AS net FROM lake.order_lines WHERE order_id = 1 ORDER BY line_no",
  "SELECT order_id, line_no, product_id, quantity, unit_price, discount, quantity * unit_price - discount AS net FROM lake.order_lines WHERE order_id = $1 ORDER BY line_no", [2]);
both("table_products", "SELECT product_id, name, price FROM lake.products WHERE product_id <= 3 ORDER BY product_id",
  "SELECT product_id, name, price FROM lake.products WHERE product_id = $1", [1]);
both("table_web_events", "SELECT event_id, session_id, event_ts, event_type, product_id FROM lake.web_events WHERE event_id IN (1527, 9842) ORDER BY event_id",
  "SELECT event_id, session_id, event_ts, event_type, product_id FROM lake.web_events WHERE event_id = $1", [1527]);
both("table_aggregates",
  "SELECT count(*), sum(unit_price) AS s, avg(discount) AS a, min(order_ts) AS mn, max(quantity) AS mx, count(DISTINCT product_id) AS nd FROM lake.order_lines WHERE order_id IN (1, 2)",
  "SELECT count(*), sum(unit_price) AS s, avg(discount) AS a, min(order_ts) AS mn, max(quantity) AS mx FROM lake.order_lines WHERE order_id = $1", [1]);
both("table_join_group",
  "SELECT c.customer_id, c.country, count(*) AS n, sum(o.shipping) AS ship, max(o.order_ts)::date AS last_day FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id WHERE o.order_id IN (1, 2, 4, 9) GROUP BY c.customer_id, c.country ORDER BY c.customer_id",
  "SELECT c.customer_id, c.country, count(*) AS n, sum(o.shipping) AS ship FROM lake.customers c JOIN lake.orders o ON o.customer_id = c.customer_id WHERE o.order_id IN (1, 2, 4, 9) AND c.country = $1 GROUP BY c.customer_id, c.country ORDER BY c.customer_id", ["US"]);
both("table_date_funcs",
  "SELECT order_id, date_trunc('month', order_ts) AS m, extract(year FROM order_ts) AS y, order_ts::date AS d FROM lake.orders WHERE order_id = 1",
  "SELECT order_id, date_trunc('month', order_ts) AS m, extract(year FROM order_ts) AS y, order_ts::date AS d FROM lake.orders WHERE order_ts >= $1 AND order_id = 1", ["2023-01-01"]);

// ---- runner -----------------------------------------------------------------------

async function connect(url) {
  const client = new Client({ connectionString: url, query_timeout: 15000 });
  client.on("error", () => {}); // connection-level errors are reported through the query
  await client.connect();
  return client;
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    console.error("usage: node node_types.js CONNECTION_URL");
    process.exit(2);
  }
  let client = await connect(url);
  for (const q of Q) {
    const line = { q: q.name };
    try {
      const res = q.params ? await client.query(q.sql, q.params) : await client.query(q.sql);
      line.fields = res.fields.map((f) => [f.name, f.dataTypeID]);
      line.rows = res.rows.map((r) => (Array.isArray(r) ? r : res.fields.map((f) => r[f.name])).map(describe));
    } catch (err) {
      line.error = { code: err.code || null, message: String(err.message).split("\n")[0].slice(0, 160) };
      if (!err.code) {
        // not a server error (timeout, dropped connection, parse failure): start afresh
        try { await client.end(); } catch (e) { /* ignore */ }
        client = await connect(url);
      }
    }
    console.log(JSON.stringify(line));
  }
  await client.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
