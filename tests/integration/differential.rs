//! Differential test against the real thing: every query of `tests/differential/corpus`
//! runs on datapunk and on a throwaway PostgreSQL holding the same lake tables, through
//! the simple protocol (values as text) and the extended protocol (values in binary, with
//! their type OIDs), and the outputs are compared byte for byte (errors by SQLSTATE and
//! the position in the query they point at).
//! Each query also runs as a warehouse script (`CREATE TABLE warehouse.qN AS <query>`),
//! whose table must hold what the query returned over the wire, and as a table
//! function's inner query (`SELECT * FROM query('<query>')`), which must answer the same
//! columns and rows, or fail with the same SQLSTATE.
//!
//! Known differences are listed in `tests/differential/known_differences.toml`, each with
//! its reason; an unlisted difference fails the test, and so does a listed query that
//! has become identical (the list stays true). The count is checked against
//! `docs/compatibility.md`. `DATAPUNK_UPDATE_COMPAT=1` rewrites both: fixed queries leave
//! the list, new differences join it under the reason `?`, which fails the next run until
//! a reason is written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::harness::{present_or_skip, TestServer};
use crate::twin::{connect, load_lake, postgres};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential/corpus");
const KNOWN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/differential/known_differences.toml"
);
/// The files that state the count: each has one line with `corpus queries identical`.
const COUNT_IN: [&str; 2] = [
    concat!(env!("CARGO_MANIFEST_DIR"), "/docs/compatibility.md"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"),
];

/// One corpus query and where it comes from.
#[derive(Debug, Clone)]
struct Query {
    file: String,
    line: usize,
    sql: String,
}

/// The queries of every corpus file, in file order. A query ends with the line whose
/// last character is `;`; lines starting with `--` between queries are comments.
fn corpus() -> Vec<Query> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("corpus folder")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut queries = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("corpus file");
        let mut current: Vec<&str> = Vec::new();
        let mut start = 0;
        for (n, line) in text.lines().enumerate() {
            if current.is_empty() && (line.trim().is_empty() || line.starts_with("--")) {
                continue;
            }
            if current.is_empty() {
                start = n + 1;
            }
            current.push(line);
            if line.trim_end().ends_with(';') {
                let sql = current.join("\n");
                let sql = sql.trim().trim_end_matches(';').trim_end().to_owned();
                queries.push(Query {
                    file: file.clone(),
                    line: start,
                    sql,
                });
                current.clear();
            }
        }
        assert!(
            current.is_empty(),
            "{file}:{start}: query without a closing `;`"
        );
    }
    queries
}

#[derive(Debug, serde::Deserialize)]
struct KnownFile {
    #[serde(default)]
    difference: Vec<Known>,
}

/// Queries (as in the corpus, without their `;`) that differ for one reason.
#[derive(Debug, serde::Deserialize)]
struct Known {
    reason: String,
    queries: Vec<String>,
}

/// Marks queries `DATAPUNK_UPDATE_COMPAT=1` added to the list: the reason is still to
/// be written, and the test fails until it is.
const UNEXPLAINED: &str = "?";

fn normalized(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The listed differences: each query's reason, keyed by its normalized text, and the
/// groups in file order.
fn known_differences() -> (BTreeMap<String, String>, Vec<Known>) {
    let text = std::fs::read_to_string(KNOWN).expect("known_differences.toml");
    let file: KnownFile = toml::from_str(&text).expect("known_differences.toml parses");
    let mut known = BTreeMap::new();
    for group in &file.difference {
        for q in &group.queries {
            let key = normalized(q.trim().trim_end_matches(';'));
            assert!(
                known.insert(key, group.reason.clone()).is_none(),
                "listed twice: {q}"
            );
        }
    }
    (known, file.difference)
}

/// Writes the list back: groups keep their reasons and lose the queries that are no
/// longer different (or no longer in the corpus); new differences join a group whose
/// reason is [`UNEXPLAINED`].
fn rewrite_known(groups: Vec<Known>, still: &BTreeSet<String>, new: &[&Query]) {
    let header: String = std::fs::read_to_string(KNOWN)
        .expect("known_differences.toml")
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut groups: Vec<Known> = groups
        .into_iter()
        .map(|g| Known {
            reason: g.reason,
            queries: g
                .queries
                .into_iter()
                .filter(|q| still.contains(&normalized(q.trim().trim_end_matches(';'))))
                .collect(),
        })
        .filter(|g| !g.queries.is_empty())
        .collect();
    if !new.is_empty() {
        groups.push(Known {
            reason: UNEXPLAINED.to_owned(),
            queries: new.iter().map(|q| q.sql.clone()).collect(),
        });
    }
    let mut out = header;
    for g in groups {
        let _ = write!(
            out,
            "\n[[difference]]\nreason = \"\"\"{}\"\"\"\nqueries = [\n",
            g.reason
        );
        for q in g.queries {
            let _ = writeln!(out, "'''{q}''',");
        }
        out.push_str("]\n");
    }
    std::fs::write(KNOWN, out).expect("write known_differences.toml");
}

/// What a query gave: its columns and rows, or its SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Rows {
        columns: Vec<String>,
        rows: Vec<Vec<Option<Vec<u8>>>>,
    },
    Error(String),
}

impl Outcome {
    /// The outcome with an error's position left out.
    fn without_position(&self) -> Outcome {
        match self {
            Outcome::Error(code) => {
                Outcome::Error(code.split(" at ").next().unwrap_or(code).to_owned())
            }
            rows => rows.clone(),
        }
    }

    fn show(&self) -> String {
        match self {
            Outcome::Error(code) => format!("ERROR {code}"),
            Outcome::Rows { columns, rows } => {
                let mut s = columns.join(" | ");
                for row in rows.iter().take(8) {
                    s.push_str("\n  ");
                    let cells: Vec<String> = row
                        .iter()
                        .map(|c| match c {
                            None => "NULL".to_owned(),
                            Some(b) => match std::str::from_utf8(b) {
                                Ok(t) => t.to_owned(),
                                Err(_) => format!("{b:02x?}"),
                            },
                        })
                        .collect();
                    s.push_str(&cells.join(" | "));
                }
                if rows.len() > 8 {
                    let _ = write!(s, "\n  ... {} rows", rows.len());
                }
                s
            }
        }
    }
}

/// An error's SQLSTATE, and where in the query it points (`P`), if it does.
fn error_code(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map_or_else(
        || format!("(no server error: {e})"),
        |d| match d.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(at)) => {
                format!("{} at {at}", d.code().code())
            }
            _ => d.code().code().to_owned(),
        },
    )
}

/// The simple protocol: column names and values as text.
async fn simple(client: &Client, sql: &str) -> Outcome {
    match client.simple_query(sql).await {
        Err(e) => Outcome::Error(error_code(&e)),
        Ok(messages) => {
            let mut columns = Vec::new();
            let mut rows = Vec::new();
            for m in messages {
                match m {
                    SimpleQueryMessage::RowDescription(cols) => {
                        columns = cols.iter().map(|c| c.name().to_owned()).collect();
                    }
                    SimpleQueryMessage::Row(row) => rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(|v| v.as_bytes().to_vec()))
                            .collect(),
                    ),
                    _ => {}
                }
            }
            Outcome::Rows { columns, rows }
        }
    }
}

/// A value's bytes as the server sent them, whatever its type.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The extended protocol: column names with their type OIDs, values in binary.
async fn extended(client: &Client, sql: &str) -> Outcome {
    let statement = match client.prepare(sql).await {
        Ok(s) => s,
        Err(e) => return Outcome::Error(error_code(&e)),
    };
    let columns = statement
        .columns()
        .iter()
        .map(|c| format!("{}::{}", c.name(), c.type_().oid()))
        .collect();
    match client.query(&statement, &[]).await {
        Err(e) => Outcome::Error(error_code(&e)),
        Ok(found) => Outcome::Rows {
            columns,
            rows: found
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.get::<_, Option<Raw>>(i).map(|r| r.0))
                        .collect()
                })
                .collect(),
        },
    }
}

/// One warehouse script per corpus query.
fn write_scripts(dir: &Path, queries: &[Query]) {
    std::fs::create_dir_all(dir).expect("scripts dir");
    for (i, q) in queries.iter().enumerate() {
        std::fs::write(
            dir.join(format!("{:04}_q{i}.sql", i + 1)),
            format!("CREATE TABLE warehouse.q{i} AS\n{}\n", q.sql),
        )
        .expect("script");
    }
}

/// How a query fared.
struct Verdict {
    query: Query,
    differences: Vec<String>,
}

async fn compare(i: usize, q: &Query, datapunk: &Client, pg: &Client) -> Verdict {
    let mut differences = Vec::new();
    let theirs = simple(pg, &q.sql).await;
    let ours = simple(datapunk, &q.sql).await;
    if ours != theirs {
        differences.push(format!(
            "simple protocol:\n  PostgreSQL: {}\n  datapunk:   {}",
            theirs.show(),
            ours.show()
        ));
    }
    let theirs_binary = extended(pg, &q.sql).await;
    let ours_binary = extended(datapunk, &q.sql).await;
    if ours_binary != theirs_binary {
        differences.push(format!(
            "extended protocol (binary):\n  PostgreSQL: {}\n  datapunk:   {}",
            theirs_binary.show(),
            ours_binary.show()
        ));
    }
    let built = simple(datapunk, &format!("SELECT * FROM warehouse.q{i}")).await;
    // A result with a repeated column name makes no table, as in PostgreSQL (42701).
    let repeated = matches!(&ours, Outcome::Rows { columns, .. }
        if columns.iter().enumerate().any(|(i, c)| columns[..i].contains(c)));
    let same_in_warehouse = match (&ours, &built) {
        (Outcome::Error(_), Outcome::Error(_)) => true,
        (Outcome::Rows { .. }, Outcome::Error(_)) => repeated,
        (Outcome::Rows { .. }, Outcome::Rows { .. }) => !repeated && built == ours,
        (Outcome::Error(_), Outcome::Rows { .. }) => false,
    };
    if !same_in_warehouse {
        differences.push(format!(
            "as a warehouse script:\n  wire:      {}\n  warehouse: {}",
            ours.show(),
            built.show()
        ));
    }
    let inner = simple(
        datapunk,
        &format!("SELECT * FROM query('{}')", q.sql.replace('\'', "''")),
    )
    .await;
    // An inner query's error points nowhere in the outer statement: SQLSTATEs compared.
    if inner != ours.without_position() {
        differences.push(format!(
            "as a table function's inner query:\n  wire:    {}\n  query(): {}",
            ours.show(),
            inner.show()
        ));
    }
    Verdict {
        query: q.clone(),
        differences,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_runs_as_on_postgres() {
    let Some(pg) = postgres::LocalPostgres::start() else {
        present_or_skip(
            false,
            "a PostgreSQL server (initdb, pg_ctl)",
            "apt-get install postgresql",
        );
        return;
    };
    let queries = corpus();
    assert!(
        queries.len() >= 500,
        "the corpus has {} queries",
        queries.len()
    );
    let (known, groups) = known_differences();
    let server = TestServer::start(|config, dir| {
        let scripts = dir.join("warehouse");
        write_scripts(&scripts, &queries);
        config.warehouse.scripts_dir = scripts.display().to_string();
    })
    .await;
    let datapunk = server.client().await;
    let postgres = connect(&pg.conn_string()).await;
    load_lake(&datapunk, &postgres).await;
    for client in [&datapunk, &postgres] {
        client
            .batch_execute("SET statement_timeout = '20s'")
            .await
            .expect("statement_timeout");
    }
    // datapunk's session zone is UTC, as its startup parameters tell clients.
    postgres
        .batch_execute("SET TimeZone = 'UTC'")
        .await
        .expect("TimeZone");

    let mut identical = 0;
    let mut unlisted = Vec::new();
    let mut fixed = Vec::new();
    let mut seen = BTreeSet::new();
    let mut still = BTreeSet::new();
    let mut unexplained = 0;
    for (i, q) in queries.iter().enumerate() {
        let verdict = compare(i, q, &datapunk, &postgres).await;
        let key = normalized(&q.sql);
        let listed = known.get(&key);
        seen.insert(key.clone());
        match (verdict.differences.is_empty(), listed) {
            (true, None) => identical += 1,
            (true, Some(_)) => {
                identical += 1;
                fixed.push(verdict.query);
            }
            (false, Some(reason)) => {
                still.insert(key);
                if reason == UNEXPLAINED {
                    unexplained += 1;
                    println!(
                        "\n--- {}:{} is listed without a reason:\n{}\n{}",
                        q.file,
                        q.line,
                        q.sql,
                        verdict.differences.join("\n")
                    );
                }
            }
            (false, None) => unlisted.push(verdict),
        }
    }
    let stale: Vec<&String> = known.keys().filter(|k| !seen.contains(*k)).collect();
    let total = queries.len();
    println!(
        "differential: {identical} of {total} identical ({} known differences)",
        known.len()
    );
    for v in &unlisted {
        println!(
            "\n--- {}:{} differs:\n{}\n{}",
            v.query.file,
            v.query.line,
            v.query.sql,
            v.differences.join("\n")
        );
    }
    for q in &fixed {
        println!(
            "\n--- {}:{} is now identical: remove it from known_differences.toml\n{}",
            q.file, q.line, q.sql
        );
    }
    for k in &stale {
        println!("\n--- listed but not in the corpus: {k}");
    }
    if std::env::var_os("DATAPUNK_UPDATE_COMPAT").is_some() {
        let new: Vec<&Query> = unlisted.iter().map(|v| &v.query).collect();
        rewrite_known(groups, &still, &new);
        check_compatibility_doc(identical, total);
        return;
    }
    assert!(
        unlisted.is_empty() && fixed.is_empty() && stale.is_empty() && unexplained == 0,
        "{} unlisted differences, {} listed queries now identical, {} listed queries not in \
         the corpus, {} listed without a reason (DATAPUNK_UPDATE_COMPAT=1 rewrites the list)",
        unlisted.len(),
        fixed.len(),
        stale.len(),
        unexplained
    );
    check_compatibility_doc(identical, total);
    server.stop().await;
}

/// The README and `docs/compatibility.md` state the count this run measured.
fn check_compatibility_doc(identical: usize, total: usize) {
    let line = format!("**{identical} of {total} corpus queries identical**");
    for path in COUNT_IN {
        let doc = std::fs::read_to_string(path).expect("a document with the count");
        let Some(at) = doc.find("corpus queries identical**") else {
            panic!("{path} has no `**N of M corpus queries identical**`");
        };
        let start = doc[..at].rfind("**").expect("the count's opening **");
        let old = &doc[start..at + "corpus queries identical**".len()];
        if std::env::var_os("DATAPUNK_UPDATE_COMPAT").is_some() {
            std::fs::write(path, doc.replacen(old, &line, 1)).expect("write the count");
            continue;
        }
        assert_eq!(
            old, line,
            "{path} states another count than this run measured \
             (DATAPUNK_UPDATE_COMPAT=1 cargo test differential updates it)"
        );
    }
}
