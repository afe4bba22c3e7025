//! psycopg 3 (Python) with a password reads every lake table with exact types and values.

use crate::harness::{python_has, user, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_reads_every_lake_table_with_a_password() {
    if !python_has("psycopg") {
        return;
    }
    let server = TestServer::start(|c, _| c.auth.users = vec![user("ann", "pw-ann", false)]).await;
    let dsn = server.conn_string("ann", Some("pw-ann"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg_read_lake.py"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &dsn])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "psycopg check failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        5,
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_named_cursors_fetch_in_batches_and_parameters_round_trip() {
    if !python_has("psycopg") {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    let dsn = server.conn_string("analyst", None);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg_cursors.py"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &dsn])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "psycopg cursors failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
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
    let port = server.addr.port().to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/python_drivers.py"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, "127.0.0.1", &port, "analyst"])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python drivers failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        3,
        "{stdout}"
    );
}
