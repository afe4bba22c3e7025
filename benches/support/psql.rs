//! COPY throughput as an analyst's own client sees it: `psql` in its own process, writing
//! `COPY ... TO STDOUT` to /dev/null. Both servers are measured with the same psql binary.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::measure::median;

/// Rows per second of `COPY table TO STDOUT` in text and binary through psql.
#[derive(Debug, Clone, Copy)]
pub struct PsqlCopy {
    pub text: f64,
    pub binary: f64,
}

/// Whether a `psql` binary is on PATH.
pub fn available() -> bool {
    std::process::Command::new("psql")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The median of `runs` psql COPY runs per format; panics when psql reports an error, so
/// a failed COPY is never read as a fast one.
pub async fn copy_rates(conninfo: &str, table: &str, total: i64, runs: usize) -> PsqlCopy {
    let mut text = Vec::new();
    let mut binary = Vec::new();
    for _ in 0..runs {
        for (format, times) in [("text", &mut text), ("binary", &mut binary)] {
            times.push(copy_once(conninfo, table, format).await);
        }
    }
    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    PsqlCopy {
        text: rate(median(text)),
        binary: rate(median(binary)),
    }
}

async fn copy_once(conninfo: &str, table: &str, format: &str) -> Duration {
    let t = Instant::now();
    // `spawn` and `wait_with_output`, not `output()`: tokio's `output()` pipes stdout
    // whatever was set, and this process would then hold all the rows.
    let out = tokio::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c"])
        .arg(format!("COPY {table} TO STDOUT (FORMAT {format})"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql")
        .wait_with_output()
        .await
        .expect("psql runs");
    let elapsed = t.elapsed();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "psql COPY {format} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}
