//! Simple and extended query, typed values, parameters, sessions and streaming.

use rust_decimal::Decimal;

use crate::harness::{rss_kib, scalar, TestServer};

#[tokio::test]
async fn simple_and_extended_queries_read_the_lake_with_exact_types() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;

    // Extended protocol, typed values.
    let row = client
        .query_one(
            "SELECT customer_id, name, signup_date, marketing_opt_in FROM lake.customers WHERE customer_id = $1",
            &[&3i64],
        )
        .await
        .unwrap();
    let id: i64 = row.get(0);
    let name: String = row.get(1);
    let signup: chrono::NaiveDate = row.get(2);
    let _opt_in: bool = row.get(3);
    assert_eq!(id, 3);
    assert!(!name.is_empty());
    assert!(signup >= chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap());

    let row = client
        .query_one(
            "SELECT order_ts, unit_price, quantity FROM lake.order_lines ORDER BY order_id, line_no LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let _ts: chrono::NaiveDateTime = row.get(0);
    let price: Decimal = row.get(1);
    let _q: i32 = row.get(2);
    assert_eq!(price.scale(), 2);

    // Simple protocol, text rendering.
    let count = scalar(&client, "SELECT count(*) FROM lake.order_lines").await;
    assert_eq!(count.as_deref(), Some("2000"));
    let b = scalar(
        &client,
        "SELECT marketing_opt_in FROM lake.customers LIMIT 1",
    )
    .await
    .unwrap();
    assert!(b == "t" || b == "f", "{b}");
}

#[tokio::test]
async fn parameters_in_text_and_binary() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let stmt = client
        .prepare("SELECT count(*) FROM lake.orders WHERE customer_id = $1 AND status = $2")
        .await
        .unwrap();
    let n: i64 = client
        .query_one(&stmt, &[&1i64, &"completed"])
        .await
        .unwrap()
        .get(0);
    let expected = scalar(
        &client,
        "SELECT count(*) FROM lake.orders WHERE customer_id = 1 AND status = 'completed'",
    )
    .await
    .unwrap();
    assert_eq!(n.to_string(), expected);
    // The same statement again with other values (prepared statement reuse).
    let all: i64 = client
        .query_one(
            "SELECT count(*) FROM lake.orders WHERE order_id > $1",
            &[&0i64],
        )
        .await
        .unwrap()
        .get(0);
    assert!(all > 0);
}

#[tokio::test]
async fn version_user_database_and_search_path() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.connect_as("maria", None).await.unwrap();
    let version = scalar(&client, "SELECT version()").await.unwrap();
    assert!(
        version.starts_with("PostgreSQL 16.6 (datapunk "),
        "{version}"
    );
    let show = scalar(&client, "SHOW server_version").await.unwrap();
    assert!(version.contains(&show[..4]));
    assert_eq!(
        scalar(&client, "SELECT current_user").await.as_deref(),
        Some("maria")
    );
    assert_eq!(
        scalar(&client, "SELECT current_database()")
            .await
            .as_deref(),
        Some("datapunk")
    );
    // Unqualified names resolve through the search path.
    let n = scalar(&client, "SELECT count(*) FROM orders")
        .await
        .unwrap();
    assert_eq!(
        Some(n),
        scalar(&client, "SELECT count(*) FROM lake.orders").await
    );
    assert_eq!(
        scalar(&client, "SHOW search_path").await.as_deref(),
        Some("warehouse, lake")
    );
    // Transactions are accepted.
    client
        .batch_execute("BEGIN; SELECT 1; COMMIT")
        .await
        .unwrap();
    client.batch_execute("BEGIN; ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn set_in_one_connection_does_not_change_another() {
    let server = TestServer::start(|_, _| {}).await;
    let a = server.client().await;
    let b = server.client().await;
    a.batch_execute("SET search_path TO warehouse")
        .await
        .unwrap();
    a.batch_execute("SET datafusion.execution.batch_size = 1234")
        .await
        .unwrap();
    assert_eq!(
        scalar(&a, "SHOW search_path").await.as_deref(),
        Some("warehouse")
    );
    assert!(a
        .simple_query("SELECT count(*) FROM order_lines")
        .await
        .is_err());
    assert_eq!(
        scalar(&b, "SHOW search_path").await.as_deref(),
        Some("warehouse, lake")
    );
    assert!(b
        .simple_query("SELECT count(*) FROM order_lines")
        .await
        .is_ok());
    assert_eq!(
        scalar(&a, "SHOW datafusion.execution.batch_size")
            .await
            .as_deref(),
        Some("1234")
    );
    assert_ne!(
        scalar(&b, "SHOW datafusion.execution.batch_size")
            .await
            .as_deref(),
        Some("1234")
    );
    // A connection opened afterwards sees the defaults too.
    let c = server.client().await;
    assert_eq!(
        scalar(&c, "SHOW search_path").await.as_deref(),
        Some("warehouse, lake")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_are_streamed_with_bounded_memory() {
    // The client is psql in its own process, so this process's memory is the server's.
    if !crate::harness::require_tool("psql") {
        return;
    }
    let _exclusive = crate::harness::MEMORY_HEAVY.lock().await;
    let server = TestServer::start(|_, _| {}).await;
    let before = rss_kib();
    let sql = "SELECT v, v * 2 AS twice, concat('row number ', CAST(v AS VARCHAR)) AS label \
               FROM generate_series(1, 3000000) AS t(v)";
    let port = server.addr.port().to_string();
    let psql = std::process::Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port])
        .args([
            "-U",
            "analyst",
            "-d",
            "datapunk",
            "-c",
            sql,
            "-o",
            "/dev/null",
        ])
        .spawn()
        .expect("psql starts");
    let growth = peak_growth_mib(psql, before).await;
    assert!(
        growth < 100,
        "simple protocol: server RSS grew by {growth} MiB while streaming"
    );

    // COPY TO STDOUT streams too.
    let before = rss_kib();
    let psql = std::process::Command::new("psql")
        .args(["-X", "-q", "-h", "127.0.0.1", "-p", &port])
        .args(["-U", "analyst", "-d", "datapunk", "-c"])
        .arg(format!("COPY ({sql}) TO STDOUT"))
        .args(["-o", "/dev/null"])
        .spawn()
        .expect("psql starts");
    let growth = peak_growth_mib(psql, before).await;
    assert!(
        growth < 100,
        "COPY: server RSS grew by {growth} MiB while streaming"
    );

    // The extended protocol (psycopg streams rows as they arrive).
    if crate::harness::python_has("psycopg") {
        let before = rss_kib();
        let script = format!(
            "import psycopg\nc = psycopg.connect('host=127.0.0.1 port={port} user=a dbname=datapunk')\nn = sum(1 for _ in c.cursor().stream({sql:?}))\nassert n == 3000000, n\n"
        );
        let python = std::process::Command::new("python3")
            .args(["-c", &script])
            .spawn()
            .expect("python3 starts");
        let growth = peak_growth_mib(python, before).await;
        assert!(
            growth < 100,
            "extended protocol: server RSS grew by {growth} MiB while streaming"
        );
    }
}

/// Waits for `child` to succeed, sampling this process's RSS; returns the peak growth.
async fn peak_growth_mib(mut child: std::process::Child, before: u64) -> u64 {
    let mut peak = before;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(rss_kib());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "client failed");
    peak.saturating_sub(before) / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_lets_running_queries_finish() {
    // A grace period the query fits in even on a loaded machine (debug build, the rest of
    // the suite running): the test is about waiting, not about the deadline.
    let server = TestServer::start(|c, _| c.server.shutdown_grace_secs = 120).await;
    let addr = server.addr;
    let client = server.client().await;
    // The simple protocol: the query counts as running from the moment its message
    // arrives (an extended-protocol query only from Execute, after its Parse round trip,
    // which a loaded debug build may not reach within the sleep).
    let running = tokio::spawn(async move {
        crate::harness::scalar(
            &client,
            "SELECT count(*) FROM generate_series(1, 30000000) AS t(v) WHERE v % 7 = 3",
        )
        .await
        .and_then(|v| v.parse::<i64>().ok())
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    server.stop().await;
    let n = running.await.unwrap().expect("the running query finished");
    assert_eq!(n, 4_285_714);
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The SQLSTATE a connection was closed with, as tokio-postgres's connection task ends.
async fn closed_with(
    connection: tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
) -> String {
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), connection)
        .await
        .expect("the connection ended")
        .unwrap();
    match ended {
        Err(e) => e.as_db_error().map_or_else(
            || format!("no server error: {e}"),
            |d| d.code().code().to_owned(),
        ),
        Ok(()) => "closed without an error".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_tells_idle_and_overrunning_clients_57p01() {
    let server = TestServer::start(|c, _| c.server.shutdown_grace_secs = 1).await;
    let connect = || async {
        let (client, connection) =
            tokio_postgres::connect(&server.conn_string("analyst", None), tokio_postgres::NoTls)
                .await
                .expect("connect");
        (client, tokio::spawn(connection))
    };
    let (idle, idle_connection) = connect().await;
    assert_eq!(
        crate::harness::scalar(&idle, "SELECT 1").await.as_deref(),
        Some("1")
    );
    let (busy, busy_connection) = connect().await;
    let long = tokio::spawn(async move {
        busy.simple_query(
            "SELECT count(*) FROM generate_series(1, 3000000000) AS t(v) WHERE v % 7 = 3",
        )
        .await
        .map(|_| ())
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    server.stop().await;
    assert_eq!(closed_with(idle_connection).await, "57P01");
    // The running query's answer is the error; then the connection is gone.
    let cut_short = long.await.unwrap().expect_err("the query was cut short");
    assert_eq!(
        cut_short.as_db_error().map(|d| d.code().code()),
        Some("57P01"),
        "{cut_short}"
    );
    closed_with(busy_connection).await;
}

/// Expressions whose text PostgreSQL 15 prints differently from DataFusion's defaults;
/// the expected texts are what PostgreSQL 15.18 printed for the same SELECTs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expressions_print_as_postgres_15_prints_them() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let cases = [
        ("SELECT 2 ^ 10", "1024"),
        ("SELECT 2.0 ^ 3", "8"),
        ("SELECT '\\x0102ff'::bytea", "\\x0102ff"),
        (
            "SELECT '2024-01-02 03:04:05.5'::timestamptz",
            "2024-01-02 03:04:05.5+00",
        ),
        (
            "SELECT CAST('2024-01-02 03:04:05' AS timestamp with time zone)",
            "2024-01-02 03:04:05+00",
        ),
        (
            "SELECT '2024-01-02 03:04:05'::timestamp",
            "2024-01-02 03:04:05",
        ),
        ("SELECT interval '1.5 seconds'", "00:00:01.5"),
        ("SELECT interval '1 day 2 hours'", "1 day 02:00:00"),
        ("SELECT interval '3 months'", "3 mons"),
        ("SELECT interval '-1 day'", "-1 days"),
        ("SELECT interval '90 minutes'", "01:30:00"),
    ];
    // A correlated scalar subquery as an output column answers (it was NULL).
    let direct = scalar(
        &client,
        "SELECT count(*) FROM lake.order_lines WHERE order_id = 1",
    )
    .await;
    assert!(direct.as_deref().is_some_and(|n| n != "0"), "{direct:?}");
    let correlated = scalar(
        &client,
        "SELECT (SELECT count(*) FROM lake.order_lines l WHERE l.order_id = o.order_id) AS n \
         FROM lake.orders o WHERE o.order_id = 1",
    )
    .await;
    assert_eq!(correlated, direct);
    for (sql, expected) in cases {
        assert_eq!(
            crate::harness::scalar(&client, sql).await.as_deref(),
            Some(expected),
            "{sql}"
        );
        // The extended protocol (text results) prints the same.
        let row = client.query_one(sql, &[]).await.expect(sql);
        let value: String = match row.columns()[0].type_().name() {
            "bytea" => format!(
                "\\x{}",
                row.get::<_, Vec<u8>>(0)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
            _ => continue,
        };
        assert_eq!(value, expected, "{sql} (extended, binary)");
    }
    server.stop().await;
}

/// Dates and times as PostgreSQL 15 reads, computes and prints them (each answer is
/// PostgreSQL 15.18's, session zone UTC): timestamp differences are intervals, literals
/// without seconds or with a zone, timestamps as text, `age`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_and_times_mean_what_they_mean_in_postgres_15() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let cases = [
        ("SELECT timestamp '2024-03-01 12:00:00' - timestamp '2024-01-01 10:30:00'", "60 days 01:30:00"),
        ("SELECT timestamp '2024-01-01 10:30:00' - timestamp '2024-03-01 12:00:00'", "-60 days -01:30:00"),
        ("SELECT (timestamp '2024-03-01 12:00' - timestamp '2024-01-01 10:30') > interval '30 days'", "t"),
        ("SELECT '2024-03-01 12:00'::timestamp", "2024-03-01 12:00:00"),
        ("SELECT '2024-3-1'::date", "2024-03-01"),
        ("SELECT '2024-03-01 12:00+02'::timestamp", "2024-03-01 12:00:00"),
        ("SELECT '2024-03-01 12:00+02'::timestamptz", "2024-03-01 10:00:00+00"),
        ("SELECT (timestamp '2024-03-01 12:00:00.5')::text", "2024-03-01 12:00:00.5"),
        ("SELECT 'at ' || timestamp '2024-03-01 12:00:00'", "at 2024-03-01 12:00:00"),
        ("SELECT (timestamptz '2024-03-01 12:00:00+00')::text", "2024-03-01 12:00:00+00"),
        ("SELECT age(timestamp '2024-03-01', timestamp '2023-01-15')", "1 year 1 mon 17 days"),
        ("SELECT age(timestamp '2024-03-31 10:00', timestamp '2024-02-29 12:00')", "1 mon 1 day 22:00:00"),
        ("SELECT age(current_date::timestamp)", "00:00:00"),
        ("SELECT '20240301'::date", "2024-03-01"),
        ("SELECT timestamp '2024-03-01 12:00' + (timestamp '2024-03-01 12:00' - timestamp '2024-02-01 06:00')", "2024-03-30 18:00:00"),
        ("SELECT interval '1 day 02:00:00'", "1 day 02:00:00"),
        ("SELECT '@ 1 day ago'::interval", "-1 days"),
        ("SELECT DATE '2024-01-31' + interval '1 month'", "2024-02-29 00:00:00"),
        ("SELECT DATE '2024-03-01' - interval '36 hours'", "2024-02-28 12:00:00"),
        ("SELECT interval '1 day' * 3", "3 days"),
        ("SELECT 2.5 * interval '1 hour'", "02:30:00"),
        ("SELECT interval '1 mon' / 7", "4 days 06:51:25.6896"),
        ("SELECT interval '-1 day 2 hours'", "-1 days +02:00:00"),
        (
            "SELECT '1 year 2 mons 3 days 04:05:06.5'::interval",
            "1 year 2 mons 3 days 04:05:06.5",
        ),
        (
            "SELECT avg(x) FROM (VALUES (interval '1 day'), (interval '2 days 03:00'), \
             (interval '1 mon'), (NULL::interval)) t(x)",
            "11 days 01:00:00",
        ),
        (
            "SELECT avg(b - a) FROM (VALUES (timestamp '2024-01-01 10:00', timestamp \
             '2024-01-03 12:30'), (timestamp '2024-02-01', timestamp '2024-02-01 00:00:01')) t(a, b)",
            "1 day 01:15:00.5",
        ),
        (
            "SELECT avg(x) FROM (VALUES (1, interval '1 hour'), (1, interval '2 hours'), \
             (2, interval '7 days')) t(k, x) GROUP BY k ORDER BY k DESC",
            "7 days",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(
            scalar(&client, sql).await.as_deref(),
            Some(expected),
            "{sql}"
        );
    }
    let e = client
        .simple_query("SELECT interval '1 day' / 0")
        .await
        .unwrap_err();
    assert_eq!(crate::harness::sqlstate(&e), "22012", "{e}");
    // A compared literal without seconds is read the same as one with them.
    let count =
        |cut: &str| format!("SELECT count(*) FROM lake.order_lines WHERE order_ts >= '{cut}'");
    let short = scalar(&client, &count("2023-06-01 12:00")).await;
    let long = scalar(&client, &count("2023-06-01 12:00:00")).await;
    assert_eq!(short, long);
    // A difference of lake timestamps compares with an interval as PostgreSQL does.
    let sql = "SELECT count(*) FILTER (WHERE order_ts - TIMESTAMP '2022-01-01 00:00:00' \
               > INTERVAL '30 days') = count(*) FILTER (WHERE order_ts > TIMESTAMP \
               '2022-01-31 00:00:00') FROM lake.order_lines";
    assert_eq!(scalar(&client, sql).await.as_deref(), Some("t"));
    server.stop().await;
}

/// Unconstrained `numeric` casts keep the operand's scale, casts are named as PostgreSQL
/// names them, and `pg_typeof` answers PostgreSQL's type names (each header and value is
/// PostgreSQL 15.18's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_casts_and_type_names_as_in_postgres_15() {
    use tokio_postgres::SimpleQueryMessage;
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let cases: [(&str, &[(&str, &str)]); 4] = [
        (
            "SELECT 5::numeric, '1.25'::numeric, 12.50::numeric, -0.5::numeric, \
             CAST(3 AS DECIMAL), 0.1::numeric + 0.2::numeric AS s",
            &[
                ("numeric", "5"),
                ("numeric", "1.25"),
                ("numeric", "12.50"),
                ("?column?", "-0.5"),
                ("numeric", "3"),
                ("s", "0.3"),
            ],
        ),
        (
            "SELECT count(*)::numeric, sum(x)::numeric, x::numeric, (x + 1)::numeric, \
             avg(x::numeric)::numeric(10,1) AS a FROM (VALUES (7)) t(x) GROUP BY x",
            &[
                ("count", "1"),
                ("sum", "7"),
                ("x", "7"),
                ("numeric", "8"),
                ("a", "7.0"),
            ],
        ),
        (
            "SELECT pg_typeof(x::int), pg_typeof(x::float8), pg_typeof('a'::text), \
             pg_typeof(now()), pg_typeof(NULL), pg_typeof(x::numeric), \
             pg_typeof(ARRAY['a'::text]), pg_typeof(DATE '2024-01-01'), \
             pg_typeof(TIMESTAMP '2024-01-01') FROM (VALUES (7)) t(x)",
            &[
                ("pg_typeof", "integer"),
                ("pg_typeof", "double precision"),
                ("pg_typeof", "text"),
                ("pg_typeof", "timestamp with time zone"),
                ("pg_typeof", "unknown"),
                ("pg_typeof", "numeric"),
                ("pg_typeof", "text[]"),
                ("pg_typeof", "date"),
                ("pg_typeof", "timestamp without time zone"),
            ],
        ),
        (
            "SELECT '007'::numeric, ' 2.50 '::numeric, x::numeric * 1.5 AS m \
             FROM (VALUES (7)) t(x)",
            &[("numeric", "7"), ("numeric", "2.50"), ("m", "10.5")],
        ),
    ];
    for (sql, expected) in cases {
        let messages = client.simple_query(sql).await.expect(sql);
        let row = messages
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .expect("a row");
        let got: Vec<(String, String)> = (0..row.len())
            .map(|i| {
                let name = row.columns()[i].name().to_owned();
                (name, row.get(i).unwrap_or("NULL").to_owned())
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, expected, "{sql}");
    }
    server.stop().await;
}

/// SQL forms analysts write, answered as PostgreSQL 15.18 answers them (names and
/// values, every row): casts to integers round (Arrow's truncated), `generate_series`
/// in a select list makes rows and in FROM names its column after the alias, the special
/// forms (`extract`, `substr`, `trim`, ...) get PostgreSQL's names, `variance` exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_forms_answer_as_in_postgres_15() {
    use tokio_postgres::SimpleQueryMessage;
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT 2.5::int, (-2.5)::int, 2.7::numeric::int, 2.5::numeric::int, \
             1.5::float8::int, avg(x)::int AS a, avg(x + 1)::int AS b \
             FROM (VALUES (1), (2)) t(x)",
            &["int4=3|int4=-3|int4=3|int4=3|int4=2|a=2|b=3"],
        ),
        (
            "SELECT generate_series(1, 3)",
            &["generate_series=1", "generate_series=2", "generate_series=3"],
        ),
        (
            "SELECT g, g * 2 AS twice FROM generate_series(1, 2) g",
            &["g=1|twice=2", "g=2|twice=4"],
        ),
        ("SELECT * FROM generate_series(5, 5)", &["generate_series=5"]),
        (
            "SELECT extract(year FROM DATE '2024-03-01'), substr('abc', 2, 1), \
             trim('  x '), ceil(1.2), floor(1.8), position('b' IN 'abc'), \
             interval '90 minutes', DATE '2024-01-01'",
            &["extract=2024|substr=b|btrim=x|ceil=2|floor=1|position=2|interval=01:30:00|date=2024-01-01"],
        ),
        // Casts to text print as PostgreSQL's float8out and interval_out (DataFusion:
        // `1024.0`, `60 days 1 hours 30 mins`); literals are typed as PostgreSQL types them.
        (
            "SELECT CAST(2 ^ 10 AS text) AS a, \
             CAST(TIMESTAMP '2024-03-01 10:00' - TIMESTAMP '2024-01-01 08:30' AS text) AS b, \
             CAST(CAST(7 AS float) / 3 AS text) AS c, 1e20::float8::text AS d, \
             pg_typeof(1) AS e, pg_typeof(0.1) AS f, 0.1 + 0.2 AS g, 1.5e3 AS h",
            &["a=1024|b=60 days 01:30:00|c=2.3333333333333335|d=1e+20|e=integer|f=numeric|g=0.3|h=1500"],
        ),
        // `::float` is a double, and a timestamp minus a date an interval.
        (
            "SELECT 1::float / 3 AS f, TIMESTAMP '2024-03-01' - DATE '2024-02-01' AS d, \
             (SELECT max(x) FROM (VALUES (1), (9)) t(x))",
            &["f=0.3333333333333333|d=29 days|max=9"],
        ),
        // substring with a text FROM is a regular expression's first match (or group).
        (
            "SELECT substring('abc123' FROM '[0-9]+'), substring('k=v1' FROM 'k=(.*)') AS g, \
             substring('abcdef' FROM 3) AS p",
            &["substring=123|g=v1|p=cdef"],
        ),
        // Checked integer arithmetic keeps the operator's type, answer and name.
        (
            "SELECT 2147483647::int + 0::int AS i, pg_typeof(1::int * 2::int) AS t, \
             -9223372036854775807 - 1 AS b, 7 * 6 - 2",
            &["i=2147483647|t=integer|b=-9223372036854775808|?column?=40"],
        ),
        (
            "SELECT variance(x), var_samp(x) FROM (VALUES (1.0), (2.0), (3.0)) t(x)",
            &["variance=1|var_samp=1"],
        ),
        // to_char reads PostgreSQL's patterns (DataFusion's answered the pattern itself).
        (
            "SELECT to_char(t, 'YYYY-MM-DD HH24:MI:SS') AS a, to_char(t, 'FMMonth FMDDth, YYYY') AS b, \
             to_char(t, 'Day Dy \"Q\"Q IW IYYY DDD J CC') AS c, to_char(t, 'HH12:MI AM') AS d, \
             to_char(t::date, 'Mon YYYY') AS e, to_char(t::timestamptz, 'HH24:MI TZ OF') AS f \
             FROM (VALUES (TIMESTAMP '2023-02-07 07:18:07')) v(t)",
            &["a=2023-02-07 07:18:07|b=February 7th, 2023|c=Tuesday   Tue Q1 06 2023 038 2459983 21\
               |d=07:18 AM|e=Feb 2023|f=07:18 UTC +00"],
        ),
        (
            "SELECT to_char(41.99::numeric(10,2), '999.99') AS a, \
             to_char(118721.54::numeric(31,2), 'FM999,999,999.00') AS b, to_char(1, '000') AS c, \
             to_char(-41.99, 'S999.99') AS d, to_char(-3, '999PR') AS e, to_char(0.5, 'FM0.00') AS f, \
             to_char(NULL::timestamp, 'YYYY') AS g",
            &["a=  41.99|b=118,721.54|c= 001|d= -41.99|e=  <3>|f=0.50|g=NULL"],
        ),
    ];
    for (sql, expected) in cases {
        let rows: Vec<String> = client
            .simple_query(sql)
            .await
            .expect(sql)
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| {
                            format!(
                                "{}={}",
                                row.columns()[i].name(),
                                row.get(i).unwrap_or("NULL")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .collect();
        assert_eq!(rows, *expected, "{sql}");
    }
    server.stop().await;
}

/// A parameter sent with more digits than the column it is compared with keeps is
/// refused, never rounded into a match: `x = $1` on a bigint column bound as the float8
/// 1.5 (Arrow's cast made it 2 and matched the row 2), on a numeric(10,2) column bound
/// as the numeric 1.555. Values that fit still match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_not_rounded_into_a_match() {
    use tokio_postgres::types::Type;
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let ints = client
        .prepare_typed(
            "SELECT count(*) FROM (VALUES (1), (2)) t(x) WHERE x = $1",
            &[Type::FLOAT8],
        )
        .await
        .unwrap();
    let e = client.query_one(&ints, &[&1.5f64]).await.unwrap_err();
    assert_eq!(crate::harness::sqlstate(&e), "22003", "{e:?}");
    let one = client.query_one(&ints, &[&2.0f64]).await.unwrap();
    assert_eq!(one.get::<_, i64>(0), 1);
    let prices = client
        .prepare_typed(
            "SELECT count(*) FROM (VALUES (CAST(1.56 AS DECIMAL(10,2)))) t(x) WHERE x = $1",
            &[Type::NUMERIC],
        )
        .await
        .unwrap();
    let e = client
        .query_one(&prices, &[&Decimal::new(1555, 3)])
        .await
        .unwrap_err();
    assert_eq!(crate::harness::sqlstate(&e), "22003", "{e:?}");
    let one = client
        .query_one(&prices, &[&Decimal::new(15600, 4)])
        .await
        .unwrap();
    assert_eq!(one.get::<_, i64>(0), 1);
    assert!(!client.is_closed());
    server.stop().await;
}
