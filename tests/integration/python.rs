//! Python drivers against a real server: psycopg 3 (password login, every lake table with
//! exact types, named cursors, typed parameters, pipeline mode), psycopg2, asyncpg,
//! SQLAlchemy 2 + pandas. The client code lives in `tests/clients/*.py`.

use crate::harness::{python_has, user, TestServer};

/// Runs `tests/clients/<script>` with `args`; panics with its output unless it succeeds.
async fn run_client(script: &str, args: Vec<String>) -> String {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(&path)
            .args(&args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_reads_every_lake_table_with_a_password() {
    if !python_has("psycopg") {
        return;
    }
    let server = TestServer::start(|c, _| c.auth.users = vec![user("ann", "pw-ann", false)]).await;
    let dsn = server.conn_string("ann", Some("pw-ann"));
    let stdout = run_client("psycopg_read_lake.py", vec![dsn]).await;
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        8,
        "seven tables and COPY: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_binds_every_lake_type_in_text_and_binary() {
    if !python_has("psycopg") {
        return;
    }
    let server = crate::lake_types::server().await;
    let stdout = run_client(
        "psycopg_parameters.py",
        vec![server.conn_string("analyst", None)],
    )
    .await;
    assert!(stdout.contains("ok errors"), "{stdout}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_named_cursors_fetch_in_batches_and_parameters_round_trip() {
    if !python_has("psycopg") {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    let stdout = run_client(
        "psycopg_cursors.py",
        vec![server.conn_string("analyst", None)],
    )
    .await;
    assert!(stdout.contains("ok cursors"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg2_asyncpg_sqlalchemy_and_pandas_work() {
    for module in ["psycopg2", "asyncpg", "sqlalchemy", "pandas"] {
        if !python_has(module) {
            return;
        }
    }
    let server = TestServer::start(|_, _| {}).await;
    let args = vec![
        "127.0.0.1".to_owned(),
        server.addr.port().to_string(),
        "analyst".to_owned(),
    ];
    let stdout = run_client("python_drivers.py", args).await;
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        3,
        "{stdout}"
    );
}
