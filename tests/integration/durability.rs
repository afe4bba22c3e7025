//! Kill -9 at any moment loses nothing that was reported done and never records anything
//! twice: a real `datapunk serve` process refreshing an audience whose members change on
//! every refresh is killed at spread-out points (during startup refreshes and during
//! REFRESH AUDIENCE), restarted, and its history checked for consistency.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_datapunk");

/// A started server process, killed if the test ends first.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

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

async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .expect(sql)
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("").to_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
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
    let config = dir.path().join("datapunk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[lake]\nroot = {:?}\nwatch = false\n\
             [audiences]\ndir = {:?}\n[state]\ndir = {:?}\n",
            lake.display().to_string(),
            definitions.display().to_string(),
            state.display().to_string()
        ),
    )
    .expect("config");

    for round in 0..8u64 {
        let (mut server, port) = start(&config);
        let client = connect(port).await;
        let refreshing = tokio::spawn(async move {
            loop {
                if client
                    .batch_execute("REFRESH AUDIENCE churn")
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        // Spread-out kill points: 0 to 280 ms into a stream of refreshes.
        tokio::time::sleep(Duration::from_millis(round * 40)).await;
        server.0.kill().expect("kill -9");
        server.0.wait().expect("reaped");
        let _ = refreshing.await;
    }

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
    let manifest =
        std::fs::read_to_string(state.join("audiences/churn/manifest.toml")).expect("manifest");
    for entry in std::fs::read_dir(state.join("audiences/churn")).expect("dir") {
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
