//! node-postgres (`pg`) with parameters against a real server.

use crate::harness::{present_or_skip, require_tool, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_queries_with_parameters() {
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/node_modules/pg");
    if !require_tool("node")
        || !present_or_skip(
            std::path::Path::new(modules).exists(),
            "node module pg",
            "npm install --prefix tests/clients",
        )
    {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    let port = server.addr.port().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/node_pg.js");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .args([script, &port, "analyst"])
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok node-postgres"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
