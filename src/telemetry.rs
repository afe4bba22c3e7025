//! Logging setup: tracing-subscriber with an EnvFilter from `RUST_LOG`, else `log.filter`.
//! Called once, by `main.rs`; tests do not install a subscriber.

use tracing_subscriber::EnvFilter;

/// What `datapunk scheduler` and `datapunk executor` log.
pub const CLUSTER_FILTER: &str = "info";

/// Installs the global subscriber (text to stderr). Ballista's client logs every job's
/// progress at info; unless the filter names it, only its warnings are shown.
pub fn init(filter: &str) {
    let filter = if filter.contains("ballista_core") {
        filter.to_owned()
    } else {
        format!("{filter},ballista_core=warn")
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
