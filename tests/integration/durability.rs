//! Kill -9 at any moment loses nothing that was reported done and never records anything
//! twice: a real `datapunk serve` process refreshing an audience whose members change on
//! every refresh is killed at spread-out points (during startup refreshes and during
//! REFRESH AUDIENCE), restarted, and its history checked for consistency; a warehouse
//! build killed while it writes leaves the last committed tables.

use std::collections::BTreeMap;
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

/// Eight rounds: start the server, run `statements` in a loop, kill -9 it `round * step_ms`
/// milliseconds in.
async fn kill_at_spread_points(config: &Path, step_ms: u64, statements: &'static [&'static str]) {
    for round in 0..8u64 {
        let (mut server, port) = start(config);
        let client = connect(port).await;
        let running = tokio::spawn(async move {
            for sql in statements.iter().cycle() {
                if client.batch_execute(sql).await.is_err() {
                    break;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(round * step_ms)).await;
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

    // Spread-out kill points: 0 to 280 ms into a stream of refreshes.
    kill_at_spread_points(&config, 40, &["REFRESH AUDIENCE churn"]).await;

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
    let mut refreshes = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
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
    std::fs::write(
        definitions.join("everyone.sql"),
        "SELECT customer_id, email, marketing_opt_in FROM lake.customers\n",
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
             [[exports]]\nname = \"new\"\naudience = \"everyone\"\nmode = \"entered\"\npath = {}\n\
             [[exports]]\nname = \"all\"\naudience = \"everyone\"\nformat = \"jsonl\"\npath = {}\n",
            quote(&lake),
            quote(&definitions),
            quote(&dir.path().join("state")),
            quote(&out),
            quote(&out.join("new")),
            quote(&out.join("all")),
        ),
    )
    .expect("config");

    kill_at_spread_points(&config, 30, &["RUN EXPORT new", "RUN EXPORT all"]).await;
    let (_server, port) = start(&config);
    let client = connect(port).await;
    client
        .batch_execute("RUN EXPORT new")
        .await
        .expect("last run");
    client
        .batch_execute("RUN EXPORT all")
        .await
        .expect("last run");

    // Only complete files are left: each has its .done, with its row count.
    let mut delivered = Vec::new();
    for export in ["new", "all"] {
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
            if export == "new" {
                assert_eq!(lines.len(), rows + 1, "{name}");
                delivered.extend(
                    lines[1..]
                        .iter()
                        .map(|l| l.split(',').next().unwrap_or("").to_owned()),
                );
            } else {
                assert_eq!(lines.len(), rows, "{name}");
            }
        }
    }
    // Each consenting customer exactly once across all runs, kills and restarts.
    let mut consenting = rows(
        &client,
        "SELECT CAST(customer_id AS TEXT) FROM lake.customers WHERE marketing_opt_in",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect::<Vec<_>>();
    consenting.sort();
    delivered.sort();
    assert_eq!(delivered, consenting);
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
