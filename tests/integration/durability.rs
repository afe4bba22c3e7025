//! Kill -9 at any moment loses nothing that was reported done and never records anything
//! twice: a real `datapunk serve` process refreshing an audience whose members change on
//! every refresh, or exporting one, is killed at random points (seeded; the seed is
//! printed), restarted, and its history and deliveries checked for consistency; a
//! warehouse build killed while it writes leaves the last committed tables.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_datapunk");

use crate::harness::{rows, ServerProcess};

/// Starts the server on `config` and returns it with its port once it is ready.
fn start(config: &Path) -> (ServerProcess, u16) {
    let mut child = ServerProcess(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("datapunk starts"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut log = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no ready line; log so far:\n{}", log.join("\n")));
        if let Some(rest) = line.split("datapunk ready: psql -h 127.0.0.1 -p ").nth(1) {
            let port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
            // Keep draining the log so the server never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return (child, port);
        }
        log.push(line);
    }
}

async fn connect(port: u16) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=admin dbname=datapunk"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

/// `dir/datapunk.toml`: a server on a free port over `lake` (not watched), its state in
/// `dir/state`, and `sections`.
fn write_config(dir: &Path, lake: &Path, sections: &str) -> std::path::PathBuf {
    let config = dir.join("datapunk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[lake]\nroot = {:?}\nwatch = false\n\
             [state]\ndir = {:?}\n{sections}",
            lake.display().to_string(),
            dir.join("state").display().to_string()
        ),
    )
    .expect("config");
    config
}

/// Nothing but `manifest.toml` and the files it names is left in `folder`.
fn only_committed_files(folder: &Path) {
    let manifest = std::fs::read_to_string(folder.join("manifest.toml")).expect("manifest");
    for entry in std::fs::read_dir(folder).expect("dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            name == "manifest.toml" || manifest.contains(&name),
            "{name} is not in the manifest:\n{manifest}"
        );
    }
}

/// The kill points of a run: the first round at startup, the others at random up to
/// `max_ms` into the work. The seed is printed, and `DATAPUNK_KILL_SEED` replays it.
fn kill_points(max_ms: u64) -> Vec<u64> {
    let mut state: u64 = std::env::var("DATAPUNK_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    eprintln!("kill points: DATAPUNK_KILL_SEED={state}");
    let mut points = vec![0];
    while points.len() < 8 {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        points.push(state % (max_ms + 1));
    }
    points
}

/// Eight rounds: start the server, run `statements` in a loop, kill -9 it at one of
/// [`kill_points`].
async fn kill_at_random_points(config: &Path, max_ms: u64, statements: &'static [&'static str]) {
    for wait in kill_points(max_ms) {
        let (mut server, port) = start(config);
        let client = connect(port).await;
        let running = tokio::spawn(async move {
            for sql in statements.iter().cycle() {
                if client.batch_execute(sql).await.is_err() {
                    break;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(wait)).await;
        server.0.kill().expect("kill -9");
        server.0.wait().expect("reaped");
        let _ = running.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_refreshes_keeps_the_history_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    datapunk::testing::tiny_lake(&lake);
    let definitions = dir.path().join("audiences");
    std::fs::create_dir_all(&definitions).expect("dir");
    // A third of the customers, a different third every tenth of a second.
    std::fs::write(
        definitions.join("churn.sql"),
        "SELECT customer_id, email FROM lake.customers \
         WHERE (customer_id + CAST(extract(epoch FROM now()) * 10 AS BIGINT)) % 3 = 0\n",
    )
    .expect("definition");
    let state = dir.path().join("state");
    let config = write_config(
        dir.path(),
        &lake,
        &format!(
            "[audiences]\ndir = {:?}\n",
            definitions.display().to_string()
        ),
    );

    // Kill points up to 300 ms into a stream of refreshes.
    kill_at_random_points(&config, 300, &["REFRESH AUDIENCE churn"]).await;

    let (_server, port) = start(&config);
    let client = connect(port).await;
    let status = rows(
        &client,
        "SELECT refresh_id, members, state FROM datapunk.audiences WHERE name = 'churn'",
    )
    .await;
    let [row] = status.as_slice() else {
        panic!("one status row: {status:?}")
    };
    assert_eq!(row[2], "ok", "{status:?}");
    let last_refresh: i64 = row[0].parse().expect("refresh id");
    assert!(
        last_refresh >= 9,
        "a refresh per start at least: {status:?}"
    );

    // Replay the history: per key, changes alternate entered / exited, each refresh
    // recorded at most once, and what it adds up to is the current membership.
    let history = rows(
        &client,
        "SELECT key, change, refresh_id, CAST(at AS TEXT) FROM datapunk.audience_changes \
         WHERE audience = 'churn' ORDER BY refresh_id, key",
    )
    .await;
    let mut members: BTreeMap<String, String> = BTreeMap::new();
    let mut refreshes = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for r in &history {
        let (key, change, refresh, at) = (&r[0], &r[1], &r[2], &r[3]);
        let refresh: i64 = refresh.parse().expect("refresh id");
        assert!(refresh <= last_refresh, "{r:?}");
        assert!(seen.insert((key.clone(), refresh)), "recorded twice: {r:?}");
        refreshes.insert(refresh);
        match change.as_str() {
            "entered" => assert!(
                members.insert(key.clone(), at.clone()).is_none(),
                "entered twice without exiting: {r:?}"
            ),
            "exited" => assert!(members.remove(key).is_some(), "exited a non-member: {r:?}"),
            other => panic!("change {other}"),
        }
    }
    assert!(
        refreshes.len() >= 2,
        "the members changed between refreshes"
    );
    let current: BTreeMap<String, String> = rows(
        &client,
        "SELECT CAST(customer_id AS TEXT), CAST(entered_at AS TEXT) FROM audience.churn",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone()))
    .collect();
    assert_eq!(
        current, members,
        "members = the replayed history, entered_at included"
    );

    // Nothing but the committed files is left in the audience's folder.
    only_committed_files(&state.join("audiences/churn"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_exports_delivers_each_member_once_in_complete_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    datapunk::testing::tiny_lake(&lake);
    let definitions = dir.path().join("audiences");
    std::fs::create_dir_all(&definitions).expect("dir");
    // A third of the customers, a different third every tenth of a second: members enter,
    // leave and come back while exports run.
    std::fs::write(
        definitions.join("churn.sql"),
        "SELECT customer_id, email, marketing_opt_in FROM lake.customers \
         WHERE (customer_id + CAST(extract(epoch FROM now()) * 10 AS BIGINT)) % 3 = 0\n",
    )
    .expect("definition");
    let out = dir.path().join("out");
    let config = dir.path().join("datapunk.toml");
    let quote = |p: &Path| format!("{:?}", p.display().to_string());
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[lake]\nroot = {}\nwatch = false\n\
             [audiences]\ndir = {}\n[state]\ndir = {}\n[activation]\nexport_roots = [{}]\n\
             [[exports]]\nname = \"new\"\naudience = \"churn\"\nmode = \"entered\"\npath = {}\n\
             [[exports]]\nname = \"all\"\naudience = \"churn\"\nformat = \"jsonl\"\npath = {}\n\
             [[exports]]\nname = \"now\"\naudience = \"churn\"\npath = {}\n",
            quote(&lake),
            quote(&definitions),
            quote(&dir.path().join("state")),
            quote(&out),
            quote(&out.join("new")),
            quote(&out.join("all")),
            quote(&out.join("now")),
        ),
    )
    .expect("config");

    kill_at_random_points(
        &config,
        300,
        &["RUN EXPORT new", "REFRESH AUDIENCE churn", "RUN EXPORT all"],
    )
    .await;
    let (_server, port) = start(&config);
    let client = connect(port).await;
    for last in ["RUN EXPORT new", "RUN EXPORT all", "RUN EXPORT now"] {
        client.batch_execute(last).await.expect(last);
    }

    // Only complete files are left: each has its .done, with its row count.
    let mut delivered = Vec::new();
    let mut now = Vec::new();
    for export in ["new", "all", "now"] {
        for entry in std::fs::read_dir(out.join(export)).expect("dir").flatten() {
            let name = entry.path().display().to_string();
            assert!(!name.ends_with(".tmp"), "left behind: {name}");
            if name.ends_with(".done") {
                continue;
            }
            let done = std::fs::read_to_string(format!("{name}.done"))
                .unwrap_or_else(|_| panic!("{name} has no .done"));
            let rows: usize = done
                .lines()
                .find_map(|l| l.strip_prefix("rows = "))
                .and_then(|n| n.parse().ok())
                .expect("rows");
            let text = std::fs::read_to_string(&name).expect("file");
            let lines: Vec<&str> = text.lines().collect();
            if export == "all" {
                assert_eq!(lines.len(), rows, "{name}");
                continue;
            }
            assert_eq!(lines.len(), rows + 1, "{name}");
            // customer_id,email,marketing_opt_in,entered_at
            let entries = lines[1..].iter().map(|l| {
                let fields: Vec<&str> = l.split(',').collect();
                (fields[0].to_owned(), fields[3].to_owned())
            });
            if export == "new" {
                delivered.extend(entries);
            } else {
                now.extend(entries);
            }
        }
    }
    // No entry into the audience delivered twice, across all runs, kills and restarts ...
    let unique: BTreeSet<&(String, String)> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "an entry delivered twice");
    // ... every consenting member's entry delivered ...
    assert!(!now.is_empty());
    for member in &now {
        assert!(unique.contains(member), "{member:?} was never delivered");
    }
    // ... and nothing delivered that did not enter, or did not consent.
    let entries: BTreeMap<String, usize> = rows(
        &client,
        "SELECT key, CAST(count(*) AS TEXT) FROM datapunk.audience_changes \
         WHERE audience = 'churn' AND change = 'entered' GROUP BY key",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().expect("count")))
    .collect();
    let consenting: BTreeSet<String> = rows(
        &client,
        "SELECT CAST(customer_id AS TEXT) FROM lake.customers WHERE marketing_opt_in",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _) in &delivered {
        assert!(consenting.contains(key), "{key} did not consent");
        *per_key.entry(key).or_default() += 1;
    }
    for (key, n) in per_key {
        assert!(
            n <= entries.get(key).copied().unwrap_or(0),
            "{key}: {n} deliveries"
        );
    }
}

/// A warehouse script whose table has `n` rows (a second or more to build).
fn big_table_script(scripts: &Path, n: u64) {
    std::fs::write(
        scripts.join("010_big.sql"),
        format!(
            "CREATE TABLE warehouse.big AS SELECT v, md5(CAST(v AS TEXT)) AS h \
             FROM generate_series(1, {n}) AS t(v)\n"
        ),
    )
    .expect("script");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_warehouse_build_keeps_the_last_committed_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    datapunk::testing::tiny_lake(&lake);
    let scripts = dir.path().join("warehouse");
    std::fs::create_dir_all(&scripts).expect("dir");
    big_table_script(&scripts, 2_000_000);
    std::fs::write(
        scripts.join("020_summary.sql"),
        "CREATE TABLE warehouse.summary AS SELECT count(*) AS n FROM warehouse.big\n",
    )
    .expect("script");
    let state = dir.path().join("state");
    let config = write_config(
        dir.path(),
        &lake,
        &format!(
            "[warehouse]\nscripts_dir = {:?}\n",
            scripts.display().to_string()
        ),
    );
    let summary = "SELECT n FROM warehouse.summary";
    let (mut server, port) = start(&config);
    assert_eq!(rows(&connect(port).await, summary).await, [["2000000"]]);
    server.0.kill().expect("kill -9");
    server.0.wait().expect("reaped");

    // A changed script: the next start builds the table again; killed while it writes.
    big_table_script(&scripts, 2_000_100);
    let warehouse = state.join("warehouse");
    let writing = |dir: &Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
    };
    let mut server = ServerProcess(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .expect("datapunk starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !writing(&warehouse) {
        assert!(Instant::now() < deadline, "the build never started writing");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.0.kill().expect("kill -9");
    server.0.wait().expect("reaped");

    // The next start serves a whole table (and builds the changed one), leaves nothing
    // the manifest does not name, and its tables agree with each other.
    let (_server, port) = start(&config);
    let client = connect(port).await;
    assert_eq!(rows(&client, summary).await, [["2000100"]]);
    assert_eq!(
        rows(&client, "SELECT count(*) FROM warehouse.big").await,
        [["2000100"]]
    );
    only_committed_files(&warehouse);
}

/// Rows of `table` (every Parquet file under it, each must be whole) by customer:
/// (rows of `erased` customers, rows of the others).
fn rows_by_customer(table: &Path, erased: &BTreeSet<i64>) -> (usize, usize) {
    use datapunk::privacy::purge::read_parquet_file;
    let mut counts = (0, 0);
    for entry in std::fs::read_dir(table).expect("table folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        for batch in read_parquet_file(&path).unwrap_or_else(|e| panic!("{name} is not whole: {e}"))
        {
            use datafusion::arrow::array::AsArray;
            let ids = batch
                .column_by_name("customer_id")
                .expect("customer_id")
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            for id in ids.values() {
                if erased.contains(id) {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_killed_at_any_moment_loses_no_row_that_was_not_erased() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    datapunk::generate::generate(
        &lake,
        datapunk::generate::Spec {
            order_lines: 120_000,
            seed: 3,
            rows_per_file: 1_500,
        },
        false,
    )
    .expect("lake");
    let config = write_config(
        dir.path(),
        &lake,
        "[privacy]\n\
         [[privacy.pii_tables]]\ntable = \"lake.orders\"\nid_type = \"customer_id\"\ncolumn = \"customer_id\"\n\
         [[privacy.pii_tables]]\ntable = \"lake.order_lines\"\nid_type = \"customer_id\"\ncolumn = \"customer_id\"\n\
         [[privacy.pii_tables]]\ntable = \"lake.customers\"\nid_type = \"customer_id\"\ncolumn = \"customer_id\"\n",
    );
    // Forget the 25 busiest customers, in one statement (one request each).
    let (server, port) = start(&config);
    let admin = connect(port).await;
    let forgotten = rows(
        &admin,
        "SELECT datapunk_forget('customer_id', customer_id) FROM \
         (SELECT customer_id FROM lake.orders GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 25) t",
    )
    .await;
    assert_eq!(forgotten.len(), 25);
    let erased: BTreeSet<i64> = rows(
        &admin,
        "SELECT CAST(id AS BIGINT) FROM datapunk.erasure_log WHERE state = 'pending'",
    )
    .await
    .iter()
    .map(|r| r[0].parse().expect("id"))
    .collect();
    assert_eq!(erased.len(), 25);
    drop(admin);
    drop(server);
    let tables = ["orders", "order_lines", "customers"];
    let before: Vec<(usize, usize)> = tables
        .iter()
        .map(|t| rows_by_customer(&lake.join(t), &erased))
        .collect();
    assert!(before.iter().all(|(e, _)| *e > 0), "{before:?}");
    let files_before = crate::harness::count_parquet(&lake);

    let purge = || {
        Command::new(BIN)
            .args(["purge", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("datapunk purge starts")
    };
    for wait in kill_points(2_500) {
        let mut child = ServerProcess(purge());
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.0.kill().expect("kill -9");
        child.0.wait().expect("reaped");
        for (table, (erased_before, kept_before)) in tables.iter().zip(&before) {
            let (erased_now, kept_now) = rows_by_customer(&lake.join(table), &erased);
            assert_eq!(
                kept_now, *kept_before,
                "{table}: rows that were not erased were lost (killed after {wait} ms)"
            );
            assert!(erased_now <= *erased_before, "{table}");
        }
        assert_eq!(crate::harness::count_parquet(&lake), files_before);
    }
    let done = purge().wait_with_output().expect("purge runs");
    assert!(done.status.success());
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(said.contains("purged"), "{said}");
    for (table, (_, kept_before)) in tables.iter().zip(&before) {
        assert_eq!(
            rows_by_customer(&lake.join(table), &erased),
            (0, *kept_before),
            "{table}"
        );
    }
    let (_server, port) = start(&config);
    let admin = connect(port).await;
    let states = rows(&admin, "SELECT DISTINCT state FROM datapunk.erasure_log").await;
    assert_eq!(states, vec![vec!["purged".to_owned()]]);
    assert_eq!(
        rows(&admin, "SELECT count(*) FROM lake.orders").await[0][0],
        before[0].1.to_string()
    );
}
