//! A lake in S3: the tiny lake uploaded to a local S3-compatible server (moto, started
//! here on loopback) serves the same answers as the folder it came from; new, rewritten
//! and removed objects are picked up by polling, and an audience over the bucket follows
//! them; a truncated object never breaks serving; a bucket that cannot be listed is a
//! startup error naming the root, and so are refused credentials (never printing the
//! secret).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datapunk::config::{Config, S3Config};
use datapunk::App;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::harness::{
    eventually, first_part, put, require_tool, rows, scalar, upload, ServerProcess, TestServer,
};

/// moto's S3 server on a free loopback port, with one empty bucket.
pub struct S3Server {
    endpoint: String,
    _process: ServerProcess,
}

pub const BUCKET: &str = "lake";

impl S3Server {
    pub fn start() -> Option<Self> {
        Self::start_checking(false)
    }

    /// With `checking_keys`, every request after the bucket is made must be signed by
    /// a key moto knows: none are made, so every key is refused.
    fn start_checking(checking_keys: bool) -> Option<Self> {
        if !require_tool("moto_server") {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = std::process::Command::new("moto_server");
        if checking_keys {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "1");
        }
        let process = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let process = ServerProcess(process);
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        // Creating the bucket is also the readiness check.
        loop {
            match ureq::put(&format!("{endpoint}/{BUCKET}")).send_empty() {
                Ok(_) => break,
                Err(e) => {
                    assert!(Instant::now() < deadline, "moto_server did not start: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        Some(Self {
            endpoint,
            _process: process,
        })
    }

    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            allow_http: true,
            access_key_id: "test-key".into(),
            secret_access_key: "test-secret".into(),
        }
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(BUCKET)
                .with_endpoint(&self.endpoint)
                .with_region("us-east-1")
                .with_allow_http(true)
                .with_access_key_id("test-key")
                .with_secret_access_key("test-secret")
                .build()
                .expect("an S3 client"),
        )
    }
}

/// A Parquet file of the first `n` rows of the Parquet file `bytes`.
fn first_rows(bytes: &[u8], n: usize) -> Vec<u8> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::copy_from_slice(bytes),
    )
    .unwrap()
    .with_batch_size(n)
    .build()
    .unwrap();
    let batch = reader.into_iter().next().unwrap().unwrap().slice(0, n);
    let mut out = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

/// The same questions to a lake in a folder and to its copy in S3.
const QUESTIONS: &[&str] = &[
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1",
    "SELECT count(*), sum(quantity), min(order_ts)::text FROM lake.order_lines",
    "SELECT count(*) FROM lake.customers",
    "SELECT country, count(*) FROM lake.customers GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
    "SELECT year, count(*) FROM lake.parted GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM lake.parted WHERE year = 2024",
];

#[tokio::test]
async fn a_lake_in_s3_answers_as_its_folder_and_picks_up_new_objects() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let store = s3.store();
    let local = TestServer::start(|c, dir| {
        let lake = dir.join("lake");
        let products = lake.join("products");
        crate::harness::copy_part(&products, &lake.join("parted/year=2023/a.parquet"));
        crate::harness::copy_part(&products, &lake.join("parted/year=2024/b.parquet"));
        c.lake.watch = false;
    })
    .await;
    upload(&store, &local.lake, "warehouse/lake").await;
    let endpoint = s3.config();
    let remote = TestServer::start(move |c, dir| {
        c.lake.root = format!("s3://{BUCKET}/warehouse/lake");
        c.lake.s3 = endpoint;
        c.lake.poll_ms = 200;
        // An audience over the bucket: the years of the partitioned table.
        let definitions = dir.join("audiences");
        std::fs::create_dir_all(&definitions).unwrap();
        std::fs::write(
            definitions.join("years.sql"),
            "-- key: year\nSELECT year, count(*) AS products FROM lake.parted GROUP BY year\n",
        )
        .unwrap();
        c.audiences.dir = definitions.display().to_string();
    })
    .await;
    let (l, r) = (local.client().await, remote.client().await);
    for question in QUESTIONS {
        assert_eq!(
            rows(&r, question).await,
            rows(&l, question).await,
            "{question}"
        );
    }
    let status = rows(
        &r,
        "SELECT table_name, state FROM datapunk.lake_tables WHERE table_name = 'order_lines'",
    )
    .await;
    assert_eq!(status, [["order_lines", "ok"]]);

    // A new object is picked up by the next listing.
    let before: i64 = scalar(&r, "SELECT count(*) FROM lake.parted")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let part = std::fs::read(local.lake.join("parted/year=2024/b.parquet")).unwrap();
    put(
        &store,
        "warehouse/lake/parted/year=2025/c.parquet",
        part.clone(),
    )
    .await;
    eventually(Duration::from_secs(20), || async {
        let now: i64 = scalar(&r, "SELECT count(*) FROM lake.parted")
            .await?
            .parse()
            .ok()?;
        (now > before).then_some(())
    })
    .await;
    let years = rows(&r, "SELECT DISTINCT year FROM lake.parted ORDER BY 1").await;
    assert_eq!(years, [["2023"], ["2024"], ["2025"]]);
    // ... and the audience over it refreshes: the new year entered.
    let entered = eventually(Duration::from_secs(20), || async {
        let changes = rows(
            &r,
            "SELECT key, change FROM datapunk.audience_changes WHERE refresh_id > 1 ORDER BY 1",
        )
        .await;
        (!changes.is_empty()).then_some(changes)
    })
    .await;
    assert_eq!(entered, [["2025", "entered"]]);

    // An object rewritten under the same name is read anew.
    let three_rows = first_rows(&part, 3);
    put(
        &store,
        "warehouse/lake/parted/year=2025/c.parquet",
        three_rows,
    )
    .await;
    eventually(Duration::from_secs(20), || async {
        let n = scalar(&r, "SELECT count(*) FROM lake.parted WHERE year = 2025").await?;
        (n == "3").then_some(())
    })
    .await;
    // The audience refreshes after the table is replaced.
    eventually(Duration::from_secs(20), || async {
        let n = scalar(&r, "SELECT products FROM audience.years WHERE year = 2025").await?;
        (n == "3").then_some(())
    })
    .await;
    // A removed object leaves the table, and its year leaves the audience.
    store
        .delete(&StorePath::from(
            "warehouse/lake/parted/year=2025/c.parquet",
        ))
        .await
        .unwrap();
    eventually(Duration::from_secs(20), || async {
        let now: i64 = scalar(&r, "SELECT count(*) FROM lake.parted")
            .await?
            .parse()
            .ok()?;
        (now == before).then_some(())
    })
    .await;
    let exited = eventually(Duration::from_secs(20), || async {
        let changes = rows(
            &r,
            "SELECT key FROM datapunk.audience_changes WHERE change = 'exited'",
        )
        .await;
        (!changes.is_empty()).then_some(changes)
    })
    .await;
    assert_eq!(exited, [["2025"]]);

    // A truncated object: its table is not served, everything else still is.
    put(
        &store,
        "warehouse/lake/broken/x.parquet",
        part[..part.len() / 2].to_vec(),
    )
    .await;
    let error = eventually(Duration::from_secs(20), || async {
        scalar(
            &r,
            "SELECT state || ': ' || error FROM datapunk.lake_tables WHERE table_name = 'broken'",
        )
        .await
    })
    .await;
    assert!(error.starts_with("error: broken/x.parquet"), "{error}");
    assert_eq!(rows(&r, QUESTIONS[1]).await, rows(&l, QUESTIONS[1]).await);
    remote.stop().await;
    local.stop().await;
}

#[tokio::test]
async fn a_bucket_that_cannot_be_listed_is_a_startup_error_naming_the_root() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.state.dir = dir.path().join("state").display().to_string();
    config.lake.root = "s3://no-such-bucket/lake".into();
    config.lake.s3 = s3.config();
    let Err(error) = App::build(config).await else {
        panic!("a server over a missing bucket");
    };
    let error = error.to_string();
    assert!(
        error.contains("lake.root = \"s3://no-such-bucket/lake\""),
        "{error}"
    );
}

#[tokio::test]
async fn refused_credentials_are_a_startup_error_that_never_shows_the_secret() {
    let Some(s3) = S3Server::start_checking(true) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.state.dir = dir.path().join("state").display().to_string();
    config.lake.root = format!("s3://{BUCKET}/lake");
    config.lake.s3 = s3.config();
    config.lake.s3.secret_access_key = "a-secret-never-printed".into();
    let Err(error) = App::build(config).await else {
        panic!("a server with refused credentials");
    };
    let error = error.to_string();
    assert!(error.contains("lake.root = \"s3://lake/lake\""), "{error}");
    assert!(
        error.contains("InvalidAccessKeyId") || error.contains("403"),
        "{error}"
    );
    assert!(!error.contains("a-secret-never-printed"), "{error}");
}

#[tokio::test]
async fn a_bucket_mounted_beside_a_local_lake_is_its_own_schema_and_polled() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let store = s3.store();
    let staged = tempfile::tempdir().unwrap();
    datapunk::testing::tiny_lake(staged.path());
    upload(&store, staged.path(), "events").await;
    let endpoint = s3.config();
    let server = TestServer::start(move |c, _| {
        c.lake.s3 = endpoint;
        c.lake.poll_ms = 200;
        c.lake.mounts = vec![datapunk::config::MountConfig {
            name: "remote".into(),
            root: format!("s3://{BUCKET}/events"),
        }];
    })
    .await;
    let c = server.client().await;
    let local = rows(&c, "SELECT count(*), sum(quantity) FROM lake.order_lines").await;
    assert_eq!(
        rows(&c, "SELECT count(*), sum(quantity) FROM remote.order_lines").await,
        local
    );
    // A new object in the bucket is found by polling (the local lake is watched).
    let part = std::fs::read(first_part(&staged.path().join("products"))).unwrap();
    put(&store, "events/new_items/a.parquet", part).await;
    eventually(Duration::from_secs(20), || async {
        scalar(
            &c,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'remote.new_items'",
        )
        .await
        .filter(|s| s == "ok")
    })
    .await;
    server.stop().await;
}
