//! One test per SQLSTATE the server promises, and the connection answers after each error.

use crate::harness::{scalar, sqlstate, TestServer};

/// Refused writes left the lake as it was.
async fn assert_lake_intact(c: &tokio_postgres::Client) {
    let n: i64 = c
        .query_one("SELECT count(*) FROM lake.orders", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n > 0);
}

async fn expect_code(client: &tokio_postgres::Client, sql: &str, code: &str) {
    let simple = client.simple_query(sql).await.expect_err(sql);
    assert_eq!(sqlstate(&simple), code, "simple: {sql}: {simple}");
    // The connection is still usable.
    client
        .simple_query("SELECT 1")
        .await
        .expect("connection answers after an error");
}

async fn expect_code_extended(client: &tokio_postgres::Client, sql: &str, code: &str) {
    let e = client.query(sql, &[]).await.expect_err(sql);
    assert_eq!(sqlstate(&e), code, "extended: {sql}: {e}");
    client
        .query("SELECT 1", &[])
        .await
        .expect("connection answers after an error");
}

#[tokio::test]
async fn user_mistakes_get_their_sqlstate_in_both_protocols() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let cases = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM lake.orders", "42703"),
        ("SELECT no_such_function(1)", "42883"),
        ("SELECT 'abc' + 1", "42804"),
        ("SELECT 1 / 0", "22012"),
        ("SELECT CAST('abc' AS INTEGER)", "22P02"),
        ("SELECT 'abc'::numeric", "22P02"),
        ("SELECT 'x'::date", "22007"),
        ("SELECT status::numeric FROM lake.orders", "22P02"),
        ("SELECT 'abc'::float8", "22P02"),
        ("SELECT status::real FROM lake.orders", "22P02"),
        ("SELECT '1e400'::float8", "22003"),
        ("SELECT '1e-400'::double precision", "22003"),
        ("SELECT CAST('1e39' AS real)", "22003"),
        ("SELECT 1.5::float8 > '1e400'", "22003"),
        (
            "SELECT arrow_cast('1e400', 'Dictionary(Int32, Utf8)')::float8",
            "22003",
        ),
        ("SELECT arrow_cast('1e400', 'LargeUtf8')::float8", "22003"),
        ("SELECT 9223372036854775807 + 1", "22003"),
        ("SELECT -9223372036854775807 - 2", "22003"),
        ("SELECT 2147483647::int * 2::int", "22003"),
        (
            "SELECT product_id::int * 2147483647::int FROM lake.order_lines",
            "22003",
        ),
        ("SELECT INTERVAL '1 day' * 1e300", "22008"),
        ("SELECT 'a/' LIKE 'a/' ESCAPE '/'", "22025"),
        ("SELECT 'a' LIKE 'a' ESCAPE '//'", "22019"),
        ("SELECT current_setting('no_such_setting')", "42704"),
        ("INSERT INTO lake.orders (order_id) VALUES (1)", "25006"),
        ("DELETE FROM lake.orders", "25006"),
        ("UPDATE lake.orders SET status = 'x'", "25006"),
        ("CREATE TABLE warehouse.x AS SELECT 1", "25006"),
        ("DROP TABLE lake.orders", "25006"),
        // A query given as text keeps its own error.
        ("SELECT * FROM query('SELECT 1; SELECT 2')", "42601"),
        (
            "SELECT * FROM query('SELECT nope FROM lake.orders')",
            "42703",
        ),
        ("SELECT * FROM query('SELECT 1 / 0')", "22012"),
        (
            "SELECT * FROM query('SELECT sum(quantity) FROM lake.order_lines') WHERE 1 / 0 = 1",
            "22012",
        ),
    ];
    for (sql, code) in cases {
        expect_code(&c, sql, code).await;
        expect_code_extended(&c, sql, code).await;
    }
    assert_lake_intact(&c).await;
}

#[tokio::test]
async fn text_is_read_as_a_float_as_postgres_reads_it() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let e = c
        .simple_query("SELECT '1e400'::float8")
        .await
        .expect_err("out of range");
    let message = e.as_db_error().map(|d| d.message().to_owned());
    assert_eq!(
        message.as_deref(),
        Some("\"1e400\" is out of range for type double precision")
    );
    let row = c
        .query_one(
            "SELECT ' 1.5 '::float8, '-Infinity'::float8, 'nan'::real, '5e-324'::float8, \
             CAST(NULL AS text)::float8",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, f64>(0), 1.5);
    assert_eq!(row.get::<_, f64>(1), f64::NEG_INFINITY);
    assert!(row.get::<_, f32>(2).is_nan());
    assert_eq!(row.get::<_, f64>(3), 5e-324);
    assert_eq!(row.get::<_, Option<f64>>(4), None);
    server.stop().await;
}

#[tokio::test]
async fn unsupported_features_are_0a000() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    expect_code(&c, "COPY (SELECT 1) TO STDOUT (FORMAT json)", "22023").await;
    expect_code(&c, "COPY (SELECT 1) TO STDOUT (FREEZE)", "0A000").await;
}

#[tokio::test]
async fn the_configured_memory_limit_fails_queries_not_the_server() {
    let _exclusive = crate::harness::MEMORY_HEAVY.lock().await;
    let server = TestServer::start(|c, _| c.server.memory_limit_mb = 8).await;
    let c = server.client().await;
    let e = c
        .simple_query(
            "SELECT v % 1000000 AS k, array_agg(v) FROM generate_series(1, 4000000) AS t(v) GROUP BY 1 ORDER BY 1",
        )
        .await
        .expect_err("must exceed 8 MiB");
    assert_eq!(sqlstate(&e), "53200", "{e}");
    // A table function that folds its input as it streams counts what it holds instead.
    let e = c
        .simple_query(
            "SELECT count(*) FROM identity_stitch('SELECT ''cookie'', CAST(v AS TEXT), \
             ''email'', CAST(v AS TEXT) FROM generate_series(1, 2000000) AS t(v)')",
        )
        .await
        .expect_err("4M identifiers must exceed 8 MiB");
    assert_eq!(sqlstate(&e), "53200", "{e}");
    // A session cannot lift the server-wide limit.
    let e = c
        .simple_query("SET datafusion.runtime.memory_limit = '100G'")
        .await
        .expect_err("runtime settings are server-wide");
    assert_eq!(sqlstate(&e), "42501", "{e}");
    // Small queries still run, on this and on new connections.
    c.simple_query("SELECT count(*) FROM lake.orders")
        .await
        .unwrap();
    server
        .client()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

/// Two queries that each need more than the memory limit to sort, at once: both spill
/// (to the configured folder) and both finish; a greedy pool let the first hold
/// everything and failed the second's first reservation with 53200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_running_at_once_share_the_memory_limit_and_spill() {
    let _exclusive = crate::harness::MEMORY_HEAVY.lock().await;
    let root = tempfile::tempdir().expect("tempdir");
    let spill = root.path().join("spill");
    let dir = spill.display().to_string();
    let server = TestServer::start(move |c, _| {
        c.server.memory_limit_mb = 200;
        c.server.spill_dir = dir;
    })
    .await;
    // About 300 MB of rows to sort by a text column.
    let sorting = "SELECT count(*), max(r) FROM (SELECT row_number() OVER (ORDER BY m) AS r \
                   FROM (SELECT md5(CAST(v AS TEXT)) AS m FROM generate_series(1, 3000000) AS t(v)) AS g) AS w";
    let (a, b) = (server.client().await, server.client().await);
    let (first, second) = tokio::join!(scalar(&a, sorting), scalar(&b, sorting));
    assert_eq!(first.as_deref(), Some("3000000"));
    assert_eq!(second.as_deref(), Some("3000000"));
    let spilled: Vec<_> = std::fs::read_dir(&spill)
        .expect("the spill folder was created")
        .collect();
    assert!(
        !spilled.is_empty(),
        "the sorts spilled into server.spill_dir"
    );
    server.stop().await;
}

#[tokio::test]
async fn statements_after_an_error_in_a_transaction_fail_with_25p02_until_rollback() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    c.batch_execute("BEGIN").await.unwrap();
    let e = c.simple_query("SELECT 1 / 0").await.unwrap_err();
    assert_eq!(sqlstate(&e), "22012");
    let e = c.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02", "{e}");
    c.batch_execute("ROLLBACK").await.unwrap();
    c.simple_query("SELECT 1")
        .await
        .expect("usable after ROLLBACK");
    // ROLLBACK TO SAVEPOINT leaves the failed state, as in PostgreSQL.
    c.batch_execute("BEGIN; SAVEPOINT a").await.unwrap();
    let e = c.simple_query("SELECT 1 / 0").await.unwrap_err();
    assert_eq!(sqlstate(&e), "22012");
    let e = c.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02", "{e}");
    c.batch_execute("ROLLBACK TO SAVEPOINT a").await.unwrap();
    assert_eq!(scalar(&c, "SELECT 42").await.as_deref(), Some("42"));
    c.batch_execute("RELEASE SAVEPOINT a; COMMIT")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_from_stdin_into_the_lake_is_refused() {
    if !crate::harness::require_tool("psql") {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    let port = server.addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("psql")
            .args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "a",
                "-d",
                "datapunk",
            ])
            .args([
                "-v",
                "VERBOSITY=verbose",
                "-c",
                "COPY lake.orders FROM STDIN",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"1\t2\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("25006"), "{err}");
    let c = server.client().await;
    assert_lake_intact(&c).await;
}
