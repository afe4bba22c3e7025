//! pgbench with a custom aggregate script on the lake, 8 clients, simple and extended
//! protocol: every transaction succeeds.

use crate::harness::{require_tool, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_runs_without_failed_transactions() {
    if !require_tool("pgbench") {
        return;
    }
    let server = TestServer::start(|_, _| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lake.sql");
    std::fs::write(
        &script,
        "\\set cid random(1, 40)\nSELECT count(*), sum(quantity * unit_price) FROM lake.order_lines WHERE customer_id = :cid;\n",
    )
    .unwrap();
    for mode in ["simple", "extended"] {
        let port = server.addr.port().to_string();
        let script = script.display().to_string();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("pgbench")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "bench",
                    "-n",
                    "-M",
                    mode,
                ])
                .args(["-c", "8", "-t", "20", "-f", &script, "datapunk"])
                .output()
                .expect("pgbench runs")
        })
        .await
        .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "pgbench -M {mode}:\n{text}");
        assert!(
            text.contains("number of transactions actually processed: 160/160"),
            "{text}"
        );
        assert!(text.contains("number of failed transactions: 0 "), "{text}");
    }
}
