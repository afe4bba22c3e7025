//! What the erasure row filter costs: the three anchor queries over the same lake, first
//! as they are, then with `order_lines` and `customers` listed as pii tables and N
//! customers forgotten (`DATAPUNK_BENCH_ERASED`, default 1000); medians and the ratio.
//!
//! `DATAPUNK_BENCH_SIZES` (order lines, default `1e7`), `DATAPUNK_BENCH_RUNS` (default 3).

use std::time::Instant;

#[path = "support/anchor_lake.rs"]
mod anchor_lake;
#[path = "support/anchor_queries.rs"]
mod anchor_queries;
#[path = "support/measure.rs"]
#[allow(dead_code)] // the RSS helpers are for other benches
mod measure;
#[path = "support/server.rs"]
mod server;

use anchor_lake::bench_lake;
use anchor_queries::QUERIES;
use datapunk::config::PiiTableConfig;
use measure::{commit, env_or, median};
use server::{rows, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

/// The median time of each query on `server`.
async fn timings(server: &BenchServer, runs: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for (name, sql) in QUERIES {
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            rows(&server.client, sql).await.expect(name);
            times.push(t.elapsed());
        }
        out.push(median(times).as_secs_f64());
    }
    out
}

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::var("DATAPUNK_BENCH_SIZES")
        .unwrap_or_else(|_| "1e7".into())
        .split(',')
        .filter_map(|s| datapunk::generate::parse_count(s.trim()))
        .collect();
    let runs: usize = env_or("DATAPUNK_BENCH_RUNS", 3usize).max(1);
    let erased: usize = env_or("DATAPUNK_BENCH_ERASED", 1000usize);
    println!(
        "datapunk {} (commit {}), median of {runs}, {erased} customers erased",
        env!("CARGO_PKG_VERSION"),
        commit(),
    );
    println!("| query | order lines | plain | with the erasure filter | ratio |");
    println!("|---|---|---|---|---|");
    for &lines in &sizes {
        let lake = bench_lake(BENCHES, lines);
        let plain = BenchServer::start(&lake).await;
        let before = timings(&plain, runs).await;
        plain.stop().await;
        let guarded = BenchServer::start_with(&lake, |c| {
            c.privacy.pii_tables = ["lake.order_lines", "lake.customers"]
                .iter()
                .map(|t| PiiTableConfig {
                    table: (*t).into(),
                    id_type: "customer_id".into(),
                    column: "customer_id".into(),
                })
                .collect();
        })
        .await;
        let forgotten = rows(
            &guarded.client,
            &format!(
                "SELECT datapunk_forget('customer_id', customer_id) FROM \
                 (SELECT customer_id FROM lake.customers ORDER BY customer_id LIMIT {erased}) t"
            ),
        )
        .await
        .expect("forget");
        assert_eq!(forgotten.len(), erased);
        let after = timings(&guarded, runs).await;
        guarded.stop().await;
        for (((name, _), b), a) in QUERIES.iter().zip(&before).zip(&after) {
            println!(
                "| {name} | {lines:e} | {b:.2} s | {a:.2} s | {:.3} |",
                a / b
            );
        }
    }
}
