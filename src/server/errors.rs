//! The only place that builds wire errors: engine and datapunk errors become
//! `ErrorResponse`s with the SQLSTATE from `error::classify`, never a blanket XX000.
//!
//! Internal errors are logged at error level with the full message; user mistakes at debug.

use datafusion_postgres::pgwire::api::{ClientInfo, ErrorHandler};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};

use crate::error::{classify, Error};
use crate::sqlstate::SqlState;

/// An ERROR-severity wire error.
pub fn user_error(code: SqlState, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        code.code().to_owned(),
        message.into(),
    )))
}

/// A FATAL wire error: the connection is closed after it is sent.
pub fn fatal(code: SqlState, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        code.code().to_owned(),
        message.into(),
    )))
}

/// A datapunk error as a wire error.
pub fn from_error(e: &Error) -> PgWireError {
    let (code, message) = classify(e);
    user_error(code, message)
}

/// An error from planning or running the client's `sql`, located in it (the `P` field,
/// which psql shows as `LINE 1: ... ^`) where the engine knows where.
pub fn located(error: PgWireError, sql: &str) -> PgWireError {
    let PgWireError::ApiError(inner) = &error else {
        return error;
    };
    let Some(at) = inner
        .downcast_ref::<datafusion::error::DataFusionError>()
        .and_then(|e| crate::error::position(e, sql))
    else {
        return error;
    };
    let (code, message) = classify(inner.as_ref());
    let mut info = ErrorInfo::new("ERROR".to_owned(), code.code().to_owned(), message);
    info.position = Some(at.to_string());
    PgWireError::UserError(Box::new(info))
}

/// Rewrites errors before pgwire sends them.
#[derive(Debug, Default)]
pub struct ErrorMapper;

impl ErrorHandler for ErrorMapper {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if let PgWireError::ApiError(inner) = error {
            let (code, message) = classify(inner.as_ref());
            log(client, code, &message);
            *error = user_error(code, message);
        } else if let PgWireError::UserError(info) = error {
            // datafusion-postgres reports an aborted transaction as 25P01 (no active
            // transaction); PostgreSQL says 25P02 (in failed SQL transaction).
            if info.code == "25P01" && info.message.contains("transaction is aborted") {
                info.code = SqlState::IN_FAILED_SQL_TRANSACTION.code().to_owned();
            }
            tracing::debug!(sqlstate = %info.code, message = %info.message, "query failed");
        } else {
            tracing::debug!(%error, "protocol error");
        }
    }
}

fn log<C: ClientInfo>(client: &C, code: SqlState, message: &str) {
    let peer = client.socket_addr();
    if code.is_user_error() {
        tracing::debug!(%peer, sqlstate = %code, %message, "query failed");
    } else {
        tracing::error!(%peer, sqlstate = %code, %message, "query failed");
    }
}
