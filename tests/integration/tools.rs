//! The tools themselves, at the versions `.ci/run` installs, against datapunk and against a
//! throwaway PostgreSQL holding the same lake tables ([`crate::twin`]), their answers
//! compared: SQLAlchemy's inspector through psycopg2 and psycopg 3, psql's describe
//! commands, pgjdbc's `DatabaseMetaData` and node-postgres's type parsing. Each tool runs
//! as a user runs it; a difference that is not listed here with its reason fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::harness::{present_or_skip, python_has, require_tool, TestServer};
use crate::twin::{connect, create_lake_tables, load_lake, postgres::LocalPostgres};

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");

/// datapunk and its PostgreSQL twin, both running.
struct Pair {
    datapunk: TestServer,
    pg: LocalPostgres,
}

impl Pair {
    /// Starts both, with the lake's tables (and rows, when `rows`) in PostgreSQL; `None`
    /// (skipped locally, failed in CI) without a PostgreSQL server.
    async fn start(rows: bool) -> Option<Self> {
        let Some(pg) = LocalPostgres::start() else {
            present_or_skip(
                false,
                "a PostgreSQL server (initdb, pg_ctl)",
                "apt-get install postgresql",
            );
            return None;
        };
        let datapunk = TestServer::start(|_, _| {}).await;
        let source = datapunk.client().await;
        let twin = connect(&pg.conn_string()).await;
        if rows {
            load_lake(&source, &twin).await;
        } else {
            create_lake_tables(&source, &twin).await;
        }
        // datapunk's search path, so unqualified names and psql's listings see the lake.
        twin.batch_execute(
            "CREATE SCHEMA warehouse; ALTER DATABASE postgres SET search_path = warehouse, lake",
        )
        .await
        .expect("search_path");
        Some(Self { datapunk, pg })
    }

    /// (user, port, database) of each: datapunk first.
    fn targets(&self) -> [(&'static str, u16, &'static str); 2] {
        [
            ("bench", self.datapunk.addr.port(), "datapunk"),
            ("bench", self.pg.port, "postgres"),
        ]
    }
}

/// Runs `program args`, expecting success; its stdout.
async fn run(program: &'static str, args: Vec<String>) -> String {
    let shown = format!("{program} {}", args.join(" "));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(program)
            .args(&args)
            .env("PGTZ", "UTC")
            .output()
            .expect("tool runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{shown} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_inspector_answers_as_on_postgres() {
    if !["sqlalchemy", "psycopg2", "psycopg"]
        .iter()
        .all(|m| python_has(m))
    {
        return;
    }
    let Some(pair) = Pair::start(false).await else {
        return;
    };
    let script = format!("{CLIENTS}/sqlalchemy_inspect.py");
    for driver in ["psycopg2", "psycopg"] {
        let mut answers = Vec::new();
        for (user, port, db) in pair.targets() {
            let tail = format!("{user}@127.0.0.1:{port}/{db}");
            let args = vec![script.clone(), driver.into(), tail, "lake".into()];
            answers.push(run("python3", args).await);
        }
        assert!(answers[0].contains("\"customer_id\""), "{}", answers[0]);
        assert_eq!(
            answers[0], answers[1],
            "SQLAlchemy's inspector through {driver}: datapunk (left) and PostgreSQL (right) differ"
        );
    }
    pair.datapunk.stop().await;
}

/// psql's describe commands every analyst types, with a pattern where one applies.
const DESCRIBE: &[&str] = &[
    r"\d",
    r"\d+",
    r"\d lake.orders",
    r"\d+ lake.orders",
    r"\dt+",
    r"\dt+ lake.*",
    r"\dv",
    r"\dv lake.*",
    r"\di",
    r"\di lake.*",
    r"\ds",
    r"\dT",
    r"\dT+",
    r"\dx",
    r"\dp",
    r"\dp lake.*",
    r"\l+",
    r"\dn+",
    r"\du+",
    r"\dD",
    r"\df+ lake.*",
];

/// The lines of psql's output that say what it shows: the title and the column names
/// (each trimmed; widths depend on the rows).
fn headings(output: &str) -> Vec<String> {
    output
        .lines()
        .take_while(|l| !l.starts_with('-') && !l.starts_with("--"))
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join(" | "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_commands_work_as_on_postgres() {
    if !require_tool("psql") {
        return;
    }
    let Some(pair) = Pair::start(false).await else {
        return;
    };
    let mut outputs: Vec<BTreeMap<&str, String>> = Vec::new();
    for (user, port, db) in pair.targets() {
        let mut each = BTreeMap::new();
        for command in DESCRIBE {
            let args = vec![
                "-X".into(),
                "-v".into(),
                "ON_ERROR_STOP=1".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
                "-U".into(),
                user.into(),
                "-d".into(),
                db.into(),
                "-c".into(),
                (*command).into(),
            ];
            each.insert(*command, run("psql", args).await);
        }
        outputs.push(each);
    }
    for command in DESCRIBE {
        let (ours, theirs) = (&outputs[0][command], &outputs[1][command]);
        assert_eq!(
            headings(ours),
            headings(theirs),
            "psql {command}: datapunk printed\n{ours}\nPostgreSQL printed\n{theirs}"
        );
    }
    // The lake is listed and described as PostgreSQL lists the same tables.
    for command in [r"\dt+ lake.*", r"\d lake.orders", r"\dp lake.*"] {
        let names = |out: &str| -> Vec<String> {
            out.lines()
                .skip(3)
                .filter_map(|l| l.split('|').nth(1).map(|c| c.trim().to_owned()))
                .collect()
        };
        assert_eq!(
            names(&outputs[0][command]),
            names(&outputs[1][command]),
            "psql {command}"
        );
    }
    // `\sf` prints a datapunk function's definition.
    let (_, port, _) = pair.targets()[0];
    let definition = run(
        "psql",
        vec![
            "-X".into(),
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-d".into(),
            "datapunk".into(),
            "-c".into(),
            r"\sf rfm_score".into(),
        ],
    )
    .await;
    assert!(
        definition.starts_with("CREATE OR REPLACE FUNCTION public.rfm_score(value anyelement"),
        "{definition}"
    );
    pair.datapunk.stop().await;
}

/// The sections of a `JdbcMetaData.java` dump: call → its lines.
fn sections(dump: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in dump.lines() {
        if let Some(call) = line.strip_prefix("== ") {
            current = call.to_owned();
        } else {
            out.entry(current.clone())
                .or_default()
                .push(line.to_owned());
        }
    }
    out
}

/// Column labels without the wire types (`cols: A(text), B(int4)` → `A, B`).
fn labels(line: &str) -> String {
    line.split(", ")
        .map(|c| c.split('(').next().unwrap_or(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `JdbcMetaData.java` calls whose answers differ from PostgreSQL's, and why.
const JDBC_DIFFERENCES: &[(&str, &str)] = &[
    (
        "getFunctionColumns(null,pg_catalog,lower,null)",
        "pg_proc.proargtypes is an int[] (text {3831}), not an oidvector (3831), and pgjdbc splits it on spaces",
    ),
    (
        "getProcedureColumns(null,pg_catalog,lower,null)",
        "pg_proc.proargtypes is an int[] (text {3831}), not an oidvector (3831), and pgjdbc splits it on spaces",
    ),
    (
        "getUDTs(null,lake,%,null)",
        "datapunk's tables have no row types in pg_type (reltype 0), so no UDTs",
    ),
];

/// Scalars that differ for the twin's sake: the database's name, and the keywords of the
/// PostgreSQL installed (datapunk speaks 16).
const JDBC_VARYING_SCALARS: &[&str] = &["connection.getCatalog=", "getSQLKeywords="];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_database_metadata_answers_as_on_postgres() {
    let jar = crate::jdbc::JAR;
    if !require_tool("java")
        || !present_or_skip(
            Path::new(jar).exists(),
            jar,
            "apt-get install libpostgresql-jdbc-java",
        )
    {
        return;
    }
    let Some(pair) = Pair::start(false).await else {
        return;
    };
    let mut dumps = Vec::new();
    for (user, port, db) in pair.targets() {
        let args = vec![
            "-cp".into(),
            jar.into(),
            format!("{CLIENTS}/JdbcMetaData.java"),
            format!("jdbc:postgresql://127.0.0.1:{port}/{db}"),
            user.into(),
        ];
        dumps.push(sections(&run("java", args).await));
    }
    let (ours, theirs) = (&dumps[0], &dumps[1]);
    let strip = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !JDBC_VARYING_SCALARS.iter().any(|v| l.starts_with(v)))
            .map(|l| match l.strip_prefix("cols: ") {
                Some(cols) => labels(cols),
                None => l.clone(),
            })
            .collect()
    };
    let mut unexplained = Vec::new();
    for (call, lines) in ours {
        let listed = JDBC_DIFFERENCES.iter().any(|(c, _)| c == call);
        let fails = |lines: &[String]| lines.iter().any(|l| l.starts_with("ERROR"));
        let theirs = theirs.get(call).cloned().unwrap_or_default();
        // No call fails on datapunk that works on PostgreSQL; calls about the lake's
        // tables (and the scalars) answer the same rows under the same labels.
        let differs = (fails(lines) && !fails(&theirs))
            || ((call.contains(",lake,") || call == "scalars") && strip(lines) != strip(&theirs));
        if differs != listed {
            let (a, b) = (strip(lines), strip(&theirs));
            let only = |x: &[String], y: &[String]| -> String {
                x.iter()
                    .filter(|l| !y.contains(l))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n             ")
            };
            unexplained.push(format!(
                "{call} ({}):\n  datapunk   {}\n  PostgreSQL {}",
                if listed {
                    "listed but now the same"
                } else {
                    "differs"
                },
                only(&a, &b),
                only(&b, &a)
            ));
        }
    }
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
    pair.datapunk.stop().await;
}

/// Queries of `node_types.js` whose answers differ from PostgreSQL's, and why.
const NODE_DIFFERENCES: &[(&str, &str)] = &[
    ("char_internal", "datapunk has one character type: varchar(n), char(n) and \"char\" are text (25), char(n) unpadded"),
    ("char_internal$", "datapunk has one character type: varchar(n), char(n) and \"char\" are text (25), char(n) unpadded"),
    ("char_n", "datapunk has one character type: varchar(n), char(n) and \"char\" are text (25), char(n) unpadded"),
    ("char_n$", "datapunk has one character type: varchar(n), char(n) and \"char\" are text (25), char(n) unpadded"),
    ("varchar", "datapunk has one character type: varchar(n), char(n) and \"char\" are text (25), char(n) unpadded"),
    ("varchar$", "datapunk has one character type: varchar(n), char(n) and \"char\" are text (25), char(n) unpadded"),
    ("date_arith", "date - date is bigint (int8); PostgreSQL's is integer"),
    ("json", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("json$", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("jsonb", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("jsonb$", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("jsonb_scalar", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("jsonb_scalar$", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("null_jsonb", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("null_jsonb$", "casts to json and jsonb are not supported yet (0A000); JSON lake columns are sent as json"),
    ("name", "name is text (25) in datapunk, PostgreSQL's identifier type (19) there"),
    ("name$", "name is text (25) in datapunk, PostgreSQL's identifier type (19) there"),
    ("numeric_big$", "an unconstrained numeric parameter gets DataFusion's scale 10; PostgreSQL keeps each value's scale"),
    ("numeric_literal$", "an unconstrained numeric parameter gets DataFusion's scale 10; PostgreSQL keeps each value's scale"),
    ("numeric_sum$", "an unconstrained numeric parameter gets DataFusion's scale 10; PostgreSQL keeps each value's scale"),
    ("table_aggregates$", "avg keeps 16 digits after the point; PostgreSQL picks the scale per value (20 for an average of 0)"),
    ("oid", "a cast to oid is integer (23)"),
    ("oid$", "a cast to oid is integer (23)"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_parses_every_type_as_on_postgres() {
    let modules = format!("{CLIENTS}/node_modules/pg");
    if !require_tool("node")
        || !present_or_skip(
            Path::new(&modules).exists(),
            "node module pg",
            "npm install --prefix tests/clients",
        )
    {
        return;
    }
    let Some(pair) = Pair::start(true).await else {
        return;
    };
    let mut answers: Vec<BTreeMap<String, String>> = Vec::new();
    for (user, port, db) in pair.targets() {
        let url = format!("postgres://{user}@127.0.0.1:{port}/{db}?options=-c%20TimeZone%3DUTC");
        let out = run("node", vec![format!("{CLIENTS}/node_types.js"), url]).await;
        answers.push(
            out.lines()
                .filter_map(|l| {
                    let value: serde_json::Value = serde_json::from_str(l).ok()?;
                    Some((value["q"].as_str()?.to_owned(), l.to_owned()))
                })
                .collect(),
        );
    }
    assert!(answers[0].len() > 50, "{:?}", answers[0]);
    let mut unexplained = Vec::new();
    for (query, ours) in &answers[0] {
        let same = answers[1].get(query) == Some(ours);
        let listed = NODE_DIFFERENCES.iter().any(|(q, _)| q == query);
        if same == listed {
            unexplained.push(format!(
                "{query} ({}):\n  datapunk   {ours}\n  PostgreSQL {}",
                if same {
                    "listed but now identical"
                } else {
                    "differs"
                },
                answers[1].get(query).map_or("-", String::as_str)
            ));
        }
    }
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
    pair.datapunk.stop().await;
}
