//! Wires a validated `Config` into a running server: resolves the lake (or generates the
//! demo lake), builds the engine, loads the lake, builds the warehouse, opens the state
//! dir and refreshes the audiences, binds the listener, and runs the server and the lake
//! watcher until shutdown.
//!
//! Only `main.rs` and tests use this module.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::activation::consent::Consent;
use crate::activation::definitions::Definitions;
use crate::activation::tables::{AudiencesTable, ChangesTable, ExportRunsTable};
use crate::activation::{AudienceView, Audiences, ExportView, Exports};
use crate::background::Background;
use crate::config::Config;
use crate::engine::access::Readers;
use crate::engine::admission::QueryGate;
use crate::engine::{Engine, AUDIENCE_CHANGES, AUDIENCE_SCHEMA};
use crate::error::{Error, Result};
use crate::lake::{watch, Lake, LakeStore, ScanSummary};
use crate::pg::catalog::computed_view::ComputedView;
use crate::privacy::Privacy;
use crate::result_cache::ResultCache;
use crate::server::auth::Users;
use crate::server::service::Admin;
use crate::server::{self, Shared};
use crate::warehouse::{Scripts, Warehouse};

/// A built, not yet running, server.
#[derive(Debug)]
pub struct App {
    config: Config,
    listener: TcpListener,
    refresher: Refresher,
    /// The zone of schedules.
    zone: chrono_tz::Tz,
    shared: Shared,
    /// Held while the server runs: one process per state dir.
    _state_lock: std::fs::File,
}

/// Rebuilds on demand (`REFRESH WAREHOUSE` / `REFRESH LAKE`, audience commands) and after
/// lake changes, always on the [`Background`] runtime.
#[derive(Debug, Clone)]
struct Refresher {
    /// The lake, then its mounts.
    lakes: Vec<Arc<Lake>>,
    warehouse: Arc<Warehouse>,
    audiences: Arc<Audiences>,
    exports: Arc<Exports>,
    rebuild_on_change: bool,
    background: Arc<Background>,
    privacy: Arc<Privacy>,
}

impl Refresher {
    /// Runs `work` with this refresher on the background runtime and waits for it.
    async fn in_background<T, Fut>(&self, work: impl FnOnce(Refresher) -> Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.background.run(work(self.clone())).await
    }

    async fn after_lake_change(&self) -> String {
        self.in_background(|r| async move { r.rescan_and_rebuild().await })
            .await
            .unwrap_or_else(|e| e.to_string())
    }

    async fn rescan_and_rebuild(&self) -> String {
        let mut summary = ScanSummary::default();
        for lake in &self.lakes {
            summary = summary.merge(lake.rescan().await);
        }
        let mut message = format!(
            "lake: {} added, {} changed, {} removed, {} failed",
            summary.added.len(),
            summary.changed.len(),
            summary.removed.len(),
            summary.failed.len()
        );
        if summary.is_change() {
            tracing::info!(added = ?summary.added, changed = ?summary.changed, removed = ?summary.removed, "lake changed");
            if self.rebuild_on_change {
                let report = self.warehouse.build().await;
                message.push_str(&format!(
                    "; warehouse: {} built, {} unchanged, {} failed",
                    report.built.len(),
                    report.unchanged.len(),
                    report.failed.len()
                ));
            }
            message.push_str(&self.refresh_audiences().await);
        }
        message
    }

    /// Builds the warehouse (every table when `all`, else those whose inputs changed)
    /// and refreshes the audiences, on the background runtime; a one-line summary.
    async fn build_and_refresh(&self, all: bool) -> Result<String> {
        self.in_background(|r| async move {
            let report = if all {
                r.warehouse.rebuild().await
            } else {
                r.warehouse.build().await
            };
            let audiences = r.refresh_audiences().await;
            format!(
                "warehouse: {} built, {} unchanged, {} failed{audiences}",
                report.built.len(),
                report.unchanged.len(),
                report.failed.len()
            )
        })
        .await
    }

    /// After an erasure: the warehouse tables read from erased rows are rebuilt (the
    /// others are unchanged) and the audiences refreshed.
    async fn after_erasure(&self) -> String {
        self.build_and_refresh(false)
            .await
            .unwrap_or_else(|e| e.to_string())
    }

    async fn refresh_audiences(&self) -> String {
        let (refreshed, failed) = self.audiences.refresh_all().await;
        format!("; audiences: {refreshed} refreshed, {failed} failed")
    }
}

#[async_trait]
impl Admin for Refresher {
    async fn refresh_warehouse(&self) -> Result<String, String> {
        self.build_and_refresh(true)
            .await
            .map_err(|e| e.to_string())
    }

    async fn refresh_lake(&self) -> Result<String, String> {
        Ok(self.after_lake_change().await)
    }

    async fn create_audience(&self, name: &str, sql: &str) -> Result<String, Error> {
        let (name, sql) = (name.to_owned(), sql.to_owned());
        self.in_background(|r| async move {
            let counts = r.audiences.create(&name, &sql).await?;
            Ok(format!("audience {name}: {} members", counts.members))
        })
        .await?
    }

    async fn drop_audience(&self, name: &str) -> Result<String, Error> {
        let name = name.to_owned();
        self.in_background(|r| async move {
            r.audiences.drop_audience(&name).await?;
            Ok(format!("audience {name} dropped"))
        })
        .await?
    }

    async fn run_export(&self, name: &str) -> Result<String, Error> {
        let name = name.to_owned();
        self.in_background(|r| async move {
            let run = r.exports.run(&name).await?;
            Ok(format!(
                "export {name}: {} rows to {}",
                run.rows.unwrap_or(0),
                run.file
            ))
        })
        .await?
    }

    async fn purge_erased(&self) -> Result<String, Error> {
        let roots: Vec<(String, LakeStore)> = self
            .lakes
            .iter()
            .map(|l| (l.schema_name().to_owned(), l.root().clone()))
            .collect();
        let privacy = Arc::clone(&self.privacy);
        let report = self
            .in_background(|_| async move { privacy.purge(&roots).await })
            .await??;
        let rescan = self.after_lake_change().await;
        Ok(format!(
            "purged {} rows from {} files; {rescan}",
            report.rows, report.files
        ))
    }

    async fn refresh_audience(&self, name: &str) -> Result<String, Error> {
        let name = name.to_owned();
        self.in_background(|r| async move {
            let c = r.audiences.refresh(&name).await?;
            Ok(format!(
                "audience {name}: {} members, {} entered, {} exited",
                c.members, c.entered, c.exited
            ))
        })
        .await?
    }
}

/// The user's cache dir (`$XDG_CACHE_HOME`, else `~/.cache`, else the temp dir).
fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

/// The state dir: `state.dir`, else one per lake under the user's data dir (the demo
/// lake's next to it, in the cache dir).
fn state_dir(config: &Config, lake: &str, demo: bool) -> PathBuf {
    if !config.state.dir.is_empty() {
        return PathBuf::from(&config.state.dir);
    }
    let base = if demo {
        cache_dir()
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(std::env::temp_dir)
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, lake.as_bytes());
    let id: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let kind = if demo { "demo" } else { "lake" };
    base.join("datapunk").join(format!("state-{kind}-{id}"))
}

/// Creates the state dir and locks it for this process.
fn lock_state_dir(dir: &std::path::Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Config(format!("state.dir {}: {e}", dir.display())))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))
        .map_err(|e| Error::Config(format!("state.dir {}: {e}", dir.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Config(format!(
            "state.dir {} is in use by another datapunk server; give each server its own \
             [state] dir",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Config(format!(
            "state.dir {}: cannot lock: {e}",
            dir.display()
        ))),
    }
}

/// The built-in demo audiences: the trigger-marketing patterns over the demo lake.
const DEMO_AUDIENCES: &[(&str, &str)] = &[
    ("win_back", include_str!("../sql/audiences/win_back.sql")),
    (
        "cart_abandonment",
        include_str!("../sql/audiences/cart_abandonment.sql"),
    ),
    ("welcome", include_str!("../sql/audiences/welcome.sql")),
    (
        "post_purchase_recommendations",
        include_str!("../sql/audiences/post_purchase_recommendations.sql"),
    ),
];

/// Writes each demo audience into the definitions folder once: the marker lists the ones
/// already offered, so one the user dropped stays dropped and a newer release's demo
/// audiences still arrive.
fn seed_demo_audiences(definitions: &Definitions, state: &std::path::Path) -> Result<()> {
    let marker = state.join("demo-audiences-seeded");
    let seeded = std::fs::read_to_string(&marker).unwrap_or_default();
    let offered: Vec<&str> = seeded.lines().collect();
    if DEMO_AUDIENCES
        .iter()
        .all(|(name, _)| offered.contains(name))
    {
        return Ok(());
    }
    std::fs::create_dir_all(definitions.dir())?;
    for (name, sql) in DEMO_AUDIENCES {
        let path = definitions.dir().join(format!("{name}.sql"));
        if !offered.contains(name) && !path.exists() {
            crate::durable::write_atomically(&path, sql.as_bytes())?;
        }
    }
    let names: String = DEMO_AUDIENCES
        .iter()
        .map(|(n, _)| format!("{n}\n"))
        .collect();
    crate::durable::write_atomically(&marker, names.as_bytes())?;
    Ok(())
}

/// The demo lake's folder: `lake.demo_dir`, else the user cache dir.
fn demo_dir(config: &Config) -> PathBuf {
    if !config.lake.demo_dir.is_empty() {
        return PathBuf::from(&config.lake.demo_dir);
    }
    cache_dir()
        .join("datapunk")
        .join(format!("demo-v{}", env!("CARGO_PKG_VERSION")))
}

impl App {
    /// Builds everything and binds the listener (port 0 picks a free port).
    ///
    /// # Errors
    /// Invalid configuration, a listen address that cannot be bound, or an unwritable
    /// demo folder.
    pub async fn build(config: Config) -> Result<Self> {
        let mut problems = config.problems();
        let zone =
            crate::activation::schedule::zone(&config.activation.timezone).unwrap_or_else(|m| {
                problems.push(format!("activation.timezone = {m}"));
                chrono_tz::UTC
            });
        tracing::info!(config = %config.redacted(), "effective configuration");
        crate::allocator::set_purge_delay(config.server.memory_limit_mb);
        let demo = config.lake.root.is_empty();
        let (root, scripts) = if demo {
            let dir = demo_dir(&config);
            let d = dir.clone();
            let generated = tokio::task::spawn_blocking(move || crate::generate::ensure_demo(&d))
                .await
                .map_err(|e| Error::Lake(e.to_string()))??;
            tracing::info!(lake = %dir.display(), generated, "no lake configured: serving the built-in demo lake");
            let scripts = if config.warehouse.scripts_dir.is_empty() {
                Some(Scripts::Demo)
            } else {
                None
            };
            (dir, scripts)
        } else {
            (PathBuf::new(), None)
        };
        let root = match if demo {
            LakeStore::folder(&root)
        } else {
            LakeStore::open(&config.lake)
        } {
            Ok(root) => root,
            Err(m) => {
                problems.push(m);
                return Err(Error::Config(problems.join("\n")));
            }
        };
        // Everything that can be wrong in the configuration is reported now, at once,
        // before the lake is read.
        let state = state_dir(&config, root.shown(), demo);
        let state_lock = lock_state_dir(&state)?;
        let definitions = Definitions::new(if config.audiences.dir.is_empty() {
            state.join("audience-definitions")
        } else {
            PathBuf::from(&config.audiences.dir)
        });
        if demo && config.audiences.dir.is_empty() {
            seed_demo_audiences(&definitions, &state)?;
        }
        let roots: Vec<PathBuf> = if config.activation.export_roots.is_empty() {
            vec![state.join("exports")]
        } else {
            config
                .activation
                .export_roots
                .iter()
                .map(PathBuf::from)
                .collect()
        };
        problems.extend(crate::activation::configuration_problems(
            &config.exports,
            &definitions,
            &roots,
            zone,
        ));
        if !problems.is_empty() {
            return Err(Error::Config(problems.join("\n")));
        }
        let scripts = if config.warehouse.scripts_dir.is_empty() {
            scripts
        } else {
            Some(Scripts::Dir {
                dir: PathBuf::from(&config.warehouse.scripts_dir),
                shown_as: config.warehouse.scripts_dir.clone(),
            })
        };
        let roles = crate::pg::catalog::overlay::Roles::new(
            config.auth.users.iter().map(|u| (u.name.clone(), u.admin)),
        );
        let engine = Arc::new(Engine::new(
            &config.server.database,
            roles,
            &config.server,
            crate::udf::install,
            config.engine.cluster().map(|scheduler| {
                let router = Arc::new(crate::cluster::ClusterRouter::new(
                    scheduler,
                    config.engine.min_cluster_mb.saturating_mul(1 << 20),
                ));
                crate::engine::placement::Cluster {
                    planner: Arc::clone(&router) as _,
                    placement: router,
                }
            }),
        )?);
        let privacy = Privacy::open(&config.privacy, &state)
            .map_err(|e| Error::Config(format!("state.dir {}: {e}", state.display())))?;
        privacy.install(&engine)?;
        if root.local_folder().is_none() {
            // Unreachable, wrong credentials, no such bucket: say so now, not per query.
            root.list()
                .await
                .map_err(|e| Error::Config(format!("lake.root = {:?}: {e}", config.lake.root)))?;
        }
        root.register(engine.runtime());
        let mut lakes = vec![Arc::new(Lake::new(root, Arc::clone(&engine)))];
        for (i, mount) in config.lake.mounts.iter().enumerate() {
            let refused = |e: String| Error::Config(format!("lake.mounts[{i}].root: {e}"));
            let root = LakeStore::open(&config.lake.of_mount(mount)).map_err(refused)?;
            if root.local_folder().is_none() {
                root.list().await.map_err(|e| refused(e.to_string()))?;
            }
            root.register(engine.runtime());
            lakes.push(Arc::new(Lake::mounted(
                root,
                Arc::clone(&engine),
                &mount.name,
            )?));
        }
        for lake in &lakes {
            lake.keep_history();
            let summary = lake.rescan().await;
            tracing::info!(lake = %lake.root().shown(), tables = summary.added.len(), failed = summary.failed.len(), "lake loaded");
        }
        let warehouse = Arc::new(
            Warehouse::open(scripts, Arc::clone(&engine), state.join("warehouse"))
                .map_err(|e| Error::Config(format!("state.dir {}: {e}", state.display())))?,
        );
        warehouse.build().await;
        let view = Arc::new(AudienceView::default());
        engine.register_system_table(
            "audiences",
            Readers::Everyone,
            Arc::new(ComputedView(AudiencesTable::new(Arc::clone(&view)))),
        )?;
        engine.register_system_table(
            AUDIENCE_CHANGES,
            Readers::ReadersOf(AUDIENCE_SCHEMA),
            Arc::new(ChangesTable::new(Arc::clone(&view))),
        )?;
        let audiences = Arc::new(Audiences::open(
            Arc::clone(&engine),
            definitions,
            state.join("audiences"),
            view,
            Consent::from_config(&config.privacy),
        )?);
        let (refreshed, failed) = audiences.refresh_all().await;
        tracing::info!(state = %state.display(), refreshed, failed, "audiences refreshed");
        let export_view = Arc::new(ExportView::default());
        engine.register_system_table(
            "export_runs",
            Readers::Everyone,
            Arc::new(ComputedView(ExportRunsTable::new(Arc::clone(&export_view)))),
        )?;
        let exports = Arc::new(Exports::open(
            Arc::clone(&engine),
            Arc::clone(&audiences),
            &config.exports,
            &state.join("export-runs"),
            export_view,
            Consent::from_config(&config.privacy),
        )?);
        let users = Arc::new(Users::from_config(&config.auth.users));
        let addr = config.listen_addr().map_err(Error::Config)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        if users.is_trust() {
            tracing::warn!("no [[auth.users]] configured: trust authentication, any user name connects without a password (loopback only)");
        }
        let refresher = Refresher {
            lakes,
            warehouse: Arc::clone(&warehouse),
            audiences: Arc::clone(&audiences),
            exports: Arc::clone(&exports),
            rebuild_on_change: config.warehouse.rebuild_on_lake_change,
            background: Arc::new(Background::start()?),
            privacy,
        };
        let admin: Arc<dyn Admin> = Arc::new(refresher.clone());
        let tls = if config.server.tls.enabled() {
            let acceptor = crate::server::tls::acceptor(
                std::path::Path::new(&config.server.tls.cert),
                std::path::Path::new(&config.server.tls.key),
            )
            .map_err(Error::Config)?;
            tracing::info!(cert = %config.server.tls.cert, require = config.server.tls.require, "TLS enabled");
            Some(acceptor)
        } else {
            None
        };
        let result_cache = ResultCache::new(
            Arc::clone(&engine),
            usize::try_from(config.server.result_cache_mb.saturating_mul(1024 * 1024))
                .unwrap_or(usize::MAX),
        );
        engine.register_system_table(
            "result_cache",
            Readers::Everyone,
            result_cache.status_table(),
        )?;
        let query_gate = Arc::new(QueryGate::new(config.server.max_running_queries));
        engine.register_system_table(
            "query_queue",
            Readers::Everyone,
            query_gate.status_table(),
        )?;
        let shared = Shared {
            engine,
            users,
            admin,
            result_cache,
            query_gate,
            max_connections: config.server.max_connections,
            tls,
            require_tls: config.server.tls.require,
            grace: std::time::Duration::from_secs(config.server.shutdown_grace_secs),
        };
        Ok(Self {
            config,
            listener,
            refresher,
            zone,
            shared,
            _state_lock: state_lock,
        })
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Starts the cron loops of scheduled exports and audiences (stopped by `shutdown`).
    async fn start_schedules(&self, shutdown: &CancellationToken) {
        use crate::activation::schedule::Schedule;
        let exports = self.refresher.exports.schedules();
        let audiences = self.refresher.audiences.schedules().await;
        for (name, pattern) in exports {
            let Ok(schedule) = Schedule::parse(&pattern, self.zone) else {
                continue;
            };
            tracing::info!(export = %name, schedule = %pattern, "export scheduled");
            let exports = Arc::clone(&self.refresher.exports);
            self.refresher
                .background
                .spawn(schedule.run(shutdown.clone(), move || {
                    let (exports, name) = (Arc::clone(&exports), name.clone());
                    async move {
                        // A failure is recorded in datapunk.export_runs; the next tick retries.
                        let _ = exports.run(&name).await;
                    }
                }));
        }
        for (name, pattern, _) in audiences {
            let Ok(schedule) = Schedule::parse(&pattern, self.zone) else {
                continue;
            };
            tracing::info!(audience = %name, schedule = %pattern, "audience refresh scheduled");
            let audiences = Arc::clone(&self.refresher.audiences);
            self.refresher
                .background
                .spawn(schedule.run(shutdown.clone(), move || {
                    let (audiences, name) = (Arc::clone(&audiences), name.clone());
                    async move {
                        // A failure shows in datapunk.audiences; the next tick retries.
                        let _ = audiences.refresh(&name).await;
                    }
                }));
        }
    }

    /// Runs export `name` once (the `datapunk export` command).
    ///
    /// # Errors
    /// No such export, or the run failed (and is recorded).
    pub async fn run_export(&self, name: &str) -> Result<String> {
        self.refresher.run_export(name).await
    }

    /// Rewrites the lake files without erased persons' rows (the `datapunk purge`
    /// command).
    ///
    /// # Errors
    /// A lake file cannot be rewritten (the requests stay pending).
    pub async fn purge_erased(&self) -> Result<String> {
        self.refresher.purge_erased().await
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.shared.engine
    }

    /// Serves until `shutdown` is cancelled, then drains (see `server::serve`).
    pub async fn run(self, shutdown: CancellationToken) {
        let addr = self.listener.local_addr().ok();
        tracing::info!(listen = ?addr, database = %self.config.server.database, "datapunk ready: psql -h {} -p {} -d {}",
            addr.map(|a| a.ip().to_string()).unwrap_or_default(),
            addr.map(|a| a.port()).unwrap_or_default(),
            self.config.server.database);
        // Folders are watched; object stores (no change events) are listed, all of
        // them by one poller.
        let mut watchers = Vec::new();
        if self.config.lake.watch {
            let lakes = &self.refresher.lakes;
            for folder in lakes.iter().filter_map(|l| l.root().local_folder()) {
                watchers.extend(self.watch_folder(folder, &shutdown));
            }
            if lakes.iter().any(|l| l.root().local_folder().is_none()) {
                watchers.push((None, self.poll_object_store(&shutdown)));
            }
        }
        self.start_schedules(&shutdown).await;
        watchers.push((None, self.rebuild_after_erasures(&shutdown)));
        server::serve(self.listener, self.shared, shutdown).await;
        for (w, task) in watchers {
            drop(w);
            task.abort();
        }
    }

    /// Rebuilds what was built from a person's rows once they are forgotten.
    fn rebuild_after_erasures(&self, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
        let refresher = self.refresher.clone();
        let mut changes = refresher.privacy.subscribe();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    changed = changes.changed() => {
                        if changed.is_err() { break; }
                        let message = refresher.after_erasure().await;
                        tracing::info!(%message, "rebuilt after an erasure");
                    }
                }
            }
        })
    }

    /// Rescans after each settled burst of changes in the lake's folder.
    fn watch_folder(
        &self,
        folder: &std::path::Path,
        shutdown: &CancellationToken,
    ) -> Option<(
        Option<notify::RecommendedWatcher>,
        tokio::task::JoinHandle<()>,
    )> {
        let refresher = self.refresher.clone();
        match watch::watch(folder) {
            Ok((w, mut rx)) => {
                let quiet = self.config.debounce();
                let stop = shutdown.clone();
                let task = tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            () = stop.cancelled() => break,
                            settled = watch::next_settled_change(&mut rx, quiet) => {
                                if !settled { break; }
                                let message = refresher.after_lake_change().await;
                                tracing::debug!(%message, "lake rescanned");
                            }
                        }
                    }
                });
                Some((Some(w), task))
            }
            Err(error) => {
                tracing::error!(%error, lake = %folder.display(), "cannot watch the lake; changes need REFRESH LAKE");
                None
            }
        }
    }

    /// Lists a lake in object storage every `lake.poll_ms` (no change notifications
    /// there); a listing that shows no change costs nothing more.
    fn poll_object_store(&self, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
        let refresher = self.refresher.clone();
        let every = std::time::Duration::from_millis(self.config.lake.poll_ms);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(every) => {
                        let message = refresher.after_lake_change().await;
                        tracing::debug!(%message, "lake polled");
                    }
                }
            }
        })
    }
}
