//! What every bench reports with its figures: medians, the commit measured, and the
//! process's peak RSS (resettable, Linux).

use std::time::Duration;

/// The size of a bench run: `DATAPUNK_BENCH_LINES` order lines (`1e7`, `1_000_000`;
/// `default_lines` when unset) and `DATAPUNK_BENCH_RUNS` runs (3 when unset, at least 1).
#[allow(dead_code)] // the scale bench reads a list of sizes
pub fn bench_size(default_lines: u64) -> (u64, usize) {
    let lines = std::env::var("DATAPUNK_BENCH_LINES")
        .ok()
        .and_then(|v| datapunk::generate::parse_count(&v))
        .unwrap_or(default_lines);
    let runs: usize = std::env::var("DATAPUNK_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    (lines, runs)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Resets the peak RSS the kernel reports as VmHWM.
#[allow(dead_code)] // not every bench reports memory
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS of this process since the last reset, in MiB.
#[allow(dead_code)] // not every bench reports memory
pub fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

/// The environment variable `name` parsed, else `default`.
#[allow(dead_code)] // only the scale and erasure benches are configured this way
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
