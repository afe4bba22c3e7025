//! End-to-end benchmark through the PostgreSQL protocol: the anchor marketing queries and
//! result streaming, against an in-process server on a generated lake. See README.md.

use std::time::{Duration, Instant};

use datapunk::config::Config;
use datapunk::generate::{generate, parse_count, Spec};
use datapunk::App;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let lines = std::env::var("DATAPUNK_BENCH_LINES")
        .ok()
        .and_then(|v| parse_count(&v))
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("DATAPUNK_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
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

    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.lake.root = lake.display().to_string();
    config.lake.watch = false;
    let app = App::build(config).await.expect("server builds");
    let addr = app.local_addr().expect("address");
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run(stop.clone()));
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=bench dbname=datapunk",
            addr.port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
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
    let t = Instant::now();
    let rows = client
        .query_raw("SELECT * FROM order_lines", std::iter::empty::<i64>())
        .await
        .expect("select");
    futures::pin_mut!(rows);
    let mut n = 0i64;
    while let Some(r) = rows.next().await {
        r.expect("row");
        n += 1;
    }
    assert_eq!(n, total);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "SELECT * stream        {:>8.3} s  {:>10.0} rows/s",
        secs,
        n as f64 / secs
    );

    let t = Instant::now();
    let copy = client
        .copy_out("COPY (SELECT * FROM order_lines) TO STDOUT")
        .await
        .expect("copy");
    futures::pin_mut!(copy);
    let mut bytes = 0usize;
    while let Some(chunk) = copy.next().await {
        bytes += chunk.expect("copy data").len();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "COPY TO STDOUT (text)  {:>8.3} s  {:>10.0} rows/s  {:.1} MB/s",
        secs,
        total as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    stop.cancel();
    let _ = server.await;
}
