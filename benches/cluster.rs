//! Local mode against a two-executor Ballista cluster on the same box (issue 27's
//! bench): the anchor RFM query and the `rfm()` table function over the bench lake, the
//! same rows from both, medians of each and their ratio. The cluster (scheduler and two
//! executors) runs in this process on loopback, as `datapunk scheduler`/`executor` do;
//! both sides get the same total memory limit (the local server all of it, each
//! executor half).
//!
//! `DATAPUNK_BENCH_SIZES` (order lines, default `1e7,1e8`), `DATAPUNK_BENCH_RUNS`
//! (default 3), `DATAPUNK_BENCH_MEMORY_MB` (total, default 8000).

use std::time::{Duration, Instant};

#[path = "support/anchor_lake.rs"]
mod anchor_lake;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/server.rs"]
mod server;

use anchor_lake::bench_lake;
use datapunk::cluster::{run_executor, ExecutorOptions, RunningScheduler, SchedulerOptions};
use measure::{commit, env_or, median};
use server::{rows, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

const QUERIES: &[(&str, &str)] = &[
    ("rfm.sql", include_str!("queries/rfm.sql")),
    ("rfm()", include_str!("queries/rfm_function.sql")),
];

fn parse_sizes(text: &str) -> Vec<u64> {
    text.split(',')
        .map(|s| datapunk::generate::parse_count(s.trim()).expect("DATAPUNK_BENCH_SIZES"))
        .collect()
}

async fn timed(
    server: &BenchServer,
    side: &str,
    name: &str,
    sql: &str,
    runs: usize,
) -> (Duration, Vec<Vec<String>>) {
    let mut times = Vec::new();
    let mut last = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        last = rows(&server.client, sql)
            .await
            .unwrap_or_else(|e| panic!("{name} ({side}) failed after {:?}: {e}", t.elapsed()));
        times.push(t.elapsed());
    }
    (median(times), last)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let sizes = parse_sizes(&std::env::var("DATAPUNK_BENCH_SIZES").unwrap_or("1e7,1e8".into()));
    let runs: usize = env_or("DATAPUNK_BENCH_RUNS", 3);
    let memory_mb: u64 = env_or("DATAPUNK_BENCH_MEMORY_MB", 8000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = SchedulerOptions {
        advertise: None,
        min_ready_executors: 2,
        executor_timeout_seconds: 60,
    };
    let scheduler = RunningScheduler::start(listener, &options).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..2 {
        let options = ExecutorOptions {
            scheduler: scheduler.addr.to_string(),
            bind: "127.0.0.1:0".parse().unwrap(),
            advertise: None,
            work_dir: work.path().join(format!("executor{i}")),
            vcores: cores,
            memory_bytes: memory_mb / 2 * 1024 * 1024,
            heartbeat_seconds: 5,
        };
        tokio::spawn(async move { run_executor(&options, |_, _| {}).await });
    }
    while !scheduler.is_ready() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "cluster bench: commit {}, {cores} cores, {runs} runs, {memory_mb} MiB in total",
        commit()
    );
    for lines in sizes {
        let lake = bench_lake(BENCHES, lines);
        let local = BenchServer::start_with(&lake, |c| c.server.memory_limit_mb = memory_mb).await;
        let url = format!("df://{}", scheduler.addr);
        let cluster = BenchServer::start_with(&lake, |c| {
            c.server.memory_limit_mb = memory_mb;
            c.engine.mode = "ballista".into();
            c.engine.scheduler = url;
        })
        .await;
        for (name, sql) in QUERIES {
            let (here, expected) = timed(&local, "local", name, sql, runs).await;
            let (there, got) = timed(&cluster, "cluster", name, sql, runs).await;
            assert_eq!(
                got, expected,
                "{name} at {lines}: the cluster answers differently"
            );
            println!(
                "  {lines:>12} lines  {name:<8} local {:>8.3} s   cluster {:>8.3} s   cluster/local {:>5.2}",
                here.as_secs_f64(),
                there.as_secs_f64(),
                there.as_secs_f64() / here.as_secs_f64()
            );
        }
        local.stop().await;
        cluster.stop().await;
    }
}
