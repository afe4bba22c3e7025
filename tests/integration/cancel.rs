//! Cancel requests and statement_timeout stop a running statement (not only its
//! planning) with 57014, and the connection keeps working.

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::harness::{scalar, sqlstate, TestServer};

/// Runs for minutes if nobody stops it.
const ENDLESS: &str =
    "SELECT count(*) FROM generate_series(1, 100000000000) AS t(v) WHERE v % 3 = 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_a_running_query_within_a_second() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let cancel = client.cancel_token();
    let running = tokio::spawn(async move {
        let r = client.simple_query(ENDLESS).await;
        (r, client)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let (result, client) = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the query stopped")
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "took {:?}",
        asked.elapsed()
    );
    let e = result.expect_err("cancelled");
    assert_eq!(sqlstate(&e), "57014", "{e}");
    let message = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("user request"), "{message}");
    assert_eq!(
        scalar(&client, "SELECT 41 + 1").await.as_deref(),
        Some("42")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_result_while_rows_are_streaming() {
    let _exclusive = crate::harness::MEMORY_HEAVY.lock().await;
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    let rows = client
        .query_raw(
            "SELECT v FROM generate_series(1, 1000000000) AS t(v)",
            std::iter::empty::<i64>(),
        )
        .await
        .unwrap();
    futures::pin_mut!(rows);
    for _ in 0..1000 {
        rows.next().await.unwrap().unwrap();
    }
    client
        .cancel_token()
        .cancel_query(tokio_postgres::NoTls)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        match tokio::time::timeout_at(deadline.into(), rows.next()).await {
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => break e,
            Ok(None) => panic!("the stream ended without an error"),
            Err(_) => panic!("rows kept coming after the cancel"),
        }
    };
    assert_eq!(sqlstate(&error), "57014", "{error}");
    assert_eq!(
        scalar(&client, "SELECT 'still here'").await.as_deref(),
        Some("still here")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_is_enforced_during_execution() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client().await;
    client
        .batch_execute("SET statement_timeout = '300ms'")
        .await
        .unwrap();
    let started = Instant::now();
    let e = client.simple_query(ENDLESS).await.expect_err("timed out");
    assert_eq!(sqlstate(&e), "57014", "{e}");
    let message = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("statement timeout"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    // Extended protocol too.
    let e = client.query(ENDLESS, &[]).await.expect_err("timed out");
    assert_eq!(sqlstate(&e), "57014", "{e}");
    // Short statements still run; switching the timeout off works.
    assert_eq!(scalar(&client, "SELECT 1").await.as_deref(), Some("1"));
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM generate_series(1, 3000000) AS t(v)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3_000_000);
}
