//! Exports as a campaign tool uses them: RUN EXPORT on a real server writes complete files
//! (a `.done` manifest per file), `entered` / `exited` deliver each change once across
//! refreshes and a restart, consent is enforced, runs are recorded, and bad
//! configuration is refused at startup with every problem named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use datapunk::config::{Config, ExportConfig};

use crate::harness::{column, eventually, sqlstate, user, TestServer};

const BUSY: &str = "SELECT c.customer_id, c.email, c.marketing_opt_in, count(*) AS lines \
                    FROM lake.order_lines AS l JOIN lake.customers AS c USING (customer_id) \
                    GROUP BY c.customer_id, c.email, c.marketing_opt_in HAVING count(*) >= 4\n";

struct Setup {
    root: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        datapunk::testing::tiny_lake(&root.path().join("lake"));
        let definitions = root.path().join("audiences");
        std::fs::create_dir_all(&definitions).expect("dir");
        std::fs::write(definitions.join("busy.sql"), BUSY).expect("definition");
        Self { root }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn export(&self, name: &str, mode: &str, format: &str) -> ExportConfig {
        ExportConfig {
            name: name.into(),
            audience: "busy".into(),
            mode: mode.into(),
            format: format.into(),
            path: self.path(&format!("out/{name}")).display().to_string(),
            ..ExportConfig::default()
        }
    }

    fn configure(&self, c: &mut Config) {
        c.lake.root = self.path("lake").display().to_string();
        c.state.dir = self.path("state").display().to_string();
        c.audiences.dir = self.path("audiences").display().to_string();
        c.activation.export_roots = vec![self.path("out").display().to_string()];
        c.auth.users = vec![user("admin", "pw", true), user("analyst", "pw", false)];
        c.exports = vec![
            self.export("entered", "entered", "csv"),
            self.export("exited", "exited", "jsonl"),
            self.export("everyone", "full", "parquet"),
        ];
    }

    async fn server(&self) -> TestServer {
        TestServer::start(|c, _| self.configure(c)).await
    }
}

/// The completed files of an export folder (those with a `.done` manifest), oldest first.
fn completed(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("export dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let s = p.display().to_string();
            !s.ends_with(".done") && Path::new(&format!("{s}.done")).exists()
        })
        .collect();
    files.sort();
    files
}

/// The members of `busy` who said yes to marketing, sorted as text.
async fn consenting_members(c: &tokio_postgres::Client) -> Vec<String> {
    let mut keys = column(
        c,
        "SELECT CAST(customer_id AS TEXT) FROM audience.busy WHERE marketing_opt_in",
    )
    .await;
    keys.sort();
    keys
}

/// The first column of a CSV file, header skipped.
fn csv_keys(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn entered_exports_deliver_each_new_member_once_with_consent() {
    let setup = Setup::new();
    let s = setup.server().await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    let analyst = s.connect_as("analyst", Some("pw")).await.expect("analyst");
    let e = analyst
        .batch_execute("RUN EXPORT entered")
        .await
        .expect_err("not admin");
    assert_eq!(sqlstate(&e), "42501");
    let e = c
        .batch_execute("RUN EXPORT nope")
        .await
        .expect_err("unknown");
    assert_eq!(sqlstate(&e), "42704");

    c.batch_execute("RUN EXPORT entered")
        .await
        .expect("first run");
    let consenting: BTreeSet<String> = consenting_members(&c).await.into_iter().collect();
    let everyone = column(&c, "SELECT count(*) FROM audience.busy").await;
    assert!(consenting.len() > 2, "{consenting:?}");
    assert_ne!(everyone, vec![consenting.len().to_string()], "some said no");
    let files = completed(&setup.path("out/entered"));
    assert_eq!(files.len(), 1);
    let first: BTreeSet<String> = csv_keys(&files[0]).into_iter().collect();
    assert_eq!(first, consenting, "the members who consented, once each");
    let done = std::fs::read_to_string(format!("{}.done", files[0].display())).expect("done");
    assert!(
        done.contains(&format!("rows = {}", consenting.len())),
        "{done}"
    );
    assert!(
        done.contains(&format!("sha256 = \"{}\"", sha256_hex(&files[0]))),
        "the .done names the file's checksum: {done}"
    );

    // Nothing new: an empty file, recorded.
    c.batch_execute("RUN EXPORT entered")
        .await
        .expect("second run");
    let files = completed(&setup.path("out/entered"));
    assert_eq!(files.len(), 2);
    assert!(csv_keys(&files[1]).is_empty());

    // The lake changes: only who entered now is exported; who left goes to `exited`.
    let before: BTreeSet<String> =
        column(&c, "SELECT CAST(customer_id AS TEXT) FROM audience.busy")
            .await
            .into_iter()
            .collect();
    let mut lake_files: Vec<PathBuf> = std::fs::read_dir(setup.path("lake/order_lines"))
        .expect("lake")
        .map(|e| e.expect("entry").path())
        .collect();
    lake_files.sort();
    std::fs::remove_file(&lake_files[0]).expect("remove");
    c.batch_execute("REFRESH LAKE").await.expect("refresh");
    let after: BTreeSet<String> = column(&c, "SELECT CAST(customer_id AS TEXT) FROM audience.busy")
        .await
        .into_iter()
        .collect();
    c.batch_execute("RUN EXPORT entered")
        .await
        .expect("third run");
    c.batch_execute("RUN EXPORT exited")
        .await
        .expect("exited run");
    let consenting_now: BTreeSet<String> = consenting_members(&c).await.into_iter().collect();
    let files = completed(&setup.path("out/entered"));
    let third: BTreeSet<String> = csv_keys(&files[2]).into_iter().collect();
    let expected: BTreeSet<String> = after
        .difference(&before)
        .filter(|k| consenting_now.contains(*k))
        .cloned()
        .collect();
    assert_eq!(third, expected);
    let exited_files = completed(&setup.path("out/exited"));
    let exited_text = std::fs::read_to_string(&exited_files[0]).expect("jsonl");
    let exited: BTreeSet<String> = exited_text
        .lines()
        .map(|l| {
            l.split("\"customer_id\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("a key in {l}"))
                .to_owned()
        })
        .collect();
    assert_eq!(exited, before.difference(&after).cloned().collect());
    drop(c);
    s.stop().await;

    // After a restart the cursor holds: nothing is exported twice.
    let s = setup.server().await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    c.batch_execute("RUN EXPORT entered")
        .await
        .expect("after restart");
    let files = completed(&setup.path("out/entered"));
    assert_eq!(files.len(), 4);
    assert!(csv_keys(&files[3]).is_empty(), "{:?}", csv_keys(&files[3]));
    let runs = column(
        &c,
        "SELECT name || ' ' || run_id || ' ' || state || ' ' || rows FROM datapunk.export_runs \
         ORDER BY name, run_id",
    )
    .await;
    assert_eq!(
        runs,
        vec![
            format!("entered 1 ok {}", consenting.len()),
            "entered 2 ok 0".to_owned(),
            format!("entered 3 ok {}", expected.len()),
            "entered 4 ok 0".to_owned(),
            format!("exited 1 ok {}", exited.len()),
        ]
    );
    c.batch_execute("RUN EXPORT everyone")
        .await
        .expect("parquet");
    let parquet = completed(&setup.path("out/everyone"));
    assert_eq!(parquet.len(), 1);
    let mut in_file = parquet_keys(&parquet[0]);
    in_file.sort();
    let mut expected: Vec<String> = consenting_now.into_iter().collect();
    expected.sort();
    assert_eq!(
        in_file, expected,
        "every consenting member, in a Parquet file"
    );
    s.stop().await;
}

/// The SHA-256 of a file, in hex.
fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("file");
    ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `customer_id` column of a Parquet export, as text; checks `entered_at` is there.
fn parquet_keys(path: &Path) -> Vec<String> {
    use datafusion::arrow::array::Array;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).expect("parquet file"),
    )
    .expect("a Parquet file")
    .build()
    .expect("reader");
    let mut keys = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        assert!(
            batch.schema().index_of("entered_at").is_ok(),
            "{:?}",
            batch.schema()
        );
        let ids = datafusion::arrow::compute::cast(
            batch.column(batch.schema().index_of("customer_id").expect("customer_id")),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let ids = ids
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .expect("text");
        keys.extend((0..ids.len()).map(|i| ids.value(i).to_owned()));
    }
    keys
}

#[tokio::test]
async fn rows_whose_consent_is_false_or_null_are_never_exported() {
    let setup = Setup::new();
    let s = TestServer::start(|c, _| {
        setup.configure(c);
        let mut unsure = setup.export("unsure", "full", "csv");
        unsure.audience.clear();
        unsure.query = "SELECT customer_id, CASE WHEN customer_id % 2 = 0 THEN NULL \
                        ELSE marketing_opt_in END AS marketing_opt_in FROM lake.customers"
            .into();
        let mut asked = setup.export("asked", "full", "jsonl");
        asked.audience.clear();
        asked.query =
            "SELECT customer_id, customer_id % 3 = 0 AS said_yes FROM lake.customers".into();
        asked.consent_column = "said_yes".into();
        c.exports = vec![unsure, asked];
    })
    .await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    c.batch_execute("RUN EXPORT unsure; RUN EXPORT asked")
        .await
        .expect("runs");
    let mut expected = column(
        &c,
        "SELECT CAST(customer_id AS TEXT) FROM lake.customers \
         WHERE customer_id % 2 = 1 AND marketing_opt_in",
    )
    .await;
    expected.sort();
    let mut exported = csv_keys(&completed(&setup.path("out/unsure"))[0]);
    exported.sort();
    assert!(!expected.is_empty());
    assert_eq!(exported, expected, "NULL consent is no consent");
    let text = std::fs::read_to_string(&completed(&setup.path("out/asked"))[0]).expect("jsonl");
    let n = column(
        &c,
        "SELECT count(*) FROM lake.customers WHERE customer_id % 3 = 0",
    )
    .await;
    assert_eq!(vec![text.lines().count().to_string()], n);
    assert!(
        text.lines().all(|l| l.contains("\"said_yes\":true")),
        "the configured consent column decides: {text}"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_export_configuration_is_refused_with_every_problem() {
    let setup = Setup::new();
    std::fs::write(
        setup.path("audiences/hourly.sql"),
        "-- schedule: every hour or so\nSELECT customer_id FROM lake.customers\n",
    )
    .expect("definition");
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    setup.configure(&mut config);
    config.lake.debounce_ms = 0;
    config.activation.timezone = "Mars/Olympus".into();
    let mut unknown = setup.export("a", "entered", "csv");
    unknown.audience = "nope".into();
    let mut outside = setup.export("b", "full", "csv");
    outside.path = setup.path("elsewhere").display().to_string();
    let mut escaping = setup.export("c", "full", "csv");
    escaping.path = format!("{}/../x", setup.path("out").display());
    let mut bad = setup.export("d", "sometimes", "xlsx");
    bad.query = "SELECT 1".into();
    let mut unwritable = setup.export("e", "full", "csv");
    std::fs::create_dir_all(setup.path("out")).expect("out");
    std::fs::write(setup.path("out/e"), "a file where the folder goes").expect("file");
    unwritable.schedule = "at dawn".into();
    config.exports = vec![unknown, outside, escaping, bad, unwritable];
    let e = datapunk::App::build(config)
        .await
        .expect_err("refused")
        .to_string();
    // Every problem in one message, each naming its key (or its file).
    for expected in [
        "lake.debounce_ms",
        "activation.timezone",
        "exports[0].audience",
        "exports[1].path",
        "exports[2].path",
        "exports[3].mode",
        "exports[3].format",
        "exports[3].audience and exports[3].query",
        "exports[4].path",
        "exports[4].schedule",
        "hourly.sql: audience hourly: schedule",
    ] {
        assert!(e.contains(expected), "{expected} in {e}");
    }
    // Refused before the lake was read or anything was refreshed.
    assert!(!setup.path("state/audiences/busy").exists(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_runs_one_export_for_your_own_cron() {
    let setup = Setup::new();
    let mut config = Config::default();
    setup.configure(&mut config);
    config.auth.users.clear();
    let file = setup.path("datapunk.toml");
    std::fs::write(&file, toml::to_string(&config).expect("toml")).expect("config");
    let run = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_datapunk"))
            .args(["export", name, "--config"])
            .arg(&file)
            .output()
            .expect("datapunk export runs")
    };
    let out = run("entered");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("export entered:"), "{stdout}");
    let files = completed(&setup.path("out/entered"));
    assert_eq!(files.len(), 1);
    assert!(!csv_keys(&files[0]).is_empty());
    // The cursor is the same one the server uses: nothing twice.
    let out = run("entered");
    assert!(out.status.success());
    let files = completed(&setup.path("out/entered"));
    assert!(csv_keys(&files[1]).is_empty());
    let out = run("nope");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\" does not exist"));
    // While a server holds the state dir, the command says so instead of racing it.
    let server = TestServer::start(|c, _| {
        setup.configure(c);
        c.auth.users.clear();
    })
    .await;
    let out = run("entered");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use by another datapunk server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
}

#[tokio::test]
async fn schedules_run_exports_and_refresh_audiences() {
    let setup = Setup::new();
    std::fs::write(
        setup.path("audiences/ticking.sql"),
        "-- schedule: * * * * * *\nSELECT customer_id FROM lake.customers\n",
    )
    .expect("definition");
    let s = TestServer::start(|c, _| {
        setup.configure(c);
        c.activation.timezone = "Europe/Paris".into();
        let mut every_second = setup.export("ticks", "entered", "csv");
        every_second.schedule = "* * * * * *".into();
        c.exports = vec![every_second];
    })
    .await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    let check = |sql: &'static str| {
        let c = &c;
        move || async move {
            let n: i64 = column(c, sql).await.first()?.parse().ok()?;
            (n >= 2).then_some(n)
        }
    };
    eventually(
        Duration::from_secs(10),
        check("SELECT count(*) FROM datapunk.export_runs WHERE name = 'ticks' AND state = 'ok'"),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        check("SELECT refresh_id - 1 FROM datapunk.audiences WHERE name = 'ticking'"),
    )
    .await;
    // Each member went out once, whatever the number of ticks.
    let mut keys: Vec<String> = completed(&setup.path("out/ticks"))
        .iter()
        .flat_map(|f| csv_keys(f))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a member exported twice");
    s.stop().await;

    // A bad schedule or zone is refused at startup, naming where.
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    setup.configure(&mut config);
    config.exports[0].schedule = "every morning".into();
    let e = datapunk::App::build(config.clone())
        .await
        .expect_err("bad schedule")
        .to_string();
    assert!(e.contains("exports[0].schedule"), "{e}");
    config.exports[0].schedule.clear();
    config.activation.timezone = "Mars/Olympus".into();
    let e = datapunk::App::build(config)
        .await
        .expect_err("bad zone")
        .to_string();
    assert!(e.contains("activation.timezone"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_partial_file() {
    let setup = Setup::new();
    let s = TestServer::start(|c, _| {
        setup.configure(c);
        c.exports = vec![setup.export("all", "full", "csv")];
    })
    .await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    let dir = setup.path("out/all");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (dir, stop) = (dir.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            // Every version of every file name a reader could open, as it read it.
            let mut seen: Vec<(PathBuf, Vec<u8>)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
                    let path = entry.path();
                    let name = path.display().to_string();
                    if name.ends_with(".tmp") || name.ends_with(".done") {
                        continue;
                    }
                    if let Ok(bytes) = std::fs::read(&path) {
                        seen.push((path, bytes));
                    }
                }
            }
            seen
        })
    };
    for _ in 0..15 {
        c.batch_execute("RUN EXPORT all").await.expect("run");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = reader.join().expect("reader");
    assert!(!seen.is_empty(), "the reader saw files");
    for (path, bytes) in &seen {
        let done = std::fs::read_to_string(format!("{}.done", path.display())).expect("done");
        let rows: usize = done
            .lines()
            .find_map(|l| l.strip_prefix("rows = "))
            .and_then(|n| n.parse().ok())
            .expect("rows");
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(
            text.lines().count(),
            rows + 1,
            "{} read partially",
            path.display()
        );
        assert_eq!(
            bytes,
            &std::fs::read(path).expect("final"),
            "{}",
            path.display()
        );
    }
    s.stop().await;
}

/// A loopback HTTP server that answers the first `failures` requests with 500 (all of
/// them while `failures` is u32::MAX), recording their Idempotency-Key, and records
/// (Idempotency-Key, body) of the rest.
struct Hook {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    refused: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    failures: std::sync::Arc<std::sync::atomic::AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Hook {
    async fn start(failures: u32) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(failures));
        let refused = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (r, f, refused_keys) = (
            std::sync::Arc::clone(&received),
            std::sync::Arc::clone(&failures),
            std::sync::Arc::clone(&refused),
        );
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                // Headers, then Content-Length bytes of body.
                let (head, body) = loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break (String::new(), Vec::new());
                    }
                    request.extend_from_slice(&buf[..n]);
                    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&request[..end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while request.len() < end + 4 + length {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        request.extend_from_slice(&buf[..n]);
                    }
                    break (head, request[end + 4..].to_vec());
                };
                let key = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("idempotency-key")
                            .then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                let left = f.load(std::sync::atomic::Ordering::SeqCst);
                let status = if left > 0 {
                    if left != u32::MAX {
                        f.store(left - 1, std::sync::atomic::Ordering::SeqCst);
                    }
                    refused_keys.lock().expect("lock").push(key);
                    "500 Internal Server Error"
                } else {
                    r.lock()
                        .expect("lock")
                        .push((key, String::from_utf8_lossy(&body).to_string()));
                    "200 OK"
                };
                let _ = socket
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        Self {
            url,
            received,
            refused,
            failures,
            task,
        }
    }

    /// The distinct idempotency keys of the batches delivered.
    fn delivered_keys(&self) -> BTreeSet<String> {
        let received = self.received.lock().expect("lock");
        received.iter().map(|(key, _)| key.clone()).collect()
    }

    /// The distinct idempotency keys of the batches refused.
    fn refused_keys(&self) -> BTreeSet<String> {
        self.refused.lock().expect("lock").iter().cloned().collect()
    }

    /// The customer ids delivered, once per idempotency key.
    fn keys(&self) -> Vec<String> {
        let received = self.received.lock().expect("lock");
        let mut seen = BTreeSet::new();
        let mut keys = Vec::new();
        for (key, body) in received.iter() {
            if !seen.insert(key.clone()) {
                continue;
            }
            for line in body.lines() {
                let id = line
                    .split("\"customer_id\":")
                    .nth(1)
                    .and_then(|r| r.split([',', '}']).next())
                    .unwrap_or_else(|| panic!("customer_id in {line}"));
                keys.push(id.trim_matches('"').to_owned());
            }
        }
        keys.sort();
        keys
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_retried_and_a_failed_run_is_delivered_by_the_next() {
    let setup = Setup::new();
    let hook = Hook::start(2).await;
    let url = hook.url.clone();
    let s = TestServer::start(|c, _| {
        setup.configure(c);
        let mut entered = setup.export("hooked", "entered", "csv");
        entered.webhook = url.clone();
        let mut full = setup.export("full_hook", "full", "jsonl");
        full.webhook = url;
        c.exports = vec![entered, full];
    })
    .await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    // Two 500s, then 200: the retries deliver.
    c.batch_execute("RUN EXPORT hooked")
        .await
        .expect("delivered after retries");
    let consenting = consenting_members(&c).await;
    assert_eq!(hook.keys(), consenting);
    // A retried batch carries the key of its first try.
    assert_eq!(
        hook.refused_keys().len(),
        1,
        "the first batch, twice refused"
    );
    assert!(hook.refused_keys().is_subset(&hook.delivered_keys()));
    let files = completed(&setup.path("out/hooked"));
    assert_eq!(files.len(), 1);

    // The webhook is down: the run fails after its retries, is recorded, and leaves no
    // file; once it is back, the next run delivers the same rows (same idempotency keys).
    hook.refused.lock().expect("lock").clear();
    hook.failures
        .store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    let e = c
        .batch_execute("RUN EXPORT full_hook")
        .await
        .expect_err("down");
    assert!(format!("{e:?}").contains("500"), "{e:?}");
    assert!(completed(&setup.path("out/full_hook")).is_empty());
    hook.failures.store(0, std::sync::atomic::Ordering::SeqCst);
    hook.received.lock().expect("lock").clear();
    c.batch_execute("RUN EXPORT full_hook")
        .await
        .expect("delivered");
    assert_eq!(hook.keys(), consenting);
    // A receiver that saw the refused batch recognises it when it comes again.
    let refused = hook.refused_keys();
    assert!(!refused.is_empty());
    assert!(refused.is_subset(&hook.delivered_keys()), "{refused:?}");
    assert_eq!(completed(&setup.path("out/full_hook")).len(), 1);
    let states = column(
        &c,
        "SELECT state || ' ' || attempt FROM datapunk.export_runs WHERE name = 'full_hook' \
         ORDER BY run_id",
    )
    .await;
    assert_eq!(states, vec!["failed 1".to_owned(), "ok 2".to_owned()]);
    s.stop().await;
    hook.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_that_fails_is_retried_at_the_next_tick_and_delivers_the_changes() {
    let setup = Setup::new();
    let hook = Hook::start(u32::MAX).await;
    let url = hook.url.clone();
    let s = TestServer::start(|c, _| {
        setup.configure(c);
        let mut entered = setup.export("ticking_hook", "entered", "csv");
        entered.webhook = url;
        entered.schedule = "* * * * * *".into();
        c.exports = vec![entered];
    })
    .await;
    let c = s.connect_as("admin", Some("pw")).await.expect("admin");
    let runs = |state: &'static str| {
        let c = &c;
        move || async move {
            let n: i64 = column(
                c,
                &format!(
                    "SELECT count(*) FROM datapunk.export_runs \
                     WHERE name = 'ticking_hook' AND state = '{state}'"
                ),
            )
            .await
            .first()?
            .parse()
            .ok()?;
            (n >= 1).then_some(n)
        }
    };
    // The webhook is down: the ticks fail, are recorded, and complete no file.
    eventually(Duration::from_secs(30), runs("failed")).await;
    assert!(completed(&setup.path("out/ticking_hook")).is_empty());
    let error = column(
        &c,
        "SELECT error FROM datapunk.export_runs WHERE name = 'ticking_hook' AND state = 'failed' \
         LIMIT 1",
    )
    .await;
    assert!(error[0].contains("500"), "{error:?}");
    // Back up: a later tick delivers every entered member, once to the files.
    hook.failures.store(0, std::sync::atomic::Ordering::SeqCst);
    eventually(Duration::from_secs(30), runs("ok")).await;
    let consenting = consenting_members(&c).await;
    assert_eq!(hook.keys(), consenting);
    s.stop().await;
    let mut in_files: Vec<String> = completed(&setup.path("out/ticking_hook"))
        .iter()
        .flat_map(|f| csv_keys(f))
        .collect();
    in_files.sort();
    assert_eq!(in_files, consenting, "each member in exactly one file");
    hook.task.abort();
}
