//! Recommendation functions at scale, on the anchor workload's lake (see
//! benches/README.md), in one run on one box:
//! - `item_cooccurrence` over orders (defaults: cosine, top 20 per product) through the
//!   PostgreSQL protocol, against DuckDB running the same computation in plain SQL
//!   (`queries/cooccurrence_top20.sql`) in its own process; every row of both compared;
//! - `als_recommend` (implicit ALS, rank 10, 10 iterations, top 10) on the distinct
//!   (customer, product) pairs with purchase counts: time and peak RSS (DuckDB has no
//!   matrix factorisation to compare with).
//!
//! `cargo bench --bench recommend -- cooccurrence` (or `als`) runs one of the two.

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

const COOCCURRENCE: &str = "SELECT item_a, item_b, co_count, rank \
     FROM item_cooccurrence('lake.order_lines', 'order_id', 'product_id') ORDER BY item_a, rank";

const ALS_PAIRS: &str =
    "SELECT count(*) FROM (SELECT DISTINCT customer_id, product_id FROM lake.order_lines) AS p";

const ALS: &str = "SELECT count(*), count(DISTINCT customer) FROM als_recommend(\
     'SELECT customer_id, product_id, count(*) FROM lake.order_lines GROUP BY customer_id, product_id', \
     k => 10, rank => 10, iterations => 10, seed => 42)";

/// Rows of a simple query as comma-joined text.
async fn csv_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .expect(sql)
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let (lines, runs) = bench_size(10_000_000);
    // Names given after `--` choose the parts to run (cargo itself passes `--bench`).
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs_part = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    let lake = bench_lake(BENCHES, lines);
    let scratch = tempfile::tempdir().expect("tempdir");
    println!(
        "datapunk {} (commit {}), {} cores, {lines} order lines, median of {runs}",
        env!("CARGO_PKG_VERSION"),
        commit(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let server = BenchServer::start(&lake).await;
    let client = &server.client;
    let mut mismatches = 0;
    if runs_part("cooccurrence") {
        let duck_pairs = scratch.path().join("duckdb_pairs.csv");
        let duck = run_duckdb(
            BENCHES,
            "duckdb_query.py",
            &lake,
            "cooccurrence_top20.sql",
            runs,
            &duck_pairs,
        );

        reset_peak_rss();
        let mut times = Vec::new();
        let mut ours = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            ours = csv_rows(client, COOCCURRENCE).await;
            times.push(t.elapsed());
        }
        let our_secs = median(times).as_secs_f64();
        let our_mib = peak_rss_mib();
        let expected: Vec<String> = std::fs::read_to_string(&duck_pairs)
            .expect("duckdb pairs")
            .lines()
            .map(str::to_owned)
            .collect();
        mismatches = ours.iter().zip(&expected).filter(|(a, b)| a != b).count()
            + ours.len().abs_diff(expected.len());
        println!("item_cooccurrence over orders (cosine, top 20 per product):");
        println!(
            "  duckdb  (queries/cooccurrence_top20.sql) {:>8.3} s   peak RSS {:>6.0} MiB",
            duck.secs, duck.peak_mib
        );
        println!("  datapunk (item_cooccurrence)             {our_secs:>8.3} s   peak RSS {our_mib:>6} MiB (server and client in one process)");
        println!(
            "  duckdb / datapunk                        {:>8.2}x",
            duck.secs / our_secs
        );
        println!(
            "  {} rows compared, {mismatches} mismatches",
            expected.len()
        );
    }

    if runs_part("als") {
        let pairs = csv_rows(client, ALS_PAIRS).await;
        reset_peak_rss();
        let mut times = Vec::new();
        let mut answer = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            answer = csv_rows(client, ALS).await;
            times.push(t.elapsed());
        }
        println!(
            "als_recommend (rank 10, 10 iterations, top 10) on {} (customer, product) pairs:",
            pairs.first().map_or("?", String::as_str)
        );
        println!(
            "  {:.3} s   peak RSS {} MiB   (recommendations, customers) = ({})",
            median(times).as_secs_f64(),
            peak_rss_mib(),
            answer.first().map_or("?", String::as_str)
        );
    }
    server.stop().await;
    assert_eq!(mismatches, 0, "co-occurrence differs from DuckDB's");
}
