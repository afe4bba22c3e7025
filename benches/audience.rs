//! Audiences at scale: an audience of about 10M members (every fourth order of the
//! anchor lake, 1e8 order lines, with its customer, line count and value) refreshed —
//! query, sort-merge diff against the previous members, durable Parquet write — against
//! the audience query alone, both through the PostgreSQL protocol in one run; then 1M
//! members enter and an `entered` export writes them to CSV. Peak RSS of the process
//! (server and client) for the memory bound. See README.md.

use std::time::{Duration, Instant};

#[path = "support/anchor_lake.rs"]
mod anchor_lake;
#[path = "support/measure.rs"]
#[allow(dead_code)] // median: each figure here is one run
mod measure;
#[path = "support/server.rs"]
mod server;

use anchor_lake::bench_lake;
use measure::{bench_size, commit, peak_rss_mib, reset_peak_rss};
use server::{first_row, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

/// The audience: orders whose id satisfies `condition`, one row each.
fn audience_query(condition: &str) -> String {
    format!(
        "SELECT order_id, min(customer_id) AS customer_id, count(*) AS lines, \
         sum(quantity * unit_price) AS value, max(order_ts) AS ordered_at \
         FROM lake.order_lines WHERE {condition} GROUP BY order_id"
    )
}

const MEMBERS: &str = "order_id % 4 = 0";
const MEMBERS_AND_NEW: &str = "order_id % 4 = 0 OR order_id % 40 = 1";

/// The first value of the first row.
async fn scalar(client: &tokio_postgres::Client, sql: &str) -> String {
    first_row(client, sql).await.swap_remove(0)
}

/// Rewrites the definition and refreshes; the refresh's own duration and its counts.
async fn refresh(
    client: &tokio_postgres::Client,
    definitions: &std::path::Path,
    condition: &str,
) -> (Duration, String) {
    std::fs::write(
        definitions.join("orders.sql"),
        format!("-- key: order_id\n{}", audience_query(condition)),
    )
    .expect("definition");
    let t = Instant::now();
    client
        .batch_execute("REFRESH AUDIENCE orders")
        .await
        .expect("refresh");
    let wall = t.elapsed();
    let status = scalar(
        client,
        "SELECT members || ' members, ' || entered || ' entered, ' || exited || ' exited, ' \
         || duration_ms || ' ms, ' || state || coalesce(' ' || error, '') \
         FROM datapunk.audiences WHERE name = 'orders'",
    )
    .await;
    (wall, status)
}

#[tokio::main]
async fn main() {
    let (lines, _) = bench_size(100_000_000);
    let lake = bench_lake(BENCHES, lines);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "audience bench: {cores} cores, commit {}, {lines} order lines ({})",
        commit(),
        lake.display()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let definitions = tmp.path().join("audiences");
    std::fs::create_dir_all(&definitions).expect("definitions");
    let exports = tmp.path().join("exports");
    // Defined before the server starts (the export names it), empty until the first
    // timed refresh.
    std::fs::write(
        definitions.join("orders.sql"),
        format!("-- key: order_id\n{}", audience_query("order_id < 0")),
    )
    .expect("definition");
    let (state, defs, out) = (
        tmp.path().join("state").display().to_string(),
        definitions.display().to_string(),
        exports.display().to_string(),
    );
    let s = BenchServer::start_with(&lake, move |c| {
        c.state.dir = state;
        c.audiences.dir = defs;
        c.activation.export_roots = vec![out.clone()];
        c.exports = vec![datapunk::config::ExportConfig {
            name: "new_orders".into(),
            audience: "orders".into(),
            mode: "entered".into(),
            format: "csv".into(),
            path: out,
            ..Default::default()
        }];
    })
    .await;
    let c = &s.client;

    // The query alone, twice: computed in the server (every column of every row folded
    // into one row, so no aggregate is skipped and nothing is sent) and streamed out (every
    // row and column, plus the transfer). A bare count(*) would not be the audience query:
    // DataFusion drops the unused aggregates and reads one column instead of five.
    let query = audience_query(MEMBERS);
    let computing = format!(
        "SELECT count(*) || ' rows, ' || sum(customer_id) || ' ' || sum(lines) || ' ' || \
         sum(value) || ' ' || max(ordered_at) FROM ({query}) AS q"
    );
    // Twice, the faster counts: the first run also warms the file cache and the heap.
    let mut computed = Duration::MAX;
    let mut members = String::new();
    for _ in 0..2 {
        let t = Instant::now();
        members = scalar(c, &computing).await;
        computed = computed.min(t.elapsed());
    }
    let t = Instant::now();
    let stream = c
        .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await
        .expect("copy");
    futures::pin_mut!(stream);
    let mut bytes = 0usize;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        bytes += chunk.expect("chunk").len();
    }
    let streamed = t.elapsed();
    println!(
        "query alone: {members}; computed {:.1} s; streamed out ({} MiB, binary COPY) {:.1} s",
        computed.as_secs_f64(),
        bytes >> 20,
        streamed.as_secs_f64()
    );

    reset_peak_rss();
    let (first, status) = refresh(c, &definitions, MEMBERS).await;
    println!(
        "first refresh (everyone enters): {:.1} s = {:.2}x computed, {:.2}x streamed; {status}; peak RSS {} MiB",
        first.as_secs_f64(),
        first.as_secs_f64() / computed.as_secs_f64(),
        first.as_secs_f64() / streamed.as_secs_f64(),
        peak_rss_mib()
    );
    reset_peak_rss();
    let (again, status) = refresh(c, &definitions, MEMBERS).await;
    println!(
        "refresh, nothing changed: {:.1} s = {:.2}x computed; {status}; peak RSS {} MiB",
        again.as_secs_f64(),
        again.as_secs_f64() / computed.as_secs_f64(),
        peak_rss_mib()
    );
    // Everyone entered so far goes out once, then the next run has only the newcomers.
    c.batch_execute("RUN EXPORT new_orders")
        .await
        .expect("export");
    reset_peak_rss();
    let (grown, status) = refresh(c, &definitions, MEMBERS_AND_NEW).await;
    println!(
        "refresh with 1M newcomers: {:.1} s = {:.2}x computed; {status}; peak RSS {} MiB",
        grown.as_secs_f64(),
        grown.as_secs_f64() / computed.as_secs_f64(),
        peak_rss_mib()
    );
    let t = Instant::now();
    c.batch_execute("RUN EXPORT new_orders")
        .await
        .expect("export");
    let wall = t.elapsed();
    let run = scalar(
        c,
        "SELECT rows || ' rows in ' || \
         CAST(extract(epoch FROM finished - started) * 1000 AS BIGINT) || ' ms' \
         FROM datapunk.export_runs WHERE name = 'new_orders' ORDER BY run_id DESC LIMIT 1",
    )
    .await;
    let rows: f64 = run
        .split(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0);
    println!(
        "entered export to CSV: {run} ({:.2} M rows/s over the RUN EXPORT's wall time {:.2} s)",
        rows / wall.as_secs_f64() / 1e6,
        wall.as_secs_f64()
    );
    s.stop().await;
}
