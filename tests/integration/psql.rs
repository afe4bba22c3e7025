//! The real psql binary against the real server: meta-commands, COPY, scripts.

use std::process::Command;

use crate::harness::{require_tool, TestServer};

const ANALYST_PASSWORD: &str = "analyst-pw";

fn psql(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("psql")
        .args([
            "-X",
            "-h",
            &server.addr.ip().to_string(),
            "-p",
            &server.addr.port().to_string(),
            "-U",
            "analyst",
            "-d",
            "datapunk",
        ])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        // Used where the server has users; ignored under trust.
        .env("PGPASSWORD", ANALYST_PASSWORD)
        .output()
        .expect("running psql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(server: &TestServer, args: &[&str]) -> String {
    let (success, out, err) = psql(server, args);
    assert!(
        success && !err.contains("ERROR"),
        "psql {args:?} failed:\n{out}\n{err}"
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_meta_commands_and_copy() {
    if !require_tool("psql") {
        return;
    }
    let server = TestServer::with_warehouse().await;
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\dt lake.*"]));
    for t in [
        "customers",
        "order_lines",
        "orders",
        "products",
        "web_events",
        "guest_orders",
        "experiment_assignments",
    ] {
        assert!(out.contains(t), "{out}");
    }
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\dt warehouse.*"]));
    assert!(out.contains("daily_sales"), "{out}");
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\d lake.order_lines"]));
    assert!(out.contains("timestamp without time zone"), "{out}");
    assert!(out.contains("bigint"), "{out}");
    assert!(out.contains("numeric(10,2)"), "{out}");
    // Startup ParameterStatus as psql saw it.
    let out = tokio::task::block_in_place(|| {
        ok(
            &server,
            &[
                "-c",
                r"\echo :SERVER_VERSION_NAME :ENCODING",
                "-c",
                "SHOW DateStyle",
            ],
        )
    });
    assert!(
        out.contains("16.6 (datapunk") && out.contains("UTF8"),
        "{out}"
    );
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\d+ lake.orders"]));
    assert!(out.contains("Storage") && out.contains("order_id"), "{out}");
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\df"]));
    assert!(out.contains("List of functions"), "{out}");
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\du"]));
    assert!(out.contains("List of roles"), "{out}");
    let out = tokio::task::block_in_place(|| {
        ok(&server, &["-c", "SELECT count(*), 1 + 1, current_user"])
    });
    assert!(out.contains(" count | ?column? | current_user"), "{out}");
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\l"]));
    assert!(out.contains("datapunk"), "{out}");
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", r"\dn"]));
    assert!(out.contains("warehouse") && out.contains("lake"), "{out}");
    let out =
        tokio::task::block_in_place(|| ok(&server, &["-c", r"\x", "-c", "SELECT 1 AS a, 2 AS b"]));
    assert!(out.contains("a | 1"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.csv");
    let copy = format!(
        r"\copy (SELECT product_id, name FROM lake.products ORDER BY product_id LIMIT 3) TO '{}' CSV HEADER",
        file.display()
    );
    let out = tokio::task::block_in_place(|| ok(&server, &["-c", &copy]));
    assert!(out.contains("COPY 3"), "{out}");
    let csv = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(lines[0], "product_id,name");
    assert!(lines[1].starts_with("1,"), "{csv}");

    let out = tokio::task::block_in_place(|| {
        ok(
            &server,
            &[
                "-c",
                "COPY (SELECT 1 AS a, 'x,y' AS b, NULL AS c) TO STDOUT (FORMAT csv, HEADER)",
            ],
        )
    });
    assert_eq!(out, "a,b,c\n1,\"x,y\",\n");

    // COPY prints timestamps and times as PostgreSQL does (no trailing zeros).
    let out = tokio::task::block_in_place(|| {
        ok(
            &server,
            &[
                "-c",
                "COPY (SELECT CAST('2024-01-01 10:00:00' AS TIMESTAMP) AS t, CAST('2024-01-01 10:00:00.5' AS TIMESTAMP) AS u, CAST('08:30:00' AS TIME) AS v) TO STDOUT (FORMAT csv)",
            ],
        )
    });
    assert_eq!(out, "2024-01-01 10:00:00,2024-01-01 10:00:00.5,08:30:00\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_runs_scripts_and_stops_on_error() {
    if !require_tool("psql") {
        return;
    }
    // This one logs in with a password (SCRAM).
    let server = TestServer::start(|c, _| {
        c.auth.users = vec![crate::harness::user("analyst", ANALYST_PASSWORD, false)];
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("report.sql");
    std::fs::write(
        &script,
        "-- a report\n\\set ON_ERROR_STOP 1\nSELECT count(*) AS n FROM lake.orders; SELECT 'second' AS s; /* block\ncomment */\nSELECT 42 AS answer;\nSELECT * FROM missing_table;\nSELECT 'never' AS reached;\n",
    )
    .unwrap();
    let (success, out, err) =
        tokio::task::block_in_place(|| psql(&server, &["-f", &script.display().to_string()]));
    assert!(!success, "ON_ERROR_STOP must fail the script");
    assert!(out.contains("second") && out.contains("42"), "{out}");
    assert!(
        err.contains("relation \"missing_table\" does not exist"),
        "{err}"
    );
    assert!(!out.contains("never"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_lists_marketing_functions_with_descriptions() {
    if !require_tool("psql") {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    // \df: every documented function, with its signature and kind.
    let out = tokio::task::block_in_place(|| ok(&server, &["-At", "-c", r"\df rfm*"]));
    let names: Vec<&str> = out.lines().filter_map(|l| l.split('|').nth(1)).collect();
    assert_eq!(
        names,
        ["rfm", "rfm_score", "rfm_segment", "rfm_segment_rf"],
        "{out}"
    );
    assert!(
        out.contains("rfm_score|integer|value anyelement, n integer DEFAULT 5, higher_is_better boolean DEFAULT true, ties text DEFAULT 'split'|window"),
        "{out}"
    );
    // \df+: the description too.
    let out = tokio::task::block_in_place(|| ok(&server, &["-At", "-c", r"\df+ kmeans*"]));
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(rows[2][1], "kmeans_fit");
    assert_eq!(rows[2][4], "agg");
    assert!(rows[2].last().unwrap().starts_with("Fits k-means"), "{out}");
    for row in &rows {
        assert!(
            row.last().is_some_and(|d| d.len() > 40),
            "no description: {row:?}"
        );
    }
    // information_schema.routines lists them with descriptions.
    let out = tokio::task::block_in_place(|| {
        ok(
            &server,
            &[
                "-At",
                "-c",
                "SELECT routine_name, function_type, description IS NOT NULL FROM information_schema.routines \
                 WHERE routine_name LIKE 'rfm%' OR routine_name LIKE 'kmeans%' ORDER BY 1",
            ],
        )
    });
    assert_eq!(
        out.trim(),
        "kmeans_assign|SCALAR|t\nkmeans_distance|SCALAR|t\nkmeans_fit|AGGREGATE|t\nrfm|TABLE|t\nrfm_score|WINDOW|t\nrfm_segment|SCALAR|t\nrfm_segment_rf|SCALAR|t"
    );
    // Plain \df: every documented function, each with its arguments and a description.
    let out = tokio::task::block_in_place(|| ok(&server, &["-At", "-c", r"\df+"]));
    for doc in datapunk::udf::docs() {
        let row = out
            .lines()
            .find(|l| l.split('|').nth(1) == Some(doc.name))
            .unwrap_or_else(|| panic!("{} not in \\df+: {out}", doc.name));
        assert!(row.contains(&doc.arguments()), "{row}");
        assert!(row.ends_with(doc.description), "{row}");
    }
    server.stop().await;
}
