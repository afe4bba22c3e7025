//! What erasure costs: the three anchor queries over the same lake on two servers, one
//! as it is, one with `order_lines` and `customers` listed as pii tables and N
//! customers forgotten (`DATAPUNK_BENCH_ERASED`, default 1000); medians and the ratio,
//! and how long the first read after the erasures takes (it finds the erased rows).
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

/// The median time of each query on each of `servers`, after one run of each that is
/// not timed (a fresh server's first queries also pay for its allocator's first pages).
/// The servers take turns run by run, so the box's drift weighs on all alike.
async fn timings(servers: &[&BenchServer], runs: usize) -> Vec<Vec<f64>> {
    for server in servers {
        for (name, sql) in QUERIES {
            rows(&server.client, sql).await.expect(name);
        }
    }
    let mut out = vec![Vec::new(); servers.len()];
    for (name, sql) in QUERIES {
        let mut times = vec![Vec::new(); servers.len()];
        for _ in 0..runs {
            for (server, times) in servers.iter().zip(&mut times) {
                let t = Instant::now();
                rows(&server.client, sql).await.expect(name);
                times.push(t.elapsed());
            }
        }
        for (out, times) in out.iter_mut().zip(times) {
            out.push(median(times).as_secs_f64());
        }
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
    println!("| query | order lines | plain | {erased} customers erased | ratio |");
    println!("|---|---|---|---|---|");
    for &lines in &sizes {
        let lake = bench_lake(BENCHES, lines);
        let plain = BenchServer::start(&lake).await;
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
        // The first read of the pii tables after the erasures finds the erased rows'
        // positions in their files; every later query reuses them.
        let t = Instant::now();
        rows(
            &guarded.client,
            "SELECT (SELECT count(*) FROM lake.order_lines), (SELECT count(*) FROM lake.customers)",
        )
        .await
        .expect("first read");
        let first = t.elapsed().as_secs_f64();
        let times = timings(&[&plain, &guarded], runs).await;
        let (before, after) = (&times[0], &times[1]);
        plain.stop().await;
        guarded.stop().await;
        for (((name, _), b), a) in QUERIES.iter().zip(before).zip(after) {
            println!(
                "| {name} | {lines:e} | {b:.2} s | {a:.2} s | {:.3} |",
                a / b
            );
        }
        println!("first read of the pii tables after the erasures at {lines:e}: {first:.2} s");
    }
}
