//! Scale-out on Apache Ballista: an in-process cluster (scheduler and two executors on
//! loopback, free ports, the same code `datapunk scheduler`/`executor` run) behind a
//! server in `engine.mode = "ballista"`; every query answers exactly as on a local
//! server over the same lake.

use std::time::Duration;

use datapunk::cluster::{run_executor, ExecutorOptions, RunningScheduler, SchedulerOptions};
use tokio::task::JoinHandle;

use crate::harness::{eventually, ServerProcess, TestServer};
use crate::marketing::rows;

/// A scheduler and its executors, stopped when dropped.
pub struct TestCluster {
    scheduler: RunningScheduler,
    executors: Vec<JoinHandle<()>>,
    _work: Vec<tempfile::TempDir>,
}

impl TestCluster {
    pub async fn start(executors: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let options = SchedulerOptions {
            advertise: None,
            min_ready_executors: executors,
            executor_timeout_seconds: 10,
        };
        let scheduler = RunningScheduler::start(listener, &options)
            .await
            .expect("scheduler starts");
        let mut handles = Vec::new();
        let mut work = Vec::new();
        for _ in 0..executors {
            let dir = tempfile::tempdir().expect("tempdir");
            let options = ExecutorOptions {
                scheduler: scheduler.addr.to_string(),
                bind: "127.0.0.1:0".parse().expect("addr"),
                advertise: None,
                work_dir: dir.path().to_path_buf(),
                vcores: 2,
                memory_bytes: 512 << 20,
                heartbeat_seconds: 1,
            };
            work.push(dir);
            handles.push(tokio::spawn(async move {
                if let Err(e) = run_executor(&options, |_, _| {}).await {
                    eprintln!("executor stopped: {e}");
                }
            }));
        }
        eventually(Duration::from_secs(60), || async {
            scheduler.is_ready().then_some(())
        })
        .await;
        Self {
            scheduler,
            executors: handles,
            _work: work,
        }
    }

    /// What `[engine] scheduler` says to reach it.
    pub fn url(&self) -> String {
        format!("df://{}", self.scheduler.addr)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for e in &self.executors {
            e.abort();
        }
        self.scheduler.stop();
    }
}

/// Queries over the lake that must answer the same on the cluster: scans, filters,
/// joins, aggregations, windows, sorts, PostgreSQL functions and types.
const SAME_ANSWERS: &[&str] = &[
    "SELECT count(*) FROM lake.order_lines",
    "SELECT customer_id, count(*) AS n, sum(quantity) FROM lake.order_lines GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 20",
    "SELECT c.country, count(DISTINCT o.order_id), round(avg(l.unit_price)::numeric, 2) \
     FROM lake.orders o JOIN lake.customers c USING (customer_id) \
     JOIN lake.order_lines l ON l.order_id = o.order_id GROUP BY c.country ORDER BY 1",
    "SELECT order_id, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) \
     FROM lake.orders ORDER BY order_id LIMIT 50",
    "SELECT date_trunc('month', order_ts) AS m, count(*) FROM lake.orders GROUP BY 1 ORDER BY 1",
    "SELECT customer_id, to_char(order_ts, 'YYYY-MM-DD') FROM lake.orders WHERE customer_id < 5 ORDER BY 1, 2",
];

/// A local server and a server in ballista mode on `cluster`, over one lake: the tiny
/// lake plus the CDNOW fixtures.
async fn twins(cluster: &TestCluster) -> (TestServer, TestServer) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cdnow");
    let local = TestServer::start(|_, dir| {
        for file in ["cdnow_master.parquet", "cdnow_sample.csv"] {
            std::fs::copy(fixtures.join(file), dir.join("lake").join(file)).expect("fixture");
        }
    })
    .await;
    let (url, lake) = (cluster.url(), local.lake.clone());
    let distributed = TestServer::start(move |c, _| {
        c.lake.root = lake.display().to_string();
        c.engine.mode = "ballista".into();
        c.engine.scheduler = url;
    })
    .await;
    (local, distributed)
}

/// The marketing functions on the cluster: window and aggregate functions in plain SQL
/// run on executors; table functions run their input query there.
const SAME_MARKETING_ANSWERS: &[&str] = &[
    "WITH c AS (SELECT customer_id, DATE '1998-07-01' - max(order_date) AS recency_days, \
       count(*) AS frequency, sum(dollar_value) AS monetary FROM lake.cdnow_master GROUP BY customer_id) \
     SELECT customer_id, rfm_score(recency_days, higher_is_better => false) OVER (ORDER BY customer_id), \
       rfm_score(frequency, ties => 'same') OVER (ORDER BY customer_id), \
       rfm_score(monetary, 5) OVER (ORDER BY customer_id) FROM c ORDER BY customer_id",
    "SELECT customer, recency_days, frequency, monetary, r, f, m, segment \
     FROM rfm('lake.cdnow_master', 'customer_id', 'order_date', 'dollar_value', DATE '1998-07-01') \
     ORDER BY customer",
    "SELECT get_field(model, 'sizes'), round(get_field(model, 'inertia')::numeric, 6) FROM \
     (SELECT kmeans_fit([ln(1 + recency_days), ln(1 + frequency), ln(1 + monetary)], 4, seed => 7) AS model \
      FROM rfm('lake.cdnow_master', 'customer_id', 'order_date', 'dollar_value', DATE '1998-07-01')) m",
    "SELECT get_field(model, 'sizes') FROM (SELECT kmeans_fit([ln(1 + spent), ln(1 + cds)], 3, \
     init => customer_id IN (1, 500, 9000)) AS model FROM (SELECT customer_id, sum(dollar_value) AS spent, \
     sum(number_of_cds) AS cds FROM lake.cdnow_master GROUP BY customer_id) c) m",
    "SELECT item_a, item_b, co_count, n_a, n_b, round(score::numeric, 9) FROM item_cooccurrence('lake.order_lines', \
     'order_id', 'product_id', min_support => 1, top_k => 1000000, max_basket_size => 5) ORDER BY 1, 2",
    "SELECT customer, frequency, recency, t, round(clv::numeric, 6) FROM customer_clv('lake.cdnow_sample', \
     'customer_id', 'date', 'dollar_value', DATE '1997-09-30') ORDER BY customer",
    include_str!("../../benches/queries/rfm_function.sql"),
    "SELECT customer, recency_days, frequency, round(monetary::numeric, 6), rfm_code \
     FROM rfm('SELECT CAST(customer_id AS text) AS c, order_ts, CAST(unit_price AS double precision) AS p \
     FROM lake.order_lines', 'c', 'order_ts', 'p', DATE '2024-06-30', n => 4) ORDER BY customer",
];

/// The anchor workload's three queries (benches/queries), over the tiny lake.
const BENCH_QUERIES: &[&str] = &[
    include_str!("../../benches/queries/rfm.sql"),
    include_str!("../../benches/queries/cohort_retention.sql"),
    include_str!("../../benches/queries/copurchase_pairs.sql"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lake_queries_answer_on_the_cluster_as_locally() {
    let cluster = TestCluster::start(2).await;
    let (local, distributed) = twins(&cluster).await;
    let (here, there) = (local.client().await, distributed.client().await);
    let all = SAME_ANSWERS
        .iter()
        .chain(SAME_MARKETING_ANSWERS)
        .chain(BENCH_QUERIES);
    for sql in all {
        let expected = rows(&here, sql).await;
        assert!(!expected.is_empty(), "{sql}: no rows");
        assert_eq!(rows(&there, sql).await, expected, "{sql}");
    }
    // A query's own error keeps its SQLSTATE when it happens on an executor.
    for sql in [
        "SELECT sum(1 / (customer_id - customer_id)) FROM lake.customers",
        "SELECT CAST(country AS integer) FROM lake.customers",
    ] {
        let local_err = here.simple_query(sql).await.expect_err(sql);
        let cluster_err = there.simple_query(sql).await.expect_err(sql);
        assert_eq!(
            crate::harness::sqlstate(&cluster_err),
            crate::harness::sqlstate(&local_err),
            "{sql}: {cluster_err:?}"
        );
    }
    let plan = rows(&there, "EXPLAIN SELECT count(*) FROM lake.orders").await;
    let plan = format!("{plan:?}");
    assert!(plan.contains("ClusterJobExec"), "{plan}");
    // rfm() has the cluster reduce its input per customer, and scores the totals here.
    let plan = rows(&there, &format!("EXPLAIN {}", SAME_MARKETING_ANSWERS[1])).await;
    let plan = format!("{plan:?}");
    assert!(
        plan.contains("reduced per key") && plan.contains("ClusterJobExec"),
        "{plan}"
    );
    let catalog = rows(&there, "EXPLAIN SELECT count(*) FROM pg_catalog.pg_class").await;
    assert!(
        !format!("{catalog:?}").contains("ClusterJobExec"),
        "{catalog:?}"
    );

    // Without the cluster, lake queries fail clearly and the rest keeps working.
    drop(cluster);
    let started = std::time::Instant::now();
    let err = there
        .simple_query("SELECT count(*) FROM lake.customers")
        .await
        .expect_err("no cluster");
    assert_eq!(crate::harness::sqlstate(&err), "08001", "{err:?}");
    assert!(format!("{err:?}").contains("scheduler"), "{err:?}");
    // A table function's input runs there too (not answered from the result cache).
    let err = there
        .simple_query(&SAME_MARKETING_ANSWERS[1].replace("1998-07-01", "1998-08-01"))
        .await
        .expect_err("no cluster");
    assert_eq!(crate::harness::sqlstate(&err), "08001", "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        rows(&there, "SELECT 1").await,
        vec![vec![Some("1".to_owned())]]
    );
}

const BIN: &str = env!("CARGO_BIN_EXE_datapunk");

/// Starts `datapunk args...` and waits for a line of its `stdout` (or `stderr`)
/// containing `marker`; returns the process and the text after the marker.
fn spawn_until(
    args: &[&str],
    home: &std::path::Path,
    marker: &str,
    on_stderr: bool,
) -> (ServerProcess, String) {
    use std::io::{BufRead, BufReader};
    let mut child = ServerProcess(
        std::process::Command::new(BIN)
            .args(args)
            .env("XDG_CACHE_HOME", home)
            .env("XDG_DATA_HOME", home)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("datapunk starts"),
    );
    let (out, err) = (
        child.0.stdout.take().unwrap(),
        child.0.stderr.take().unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    for (is_err, pipe) in [
        (false, Box::new(out) as Box<dyn std::io::Read + Send>),
        (true, Box::new(err)),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send((is_err, line));
            }
        });
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut log = Vec::new();
    loop {
        let (is_err, line) = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| {
                panic!(
                    "datapunk {args:?}: no {marker:?}; output:\n{}",
                    log.join("\n")
                )
            });
        log.push(line.clone());
        if is_err == on_stderr {
            if let Some(rest) = line.split(marker).nth(1) {
                // Keep draining so the process never blocks on a full pipe.
                std::thread::spawn(move || for _ in rx {});
                return (child, rest.trim().to_owned());
            }
        }
    }
}

/// `datapunk executor` number `i` for the scheduler at `scheduler` on free ports, two
/// task slots, `extra` flags; returns it and the ports it printed.
fn spawn_executor(
    scheduler: &str,
    home: &std::path::Path,
    i: usize,
    extra: &[&str],
) -> (ServerProcess, String) {
    let work = home.join(format!("work{i}")).display().to_string();
    let mut args = vec![
        "executor",
        "--scheduler",
        scheduler,
        "--bind",
        "127.0.0.1:0",
        "--work-dir",
        &work,
        "--vcores",
        "2",
    ];
    args.extend_from_slice(extra);
    spawn_until(&args, home, "datapunk executor serving results on ", false)
}

fn psql(port: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-p",
            port,
            "-U",
            "analyst",
            "-d",
            "datapunk",
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("running psql");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("ERROR"),
        "psql {sql}: {err}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A user's cluster: `datapunk scheduler`, two `datapunk executor`s and `datapunk serve
/// --engine ballista` as separate processes, driven with psql; the same answers as a
/// local server over the same lake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_form_a_cluster_psql_can_use() {
    if !crate::harness::require_tool("psql") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let lake = home.path().join("lake");
    datapunk::testing::tiny_lake(&lake);
    let (_scheduler, scheduler) = spawn_until(
        &["scheduler", "--bind", "127.0.0.1:0"],
        home.path(),
        "datapunk scheduler listening on ",
        false,
    );
    let mut executors = Vec::new();
    for i in 0..2 {
        let (process, ports) = spawn_executor(&scheduler, home.path(), i, &[]);
        assert!(ports.contains("tasks on 127.0.0.1:"), "{ports}");
        executors.push(process);
    }
    let lake_arg = lake.display().to_string();
    let url = format!("df://{scheduler}");
    let mut ports = Vec::new();
    let mut servers = Vec::new();
    for engine in [
        vec!["--engine", "ballista", "--scheduler", url.as_str()],
        vec![],
    ] {
        let state = tempfile::tempdir().unwrap();
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--lake",
            lake_arg.as_str(),
        ];
        args.extend(engine);
        let (server, rest) = spawn_until(
            &args,
            state.path(),
            "datapunk ready: psql -h 127.0.0.1 -p ",
            true,
        );
        ports.push(
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .to_owned(),
        );
        servers.push((server, state));
    }
    tokio::task::block_in_place(|| {
        let plan = psql(&ports[0], "EXPLAIN SELECT count(*) FROM lake.order_lines");
        assert!(plan.contains("ClusterJobExec"), "{plan}");
        for sql in SAME_ANSWERS {
            assert_eq!(psql(&ports[0], sql), psql(&ports[1], sql), "{sql}");
        }
    });
}

/// Long on any machine: 8e9 combinations of the tiny lake's 2,000 order lines.
const LONG: &str = "SELECT count(*) FROM lake.order_lines a CROSS JOIN lake.order_lines b \
    CROSS JOIN lake.order_lines c WHERE a.quantity + b.quantity + c.quantity > 1000";

/// The demo warehouse built by a server in ballista mode (its scripts' lake and
/// warehouse reads run on the cluster) holds the same rows as one built locally, and
/// queries over it run on the cluster too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_warehouse_builds_on_the_cluster_as_locally() {
    let cluster = TestCluster::start(2).await;
    let local = TestServer::with_warehouse().await;
    let (url, lake) = (cluster.url(), local.lake.clone());
    let mut distributed = TestServer::start(move |c, _| {
        c.lake.root = lake.display().to_string();
        c.warehouse.scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse").into();
        c.engine.mode = "ballista".into();
        c.engine.scheduler = url;
    })
    .await;
    let (here, there) = (local.client().await, distributed.client().await);
    let tables = rows(
        &here,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'warehouse' ORDER BY 1",
    )
    .await;
    assert!(tables.len() >= 5, "{tables:?}");
    let failed = rows(
        &there,
        "SELECT table_name, error FROM datapunk.warehouse_tables WHERE state <> 'ok'",
    )
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    for table in tables {
        let table = table[0].clone().unwrap();
        let sql = format!("SELECT * FROM warehouse.{table}");
        let (mut expected, mut got) = (rows(&here, &sql).await, rows(&there, &sql).await);
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "warehouse.{table}");
    }

    // Warehouse tables are Parquet files the executors read: a query over them, alone or
    // joined with the lake, runs on the cluster; a key lookup is answered here.
    for sql in [
        "SELECT count(*), sum(orders), sum(revenue) FROM warehouse.customers WHERE orders > 1",
        "SELECT c.country, count(*), sum(l.quantity) FROM warehouse.customers c \
         JOIN lake.order_lines l USING (customer_id) GROUP BY 1 ORDER BY 1",
    ] {
        assert_eq!(rows(&there, sql).await, rows(&here, sql).await, "{sql}");
        let plan = format!("{:?}", rows(&there, &format!("EXPLAIN {sql}")).await);
        assert!(plan.contains("ClusterJobExec"), "{sql}: {plan}");
    }
    let lookup = "SELECT * FROM warehouse.customers WHERE customer_id = 7";
    assert_eq!(rows(&there, lookup).await, rows(&here, lookup).await);
    let plan = format!("{:?}", rows(&there, &format!("EXPLAIN {lookup}")).await);
    assert!(!plan.contains("ClusterJobExec"), "{plan}");

    // A restart serves the tables built before, without building them again.
    let built = "SELECT table_name, rows, built_at FROM datapunk.warehouse_tables ORDER BY 1";
    let before = rows(&there, built).await;
    drop(there);
    distributed.restart().await;
    let there = distributed.client().await;
    assert_eq!(rows(&there, built).await, before);
    let sql = "SELECT count(*), sum(revenue) FROM warehouse.customers";
    assert_eq!(rows(&there, sql).await, rows(&here, sql).await);
}

/// With `[engine] min_cluster_mb`, plans over small tables answer in the server, without
/// a job's overhead: with the scheduler gone they still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plans_over_small_tables_stay_local_under_min_cluster_mb() {
    let cluster = TestCluster::start(1).await;
    let url = cluster.url();
    let server = TestServer::start(move |c, _| {
        c.engine.mode = "ballista".into();
        c.engine.scheduler = url;
        c.engine.min_cluster_mb = 1;
    })
    .await;
    let client = server.client().await;
    let sql =
        "SELECT customer_id, count(*) FROM lake.order_lines GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5";
    let plan = format!("{:?}", rows(&client, &format!("EXPLAIN {sql}")).await);
    assert!(!plan.contains("ClusterJobExec"), "{plan}");
    let answer = rows(&client, sql).await;
    assert_eq!(answer.len(), 5, "{answer:?}");
    drop(cluster);
    assert_eq!(rows(&client, sql).await, answer);
}

/// A server in ballista mode over the tiny lake.
async fn distributed(cluster: &TestCluster) -> TestServer {
    let url = cluster.url();
    TestServer::start(move |c, _| {
        c.engine.mode = "ballista".into();
        c.engine.scheduler = url;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_and_statement_timeout_stop_the_job_on_the_cluster() {
    let cluster = TestCluster::start(2).await;
    let server = distributed(&cluster).await;
    let client = server.client().await;
    // Under a loaded CI box a cancelled job takes a while to wind down on the scheduler;
    // each wait says which step did not happen.
    let jobs_end = |step: &'static str| {
        let scheduler = &cluster.scheduler;
        async move {
            let waited = tokio::time::timeout(Duration::from_secs(90), async {
                while scheduler.running_jobs() > 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await;
            assert!(
                waited.is_ok(),
                "{step}: {} jobs still running on the cluster after 90 s",
                scheduler.running_jobs()
            );
        }
    };

    // (long enough for the job to be submitted on a loaded box: a drop during the
    // submission RPC itself cannot cancel a job whose id is not known yet)
    client
        .batch_execute("SET statement_timeout = '3s'")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = client.simple_query(LONG).await.expect_err("times out");
    assert_eq!(crate::harness::sqlstate(&err), "57014", "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    jobs_end("after statement_timeout").await;

    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let token = client.cancel_token();
    let running = tokio::spawn(async move { client.simple_query(LONG).await.map(|_| ()) });
    let started = tokio::time::timeout(Duration::from_secs(90), async {
        while cluster.scheduler.running_jobs() == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        started.is_ok(),
        "the long query's job never ran on the cluster"
    );
    token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let err = running.await.unwrap().expect_err("cancelled");
    assert_eq!(crate::harness::sqlstate(&err), "57014", "{err:?}");
    jobs_end("after CancelRequest").await;

    // The cluster is free again: a short query answers at once.
    let client = server.client().await;
    let n = crate::harness::scalar(&client, "SELECT count(*) FROM lake.orders").await;
    assert!(n.is_some_and(|n| n.parse::<i64>().unwrap() > 0));
}

/// An executor killed with SIGKILL: queries either still answer right (the tasks run on
/// the other executor) or fail with a clear error, never hang; once the scheduler has
/// noticed, queries answer right again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_executor_never_hangs_a_query() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = SchedulerOptions {
        advertise: None,
        min_ready_executors: 2,
        executor_timeout_seconds: 5,
    };
    let scheduler = RunningScheduler::start(listener, &options).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let address = scheduler.addr.to_string();
    let mut executors: Vec<ServerProcess> = (0..2)
        .map(|i| spawn_executor(&address, home.path(), i, &["--heartbeat", "1"]).0)
        .collect();
    eventually(Duration::from_secs(60), || async {
        scheduler.is_ready().then_some(())
    })
    .await;
    let local = TestServer::start(|_, _| {}).await;
    let url = format!("df://{address}");
    let lake = local.lake.clone();
    let server = TestServer::start(move |c, _| {
        c.lake.root = lake.display().to_string();
        c.engine.mode = "ballista".into();
        c.engine.scheduler = url;
    })
    .await;
    let (here, there) = (local.client().await, server.client().await);
    let sql =
        "SELECT customer_id, count(*), sum(quantity) FROM lake.order_lines GROUP BY 1 ORDER BY 1";
    let expected = rows(&here, sql).await;

    let victim = &mut executors[0].0;
    victim.kill().unwrap();
    victim.wait().unwrap();
    for attempt in 0..3 {
        let answer = tokio::time::timeout(Duration::from_secs(90), there.simple_query(sql))
            .await
            .unwrap_or_else(|_| panic!("attempt {attempt} hangs"));
        match answer {
            Ok(_) => assert_eq!(rows(&there, sql).await, expected),
            Err(e) => {
                let state = crate::harness::sqlstate(&e);
                assert!(["08006", "XX000"].contains(&state.as_str()), "{e:?}");
            }
        }
    }
    // Once the executor's heartbeats have stopped long enough, the survivor answers.
    eventually(Duration::from_secs(60), || async {
        match there.simple_query(sql).await {
            Ok(_) => Some(()),
            Err(_) => None,
        }
    })
    .await;
    assert_eq!(rows(&there, &format!("{sql} LIMIT 100000")).await, expected);
}
