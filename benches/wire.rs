//! End-to-end benchmark through the PostgreSQL protocol: the anchor marketing queries and
//! result streaming, against an in-process server on a generated lake. See README.md.

use std::time::{Duration, Instant};

#[path = "support/measure.rs"]
mod measure;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/psql.rs"]
mod psql;
#[path = "support/server.rs"]
mod server;

use measure::{bench_size, commit, median, peak_rss_mib, reset_peak_rss};
use server::BenchServer;

use datapunk::generate::{generate, Spec};
use futures::{SinkExt, StreamExt};

const QUERIES: &[(&str, &str)] = &[
    ("rfm", include_str!("queries/rfm.sql")),
    (
        "cohort_retention",
        include_str!("queries/cohort_retention.sql"),
    ),
    (
        "copurchase_pairs",
        include_str!("queries/copurchase_pairs.sql"),
    ),
];

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let (lines, runs) = bench_size(1_000_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let lake = match std::env::var("DATAPUNK_BENCH_LAKE") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            let dir = tmp.path().join("lake");
            let t = Instant::now();
            generate(
                &dir,
                Spec {
                    order_lines: lines,
                    seed: 42,
                    rows_per_file: 1_000_000,
                },
                false,
            )
            .expect("generate");
            println!(
                "generate {lines} order lines: {:.2} s",
                t.elapsed().as_secs_f64()
            );
            dir
        }
    };

    let server = BenchServer::start(&lake).await;
    let client = &server.client;
    client
        .batch_execute("SET search_path TO lake")
        .await
        .expect("search_path");

    println!(
        "datapunk {} (commit {}), {} cores, {lines} order lines, median of {runs}",
        env!("CARGO_PKG_VERSION"),
        commit(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (name, sql) in QUERIES {
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            client.simple_query(sql).await.expect(name);
            times.push(t.elapsed());
        }
        println!("{name:<20} {:>8.3} s", median(times).as_secs_f64());
    }

    let total: i64 = client
        .query_one("SELECT count(*) FROM order_lines", &[])
        .await
        .expect("count")
        .get(0);
    println!(
        "\nstreaming {total} rows of lake.order_lines (rows/s, median of {runs}; client discards)"
    );
    reset_peak_rss();
    let ours = stream_figures(client, "lake.order_lines", total, runs).await;
    let peak = peak_rss_mib();
    ours.print("datapunk");
    println!("datapunk peak RSS while streaming: {peak} MiB (server and client in one process)");
    let with_psql = psql::available();
    if !with_psql {
        println!("psql: not on PATH; the COPY figures through psql are skipped");
    }
    let ours_psql = if with_psql {
        reset_peak_rss();
        let figures = psql::copy_rates(&server.conninfo, "lake.order_lines", total, runs).await;
        print_psql("datapunk", figures);
        println!(
            "datapunk peak RSS under psql COPY: {} MiB (psql in its own process)",
            peak_rss_mib()
        );
        Some(figures)
    } else {
        None
    };
    if let Some(pg) = postgres::LocalPostgres::start() {
        let theirs = against_postgres(&pg, client, total, runs).await;
        theirs.print("postgres");
        println!(
            "datapunk / postgres    {:>12.2}x {:>12.2}x {:>12.2}x",
            ours.select / theirs.select,
            ours.copy_text / theirs.copy_text,
            ours.copy_binary / theirs.copy_binary
        );
        println!(
            "datapunk binary COPY / postgres text COPY: {:.2}x",
            ours.copy_binary / theirs.copy_text
        );
        if let Some(ours_psql) = ours_psql {
            let theirs_psql = psql::copy_rates(&pg.conn_string(), "order_lines", total, runs).await;
            print_psql("postgres", theirs_psql);
            println!(
                "datapunk / postgres (psql)            {:>12.2}x {:>12.2}x",
                ours_psql.text / theirs_psql.text,
                ours_psql.binary / theirs_psql.binary
            );
        }
    }
    server.stop().await;
}

fn print_psql(server: &str, figures: psql::PsqlCopy) {
    println!(
        "{server:<22} {:>12} {:>12.0} {:>12.0}   (COPY text, COPY binary through psql to /dev/null)",
        "", figures.text, figures.binary
    );
}

/// Rows per second of the three ways a client reads a whole table.
#[derive(Debug, Clone, Copy)]
struct Figures {
    select: f64,
    copy_text: f64,
    copy_binary: f64,
}

impl Figures {
    fn print(&self, server: &str) {
        println!(
            "{server:<22} {:>12.0} {:>12.0} {:>12.0}   (SELECT, COPY text, COPY binary)",
            self.select, self.copy_text, self.copy_binary
        );
    }
}

async fn stream_figures(
    client: &tokio_postgres::Client,
    table: &str,
    total: i64,
    runs: usize,
) -> Figures {
    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    let mut select = Vec::new();
    let mut text = Vec::new();
    let mut binary = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let rows = client
            .query_raw(&format!("SELECT * FROM {table}"), std::iter::empty::<i64>())
            .await
            .expect("select");
        futures::pin_mut!(rows);
        let mut n = 0i64;
        while let Some(r) = rows.next().await {
            r.expect("row");
            n += 1;
        }
        assert_eq!(n, total);
        select.push(t.elapsed());
        for (format, times) in [("text", &mut text), ("binary", &mut binary)] {
            let t = Instant::now();
            let copy = client
                .copy_out(&format!("COPY {table} TO STDOUT (FORMAT {format})"))
                .await
                .expect("copy");
            futures::pin_mut!(copy);
            while let Some(chunk) = copy.next().await {
                chunk.expect("copy data");
            }
            times.push(t.elapsed());
        }
    }
    Figures {
        select: rate(median(select)),
        copy_text: rate(median(text)),
        copy_binary: rate(median(binary)),
    }
}

/// Loads `lake.order_lines` from datapunk into the local PostgreSQL (binary COPY out of
/// one, into the other) and measures it there the same way.
async fn against_postgres(
    pg: &postgres::LocalPostgres,
    datapunk: &tokio_postgres::Client,
    total: i64,
    runs: usize,
) -> Figures {
    let (client, conn) = tokio_postgres::connect(&pg.conn_string(), tokio_postgres::NoTls)
        .await
        .expect("connect to postgres");
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE TABLE order_lines (order_id bigint, line_no integer, customer_id bigint, \
             product_id integer, order_ts timestamp, quantity integer, unit_price numeric(10,2), \
             discount numeric(10,2), country text)",
        )
        .await
        .expect("create table");
    let t = Instant::now();
    let sink = client
        .copy_in("COPY order_lines FROM STDIN (FORMAT binary)")
        .await
        .expect("copy in");
    futures::pin_mut!(sink);
    let source = datapunk
        .copy_out("COPY lake.order_lines TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out");
    futures::pin_mut!(source);
    // `feed`, not `send`: a flush per row made the load take minutes.
    while let Some(chunk) = source.next().await {
        sink.feed(chunk.expect("copy data")).await.expect("load");
    }
    let loaded = sink.finish().await.expect("load finishes");
    assert_eq!(loaded, total as u64);
    client
        .batch_execute("VACUUM (FREEZE, ANALYZE) order_lines")
        .await
        .expect("vacuum");
    println!(
        "{} loaded {loaded} rows in {:.1} s (binary COPY from datapunk)",
        pg.version,
        t.elapsed().as_secs_f64()
    );
    stream_figures(&client, "order_lines", total, runs).await
}
