//! The anchor workload's lake (`benches/lake/gen_lake.py`), generated once per size.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The repository a bench runs from: cargo's `CARGO_MANIFEST_DIR` when it runs the bench,
/// else `compiled` (where it was built: CI's `cargo bench --no-run` builds in another
/// clone, and a bench binary cargo finds fresh would look there).
pub fn repo_dir(compiled: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(compiled), PathBuf::from)
}

/// The bench lake of `gen_lake.py` for `lines` order lines, generated once and kept in
/// the system temp dir (or `DATAPUNK_BENCH_LAKE`).
pub fn bench_lake(benches: &str, lines: u64) -> PathBuf {
    if let Ok(dir) = std::env::var("DATAPUNK_BENCH_LAKE") {
        return PathBuf::from(dir);
    }
    let dir = std::env::temp_dir().join(format!("datapunk-bench-lake-{lines}"));
    let done = dir.join(".complete");
    if !done.exists() {
        let t = Instant::now();
        let status = Command::new("python3")
            .arg(repo_dir(benches).join("benches/lake/gen_lake.py"))
            .args(["--lines", &lines.to_string(), "--out"])
            .arg(&dir)
            .status()
            .expect("python3 benches/lake/gen_lake.py (needs numpy and pyarrow)");
        assert!(status.success(), "gen_lake.py failed");
        std::fs::write(&done, "").expect("marker");
        println!(
            "generated the bench lake ({lines} lines) in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    dir
}
