//! pgjdbc: DatabaseMetaData with correct JDBC types, PreparedStatement parameters and
//! setFetchSize streaming (portal suspension), via `tests/clients/JdbcCheck.java`.

use crate::harness::{present_or_skip, require_tool, TestServer};

pub const JAR: &str = "/usr/share/java/postgresql.jar";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_metadata_prepared_statements_and_fetch_size() {
    if !require_tool("java")
        || !present_or_skip(
            std::path::Path::new(JAR).exists(),
            JAR,
            "apt-get install libpostgresql-jdbc-java",
        )
    {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    let port = server.addr.port().to_string();
    run_jdbc_check(vec![port, "analyst".into()]).await;
}

/// Runs `tests/clients/JdbcCheck.java` with `args` (PORT USER [PASSWORD SSLMODE]) and
/// expects it to print `ok jdbc`.
pub async fn run_jdbc_check(args: Vec<String>) {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/JdbcCheck.java");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("java")
            .args(["-cp", JAR, source])
            .args(&args)
            .output()
            .expect("java runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok jdbc"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
