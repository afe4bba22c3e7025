//! TLS: sslmode=require works with psql and psycopg, plaintext is refused when TLS is
//! required, and an unreadable certificate stops startup (no silent plaintext).

use std::path::Path;
use std::process::Command;

use crate::harness::{python_has, require_tool, user, TestServer};

fn self_signed(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs")
        .status
        .success();
    assert!(ok, "openssl could not make a certificate");
    (cert.display().to_string(), key.display().to_string())
}

fn psql(port: u16, sslmode: &str) -> (bool, String) {
    let out = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} dbname=datapunk user=ann sslmode={sslmode}"
        ))
        .args(["-X", "-c", r"\conninfo", "-c", "SELECT 'over tls' AS t"])
        .env("PGPASSWORD", "ann-pw")
        .output()
        .expect("psql runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_connect_over_tls_and_plaintext_is_refused_when_required() {
    if !require_tool("psql") || !require_tool("openssl") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let server = TestServer::start(|c, _| {
        c.server.tls.cert = cert.clone();
        c.server.tls.key = key.clone();
        c.server.tls.require = true;
        c.auth.users = vec![user("ann", "ann-pw", false)];
    })
    .await;
    let port = server.addr.port();
    let (ok, out) = tokio::task::spawn_blocking(move || psql(port, "require"))
        .await
        .unwrap();
    assert!(
        ok && out.contains("SSL connection") && out.contains("over tls"),
        "{out}"
    );
    let (ok, out) = tokio::task::spawn_blocking(move || psql(port, "disable"))
        .await
        .unwrap();
    assert!(
        !ok && out.contains("only accepts encrypted connections"),
        "{out}"
    );

    if python_has("psycopg") {
        let script = format!(
            "import psycopg\nc = psycopg.connect('host=127.0.0.1 port={port} dbname=datapunk user=ann password=ann-pw sslmode=require')\nassert c.info.pgconn.ssl_in_use\nassert c.execute('SELECT 41 + 1').fetchone()[0] == 42\n"
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn an_unreadable_certificate_stops_startup() {
    let mut config = datapunk::Config::default();
    config.server.listen = "127.0.0.1:0".into();
    let lake = tempfile::tempdir().unwrap();
    config.lake.root = lake.path().display().to_string();
    config.server.tls.cert = "/nonexistent/cert.pem".into();
    config.server.tls.key = "/nonexistent/key.pem".into();
    let e = datapunk::App::build(config).await.unwrap_err().to_string();
    assert!(e.contains("server.tls.cert"), "{e}");
}
