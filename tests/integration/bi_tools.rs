//! The startup, catalog and preview queries of BI tools and drivers (Metabase, Grafana,
//! Superset/SQLAlchemy, DBeaver, DataGrip, Power BI/Npgsql, Tableau, pgjdbc, psqlODBC),
//! replayed from `tests/bi/*.sql` through the simple and the extended protocol, one
//! connection per tool as the tool would hold it.
//!
//! Every query must succeed, except those in [`KNOWN_GAPS`]; a gap that starts working
//! fails the test too, so the list stays true.

use crate::harness::TestServer;

/// (file, query index in the file, why it fails today).
const KNOWN_GAPS: &[(&str, usize, &str)] = &[
    ("datagrip.sql", 8, "pg_locks is missing"),
    ("datagrip.sql", 11, "system column xmin is missing"),
    ("datagrip.sql", 14, "pg_timezone_names is missing"),
    ("datagrip.sql", 16, "system column xmin is missing"),
    ("datagrip.sql", 17, "pg_stat_ssl is missing"),
    ("datagrip.sql", 18, "system column xmin is missing"),
    ("datagrip.sql", 19, "the \"char\" type in a cast"),
    ("datagrip.sql", 20, "system column xmin is missing"),
    (
        "dbeaver.sql",
        22,
        "two outputs of the same name in a UNION branch (DataFusion needs unique names)",
    ),
    ("datagrip.sql", 21, "system column xmin is missing"),
    ("datagrip.sql", 22, "system column xmin is missing"),
    (
        "metabase.sql",
        12,
        "CAST(<non-literal text> AS regclass) (describe-fields)",
    ),
    ("psqlodbc.sql", 10, "OPERATOR(pg_catalog.>) syntax"),
    ("psqlodbc.sql", 11, "OPERATOR(pg_catalog.=) syntax"),
    (
        "superset_sqlalchemy.sql",
        18,
        "generate_subscripts() is missing",
    ),
    (
        "superset_sqlalchemy.sql",
        21,
        "a bool = text comparison DataFusion cannot coerce",
    ),
];

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
