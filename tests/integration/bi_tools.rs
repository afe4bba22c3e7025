//! The startup, catalog and preview queries of BI tools and drivers (Metabase, Grafana,
//! Superset/SQLAlchemy, DBeaver, DataGrip, Power BI/Npgsql, Tableau, pgjdbc, psqlODBC),
//! replayed from `tests/bi/*.sql` through the simple and the extended protocol, one
//! connection per tool as the tool would hold it.
//!
//! Every query must succeed, except those in [`KNOWN_GAPS`]; a gap that starts working
//! fails the test too, so the list stays true.

use crate::harness::{scalar, sqlstate, TestServer};

/// (file, query index in the file, why it fails today). Empty: every replayed query
/// works; a query that stops working must be listed here with the reason.
const KNOWN_GAPS: &[(&str, usize, &str)] = &[];

fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_owned();
            if !statement.is_empty() {
                out.push(statement);
            }
            current.clear();
        }
    }
    out
}

fn is_query(statement: &str) -> bool {
    let first = statement
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(first.as_str(), "select" | "with" | "show")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_tool_catalog_queries_succeed() {
    let server = TestServer::start(|_, _| {}).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bi");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    let mut failing = Vec::new();
    let mut report = String::new();
    let mut total = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let client = server.client().await;
        for (index, statement) in statements(&std::fs::read_to_string(path).unwrap())
            .iter()
            .enumerate()
        {
            total += 1;
            let mut error = client.simple_query(statement).await.err();
            if error.is_none() && is_query(statement) {
                error = client.query(statement.as_str(), &[]).await.err();
            }
            if let Some(e) = error {
                failing.push((file.clone(), index));
                let first_line = statement.lines().next().unwrap_or("");
                report.push_str(&format!("{file}#{index}: {e:?}\n    {first_line}\n"));
            }
        }
    }
    let known: Vec<(String, usize)> = KNOWN_GAPS
        .iter()
        .map(|(f, i, _)| ((*f).to_owned(), *i))
        .collect();
    let unexpected: Vec<_> = failing.iter().filter(|f| !known.contains(f)).collect();
    let fixed: Vec<_> = known.iter().filter(|k| !failing.contains(k)).collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} of {total} queries fail; not in KNOWN_GAPS: {unexpected:?}; in KNOWN_GAPS but working now: {fixed:?}\n{report}",
        failing.len()
    );
    // Sensible answers, not only no errors: the tools find the lake and its tables.
    let c = server.client().await;
    let schemas: Vec<String> = c
        .query(
            "SELECT nspname FROM pg_catalog.pg_namespace ORDER BY nspname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        schemas.contains(&"lake".to_owned()) && schemas.contains(&"warehouse".to_owned()),
        "{schemas:?}"
    );
    let tables: Vec<String> = c
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.contains(&"orders".to_owned()), "{tables:?}");
    // information_schema.columns speaks PostgreSQL's type names (Power BI, Grafana read it).
    type Column = (String, String, String, Option<i32>, Option<i32>);
    let columns: Vec<Column> = c
        .query(
            "SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale \
             FROM information_schema.columns \
             WHERE table_schema = 'lake' AND table_name = 'order_lines' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let find = |name: &str| columns.iter().find(|c| c.0 == name).cloned().unwrap();
    assert_eq!(
        find("order_id"),
        (
            "order_id".into(),
            "bigint".into(),
            "int8".into(),
            Some(64),
            Some(0)
        )
    );
    assert_eq!(
        find("unit_price"),
        (
            "unit_price".into(),
            "numeric".into(),
            "numeric".into(),
            Some(10),
            Some(2)
        )
    );
    assert_eq!(find("order_ts").1, "timestamp without time zone");
    assert_eq!(find("country").1, "text");
}

/// What the catalog fixes mean for answers, each against what PostgreSQL answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_syntax_literals_and_connection_views_answer_as_postgres_does() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let one = |sql: &'static str| {
        let c = &c;
        async move { scalar(c, sql).await.unwrap_or_default() }
    };
    // A quoted literal compared with a boolean is a boolean ('t', 'true', 'yes', ...).
    let opted_in = one("SELECT count(*) FROM lake.customers WHERE marketing_opt_in").await;
    assert_ne!(opted_in, "0");
    for literal in ["'t'", "'true'", "'YES'", "'on'", "'1'"] {
        let sql = format!("SELECT count(*) FROM lake.customers WHERE marketing_opt_in = {literal}");
        assert_eq!(scalar(&c, &sql).await.unwrap(), opted_in, "{sql}");
    }
    let not_opted = one("SELECT count(*) FROM lake.customers WHERE 'f' = marketing_opt_in").await;
    let all = one("SELECT count(*) FROM lake.customers WHERE marketing_opt_in IS NOT NULL").await;
    assert_eq!(
        opted_in.parse::<i64>().unwrap() + not_opted.parse::<i64>().unwrap(),
        all.parse::<i64>().unwrap()
    );
    let bad = c
        .simple_query("SELECT count(*) FROM lake.customers WHERE marketing_opt_in = 'maybe'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&bad), "22P02", "{bad:?}");
    // Text compared with text stays text: relkind 'f' is a foreign table, not false.
    assert_eq!(
        one("SELECT count(*) FROM pg_catalog.pg_class WHERE relkind = 'f'").await,
        "0"
    );
    // OPERATOR(pg_catalog.op), casts to "char", generate_subscripts beside unnest.
    assert_eq!(one("SELECT 6 OPERATOR(pg_catalog.*) 7").await, "42");
    assert_eq!(
        one("SELECT count(*) FROM lake.orders WHERE order_id OPERATOR(pg_catalog.<=) 10").await,
        "10"
    );
    assert_eq!(one("SELECT 'r'::\"char\" = 'r'").await, "t");
    let rows = c
        .simple_query(
            "SELECT unnest(ARRAY[30, 10, 20]) AS v, generate_subscripts(ARRAY[30, 10, 20], 1) AS i",
        )
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0).unwrap().to_owned(), r.get(1).unwrap().to_owned()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        pairs,
        [("30", "1"), ("10", "2"), ("20", "3")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .to_vec()
    );
    // A UNION branch may repeat an output name; the first branch names the columns.
    let union = c
        .query(
            "SELECT oid, relname AS kind, oid AS again FROM pg_catalog.pg_class WHERE relname = 'orders' \
             UNION ALL SELECT oid, 'c', oid FROM pg_catalog.pg_type WHERE typname = 'nope'",
            &[],
        )
        .await
        .unwrap();
    assert!(!union.is_empty());
    assert_eq!(union[0].columns()[2].name(), "again");
    // Catalog rows have a state number (xmin); this connection's pid and TLS state.
    assert_eq!(
        one("SELECT max(n.xmin) FROM pg_catalog.pg_namespace n").await,
        "1"
    );
    assert_eq!(
        one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").await,
        "f"
    );
    let other = server.client().await;
    assert_ne!(
        scalar(&other, "SELECT pg_backend_pid()").await,
        scalar(&c, "SELECT pg_backend_pid()").await,
        "each connection has its own backend pid"
    );
    assert_eq!(one("SELECT count(*) FROM pg_catalog.pg_locks").await, "0");
    assert_eq!(
        one("SELECT utc_offset FROM pg_timezone_names WHERE name = 'Asia/Kolkata'").await,
        "05:30:00"
    );
    server.stop().await;
}
