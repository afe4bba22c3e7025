//! The datapunk server a bench measures: in-process on 127.0.0.1:0 over a lake folder,
//! with one connected tokio-postgres client and (unless configured) a state dir of its
//! own, so a server already running on the same lake does not stop the bench.

use std::path::Path;

use datapunk::config::Config;
use datapunk::App;
use tokio_util::sync::CancellationToken;

pub struct BenchServer {
    pub client: tokio_postgres::Client,
    /// libpq connection string of the server, for clients in other processes.
    #[allow(dead_code)] // only the wire bench starts such clients
    pub conninfo: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _state: Option<tempfile::TempDir>,
}

impl BenchServer {
    /// Serves `lake` (not watched) and connects as user `bench`.
    #[allow(dead_code)] // the lookup and audience benches configure theirs
    pub async fn start(lake: &Path) -> Self {
        Self::start_with(lake, |_| {}).await
    }

    /// Serves `lake` with what `configure` changes (the lake is not watched and results
    /// are not cached unless it says so) and connects as user `bench`.
    pub async fn start_with(lake: &Path, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.lake.root = lake.display().to_string();
        config.lake.watch = false;
        // Benches measure the work: repeated runs must not answer from the result cache.
        config.server.result_cache_mb = 0;
        configure(&mut config);
        let state = config.state.dir.is_empty().then(|| {
            let dir = tempfile::tempdir().expect("state dir");
            config.state.dir = dir.path().display().to_string();
            dir
        });
        let app = App::build(config).await.expect("server builds");
        let port = app.local_addr().expect("address").port();
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run(stop.clone()));
        let conninfo = format!("host=127.0.0.1 port={port} user=bench dbname=datapunk");
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        Self {
            client,
            conninfo,
            stop,
            task,
            _state: state,
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// The first row's values as text (NULL as empty), for checks and totals.
#[allow(dead_code)] // not every bench reads rows this way
pub async fn first_row(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    rows(client, sql)
        .await
        .expect(sql)
        .into_iter()
        .next()
        .expect("a row")
}

/// The rows of `sql`, each as its fields' text (NULL as empty).
#[allow(dead_code)] // not every bench reads rows this way
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(|e| match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        })?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("").to_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}
