//! `TestServer`: a tiny deterministic lake in a temp dir, a config built in code, the real
//! `App` on 127.0.0.1:0, stopped when dropped. `eventually` polls with a deadline instead
//! of sleeping.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datapunk::config::{Config, UserConfig};
use datapunk::App;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    /// The lake folder the test writes; served from a bucket it is mirrored to when the
    /// server was started in [`LakePlace::Bucket`].
    pub lake: PathBuf,
    pub config: Config,
    bucket: Option<Bucket>,
    _dir: tempfile::TempDir,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Where a lake test's lake is served from: the folder the test writes, or a bucket in a
/// local S3-compatible server (moto) that folder is uploaded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakePlace {
    Folder,
    Bucket,
}

impl LakePlace {
    /// The folder, and a bucket when `moto_server` is installed (skipped loudly without
    /// it, a failure under CI).
    pub fn all() -> Vec<Self> {
        let mut places = vec![Self::Folder];
        if require_tool("moto_server") {
            places.push(Self::Bucket);
        }
        places
    }
}

/// The bucket a test's lake folder is mirrored to.
struct Bucket {
    s3: crate::s3_lake::S3Server,
    /// When the folder was last mirrored.
    synced: std::time::SystemTime,
}

/// The objects under the lake's prefix in the bucket.
const LAKE_PREFIX: &str = "lake";

impl TestServer {
    /// Starts a server over the tiny lake; `configure` may change the config.
    pub async fn start(configure: impl FnOnce(&mut Config, &Path)) -> Self {
        Self::start_in(LakePlace::Folder, configure).await
    }

    /// Starts a server over the tiny lake as `configure` leaves it, served from `place`.
    /// After changing files in [`Self::lake`], a test calls [`Self::lake_changed`].
    pub async fn start_in(place: LakePlace, configure: impl FnOnce(&mut Config, &Path)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = dir.path().join("lake");
        datapunk::testing::tiny_lake(&lake);
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.shutdown_grace_secs = 5;
        config.lake.root = lake.display().to_string();
        config.lake.debounce_ms = 200;
        config.state.dir = dir.path().join("state").display().to_string();
        configure(&mut config, dir.path());
        let mut bucket = None;
        if place == LakePlace::Bucket {
            let s3 = crate::s3_lake::S3Server::start().expect("moto_server");
            let synced = std::time::SystemTime::now();
            upload(&s3.store(), &lake, LAKE_PREFIX).await;
            config.lake.root = format!("s3://{}/{LAKE_PREFIX}", crate::s3_lake::BUCKET);
            config.lake.s3 = s3.config();
            bucket = Some(Bucket { s3, synced });
        }
        let app = App::build(config.clone()).await.expect("server builds");
        let addr = app.local_addr().expect("bound");
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run(stop.clone()));
        Self {
            addr,
            lake,
            config,
            bucket,
            _dir: dir,
            stop,
            task: Some(task),
        }
    }

    /// Mirrors the lake folder to the bucket the server reads (nothing for a server over
    /// the folder): files new or changed since the last mirror are uploaded, objects
    /// whose file is gone removed.
    pub async fn lake_changed(&mut self) {
        use futures::TryStreamExt;
        use object_store::ObjectStoreExt;
        let Some(bucket) = &mut self.bucket else {
            return;
        };
        let store = bucket.s3.store();
        let prefix = object_store::path::Path::from(LAKE_PREFIX);
        let listed: Vec<object_store::ObjectMeta> =
            store.list(Some(&prefix)).try_collect().await.unwrap();
        let mut in_bucket = std::collections::HashMap::new();
        for object in listed {
            let relative: Vec<String> = object
                .location
                .prefix_match(&prefix)
                .unwrap()
                .map(|p| p.as_ref().to_owned())
                .collect();
            let file = relative
                .iter()
                .fold(self.lake.clone(), |p, part| p.join(part));
            if file.exists() {
                in_bucket.insert(file, object.size);
            } else {
                store.delete(&object.location).await.unwrap();
            }
        }
        let now = std::time::SystemTime::now();
        let mut pending = vec![self.lake.clone()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                let path = entry.path();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    pending.push(path);
                    continue;
                }
                let changed = meta.modified().unwrap() >= bucket.synced
                    || in_bucket.get(&path) != Some(&meta.len());
                if changed {
                    let relative = path.strip_prefix(&self.lake).unwrap().display().to_string();
                    put(
                        &store,
                        &format!("{LAKE_PREFIX}/{relative}"),
                        std::fs::read(&path).unwrap(),
                    )
                    .await;
                }
            }
        }
        bucket.synced = now;
    }

    /// [`Self::lake_changed`], then `REFRESH LAKE` through `client`.
    pub async fn refresh_lake(&mut self, client: &tokio_postgres::Client) {
        self.lake_changed().await;
        client.batch_execute("REFRESH LAKE").await.unwrap();
    }

    /// A server whose lake also gets the repo's warehouse scripts.
    pub async fn with_warehouse() -> Self {
        Self::start(|c, _| {
            c.warehouse.scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse").into();
        })
        .await
    }

    pub fn conn_string(&self, user: &str, password: Option<&str>) -> String {
        let mut s = format!(
            "host={} port={} user={user} dbname={}",
            self.addr.ip(),
            self.addr.port(),
            self.config.server.database
        );
        if let Some(p) = password {
            s.push_str(&format!(" password={p}"));
        }
        s
    }

    pub async fn connect_as(
        &self,
        user: &str,
        password: Option<&str>,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) =
            tokio_postgres::connect(&self.conn_string(user, password), tokio_postgres::NoTls)
                .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        self.connect_as("analyst", None).await.expect("connect")
    }

    /// Stops the server gracefully and starts it again with the same config, lake and
    /// state dir.
    pub async fn restart(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
        let app = App::build(self.config.clone())
            .await
            .expect("server builds again");
        self.addr = app.local_addr().expect("bound");
        self.stop = CancellationToken::new();
        self.task = Some(tokio::spawn(app.run(self.stop.clone())));
    }

    /// Stops the server and waits for it (graceful path).
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The first Parquet file of a table folder (by name).
pub fn first_part(table: &Path) -> PathBuf {
    std::fs::read_dir(table)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .min()
        .unwrap()
}

/// Copies one file of a table into `dest` (creating folders).
pub fn copy_part(from_table: &Path, dest: &Path) {
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(first_part(from_table), dest).unwrap();
}

/// Stores `bytes` as object `key`.
pub async fn put(store: &std::sync::Arc<dyn object_store::ObjectStore>, key: &str, bytes: Vec<u8>) {
    use object_store::ObjectStoreExt;
    store
        .put(
            &object_store::path::Path::from(key),
            object_store::PutPayload::from(bytes),
        )
        .await
        .unwrap_or_else(|e| panic!("uploading {key}: {e}"));
}

/// Uploads every file under `dir` to `prefix/<relative path>` (a lake into a bucket).
pub async fn upload(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
    dir: &Path,
    prefix: &str,
) {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap().display().to_string();
            put(
                store,
                &format!("{prefix}/{relative}"),
                std::fs::read(&path).unwrap(),
            )
            .await;
        }
    }
}

pub fn user(name: &str, password: &str, admin: bool) -> UserConfig {
    UserConfig {
        name: name.into(),
        password: password.into(),
        admin,
        ..Default::default()
    }
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The SQLSTATE of a failed query.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_owned())
        .unwrap_or_else(|| format!("no db error: {e}"))
}

/// First column of the first row, as text (simple protocol).
pub async fn scalar(client: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let msgs = client.simple_query(sql).await.expect(sql);
    msgs.into_iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
        _ => None,
    })?
}

/// Every row of `sql` as text (simple protocol; NULL as "").
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
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

/// The first column of every row of `sql`, as text.
pub async fn column(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    rows(client, sql)
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect()
}

/// A started `datapunk` process, killed if the test ends (or fails) before it stops.
pub struct ServerProcess(pub std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The one rule for external clients: present, or skipped with a loud message locally,
/// or a failure under CI=true (CI must never pass by skipping).
pub fn present_or_skip(present: bool, what: &str, install: &str) -> bool {
    if !present {
        assert!(
            std::env::var("CI").is_err(),
            "{what} is required in CI but is missing ({install})"
        );
        eprintln!("\n!!!!! SKIPPING: {what} is missing; {install} to run this test !!!!!\n");
    }
    present
}

/// Whether a command is on PATH (see [`present_or_skip`]).
pub fn require_tool(name: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    present_or_skip(
        found,
        &format!("`{name}`"),
        "install it (.ci/run shows how)",
    )
}

/// Whether python3 can import `module` (see [`present_or_skip`]).
pub fn python_has(module: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    present_or_skip(
        ok,
        &format!("python3 module `{module}`"),
        "pip install it (.ci/run lists the packages)",
    )
}

/// Runs a Python script (`python3 -c`), which leaves with `os._exit(0)` after flushing
/// its output: deltalake 1.6 with pyarrow can abort in its thread teardown at a normal
/// interpreter exit after reading a table (its work is done by then). Its standard
/// output; a failure shows its standard error.
pub fn python_output(script: &str) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import os, sys\n{script}\nsys.stdout.flush()\nos._exit(0)\n"
        ))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Parquet files under `dir`, at any depth.
pub fn count_parquet(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                count_parquet(&path)
            } else {
                usize::from(path.extension().is_some_and(|x| x == "parquet"))
            }
        })
        .sum()
}

/// Held by tests that measure this process's memory and by tests that allocate a lot,
/// so one never skews the other's measurement.
pub static MEMORY_HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This process's resident memory in KiB (the in-process server's, plus the test's).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
