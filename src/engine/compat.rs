//! PostgreSQL functions whose answers depend on datapunk or on the connection:
//! `version()` and `current_user` / `session_user` / `user`.
//!
//! `version()` and the startup `server_version` come from the same constants so drivers
//! (SQLAlchemy, JDBC) parse one consistent version.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use datafusion::scalar::ScalarValue;

/// The PostgreSQL version datapunk speaks (protocol and catalog follow PostgreSQL 16).
pub const PG_VERSION: &str = "16.6";
/// `server_version_num` for [`PG_VERSION`].
pub const PG_VERSION_NUM: &str = "160006";

/// `server_version` as sent at startup and by `SHOW server_version`.
pub fn server_version() -> String {
    format!("{PG_VERSION} (datapunk {})", env!("CARGO_PKG_VERSION"))
}

/// The `version()` string, in PostgreSQL's shape so drivers can parse it.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (datapunk {}) on {}-{}, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn constant_udf(name: &str, value: String, volatility: Volatility) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        volatility,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                value.clone(),
            ))))
        }),
    )
}

/// `version()`.
pub fn version_udf() -> ScalarUDF {
    constant_udf("version", version_string(), Volatility::Immutable)
}

/// `current_user`, `session_user` and `user` for one connection's logged-in user.
pub fn user_udfs(user: &str) -> Vec<ScalarUDF> {
    ["current_user", "session_user", "user"]
        .into_iter()
        .map(|name| constant_udf(name, user.to_owned(), Volatility::Stable))
        .collect()
}
