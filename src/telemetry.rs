//! Logging setup: tracing-subscriber with an EnvFilter from `RUST_LOG`, else `log.filter`.
//! Called once, by `main.rs`; tests do not install a subscriber.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (text to stderr).
pub fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
