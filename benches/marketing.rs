//! Marketing functions against DuckDB, side by side in one run on one box: the `rfm`
//! table function (datapunk's fast path, through the PostgreSQL protocol) against
//! DuckDB running the anchor RFM query (`queries/rfm.sql`) on the same Parquet files,
//! with the per-customer scores of both compared. See benches/README.md.

use std::time::Instant;

#[path = "support/anchor_lake.rs"]
mod anchor_lake;
#[path = "support/duckdb.rs"]
mod duckdb;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/server.rs"]
mod server;

use anchor_lake::bench_lake;
use duckdb::run_duckdb;
use measure::{bench_size, commit, median, peak_rss_mib, reset_peak_rss};
use server::BenchServer;

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

/// The anchor query's per-segment summary, from the `rfm` table function.
const RFM_FAST: &str = include_str!("queries/rfm_function.sql");

const RFM_SCORES: &str = "
SELECT customer, r, f, m
FROM rfm('SELECT customer_id, order_ts, order_id, quantity * unit_price AS amount FROM lake.order_lines',
         'customer_id', 'order_ts', 'amount', DATE '2025-01-01', order_column => 'order_id')
ORDER BY customer";

#[tokio::main]
async fn main() {
    let (lines, runs) = bench_size(10_000_000);
    let lake = bench_lake(BENCHES, lines);
    let scratch = tempfile::tempdir().expect("tempdir");
    println!(
        "datapunk {} (commit {}), {} cores, {lines} order lines, median of {runs}",
        env!("CARGO_PKG_VERSION"),
        commit(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // DuckDB first, in its own process.
    let duck_scores = scratch.path().join("duckdb_scores.csv");
    let duck = run_duckdb(
        BENCHES,
        "duckdb_rfm.py",
        &lake,
        "rfm.sql",
        runs,
        &duck_scores,
    );
    let (duck_secs, duck_mib) = (duck.secs, duck.peak_mib);

    let server = BenchServer::start(&lake).await;
    let client = &server.client;

    reset_peak_rss();
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        client.simple_query(RFM_FAST).await.expect("rfm");
        times.push(t.elapsed());
    }
    let ours = median(times).as_secs_f64();
    let our_mib = peak_rss_mib();

    // Same per-customer scores as DuckDB's NTILE query?
    let expected = std::fs::read_to_string(&duck_scores).expect("duckdb scores");
    let got = client.simple_query(RFM_SCORES).await.expect("scores");
    let mut mismatches = 0usize;
    let mut compared = 0usize;
    let mut expected_lines = expected.lines();
    for message in got {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            let ours = (0..4)
                .map(|i| row.get(i).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",");
            if expected_lines.next() != Some(ours.as_str()) {
                mismatches += 1;
            }
            compared += 1;
        }
    }
    mismatches += expected_lines.count();

    println!("rfm, anchor query per-segment summary:");
    println!(
        "  duckdb  (queries/rfm.sql)          {duck_secs:>8.3} s   peak RSS {duck_mib:>6.0} MiB"
    );
    println!("  datapunk (rfm table function)      {ours:>8.3} s   peak RSS {our_mib:>6} MiB (server and client in one process)");
    println!(
        "  duckdb / datapunk                  {:>8.2}x",
        duck_secs / ours
    );
    println!("  per-customer r, f, m: {compared} customers compared, {mismatches} mismatches");
    server.stop().await;
    assert_eq!(mismatches, 0, "per-customer scores differ from DuckDB's");
}
