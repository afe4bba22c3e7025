//! `identity_stitch` at scale: the persons of a generated identity graph
//! (`identity_graph.py generate`: N edges between the cookies, e-mails and customer ids
//! of N/10 people, one Parquet file) by `identity_stitch` over the wire, against
//! connected components by label propagation in plain SQL on DuckDB over the same file:
//! time, peak memory, and whether both find the same persons.
//!
//! `DATAPUNK_BENCH_EDGES` (default `1e7`; the target is `1e8`), `DATAPUNK_BENCH_RUNS`
//! (default 1: DuckDB's side takes minutes at 1e8).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use futures::StreamExt;

#[path = "support/anchor_lake.rs"]
#[allow(dead_code)] // only its repo_dir is used here
mod anchor_lake;
#[path = "support/measure.rs"]
#[allow(dead_code)] // bench_size counts order lines
mod measure;
#[path = "support/server.rs"]
mod server;

use measure::{commit, env_or, median, peak_rss_mib, reset_peak_rss};
use server::{first_row, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

const STITCH: &str =
    "SELECT count(*), count(DISTINCT person_id) FROM identity_stitch('lake.edges')";

/// `benches/identity_graph.py MODE ARGS...`'s one line of output.
fn graph_script(mode: &str, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(anchor_lake::repo_dir(BENCHES).join("benches/identity_graph.py"))
        .arg(mode)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 benches/identity_graph.py (needs duckdb): {e}"));
    assert!(
        output.status.success(),
        "identity_graph.py {mode}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `name=value` of a script's line.
fn field(line: &str, name: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in {line}"))
        .to_owned()
}

/// The graph's folder (one `edges.parquet`), generated once per size.
fn graph(edges: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("datapunk-bench-identity-{edges}"));
    let done = dir.join(".complete");
    if !done.exists() {
        let t = Instant::now();
        let path = dir.display().to_string();
        graph_script(
            "generate",
            &[&path, &edges.to_string(), &(edges / 10).to_string()],
        );
        std::fs::write(&done, "").expect("marker");
        println!(
            "generated the identity graph ({edges} edges) in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    dir
}

/// Every identifier with its person, as CSV with a header, into `out`.
async fn copy_persons(client: &tokio_postgres::Client, out: &Path) {
    let rows = client
        .copy_out(
            "COPY (SELECT id_type, id, person_id FROM identity_stitch('lake.edges')) \
             TO STDOUT WITH (FORMAT csv, HEADER)",
        )
        .await
        .expect("COPY identity_stitch");
    let mut rows = std::pin::pin!(rows);
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).expect("csv"));
    while let Some(chunk) = rows.next().await {
        file.write_all(&chunk.expect("copy data"))
            .expect("write csv");
    }
    file.flush().expect("flush csv");
}

#[tokio::main]
async fn main() {
    let edges: u64 = std::env::var("DATAPUNK_BENCH_EDGES")
        .ok()
        .and_then(|v| datapunk::generate::parse_count(&v))
        .unwrap_or(10_000_000);
    let runs: usize = env_or("DATAPUNK_BENCH_RUNS", 1usize).max(1);
    let dir = graph(edges);
    println!(
        "datapunk {} (commit {}), {} cores, {edges} edges of {} people, median of {runs}",
        env!("CARGO_PKG_VERSION"),
        commit(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        edges / 10
    );

    let server = BenchServer::start(&dir).await;
    reset_peak_rss();
    let mut times = Vec::new();
    let mut answer = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        answer = first_row(&server.client, STITCH).await;
        times.push(t.elapsed());
    }
    let ours = median(times).as_secs_f64();
    let our_mib = peak_rss_mib();
    let csv = dir.join("datapunk_persons.csv");
    copy_persons(&server.client, &csv).await;
    server.stop().await;

    let path = dir.display().to_string();
    let duck = graph_script("components", &[&path, &runs.to_string()]);
    let check = graph_script("check", &[&path, &csv.display().to_string()]);
    let _ = std::fs::remove_file(&csv);
    let duck_secs: f64 = field(&duck, "query_s").parse().expect("seconds");

    println!("| | time | peak RSS | identifiers | persons |");
    println!("|---|---|---|---|---|");
    println!(
        "| datapunk `identity_stitch` | {ours:.2} s | {our_mib} MiB (server and client) | {} | {} |",
        answer[0], answer[1]
    );
    println!(
        "| DuckDB label propagation ({} iterations) | {duck_secs:.2} s | {} MiB | | {} |",
        field(&duck, "iterations"),
        field(&duck, "peak_rss_mib"),
        field(&duck, "components"),
    );
    println!(
        "DuckDB / datapunk: {:.1}x; same persons: {}",
        duck_secs / ours,
        field(&check, "same")
    );
}
