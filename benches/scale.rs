//! The lake-scale comparison in one command (the README's table): for each lake size,
//! the three anchor queries in plain SQL on datapunk and on DuckDB (its own process,
//! the same Parquet files), every result row compared, and the `rfm` table function
//! against DuckDB's `rfm.sql`; medians, ratios and the peak RSS of both. Then two
//! queries at once under the memory limit, and dashboards: many connections running a
//! mix of the three queries. See benches/README.md.
//!
//! `DATAPUNK_BENCH_SIZES` (order lines per lake, default `1e7,1e8`),
//! `DATAPUNK_BENCH_RUNS` (default 3), `DATAPUNK_BENCH_MEMORY_MB` (the server's memory
//! limit, default 0: none), `DATAPUNK_BENCH_SHARED_MB` (the limit the two queries at
//! once share, default 1500), `DATAPUNK_BENCH_CLIENTS` (dashboard connections at the
//! first size, default 50; 0 skips them).

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/anchor_lake.rs"]
mod anchor_lake;
#[path = "support/duckdb.rs"]
mod duckdb;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/server.rs"]
mod server;

use anchor_lake::bench_lake;
use datapunk::config::ServerConfig;
use duckdb::run_duckdb;
use measure::{commit, env_or, median, peak_rss_mib, reset_peak_rss};
use server::{rows, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

/// (name, SQL file DuckDB runs, SQL datapunk runs): same rows expected.
const QUERIES: &[(&str, &str, &str)] = &[
    ("rfm.sql", "rfm.sql", include_str!("queries/rfm.sql")),
    (
        "cohort_retention.sql",
        "cohort_retention.sql",
        include_str!("queries/cohort_retention.sql"),
    ),
    (
        "copurchase_pairs.sql",
        "copurchase_pairs.sql",
        include_str!("queries/copurchase_pairs.sql"),
    ),
    (
        "rfm() vs DuckDB's rfm.sql",
        "rfm.sql",
        include_str!("queries/rfm_function.sql"),
    ),
];

/// Whether two fields say the same: equal text, or equal numbers (`12.30` and `12.3`).
fn same_field(ours: &str, theirs: &str) -> bool {
    if ours == theirs {
        return true;
    }
    match (ours.parse::<f64>(), theirs.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

/// Rows of ours that differ from DuckDB's CSV result (and rows missing on either side).
fn differing_rows(ours: &[Vec<String>], csv: &Path) -> usize {
    let text = std::fs::read_to_string(csv).expect("DuckDB's result");
    let mut reader = csv_fields(&text).into_iter();
    let mut differing = 0;
    for row in ours {
        match reader.next() {
            Some(theirs) => {
                let same = theirs.len() == row.len()
                    && row.iter().zip(&theirs).all(|(a, b)| same_field(a, b));
                differing += usize::from(!same);
            }
            None => differing += 1,
        }
    }
    differing + reader.count()
}

/// DuckDB's CSV (comma-separated, `"` quoting) as rows of fields.
fn csv_fields(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

async fn connect(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// One line of the table.
struct Line {
    query: &'static str,
    lines: u64,
    ours: Result<f64, String>,
    duck: f64,
    our_mib: u64,
    duck_mib: f64,
    differing: usize,
}

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::var("DATAPUNK_BENCH_SIZES")
        .unwrap_or_else(|_| "1e7,1e8".into())
        .split(',')
        .filter_map(|s| datapunk::generate::parse_count(s.trim()))
        .collect();
    let runs: usize = env_or("DATAPUNK_BENCH_RUNS", 3usize).max(1);
    let memory_mb: u64 = env_or("DATAPUNK_BENCH_MEMORY_MB", 0);
    let shared_mb: u64 = env_or("DATAPUNK_BENCH_SHARED_MB", 1500);
    let clients: usize = env_or("DATAPUNK_BENCH_CLIENTS", 50);
    let dashboard_mb: u64 = env_or("DATAPUNK_BENCH_DASHBOARD_MB", 4000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "datapunk {} (commit {}), {cores} cores, median of {runs}, memory_limit_mb = {memory_mb}, result cache off",
        env!("CARGO_PKG_VERSION"),
        commit(),
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut table = Vec::new();
    for &lines in &sizes {
        let lake = bench_lake(BENCHES, lines);
        // DuckDB first, in its own process, each file once.
        let mut duck = Vec::new();
        for (_, file, _) in QUERIES {
            let csv = scratch.path().join(format!("duckdb-{lines}-{file}.csv"));
            let figures = match duck.iter().find(|(_, c)| c == &csv) {
                Some((figures, _)) => *figures,
                None => run_duckdb(BENCHES, "duckdb_query.py", &lake, file, runs, &csv),
            };
            duck.push((figures, csv));
        }
        let server = BenchServer::start_with(&lake, |c| c.server.memory_limit_mb = memory_mb).await;
        for ((query, _, sql), (figures, csv)) in QUERIES.iter().zip(&duck) {
            reset_peak_rss();
            let mut times = Vec::new();
            let mut result = Ok(Vec::new());
            for _ in 0..runs {
                let t = Instant::now();
                result = rows(&server.client, sql).await;
                times.push(t.elapsed());
                if result.is_err() {
                    break;
                }
            }
            let differing = result.as_ref().map_or(0, |r| differing_rows(r, csv));
            table.push(Line {
                query,
                lines,
                ours: result.map(|_| median(times).as_secs_f64()),
                duck: figures.secs,
                our_mib: peak_rss_mib(),
                duck_mib: figures.peak_mib,
                differing,
            });
        }
        if clients > 0 && lines == sizes[0] {
            let single: f64 = table
                .iter()
                .filter(|l| l.lines == lines)
                .take(3)
                .filter_map(|l| l.ours.as_ref().ok())
                .sum::<f64>()
                / 3.0;
            server.stop().await;
            // The work (result cache off), then what dashboards get by default.
            for cache_mb in [0, ServerConfig::default().result_cache_mb] {
                let limited = BenchServer::start_with(&lake, |c| {
                    c.server.memory_limit_mb = dashboard_mb;
                    c.server.result_cache_mb = cache_mb;
                })
                .await;
                dashboards(&limited, clients, single, cores, dashboard_mb, cache_mb).await;
                limited.stop().await;
            }
        } else {
            server.stop().await;
        }
        if shared_mb > 0 {
            let shared =
                BenchServer::start_with(&lake, |c| c.server.memory_limit_mb = shared_mb).await;
            two_at_once(&shared, lines, shared_mb).await;
            shared.stop().await;
        }
    }
    println!();
    println!("| query | order lines | datapunk | DuckDB | datapunk / DuckDB | peak RSS datapunk / DuckDB | rows differing |");
    println!("|---|---|---|---|---|---|---|");
    let mut differing = 0;
    for l in &table {
        let (ours, ratio) = match &l.ours {
            Ok(s) => (format!("{s:.2} s"), format!("{:.2}", s / l.duck)),
            Err(e) => (format!("failed: {e}"), "—".into()),
        };
        println!(
            "| {} | {:e} | {ours} | {:.2} s | {ratio} | {} / {:.0} MiB | {} |",
            l.query, l.lines as f64, l.duck, l.our_mib, l.duck_mib, l.differing
        );
        differing += l.differing;
    }
    assert_eq!(differing, 0, "results differ from DuckDB's");
}

/// RFM and cohort retention at once on two connections (under the memory limit).
async fn two_at_once(server: &BenchServer, lines: u64, memory_mb: u64) {
    let first = connect(&server.conninfo).await;
    let second = connect(&server.conninfo).await;
    reset_peak_rss();
    let timed = |client: tokio_postgres::Client, sql: &'static str| async move {
        let t = Instant::now();
        let outcome = client.simple_query(sql).await.map(|_| ());
        (t.elapsed(), outcome)
    };
    let (rfm, cohort) = tokio::join!(timed(first, QUERIES[0].2), timed(second, QUERIES[1].2));
    let show = |(d, o): (Duration, Result<(), tokio_postgres::Error>)| match o {
        Ok(()) => format!("{:.2} s", d.as_secs_f64()),
        Err(e) => format!("failed after {:.2} s: {e}", d.as_secs_f64()),
    };
    println!(
        "{lines:e} lines, rfm.sql and cohort_retention.sql at once (memory_limit_mb = {memory_mb}): {} and {}, peak RSS {} MiB",
        show(rfm),
        show(cohort),
        peak_rss_mib()
    );
}

/// `clients` connections, each running the three anchor queries in turn (starting at a
/// different one), twice; latencies against one client's.
async fn dashboards(
    server: &BenchServer,
    clients: usize,
    single: f64,
    cores: usize,
    memory_mb: u64,
    cache_mb: u64,
) {
    reset_peak_rss();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let conninfo = server.conninfo.clone();
        tasks.push(tokio::spawn(async move {
            let client = connect(&conninfo).await;
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            for round in 0..6 {
                let sql = QUERIES[(c + round) % 3].2;
                let t = Instant::now();
                if client.simple_query(sql).await.is_err() {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client");
        latencies.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    latencies.sort();
    let p95 = latencies[latencies.len() * 95 / 100].as_secs_f64();
    let med = median(latencies).as_secs_f64();
    // With `cores` queries running at once, a query waits for clients / cores others.
    let expected = single * clients as f64 / cores as f64;
    println!(
        "dashboards (memory_limit_mb = {memory_mb}, result_cache_mb = {cache_mb}): {clients} connections x 6 queries in {wall:.1} s, median latency {med:.2} s (p95 {p95:.2} s), \
         one client's mean {single:.2} s x {clients} / {cores} cores = {expected:.2} s: {:.2}x of it; {errors} errors; peak RSS {} MiB",
        med / expected,
        peak_rss_mib()
    );
}
