//! TLS: sslmode=require works with psql, psycopg and pgjdbc, PostgreSQL 17's direct TLS
//! handshake (ALPN `postgresql`) works, plaintext is refused when TLS is required, and an
//! unreadable certificate stops startup (no silent plaintext).

use std::path::Path;
use std::process::Command;

use crate::harness::{present_or_skip, python_has, require_tool, user, TestServer};

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
            "import psycopg\nc = psycopg.connect('host=127.0.0.1 port={port} dbname=datapunk user=ann password=ann-pw sslmode=require')\nassert c.info.pgconn.ssl_in_use\nassert c.execute('SELECT 41 + 1').fetchone()[0] == 42\nassert c.execute('SELECT ssl, pid FROM pg_stat_ssl WHERE pid = pg_backend_pid()').fetchone() == (True, c.info.backend_pid)\n"
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

    let jar = crate::jdbc::JAR;
    if require_tool("java")
        && present_or_skip(
            Path::new(jar).exists(),
            jar,
            "apt-get install libpostgresql-jdbc-java",
        )
    {
        let args = [&port.to_string(), "ann", "ann-pw", "require"];
        crate::jdbc::run_jdbc_check(args.iter().map(|a| a.to_string()).collect()).await;
    }

    direct_tls_handshake(server.addr).await;
}

/// PostgreSQL 17 clients may skip SSLRequest and start TLS at once, offering ALPN
/// `postgresql`; the startup packet then travels inside TLS.
async fn direct_tls_handshake(addr: std::net::SocketAddr) {
    use datafusion_postgres::pgwire::tokio::tokio_rustls::rustls;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Debug)]
    struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    let connector =
        datafusion_postgres::pgwire::tokio::tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("direct TLS handshake");
    let params = b"user\0ann\0database\0datapunk\0\0";
    let mut packet = ((params.len() + 8) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(&196_608u32.to_be_bytes());
    packet.extend_from_slice(params);
    tls.write_all(&packet).await.unwrap();
    let mut reply = [0u8; 9];
    tls.read_exact(&mut reply)
        .await
        .expect("an answer inside TLS");
    // 'R' AuthenticationSASL (code 10): the password exchange starts.
    assert_eq!(reply[0], b'R', "{reply:?}");
    assert_eq!(u32::from_be_bytes(reply[5..9].try_into().unwrap()), 10);
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
