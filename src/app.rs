//! Wires a validated `Config` into a running server: resolves the lake (or generates the
//! demo lake), builds the engine, loads the lake, builds the warehouse, binds the
//! listener, and runs the server and the lake watcher until shutdown.
//!
//! Only `main.rs` and tests use this module.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lake::{watch, Lake};
use crate::server::auth::Users;
use crate::server::service::Admin;
use crate::server::{self, Shared};
use crate::warehouse::{Scripts, Warehouse};

/// A built, not yet running, server.
#[derive(Debug)]
pub struct App {
    config: Config,
    listener: TcpListener,
    lake: Arc<Lake>,
    warehouse: Arc<Warehouse>,
    shared: Shared,
}

/// Rebuilds on demand (`REFRESH WAREHOUSE` / `REFRESH LAKE`) and after lake changes.
#[derive(Debug)]
struct Refresher {
    lake: Arc<Lake>,
    warehouse: Arc<Warehouse>,
    rebuild_on_change: bool,
}

impl Refresher {
    async fn after_lake_change(&self) -> String {
        let summary = self.lake.rescan().await;
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
                    "; warehouse: {} built, {} failed",
                    report.built.len(),
                    report.failed.len()
                ));
            }
        }
        message
    }
}

#[async_trait]
impl Admin for Refresher {
    async fn refresh_warehouse(&self) -> Result<String, String> {
        let report = self.warehouse.build().await;
        Ok(format!(
            "warehouse: {} built, {} failed",
            report.built.len(),
            report.failed.len()
        ))
    }

    async fn refresh_lake(&self) -> Result<String, String> {
        Ok(self.after_lake_change().await)
    }
}

/// The demo lake's folder: `lake.demo_dir`, else the user cache dir.
fn demo_dir(config: &Config) -> PathBuf {
    if !config.lake.demo_dir.is_empty() {
        return PathBuf::from(&config.lake.demo_dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache
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
        config.validate().map_err(Error::Config)?;
        tracing::info!(config = %config.redacted(), "effective configuration");
        let (root, scripts) = if config.lake.root.is_empty() {
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
            (PathBuf::from(&config.lake.root), None)
        };
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
            config.server.memory_limit_mb,
            crate::udf::install,
        )?);
        let lake = Arc::new(Lake::new(root, Arc::clone(&engine)));
        let summary = lake.rescan().await;
        tracing::info!(lake = %lake.root().display(), tables = summary.added.len(), failed = summary.failed.len(), "lake loaded");
        let warehouse = Arc::new(Warehouse::new(scripts, Arc::clone(&engine)));
        warehouse.build().await;
        let users = Arc::new(Users::from_config(&config.auth.users));
        let addr = config.listen_addr().map_err(Error::Config)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        if users.is_trust() {
            tracing::warn!("no [[auth.users]] configured: trust authentication, any user name connects without a password (loopback only)");
        }
        let admin: Arc<dyn Admin> = Arc::new(Refresher {
            lake: Arc::clone(&lake),
            warehouse: Arc::clone(&warehouse),
            rebuild_on_change: config.warehouse.rebuild_on_lake_change,
        });
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
        let shared = Shared {
            engine,
            users,
            admin,
            max_connections: config.server.max_connections,
            tls,
            require_tls: config.server.tls.require,
            grace: std::time::Duration::from_secs(config.server.shutdown_grace_secs),
        };
        Ok(Self {
            config,
            listener,
            lake,
            warehouse,
            shared,
        })
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
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
        let watcher = if self.config.lake.watch {
            let refresher = Refresher {
                lake: Arc::clone(&self.lake),
                warehouse: Arc::clone(&self.warehouse),
                rebuild_on_change: self.config.warehouse.rebuild_on_lake_change,
            };
            match watch::watch(self.lake.root()) {
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
                    Some((w, task))
                }
                Err(error) => {
                    tracing::error!(%error, lake = %self.lake.root().display(), "cannot watch the lake; changes need REFRESH LAKE");
                    None
                }
            }
        } else {
            None
        };
        server::serve(self.listener, self.shared, shutdown).await;
        if let Some((w, task)) = watcher {
            drop(w);
            task.abort();
        }
    }
}
