//! Query cancellation that stops execution, not only planning: a CancelRequest or an
//! expired `statement_timeout` ends the running statement with 57014 wherever it is
//! (planning, executing, or streaming rows), drops its DataFusion stream so CPU and
//! memory are freed, and leaves the connection usable.
//!
//! Each connection owns a [`QuerySlot`]; the server-wide [`CancelRegistry`] finds it by
//! the (pid, secret key) the client got at startup.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion_postgres::pgwire::api::cancel::CancelHandler;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::cancel::CancelRequest;
use datafusion_postgres::pgwire::messages::startup::SecretKey;
use futures::{Stream, StreamExt};
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};

use crate::server::errors::user_error;
use crate::sqlstate::SqlState;

const RUNNING: u8 = 0;
const USER_REQUEST: u8 = 1;
const TIMEOUT: u8 = 2;

/// One running statement: cancelled by a CancelRequest or its timeout.
#[derive(Debug, Clone)]
pub struct Statement {
    token: CancellationToken,
    reason: Arc<AtomicU8>,
    /// Cancelled when the statement's last stream is dropped, which stops its timer.
    _finished: Arc<DropGuard>,
}

impl Statement {
    /// The error to report once cancelled.
    pub fn error(&self) -> PgWireError {
        let message = if self.reason.load(Ordering::SeqCst) == TIMEOUT {
            "canceling statement due to statement timeout"
        } else {
            "canceling statement due to user request"
        };
        user_error(SqlState::QUERY_CANCELED, message)
    }

    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// Ends `rows` with a 57014 error as soon as the statement is cancelled; the inner
    /// stream is dropped then, which stops its execution.
    pub fn guard<S, T>(&self, rows: S) -> impl Stream<Item = PgWireResult<T>> + Send + 'static
    where
        S: Stream<Item = PgWireResult<T>> + Send + Unpin + 'static,
        T: Send + 'static,
    {
        Guarded {
            rows: Some(rows),
            cancelled: Box::pin(self.token.clone().cancelled_owned()),
            statement: self.clone(),
        }
    }
}

/// [`Statement::guard`]'s stream. A ready row costs one atomic load (a row is one COPY
/// message, so a future per row was a tenth of COPY's time); the cancellation future
/// is polled only while no row is ready, so a statement busy executing still ends at
/// once.
struct Guarded<S> {
    rows: Option<S>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    statement: Statement,
}

impl<S, T> Stream for Guarded<S>
where
    S: Stream<Item = PgWireResult<T>> + Unpin,
{
    type Item = PgWireResult<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(rows) = this.rows.as_mut() else {
            return Poll::Ready(None);
        };
        if this.statement.reason.load(Ordering::Relaxed) == RUNNING {
            match rows.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
                Poll::Ready(None) => {
                    this.rows = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if this.cancelled.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
        this.rows = None;
        Poll::Ready(Some(Err(this.statement.error())))
    }
}

/// The statement a connection is running, if any.
#[derive(Debug, Default)]
pub struct QuerySlot {
    current: Mutex<Option<Statement>>,
}

impl QuerySlot {
    /// Starts a statement, with a timer when `timeout` is set.
    pub fn begin(&self, timeout: Option<Duration>) -> Statement {
        let finished = CancellationToken::new();
        let statement = Statement {
            token: CancellationToken::new(),
            reason: Arc::new(AtomicU8::new(RUNNING)),
            _finished: Arc::new(finished.clone().drop_guard()),
        };
        if let Some(timeout) = timeout {
            let token = statement.token.clone();
            let reason = Arc::clone(&statement.reason);
            tokio::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => {
                        let _ = reason.compare_exchange(RUNNING, TIMEOUT, Ordering::SeqCst, Ordering::SeqCst);
                        token.cancel();
                    }
                    () = finished.cancelled() => {}
                }
            });
        }
        if let Ok(mut current) = self.current.lock() {
            *current = Some(statement.clone());
        }
        statement
    }

    /// Cancels the running statement (no effect when none runs).
    pub fn cancel(&self) {
        if let Some(s) = self.current.lock().ok().and_then(|c| c.clone()) {
            let _ = s.reason.compare_exchange(
                RUNNING,
                USER_REQUEST,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            s.token.cancel();
        }
    }
}

fn key(pid: i32, secret: &SecretKey) -> (i32, Bytes) {
    (pid, secret.to_bytes())
}

/// Finds a connection's [`QuerySlot`] from a CancelRequest.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    slots: Mutex<HashMap<(i32, Bytes), Weak<QuerySlot>>>,
}

impl CancelRegistry {
    pub fn register(&self, pid: i32, secret: &SecretKey, slot: &Arc<QuerySlot>) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|_, s| s.strong_count() > 0);
            slots.insert(key(pid, secret), Arc::downgrade(slot));
        }
    }

    fn cancel(&self, pid: i32, secret: &SecretKey) -> bool {
        let slot = self
            .slots
            .lock()
            .ok()
            .and_then(|s| s.get(&key(pid, secret)).and_then(Weak::upgrade));
        match slot {
            Some(slot) => {
                slot.cancel();
                true
            }
            None => false,
        }
    }
}

/// pgwire's cancel hook over the registry.
#[derive(Debug, Clone)]
pub struct CancelRequests(pub Arc<CancelRegistry>);

#[async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let found = self.0.cancel(request.pid, &request.secret_key);
        tracing::info!(pid = request.pid, found, "cancel request");
    }
}
