//! Customer lifetime value against DuckDB, side by side in one run on one box:
//! `customer_clv` (summary, BG/NBD and Gamma-Gamma fits, per-customer predictions;
//! through the PostgreSQL protocol) against DuckDB computing only the per-customer
//! summary in plain SQL (`queries/clv_summary.sql`) on the same Parquet files; the
//! summaries of both compared; lifetimes' fit time on the same summary for the record.
//! See benches/README.md.

use std::process::Command;
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
use server::{first_row, BenchServer};

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

const ORDERS: &str =
    "'SELECT customer_id, order_ts, quantity * unit_price AS amount FROM lake.order_lines', \
     'customer_id', 'order_ts', 'amount', DATE '2024-12-31'";

/// Every customer's lifetime value, totalled (the computation is timed, not the transfer).
fn customer_clv() -> String {
    format!("SELECT count(*), sum(clv), sum(p_alive) FROM customer_clv({ORDERS})")
}

/// The two fits over the summary, through the aggregates.
fn fits() -> String {
    format!(
        "SELECT (b).r, (b).alpha, (b).a, (b).b, (b).converged, (g).p, (g).q, (g).v, (g).converged \
         FROM (SELECT bgnbd_fit(frequency, recency, t) AS b, \
                      gammagamma_fit(frequency, monetary_value) AS g \
               FROM clv_summary({ORDERS})) AS f"
    )
}

/// The same totals as `queries/clv_summary.sql`, from `clv_summary`.
fn summary_totals() -> String {
    format!(
        "SELECT count(*), sum(frequency), CAST(round(sum(recency) * 7) AS BIGINT), \
         CAST(round(sum(t) * 7) AS BIGINT), CAST(round(sum(monetary_value) * 100) AS BIGINT) \
         FROM clv_summary({ORDERS})"
    )
}

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

    let duck_totals = scratch.path().join("duckdb_summary.csv");
    let duck = run_duckdb(
        BENCHES,
        "duckdb_query.py",
        &lake,
        "clv_summary.sql",
        runs,
        &duck_totals,
    );

    let server = BenchServer::start(&lake).await;
    let client = &server.client;
    reset_peak_rss();
    let timed = |sql: String| async move {
        let mut times = Vec::new();
        let mut answer = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            answer = first_row(client, &sql).await;
            times.push(t.elapsed());
        }
        (median(times).as_secs_f64(), answer)
    };
    let (ours, answer) = timed(customer_clv()).await;
    let our_mib = peak_rss_mib();
    let (summary_secs, summary) = timed(summary_totals()).await;
    let summary = summary.join(",");
    let (fit_secs, models) = timed(fits()).await;
    server.stop().await;
    let expected = std::fs::read_to_string(&duck_totals)
        .expect("duckdb totals")
        .trim()
        .to_owned();

    println!("customer lifetime value, every customer, weeks, calibration to 2024-12-31:");
    println!(
        "  duckdb   (summary only, queries/clv_summary.sql) {:>8.3} s   peak RSS {:>6.0} MiB",
        duck.secs, duck.peak_mib
    );
    println!(
        "  datapunk (customer_clv: summary, fits, predictions) {ours:>5.3} s   peak RSS {our_mib:>6} MiB (server and client in one process)"
    );
    println!(
        "  datapunk / duckdb                                {:>8.2}",
        ours / duck.secs
    );
    println!("  datapunk clv_summary alone                       {summary_secs:>8.3} s");
    println!("  datapunk clv_summary + bgnbd_fit + gammagamma_fit {fit_secs:>7.3} s");
    println!(
        "  BG/NBD r, alpha, a, b, converged: {}; Gamma-Gamma p, q, v, converged: {}",
        models[..5].join(", "),
        models[5..].join(", ")
    );
    println!(
        "  customers, sum of clv, sum of p_alive: {}",
        answer.join(", ")
    );
    println!("  summary totals: duckdb {expected}; datapunk {summary}");

    match Command::new("python3")
        .arg(anchor_lake::repo_dir(BENCHES).join("benches/lifetimes_fit.py"))
        .arg(&lake)
        .output()
    {
        Ok(out) if out.status.success() => {
            // (lifetimes prints scipy's report before giving up: keep the result line)
            let stdout = String::from_utf8_lossy(&out.stdout);
            println!("  for the record, {}", stdout.lines().last().unwrap_or(""));
        }
        Ok(out) => println!(
            "  lifetimes fit skipped: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("  lifetimes fit skipped: {e}"),
    }
    assert_eq!(
        summary, expected,
        "per-customer summary totals differ from DuckDB's"
    );
}
