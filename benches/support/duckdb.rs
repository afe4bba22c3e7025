//! DuckDB's side of a bench: a Python script (`duckdb_rfm.py`, `duckdb_query.py`) run in
//! its own process over the same lake, reporting its median time and peak RSS.

use std::path::Path;
use std::process::Command;

/// DuckDB's figures for one query.
#[derive(Debug, Clone, Copy)]
pub struct DuckFigures {
    pub secs: f64,
    pub peak_mib: f64,
}

/// Runs `benches/<script> LAKE SQL_FILE RUNS OUT` and reads its `duckdb query_s=...
/// peak_rss_mib=...` line.
pub fn run_duckdb(
    benches: &str,
    script: &str,
    lake: &Path,
    sql_file: &str,
    runs: usize,
    out: &Path,
) -> DuckFigures {
    let repo = crate::anchor_lake::repo_dir(benches);
    let output = Command::new("python3")
        .arg(repo.join("benches").join(script))
        .arg(lake)
        .arg(repo.join("benches/queries").join(sql_file))
        .arg(runs.to_string())
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("python3 benches/{script} (needs duckdb): {e}"));
    assert!(
        output.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    DuckFigures {
        secs: field("query_s"),
        peak_mib: field("peak_rss_mib"),
    }
}
