//! A lake in Azure Blob Storage: the tiny lake uploaded to Azurite (Microsoft's Blob
//! Storage emulator, installed by `.ci/run` under `tests/clients`, started here on
//! loopback) answers as the folder it came from, and a new blob is picked up by polling.
//!
//! The `az://` root reads its connection from the environment, as a deployment does
//! (`AZURE_STORAGE_USE_EMULATOR`, `AZURITE_BLOB_STORAGE_URL`): this test sets those two
//! variables for its process, with the same values whichever test sets them first; no
//! other test reads them.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStore;

use crate::harness::{
    eventually, first_part, present_or_skip, put, rows, scalar, upload, ServerProcess, TestServer,
};

const ACCOUNT: &str = "devstoreaccount1";
/// The emulator's published development key.
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "lake";

/// Azurite's blob service on a free loopback port, its data in a temp dir.
struct Azurite {
    url: String,
    _process: ServerProcess,
    _data: tempfile::TempDir,
}

impl Azurite {
    fn start() -> Option<Self> {
        let bin = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/node_modules/.bin/azurite-blob"
        );
        if !present_or_skip(
            Path::new(bin).exists(),
            "Azurite (azurite-blob)",
            "npm install --prefix tests/clients",
        ) {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let data = tempfile::tempdir().expect("tempdir");
        let process = std::process::Command::new(bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--skipApiVersionCheck", "--silent", "--location"])
            .arg(data.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("azurite-blob starts");
        let process = ServerProcess(process);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        // Creating the container is also the readiness check.
        while let Err(e) = create_container(&url) {
            assert!(Instant::now() < deadline, "Azurite did not start: {e}");
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(Self {
            url,
            _process: process,
            _data: data,
        })
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            MicrosoftAzureBuilder::new()
                .with_use_emulator(true)
                .with_container_name(CONTAINER)
                .build()
                .expect("an Azure client"),
        )
    }
}

/// `Create Container`, signed with the emulator's shared key (object_store has no call
/// for it).
fn create_container(url: &str) -> Result<(), String> {
    use base64::Engine as _;
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n\
         /{ACCOUNT}/{ACCOUNT}/{CONTAINER}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(ACCOUNT_KEY)
        .map_err(|e| e.to_string())?;
    let signature = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        to_sign.as_bytes(),
    );
    let authorization = format!(
        "SharedKey {ACCOUNT}:{}",
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    );
    ureq::put(&format!("{url}/{ACCOUNT}/{CONTAINER}?restype=container"))
        .header("x-ms-date", &date)
        .header("x-ms-version", version)
        .header("Authorization", &authorization)
        .send_empty()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_lake_in_azure_blob_storage_answers_as_its_folder() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    std::env::set_var("AZURE_STORAGE_USE_EMULATOR", "true");
    std::env::set_var("AZURITE_BLOB_STORAGE_URL", &azurite.url);
    let store = azurite.store();
    let local = TestServer::start(|c, _| c.lake.watch = false).await;
    upload(&store, &local.lake, "curated").await;
    let remote = TestServer::start(|c, _| {
        c.lake.root = format!("az://{CONTAINER}/curated");
        c.lake.poll_ms = 200;
    })
    .await;
    let (l, r) = (local.client().await, remote.client().await);
    for question in [
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1",
        "SELECT count(*), sum(quantity), min(order_ts)::text FROM lake.order_lines",
        "SELECT country, count(*) FROM lake.customers GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
    ] {
        assert_eq!(
            rows(&r, question).await,
            rows(&l, question).await,
            "{question}"
        );
    }
    // A new blob is picked up by the next listing.
    let part = std::fs::read(first_part(&local.lake.join("products"))).unwrap();
    put(&store, "curated/new_items/a.parquet", part).await;
    eventually(Duration::from_secs(20), || async {
        scalar(
            &r,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'new_items'",
        )
        .await
        .filter(|s| s == "ok")
    })
    .await;
    remote.stop().await;
    local.stop().await;
}
