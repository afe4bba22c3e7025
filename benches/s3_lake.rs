//! The lake in object storage against the same lake on local disk: the anchor lake
//! (1e7 order lines unless `DATAPUNK_BENCH_LINES` says otherwise) is uploaded to a local
//! S3-compatible server (moto, started here on loopback), and the three anchor queries
//! run on a server over the folder and on a server over the bucket, in one run: medians
//! of `DATAPUNK_BENCH_RUNS` (3), the rows compared, the overhead ratio printed. DuckDB
//! runs the same queries on the same objects (its httpfs extension) and on the folder
//! in the same run. moto is a Python server that holds objects in memory: the ratio is
//! an upper bound of what a real S3 endpoint on a fast network costs. See README.md.
//!
//! DuckDB cannot download extensions here; PyPI's `duckdb-extension-httpfs` packages
//! httpfs for DuckDB releases up to 1.5.5, so DuckDB's side runs in a Python environment
//! holding both at that version (`DATAPUNK_BENCH_DUCKDB_HTTPFS_PYTHON`, else one made
//! under `~/.cache/datapunk-bench/` with pip on first use).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[path = "support/anchor_lake.rs"]
mod anchor_lake;
#[path = "support/anchor_queries.rs"]
mod anchor_queries;
#[path = "support/measure.rs"]
#[allow(dead_code)] // peak RSS: not what this bench compares
mod measure;
#[path = "support/server.rs"]
mod server;

use anchor_lake::bench_lake;
use anchor_queries::QUERIES;
use measure::{bench_size, commit, median};
use server::{rows, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");
const BUCKET: &str = "lake";

/// moto's S3 server on a free loopback port with one empty bucket; stopped on drop.
struct Moto {
    endpoint: String,
    process: std::process::Child,
}

impl Moto {
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let process = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::put(&format!("{endpoint}/{BUCKET}"))
            .send_empty()
            .is_err()
        {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Self { endpoint, process })
    }

    fn s3_config(&self) -> datapunk::config::S3Config {
        datapunk::config::S3Config {
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            allow_http: true,
            access_key_id: "bench".into(),
            secret_access_key: "bench".into(),
        }
    }

    /// Uploads every file under `dir` to `prefix/<relative path>`; the bytes sent.
    async fn upload(&self, dir: &Path, prefix: &str) -> u64 {
        let store = AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(&self.endpoint)
            .with_region("us-east-1")
            .with_allow_http(true)
            .with_access_key_id("bench")
            .with_secret_access_key("bench")
            .build()
            .expect("an S3 client");
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        let mut bytes = 0;
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).expect("lake").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative = path.strip_prefix(dir).expect("inside").display();
                let data = std::fs::read(&path).expect("file");
                bytes += data.len() as u64;
                store
                    .put(
                        &StorePath::from(format!("{prefix}/{relative}")),
                        PutPayload::from(data),
                    )
                    .await
                    .expect("upload");
            }
        }
        bytes
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

const DUCKDB_HTTPFS: &str = "1.5.5";

/// A Python with DuckDB and its httpfs extension, made with pip when missing; `None`
/// (with the reason printed) when it cannot be had.
fn duckdb_httpfs_python() -> Option<std::path::PathBuf> {
    if let Ok(python) = std::env::var("DATAPUNK_BENCH_DUCKDB_HTTPFS_PYTHON") {
        return Some(python.into());
    }
    let home = std::env::var("HOME").ok()?;
    let env = Path::new(&home).join(".cache/datapunk-bench/duckdb-httpfs");
    let python = env.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    println!(
        "making {} (duckdb {DUCKDB_HTTPFS} with httpfs) ...",
        env.display()
    );
    let made = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&env)
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new(env.join("bin/pip"))
            .args(["install", "-q"])
            .arg(format!("duckdb=={DUCKDB_HTTPFS}"))
            .arg(format!("duckdb-extension-httpfs=={DUCKDB_HTTPFS}"))
            .status()
            .is_ok_and(|s| s.success());
    if !made {
        eprintln!("\n!!!!! no DuckDB with httpfs: its columns are left out !!!!!\n");
        return None;
    }
    Some(python)
}

/// DuckDB's median times for `sql_file` on the folder and on the bucket, with its row
/// counts.
fn duckdb_times(
    python: &Path,
    lake: &Path,
    endpoint: &str,
    sql_file: &str,
    runs: usize,
) -> [(f64, usize); 2] {
    let repo = anchor_lake::repo_dir(BENCHES);
    let output = std::process::Command::new(python)
        .arg(repo.join("benches/duckdb_s3.py"))
        .arg(lake)
        .arg(endpoint.trim_start_matches("http://"))
        .arg(format!("s3://{BUCKET}/anchor"))
        .arg(repo.join("benches/queries").join(sql_file))
        .arg(runs.to_string())
        .output()
        .expect("duckdb_s3.py");
    assert!(
        output.status.success(),
        "duckdb_s3.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let figures = |name: &str| -> (f64, usize) {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        let field = |key: &str| -> &str {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("{key} in {line}"))
        };
        (
            field("query_s").parse().expect("seconds"),
            field("rows").parse().expect("rows"),
        )
    };
    [figures("duckdb_local"), figures("duckdb_s3")]
}

/// The rows of `sql` as text, and the median time of `runs` runs.
async fn timed(
    client: &tokio_postgres::Client,
    sql: &str,
    runs: usize,
) -> (Vec<Vec<String>>, Duration) {
    let mut times = Vec::new();
    let mut answer = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        answer = rows(client, sql).await.expect(sql);
        times.push(t.elapsed());
    }
    (answer, median(times))
}

#[tokio::main]
async fn main() {
    let (lines, runs) = bench_size(10_000_000);
    let Some(moto) = Moto::start() else {
        eprintln!("\n!!!!! SKIPPING the S3 bench: moto_server is missing (pip install 'moto[server]') !!!!!\n");
        return;
    };
    let lake = bench_lake(BENCHES, lines);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = Instant::now();
    let bytes = moto.upload(&lake, "anchor").await;
    println!(
        "S3 bench: {cores} cores, commit {}, {lines} order lines ({}), {} MiB uploaded to moto in {:.1} s",
        commit(),
        lake.display(),
        bytes >> 20,
        t.elapsed().as_secs_f64()
    );
    let local = BenchServer::start(&lake).await;
    let endpoint = moto.s3_config();
    let remote = BenchServer::start_with(&lake, move |c| {
        c.lake.root = format!("s3://{BUCKET}/anchor");
        c.lake.s3 = endpoint;
    })
    .await;
    let duckdb = duckdb_httpfs_python();
    println!(
        "| query | datapunk local | datapunk S3 | S3 / local | DuckDB {DUCKDB_HTTPFS} local | \
         DuckDB S3 | S3 / local | datapunk / DuckDB on S3 | rows equal |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, sql) in QUERIES {
        let (local_rows, local_time) = timed(&local.client, sql, runs).await;
        let (remote_rows, remote_time) = timed(&remote.client, sql, runs).await;
        let [(duck_local, duck_local_rows), (duck_s3, duck_s3_rows)] = match &duckdb {
            Some(python) => duckdb_times(python, &lake, &moto.endpoint, name, runs),
            None => [(f64::NAN, remote_rows.len()); 2],
        };
        let (local_s, remote_s) = (local_time.as_secs_f64(), remote_time.as_secs_f64());
        let counts = [local_rows.len(), duck_local_rows, duck_s3_rows];
        println!(
            "| {name} | {local_s:.2} s | {remote_s:.2} s | {:.2} | {duck_local:.2} s | \
             {duck_s3:.2} s | {:.2} | {:.2} | {} |",
            remote_s / local_s,
            duck_s3 / duck_local,
            remote_s / duck_s3,
            if local_rows == remote_rows && counts.iter().all(|n| *n == remote_rows.len()) {
                "yes".to_owned()
            } else {
                format!(
                    "NO (rows: datapunk {} / {}, DuckDB {counts:?})",
                    local_rows.len(),
                    remote_rows.len()
                )
            }
        );
    }
    remote.stop().await;
    local.stop().await;
}
