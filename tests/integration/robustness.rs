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

/// One frontend message: type byte, length, body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Parse (unnamed, untyped) + Bind (`formats` for the parameters, `results` for the
/// columns) + Execute + Sync.
fn extended_query(sql: &str, formats: &[i16], params: &[&[u8]], results: &[i16]) -> Vec<u8> {
    let mut parse = b"\0".to_vec();
    parse.extend_from_slice(sql.as_bytes());
    parse.extend_from_slice(&[0, 0, 0]);
    let mut bind = b"\0\0".to_vec();
    bind.extend_from_slice(&(formats.len() as i16).to_be_bytes());
    for f in formats {
        bind.extend_from_slice(&f.to_be_bytes());
    }
    bind.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for p in params {
        bind.extend_from_slice(&(p.len() as i32).to_be_bytes());
        bind.extend_from_slice(p);
    }
    bind.extend_from_slice(&(results.len() as i16).to_be_bytes());
    for f in results {
        bind.extend_from_slice(&f.to_be_bytes());
    }
    let mut out = message(b'P', &parse);
    out.extend(message(b'B', &bind));
    out.extend(message(b'E', b"\0\0\0\0\0"));
    out.extend(message(b'S', b""));
    out
}

/// Sends `bytes` and reads to ReadyForQuery: the SQLSTATEs of the errors and the first
/// column's text of each DataRow.
async fn round_trip(s: &mut TcpStream, bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    s.write_all(bytes).await.unwrap();
    let (mut errors, mut rows) = (Vec::new(), Vec::new());
    loop {
        let mut head = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut head))
            .await
            .expect("the server answers")
            .expect("the connection stays open");
        let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize - 4;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.unwrap();
        match head[0] {
            b'E' => errors.extend(
                body.split(|b| *b == 0)
                    .filter_map(|f| f.strip_prefix(b"C"))
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
            ),
            b'D' => {
                let n = i32::from_be_bytes(body[2..6].try_into().unwrap());
                rows.push(String::from_utf8_lossy(&body[6..6 + n.max(0) as usize]).into_owned());
            }
            b'Z' => return (errors, rows),
            _ => {}
        }
    }
}

/// Bind messages PostgreSQL refuses (format counts that do not match, array text nested
/// past 6 dimensions or 100k deep, sub-arrays beside scalars) get an error and the
/// connection goes on; decimals of different scales in one array keep their values.
/// Then text that is no value of its type is told, as PostgreSQL tells it, from a value
/// out of its type's range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bind_messages_get_errors_and_the_connection_goes_on() {
    let server = TestServer::start(|_, _| {}).await;
    let mut s = logged_in(server.addr).await;
    let three = "SELECT $1::int, $2::int, $3::int";
    let cases: [(Vec<u8>, &str); 5] = [
        (
            extended_query(three, &[0, 0], &[b"1", b"2", b"3"], &[]),
            "08P01",
        ),
        (
            extended_query(three, &[], &[b"1", b"2", b"3"], &[0, 0]),
            "08P01",
        ),
        (
            extended_query("SELECT $1::int[]", &[], &[b"{1,{2}}"], &[]),
            "22P02",
        ),
        (
            extended_query("SELECT $1::int[]", &[], &[b"{{{{{{{1}}}}}}}"], &[]),
            "54000",
        ),
        (
            extended_query(
                "SELECT $1::int[]",
                &[],
                &[format!("{}1{}", "{".repeat(100_000), "}".repeat(100_000)).as_bytes()],
                &[],
            ),
            "54000",
        ),
    ];
    for (bytes, code) in cases {
        let (errors, rows) = round_trip(&mut s, &bytes).await;
        assert_eq!(errors, vec![code.to_owned()], "rows {rows:?}");
    }
    let (errors, rows) = round_trip(
        &mut s,
        &extended_query("SELECT $1::numeric[]", &[], &[b"{1.5,10.25,NULL}"], &[]),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    // Each value kept (10.25 was read as 102.5 at 1.5's scale); `numeric[]` without a
    // precision is DataFusion's numeric(38,10), hence the digits.
    assert_eq!(rows, vec!["{1.5000000000,10.2500000000,NULL}".to_owned()]);
    let (errors, rows) = round_trip(
        &mut s,
        &extended_query(
            three,
            &[1],
            &[&[0, 0, 0, 7], &[0, 0, 0, 8], &[0, 0, 0, 9]],
            &[],
        ),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rows, vec!["7".to_owned()]);
    let values: [(&str, &[u8], &str); 11] = [
        ("numeric", b"1e", "22P02"),
        ("numeric", b"1.2.3", "22P02"),
        ("numeric", b"", "22P02"),
        ("numeric", b"1e999999999999", "22003"),
        ("float8", b"1e400", "22003"),
        ("float8", b"1e-400", "22003"),
        ("float4", b"1e39", "22003"),
        ("float8", b"one", "22P02"),
        ("time", b"half past", "22007"),
        ("interval", b"a while", "22007"),
        ("bytea", b"\\x+1", "22P02"),
    ];
    let mut wrong = Vec::new();
    for (type_name, text, code) in values {
        let sql = format!("SELECT $1::{type_name}");
        let (errors, rows) = round_trip(&mut s, &extended_query(&sql, &[], &[text], &[])).await;
        if errors != [code] {
            let shown = String::from_utf8_lossy(text);
            wrong.push(format!(
                "{type_name} {shown:?}: {errors:?} {rows:?}, not {code}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let (errors, rows) = round_trip(
        &mut s,
        &extended_query("SELECT $1::float8", &[], &[b"-Infinity"], &[]),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rows, vec!["-Infinity".to_owned()]);
    server.stop().await;
}
