//! Point lookups for personalization (a CMS asks, on every page view, for one visitor's
//! profile): a prepared `SELECT ... WHERE customer_id = $1` on a warehouse table of 2M
//! customers at a fixed 1,000 lookups/s from 16 connections, while new files keep
//! arriving in the lake (each one rebuilds the table and its index). Latency is measured
//! from each lookup's scheduled start, so a stall counts for every lookup it delays.
//! The same load, in the same run, on PostgreSQL with a primary key on the same rows
//! (rows inserted underneath at the same pace). See README.md.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/measure.rs"]
#[allow(dead_code)] // bench_size: this bench is sized by customers, not order lines
mod measure;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/server.rs"]
mod server;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datapunk::marketing::rfm::SEGMENTS;
use measure::{commit, median, peak_rss_mib, reset_peak_rss};
use server::BenchServer;

const CONNECTIONS: usize = 16;
const RATE_PER_SECOND: u64 = 1000;
const ARRIVAL_ROWS: i64 = 1000;
const COUNTRIES: &[&str] = &[
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR", "JP", "CA", "AU", "IN", "MX",
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| datapunk::generate::parse_count(&v))
        .unwrap_or(default)
}

/// Customers `from..to` (ids), the same rows PostgreSQL gets from [`PG_ROWS`].
fn profiles(from: i64, to: i64) -> RecordBatch {
    let ids: Vec<i64> = (from..to).collect();
    let text = |f: &dyn Fn(i64) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(ids.iter().map(|&i| f(i))))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        text(&|i| format!("Customer {i}")),
        text(&|i| format!("c{i}@example.com")),
        text(&|i| COUNTRIES[(i % 15) as usize].to_owned()),
        text(&|i| SEGMENTS[(i % 11) as usize].to_owned()),
        Arc::new(Float64Array::from_iter_values(
            ids.iter().map(|&i| ((i * 7919) % 100_000) as f64 / 100.0),
        )),
        text(&|i| format!("{},{},{}", i % 997 + 1, i % 991 + 1, i % 983 + 1)),
    ];
    let schema = Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("clv", DataType::Float64, false),
        Field::new("recommended_products", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), columns).expect("batch")
}

/// `profiles(from, to)` for PostgreSQL: the select list over `generate_series(...) AS g`.
fn pg_rows() -> String {
    let array = |items: &[&str]| {
        let quoted: Vec<String> = items
            .iter()
            .map(|i| format!("'{}'", i.replace('\'', "''")))
            .collect();
        format!("(ARRAY[{}])", quoted.join(","))
    };
    format!(
        "SELECT g, 'Customer ' || g, 'c' || g || '@example.com', {}[g % 15 + 1], {}[g % 11 + 1], \
         ((g * 7919) % 100000) / 100.0, \
         (g % 997 + 1) || ',' || (g % 991 + 1) || ',' || (g % 983 + 1) FROM generate_series",
        array(COUNTRIES),
        array(&SEGMENTS)
    )
}

/// Writes customers `from..to` as one Parquet file of the lake's `customers` table, whole
/// (written aside, then renamed in).
fn arrive(lake: &Path, from: i64, to: i64) {
    let dir = lake.join("customers");
    std::fs::create_dir_all(&dir).expect("customers dir");
    let tmp = lake
        .parent()
        .expect("lake has a parent")
        .join(format!("part-{from:012}.parquet.tmp"));
    let mut step = from;
    let file = std::fs::File::create(&tmp).expect("create");
    let schema = profiles(0, 1).schema();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    while step < to {
        let end = (step + 500_000).min(to);
        writer.write(&profiles(step, end)).expect("write");
        step = end;
    }
    writer.close().expect("close");
    std::fs::rename(&tmp, dir.join(format!("part-{from:012}.parquet"))).expect("rename");
}

/// How often new customers arrive underneath (`DATAPUNK_BENCH_ARRIVAL_SECONDS`, 5 by
/// default; 0: never).
fn arrival_every() -> Option<Duration> {
    Some(Duration::from_secs(env_number(
        "DATAPUNK_BENCH_ARRIVAL_SECONDS",
        5,
    )))
    .filter(|d| !d.is_zero())
}

/// Latencies of one load run.
struct Load {
    latencies: Vec<Duration>,
    /// (scheduled, latency) of the lookups over 10 ms, to see when stalls happen.
    slow: Vec<(Duration, Duration)>,
    /// Lookups that did not return exactly one row.
    misses: usize,
    elapsed: Duration,
    /// The last customer id that arrived underneath.
    last_arrival: i64,
}

impl Load {
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }

    fn report(&self, who: &str) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{who:<9} {} lookups, {:.0}/s achieved, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, misses {}",
            self.latencies.len(),
            self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.percentile(0.999)),
            ms(self.percentile(1.0)),
            self.misses
        );
        let mut slow = self.slow.clone();
        slow.sort();
        let mut bursts: Vec<(f64, f64, usize, f64)> = Vec::new();
        for (at, latency) in slow {
            let (at, ms) = (at.as_secs_f64(), latency.as_secs_f64() * 1000.0);
            match bursts.last_mut() {
                Some(b) if at - b.1 < 0.2 => {
                    b.1 = at;
                    b.2 += 1;
                    b.3 = b.3.max(ms);
                }
                _ => bursts.push((at, at, 1, ms)),
            }
        }
        for (from, to, n, max) in bursts {
            println!(
                "          over 10 ms: {n} lookups scheduled {from:.2}-{to:.2} s, max {max:.1} ms"
            );
        }
    }
}

/// A customer id spread over `1..=customers` (a fixed sequence per connection).
fn id_at(connection: usize, n: u64, customers: i64) -> i64 {
    let x = (connection as u64 + 1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(n.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    1 + ((x ^ (x >> 29)) % customers as u64) as i64
}

/// `CONNECTIONS` clients, each sending `sql` with one customer id on a fixed schedule
/// (together `RATE_PER_SECOND`) for `seconds`; `arrivals` runs alongside.
async fn load<F, Fut>(conninfo: &str, sql: &str, customers: i64, seconds: u64, arrivals: F) -> Load
where
    F: FnOnce(Instant) -> Fut,
    Fut: std::future::Future<Output = i64> + Send + 'static,
{
    let period = Duration::from_nanos(1_000_000_000 * CONNECTIONS as u64 / RATE_PER_SECOND);
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let statement = client.prepare(sql).await.expect("prepare");
        clients.push((client, statement));
    }
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(seconds);
    let changes = tokio::spawn(arrivals(end));
    let mut tasks = Vec::new();
    for (k, (client, statement)) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let offset = period * k as u32 / CONNECTIONS as u32;
            let (mut latencies, mut slow, mut misses) = (Vec::new(), Vec::new(), 0usize);
            for n in 0u64.. {
                let scheduled = start + offset + period * n as u32;
                if scheduled >= end {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let rows = client
                    .query(&statement, &[&id_at(k, n, customers)])
                    .await
                    .expect("lookup");
                let latency = scheduled.elapsed();
                latencies.push(latency);
                if latency > Duration::from_millis(10) {
                    slow.push((scheduled - start, latency));
                }
                misses += usize::from(rows.len() != 1);
            }
            (latencies, slow, misses)
        }));
    }
    let mut result = Load {
        latencies: Vec::new(),
        slow: Vec::new(),
        misses: 0,
        elapsed: Duration::ZERO,
        last_arrival: 0,
    };
    for t in tasks {
        let (l, slow, m) = t.await.expect("client task");
        result.latencies.extend(l);
        result.slow.extend(slow);
        result.misses += m;
    }
    result.elapsed = start.elapsed();
    result.last_arrival = changes.await.expect("arrivals");
    result
}

async fn explain(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .simple_query(&format!("EXPLAIN {sql}"))
        .await
        .expect("explain")
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(1).map(str::to_owned),
            _ => None,
        })
        .collect()
}

const LOOKUP: &str =
    "SELECT customer_id, name, email, country, segment, clv, recommended_products \
    FROM customer_profile WHERE customer_id = $1";

#[tokio::main]
async fn main() {
    let customers = env_number("DATAPUNK_BENCH_CUSTOMERS", 2_000_000) as i64;
    let seconds = env_number("DATAPUNK_BENCH_SECONDS", 30);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "lookup bench: {cores} cores, commit {}; {customers} customers, {CONNECTIONS} connections, \
         {RATE_PER_SECOND} lookups/s for {seconds} s, {ARRIVAL_ROWS} new customers every {:?}",
        commit(),
        arrival_every()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let lake = tmp.path().join("lake");
    let t = Instant::now();
    arrive(&lake, 1, customers + 1);
    println!("lake written: {:.1} s", t.elapsed().as_secs_f64());
    let scripts = tmp.path().join("warehouse");
    std::fs::create_dir_all(&scripts).expect("scripts");
    std::fs::write(
        scripts.join("010_customer_profile.sql"),
        "-- key: customer_id\nCREATE TABLE warehouse.customer_profile AS SELECT * FROM lake.customers",
    )
    .expect("script");

    let t = Instant::now();
    let s = BenchServer::start_with(&lake, |c| {
        c.lake.watch = true;
        c.lake.debounce_ms = 200;
        c.warehouse.scripts_dir = scripts.display().to_string();
    })
    .await;
    println!(
        "datapunk ready (lake + warehouse): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let probe = LOOKUP.replace("$1", "1");
    let t = Instant::now();
    while !explain(&s.client, &probe).await.contains("KeyLookupExec") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "first index: {:.2} s after the first lookup",
        t.elapsed().as_secs_f64()
    );
    let scan = s
        .client
        .prepare(&LOOKUP.replace("customer_id = $1", "customer_id + 0 = $1"))
        .await
        .expect("prepare");
    let mut scans = Vec::new();
    for n in 0..10 {
        let t = Instant::now();
        s.client
            .query(&scan, &[&id_at(99, n, customers)])
            .await
            .expect("scan");
        scans.push(t.elapsed());
    }
    println!(
        "datapunk without the index (a scan per lookup): {:.1} ms median, one connection",
        median(scans).as_secs_f64() * 1000.0
    );

    let lake_dir = lake.clone();
    reset_peak_rss();
    let dp = load(
        &s.conninfo,
        LOOKUP,
        customers,
        seconds,
        move |end| async move {
            let mut next = customers + 1;
            let Some(every) = arrival_every() else {
                return next - 1;
            };
            while Instant::now() + every < end {
                tokio::time::sleep(every).await;
                println!(
                    "          arrival at {:.2} s",
                    seconds as f64 - (end - Instant::now()).as_secs_f64()
                );
                let (from, to, lake) = (next, next + ARRIVAL_ROWS, lake_dir.clone());
                tokio::task::spawn_blocking(move || arrive(&lake, from, to))
                    .await
                    .expect("arrival");
                next = to;
            }
            next - 1
        },
    )
    .await;
    dp.report("datapunk");
    println!(
        "datapunk peak RSS under load (server and clients): {} MiB",
        peak_rss_mib()
    );
    let arrived = dp.last_arrival;
    let last = LOOKUP.replace("$1", &arrived.to_string());
    let t = Instant::now();
    while s
        .client
        .query(last.as_str(), &[])
        .await
        .expect("last")
        .len()
        != 1
    {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the last arrival never showed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "datapunk: customer {arrived} (the last arrival) is served; still indexed: {}",
        explain(&s.client, &probe).await.contains("KeyLookupExec")
    );
    s.stop().await;

    let Some(pg) = postgres::LocalPostgres::start() else {
        return;
    };
    let (client, conn) = tokio_postgres::connect(&pg.conn_string(), tokio_postgres::NoTls)
        .await
        .expect("connect postgres");
    tokio::spawn(conn);
    let t = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE TABLE customer_profile (customer_id bigint PRIMARY KEY, name text, email text, \
             country text, segment text, clv double precision, recommended_products text);
             INSERT INTO customer_profile {}(1::bigint, {customers}) AS g;
             ANALYZE customer_profile;",
            pg_rows()
        ))
        .await
        .expect("load postgres");
    println!("{} loaded: {:.1} s", pg.version, t.elapsed().as_secs_f64());
    let conninfo = pg.conn_string();
    let pg_load = load(
        &conninfo,
        LOOKUP,
        customers,
        seconds,
        move |end| async move {
            let mut next = customers + 1;
            let Some(every) = arrival_every() else {
                return next - 1;
            };
            while Instant::now() + every < end {
                tokio::time::sleep(every).await;
                let to = next + ARRIVAL_ROWS;
                client
                    .batch_execute(&format!(
                        "INSERT INTO customer_profile {}({next}::bigint, {}) AS g",
                        pg_rows(),
                        to - 1
                    ))
                    .await
                    .expect("insert");
                next = to;
            }
            next - 1
        },
    )
    .await;
    pg_load.report("postgres");
    println!(
        "p99 datapunk / postgres: {:.2}",
        dp.percentile(0.99).as_secs_f64() / pg_load.percentile(0.99).as_secs_f64()
    );
}
