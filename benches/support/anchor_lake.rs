//! The anchor workload's lake (`benches/lake/gen_lake.py`), generated once per size.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

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
            .arg(Path::new(benches).join("benches/lake/gen_lake.py"))
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
