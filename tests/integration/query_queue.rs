//! `server.max_running_queries`: queries that read tables beyond the limit wait their
//! turn in arrival order, can be cancelled while they wait, and run once a turn frees;
//! catalog queries and cached answers never wait.

use std::time::Duration;

use crate::harness::{eventually, scalar, sqlstate, TestServer};

/// Reads a lake table and runs until cancelled.
const ENDLESS_SCAN: &str = "SELECT count(*) FROM lake.customers, \
     generate_series(1, 100000000000) AS t(v) WHERE v % 3 = 1";
const CUSTOMERS: &str = "SELECT count(*) FROM lake.customers";
const ORDERS: &str = "SELECT count(*) FROM lake.orders";
/// The same count, never kept in the result cache (`random()`).
const ORDERS_UNCACHED: &str = "SELECT count(*) FROM lake.orders WHERE random() < 2";

/// (running, waiting) of `datapunk.query_queue`.
async fn queue(c: &tokio_postgres::Client) -> (i64, i64) {
    let row = c
        .query_one("SELECT running, waiting FROM datapunk.query_queue", &[])
        .await
        .expect("datapunk.query_queue");
    (row.get(0), row.get(1))
}

async fn queue_becomes(c: &tokio_postgres::Client, expected: (i64, i64)) {
    eventually(Duration::from_secs(20), || async {
        (queue(c).await == expected).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_past_the_limit_wait_their_turn_and_can_be_cancelled_while_waiting() {
    let server = TestServer::start(|c, _| c.server.max_running_queries = 1).await;
    let watcher = server.client().await;
    let customers = scalar(&watcher, CUSTOMERS).await;
    let orders_before = scalar(&watcher, ORDERS_UNCACHED).await;
    assert_eq!(queue(&watcher).await, (0, 0), "nothing runs now");

    // One query holds the only turn.
    let holder = server.client().await;
    let holder_cancel = holder.cancel_token();
    let holding = tokio::spawn(async move { holder.simple_query(ENDLESS_SCAN).await.map(|_| ()) });
    queue_becomes(&watcher, (1, 0)).await;

    // The next query that reads a table waits, and a cancel ends its wait with 57014.
    let waiter = server.client().await;
    let waiter_cancel = waiter.cancel_token();
    let waiting = tokio::spawn(async move {
        let r = waiter.simple_query(ORDERS).await.map(|_| ());
        (r, waiter)
    });
    queue_becomes(&watcher, (1, 1)).await;
    assert_eq!(
        scalar(&watcher, "SELECT count(*) > 0 FROM pg_catalog.pg_class")
            .await
            .as_deref(),
        Some("t"),
        "catalog queries do not wait"
    );
    assert_eq!(
        scalar(&watcher, CUSTOMERS).await,
        customers,
        "a cached answer does not wait"
    );
    waiter_cancel
        .cancel_query(tokio_postgres::NoTls)
        .await
        .unwrap();
    let (cancelled, waiter) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the wait ended")
        .unwrap();
    assert_eq!(sqlstate(&cancelled.expect_err("cancelled")), "57014");
    queue_becomes(&watcher, (1, 0)).await;

    // Waiting again; once the holder is cancelled, the waiter runs and answers.
    let waiting = tokio::spawn(async move { scalar(&waiter, ORDERS).await });
    queue_becomes(&watcher, (1, 1)).await;
    holder_cancel
        .cancel_query(tokio_postgres::NoTls)
        .await
        .unwrap();
    let held = tokio::time::timeout(Duration::from_secs(10), holding)
        .await
        .expect("the holder stopped")
        .unwrap();
    assert_eq!(sqlstate(&held.expect_err("cancelled")), "57014");
    let answered = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the waiter got its turn")
        .unwrap();
    assert_eq!(answered, orders_before);
    queue_becomes(&watcher, (0, 0)).await;
    server.stop().await;
}

/// (hits, misses) of `datapunk.result_cache`.
async fn cache_counts(c: &tokio_postgres::Client) -> (i64, i64) {
    let row = c
        .query_one("SELECT hits, misses FROM datapunk.result_cache", &[])
        .await
        .expect("datapunk.result_cache");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_queries_that_waited_together_are_computed_once() {
    let server = TestServer::start(|c, _| c.server.max_running_queries = 1).await;
    let watcher = server.client().await;
    let holder = server.client().await;
    let holder_cancel = holder.cancel_token();
    let holding = tokio::spawn(async move { holder.simple_query(ENDLESS_SCAN).await.map(|_| ()) });
    queue_becomes(&watcher, (1, 0)).await;

    let (hits, misses) = cache_counts(&watcher).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let client = server.client().await;
        waiting.push(tokio::spawn(async move { scalar(&client, ORDERS).await }));
    }
    queue_becomes(&watcher, (1, 3)).await;
    assert_eq!(
        cache_counts(&watcher).await,
        (hits, misses + 3),
        "all three missed"
    );

    holder_cancel
        .cancel_query(tokio_postgres::NoTls)
        .await
        .unwrap();
    assert!(holding.await.unwrap().is_err(), "cancelled");
    let mut answers = Vec::new();
    for w in waiting {
        answers.push(
            tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("answered")
                .unwrap(),
        );
    }
    let expected = scalar(&watcher, ORDERS_UNCACHED).await;
    assert!(
        answers.iter().all(|a| *a == expected),
        "{answers:?} vs {expected:?}"
    );
    assert_eq!(
        cache_counts(&watcher).await,
        (hits + 2, misses + 3),
        "the first to run computed it; the two after it were answered from the cache"
    );
    server.stop().await;
}
