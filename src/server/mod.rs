//! The PostgreSQL server: our own accept loop and per-connection message loop
//! ([`connection`]), a fresh handler set and session per connection, a connection limit
//! (FATAL 53300), and a graceful stop that lets running queries finish within a grace
//! period, then tells every connection left (FATAL 57P01).
//!
//! Query semantics come from datafusion-postgres (`DfSessionService`, pg_catalog,
//! arrow-pg encoders) plus our hooks; this module only wires them per connection.

pub mod auth;
pub mod cancel;
pub mod connection;
pub mod copy_out;
pub mod errors;
pub mod hooks;
pub mod numeric;
pub mod parameters;
pub mod results;
pub mod row_description;
pub mod row_encoder;
pub mod service;
pub mod text_output;
pub mod tls;
pub mod values;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::QueryHook;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::cancel::CancelHandler;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::{ErrorHandler, PgWireServerHandlers};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::engine::Engine;
use crate::server::copy_out::CopyRows;
use crate::sqlstate::SqlState;
use auth::{Refusal, Startup, Users};
use cancel::{CancelRegistry, CancelRequests, QuerySlot};
use errors::ErrorMapper;
use service::{Activity, Admin, QueryService, ServiceParts};

/// Everything connections share.
#[derive(Clone)]
pub struct Shared {
    pub engine: Arc<Engine>,
    pub users: Arc<Users>,
    pub admin: Arc<dyn Admin>,
    pub result_cache: Arc<crate::result_cache::ResultCache>,
    /// The queue in front of queries that read tables.
    pub query_gate: Arc<crate::engine::admission::QueryGate>,
    /// 0 = no limit.
    pub max_connections: usize,
    /// TLS for client connections, when configured.
    pub tls: Option<datafusion_postgres::pgwire::tokio::TlsAcceptor>,
    /// Refuse plaintext connections.
    pub require_tls: bool,
    pub grace: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("engine", &self.engine)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls.is_some())
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

/// The handlers of one connection.
struct ConnectionHandlers {
    query: Arc<QueryService>,
    startup: Arc<Startup>,
    cancel: Arc<CancelRequests>,
}

impl PgWireServerHandlers for ConnectionHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.query)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.query)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(ErrorMapper)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

fn handlers(
    shared: &Shared,
    cancels: &Arc<CancelRegistry>,
    activity: &Arc<Activity>,
    refusal: Option<Refusal>,
) -> ConnectionHandlers {
    let session = shared.engine.session();
    // Nothing but the catalogs until the user has logged in.
    session.viewer.set(crate::engine::access::Viewer::nobody());
    let slot = Arc::new(QuerySlot::default());
    let copy_rows = Arc::new(CopyRows::default());
    let result_format = Arc::new(results::ResultFormat::default());
    let hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(hooks::ReadOnlyHook),
        Arc::new(hooks::SessionHook {
            search_path: session.search_path.clone(),
        }),
        Arc::new(hooks::CopyHook {
            rows: Arc::clone(&copy_rows),
            gate: Arc::clone(&shared.query_gate),
        }),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
        Arc::new(results::ResultHook {
            format: Arc::clone(&result_format),
            cache: Arc::clone(&shared.result_cache),
            gate: Arc::clone(&shared.query_gate),
            users: Arc::clone(&shared.users),
        }),
        // FETCH and CLOSE of the cursors ResultHook declares.
        Arc::new(CursorStatementHook),
    ];
    ConnectionHandlers {
        query: Arc::new(QueryService::new(
            Arc::clone(&session.ctx),
            hooks,
            ServiceParts {
                slot: Arc::clone(&slot),
                users: Arc::clone(&shared.users),
                admin: Arc::clone(&shared.admin),
                activity: Arc::clone(activity),
                copy_rows,
                result_format,
            },
        )),
        startup: Arc::new(Startup::new(
            Arc::clone(&shared.users),
            shared.engine.database().to_owned(),
            session,
            Arc::clone(cancels),
            slot,
            refusal,
            shared.require_tls,
        )),
        cancel: Arc::new(CancelRequests(Arc::clone(cancels))),
    }
}

/// Decrements the open-connection count when a connection ends.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until `shutdown`, then waits up to the grace period for running
/// queries and closes the remaining connections, each told why (FATAL 57P01).
pub async fn serve(listener: TcpListener, shared: Shared, shutdown: CancellationToken) {
    let cancels = Arc::new(CancelRegistry::default());
    let activity = Arc::new(Activity::default());
    let tracker = TaskTracker::new();
    let open = Arc::new(AtomicUsize::new(0));
    let close_all = CancellationToken::new();
    let next_id = AtomicU64::new(1);
    loop {
        let (socket, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let count = open.fetch_add(1, Ordering::SeqCst) + 1;
        let guard = OpenConnection(Arc::clone(&open));
        let refusal = (shared.max_connections > 0 && count > shared.max_connections).then(|| {
            tracing::warn!(%peer, limit = shared.max_connections, "connection refused: too many clients");
            Refusal {
                code: SqlState::TOO_MANY_CONNECTIONS,
                message: "sorry, too many clients already".to_owned(),
            }
        });
        let h = handlers(&shared, &cancels, &activity, refusal);
        let stop = close_all.clone();
        let tls = shared.tls.clone();
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        tracker.spawn(
            async move {
                let _open = guard;
                tracing::debug!("connected");
                if let Err(error) = connection::process_connection(socket, tls, h, stop).await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                tracing::debug!("disconnected");
            }
            .instrument(tracing::info_span!("conn", id, %peer)),
        );
    }
    drop(listener);
    let running = activity.running();
    if running > 0 {
        tracing::info!(
            running,
            grace_secs = shared.grace.as_secs(),
            "stopped accepting; waiting for running queries"
        );
        if tokio::time::timeout(shared.grace, activity.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                running = activity.running(),
                "grace period over; closing connections with queries still running"
            );
        }
    }
    close_all.cancel();
    tracker.close();
    tracker.wait().await;
    tracing::info!("server stopped");
}
