//! Hostile and broken clients: random bytes, unknown message types, negative and huge
//! lengths, clients that vanish mid-message or mid-result. None may crash the server,
//! affect other connections, or leave memory above its baseline.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{rss_kib, scalar, TestServer, MEMORY_HEAVY};

fn startup_packet() -> Vec<u8> {
    let params = b"user\0x\0database\0datapunk\0\0";
    let mut body = 196_608u32.to_be_bytes().to_vec();
    body.extend_from_slice(params);
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

/// Logs in (trust) and returns the socket at ReadyForQuery.
async fn logged_in(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&startup_packet()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(6).any(|w| w == b"Z\0\0\0\x05I") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("server answers startup")
            .unwrap();
        assert!(n > 0, "server closed during startup");
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

/// Sends `bytes` and reads until the server closes (or 3 s pass); returns what it said.
async fn send_and_drain(mut s: TcpStream, bytes: &[u8]) -> Vec<u8> {
    let _ = s.write_all(bytes).await;
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            said.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    said
}

/// Sends `bytes` and expects FATAL 08P01 (protocol violation), then the close.
async fn expect_protocol_violation(s: TcpStream, bytes: &[u8]) {
    let said = send_and_drain(s, bytes).await;
    // Walk the backend messages (type byte, length) to the ErrorResponse.
    let mut at = 0;
    let mut error = None;
    while at + 5 <= said.len() {
        let len = u32::from_be_bytes(said[at + 1..at + 5].try_into().unwrap()) as usize;
        let body = &said[(at + 5).min(said.len())..(at + 1 + len).min(said.len())];
        if said[at] == b'E' {
            error = Some(body);
        }
        at += 1 + len;
    }
    let has = |field: &[u8]| error.is_some_and(|e| e.split(|b| *b == 0).any(|f| f == field));
    assert!(
        has(b"C08P01") && has(b"SFATAL"),
        "expected FATAL 08P01 after {bytes:?}, got {said:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_clients_never_hurt_the_server_or_other_connections() {
    let _exclusive = MEMORY_HEAVY.lock().await;
    let server = TestServer::start(|_, _| {}).await;
    let bystander = server.client().await;
    let addr = server.addr;
    let before = rss_kib();

    for round in 0..20u8 {
        // Random bytes instead of a startup packet.
        let s = TcpStream::connect(addr).await.unwrap();
        let noise: Vec<u8> = (0..256u32)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(round))
            .collect();
        expect_protocol_violation(s, &noise).await;
        // Unknown message type after login.
        expect_protocol_violation(logged_in(addr).await, b"y\0\0\0\x08abcd").await;
        // Negative length, and a length shorter than the length field itself.
        expect_protocol_violation(logged_in(addr).await, b"Q\xff\xff\xff\xfb").await;
        expect_protocol_violation(logged_in(addr).await, b"Q\0\0\0\x02").await;
        expect_protocol_violation(logged_in(addr).await, b"P\0\0\0\x00").await;
        // A length of 2 GB (must not be allocated).
        expect_protocol_violation(logged_in(addr).await, b"Q\x7f\xff\xff\xf0SELECT 1").await;
        // Half a message, then gone.
        let mut s = logged_in(addr).await;
        s.write_all(b"Q\0\0\0\x64SEL").await.unwrap();
        drop(s);
        // Gone in the middle of a large result.
        let mut s = logged_in(addr).await;
        let q = b"SELECT v FROM generate_series(1, 5000000) AS t(v)\0";
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((q.len() + 4) as u32).to_be_bytes());
        msg.extend_from_slice(q);
        s.write_all(&msg).await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        drop(s);
        // The bystander is unaffected.
        assert_eq!(
            scalar(&bystander, "SELECT count(*) FROM lake.products")
                .await
                .as_deref(),
            Some("200")
        );
    }
    // New connections still work; memory is back near its baseline.
    let c = server.client().await;
    assert_eq!(scalar(&c, "SELECT 1").await.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let growth_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(growth_mib < 64, "RSS grew by {growth_mib} MiB");
}

/// A statement that trips a bug in the engine (here DataFusion 55's duration average,
/// whose partial sums overflow: a panic in a debug build, which `cargo test` is) gets
/// XX000 and the connection goes on, in both protocols; other connections never notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_panics_gets_an_internal_error_and_the_connection_goes_on() {
    // Printing a panic's backtrace loads debug symbols: not while memory is measured.
    let _exclusive = MEMORY_HEAVY.lock().await;
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let bystander = server.client().await;
    let overflowing = "SELECT avg(d) FROM (SELECT arrow_cast(9000000000000000000, \
                       'Duration(Nanosecond)') AS d UNION ALL SELECT \
                       arrow_cast(9000000000000000000, 'Duration(Nanosecond)'))";
    let simple = c.simple_query(overflowing).await.unwrap_err();
    assert_eq!(crate::harness::sqlstate(&simple), "XX000", "{simple}");
    assert_eq!(scalar(&c, "SELECT 1").await.as_deref(), Some("1"));
    let extended = c.query(overflowing, &[]).await.unwrap_err();
    assert_eq!(crate::harness::sqlstate(&extended), "XX000", "{extended}");
    let row = c
        .query_one("SELECT $1::TEXT", &[&"still here"])
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "still here");
    assert_eq!(scalar(&bystander, "SELECT 2").await.as_deref(), Some("2"));
}
