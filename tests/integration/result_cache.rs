//! The result cache: identical queries over unchanged tables answer from memory, and a
//! changed lake file or rebuilt warehouse table is never answered stale. Each cached
//! query is checked against the same query made uncacheable (`random()` is volatile),
//! which the server always runs.

use std::time::Duration;

use crate::harness::{copy_part, eventually, scalar, user, TestServer};

/// (entries, hits, misses) of `datapunk.result_cache`.
async fn counters(c: &tokio_postgres::Client) -> (i64, i64, i64) {
    let row = c
        .query_one(
            "SELECT entries, hits, misses FROM datapunk.result_cache",
            &[],
        )
        .await
        .expect("datapunk.result_cache");
    (row.get(0), row.get(1), row.get(2))
}

const LINES: &str = "SELECT count(*) AS n, sum(quantity) AS q FROM lake.order_lines";
const LINES_RUN: &str =
    "SELECT count(*) AS n, sum(quantity) AS q FROM lake.order_lines WHERE random() < 2";
/// Through a table function's input.
const LINES_VIA_QUERY: &str = "SELECT * FROM query('SELECT count(*) FROM lake.order_lines')";
const CUSTOMERS: &str = "SELECT count(*) FROM lake.customers";
const ORDERS: &str = "SELECT sum(lines) FROM warehouse.orders";
const ORDERS_RUN: &str = "SELECT sum(lines) FROM warehouse.orders WHERE random() < 2";

#[tokio::test]
async fn repeated_queries_answer_from_the_cache_until_a_table_they_read_changes() {
    let server = TestServer::start(|c, _| {
        c.warehouse.scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse").into();
    })
    .await;
    let c = server.client().await;
    let (entries, hits, _) = counters(&c).await;
    assert_eq!((entries, hits), (0, 0));

    // Simple protocol: the second run is a hit with the same rows.
    let first = scalar(&c, LINES).await;
    assert_eq!(counters(&c).await.0, 1, "kept");
    assert_eq!(scalar(&c, LINES).await, first);
    assert_eq!(counters(&c).await.1, 1, "answered from the cache");
    assert_eq!(scalar(&c, LINES_RUN).await, first);
    assert_eq!(counters(&c).await.1, 1, "random() is never cached");

    // Extended protocol, with a parameter: its value is part of what is identical.
    let by_quantity = "SELECT count(*) FROM lake.order_lines WHERE quantity > $1";
    let one: i64 = c.query_one(by_quantity, &[&1i32]).await.unwrap().get(0);
    let two: i64 = c.query_one(by_quantity, &[&2i32]).await.unwrap().get(0);
    assert!(one > two, "{one} > {two}: another value is another result");
    let hits = counters(&c).await.1;
    let again: i64 = c.query_one(by_quantity, &[&1i32]).await.unwrap().get(0);
    assert_eq!((again, counters(&c).await.1), (one, hits + 1));

    assert_eq!(scalar(&c, LINES_VIA_QUERY).await, first);
    let hits = counters(&c).await.1;
    assert_eq!(scalar(&c, LINES_VIA_QUERY).await, first);
    assert_eq!(
        counters(&c).await.1,
        hits + 1,
        "a table function's result is kept"
    );

    let customers = scalar(&c, CUSTOMERS).await;
    let orders = scalar(&c, ORDERS).await;
    assert_eq!(scalar(&c, ORDERS_RUN).await, orders);

    // One more file of order lines: the lake table, and the warehouse table built from
    // it, get new versions; results read from the old ones are never answered again.
    copy_part(
        &server.lake.join("order_lines"),
        &server.lake.join("order_lines/part-extra.parquet"),
    );
    let changed = eventually(Duration::from_secs(30), || async {
        let n = scalar(&c, LINES).await;
        (n != first).then_some(n)
    })
    .await;
    assert_eq!(changed, scalar(&c, LINES_RUN).await);
    assert_eq!(changed, scalar(&c, LINES_VIA_QUERY).await);
    let rebuilt = eventually(Duration::from_secs(60), || async {
        let sum = scalar(&c, ORDERS).await;
        (sum != orders).then_some(sum)
    })
    .await;
    eventually(Duration::from_secs(60), || async {
        (scalar(&c, ORDERS).await == scalar(&c, ORDERS_RUN).await).then_some(())
    })
    .await;
    assert_ne!(rebuilt, orders);

    // A table the change did not touch is still answered from the cache.
    let hits = counters(&c).await.1;
    assert_eq!(scalar(&c, CUSTOMERS).await, customers);
    assert_eq!(
        counters(&c).await.1,
        hits + 1,
        "lake.customers did not change"
    );
    server.stop().await;
}

#[tokio::test]
async fn results_are_shared_only_between_users_with_the_same_permissions() {
    let server = TestServer::start(|c, _| {
        c.auth.users = vec![
            user("ana", "a-secret", true),
            user("ben", "b-secret", false),
            user("cy", "c-secret", false),
        ];
    })
    .await;
    let ana = server.connect_as("ana", Some("a-secret")).await.unwrap();
    let ben = server.connect_as("ben", Some("b-secret")).await.unwrap();
    let cy = server.connect_as("cy", Some("c-secret")).await.unwrap();
    let answer = scalar(&ana, CUSTOMERS).await;
    assert_eq!(scalar(&ben, CUSTOMERS).await, answer);
    let (entries, hits, _) = counters(&ana).await;
    assert_eq!(
        (entries, hits),
        (2, 0),
        "an admin's result is not a reader's"
    );
    assert_eq!(scalar(&cy, CUSTOMERS).await, answer);
    assert_eq!(counters(&ana).await.1, 1, "two readers share one");
    // What depends on who asks is never cached.
    assert_eq!(
        scalar(&ben, "SELECT current_user || count(*) FROM lake.customers").await,
        answer.as_ref().map(|n| format!("ben{n}"))
    );
    assert_eq!(
        scalar(&cy, "SELECT current_user || count(*) FROM lake.customers").await,
        answer.as_ref().map(|n| format!("cy{n}"))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_cache_keeps_to_its_size_and_can_be_turned_off() {
    let server = TestServer::start(|c, _| c.server.result_cache_mb = 1).await;
    let c = server.client().await;
    // Each result below is a few hundred KB: over a quarter of 1 MiB, never kept.
    let wide = "SELECT repeat(md5(CAST(order_id AS TEXT)), 8) FROM lake.order_lines";
    let rows = c
        .simple_query(wide)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(rows, 2000);
    assert_eq!(counters(&c).await.0, 0, "too large to keep");
    // Small ones are kept, the least recently used leave first.
    for quantity in 0..40 {
        let q = format!("SELECT * FROM lake.order_lines WHERE quantity = {quantity} LIMIT 300");
        c.simple_query(&q).await.unwrap();
    }
    let bytes: i64 = c
        .query_one("SELECT bytes FROM datapunk.result_cache", &[])
        .await
        .unwrap()
        .get(0);
    assert!(bytes <= 1024 * 1024, "{bytes} bytes kept in 1 MiB");
    server.stop().await;

    let off = TestServer::start(|c, _| c.server.result_cache_mb = 0).await;
    let c = off.client().await;
    scalar(&c, CUSTOMERS).await;
    scalar(&c, CUSTOMERS).await;
    assert_eq!(counters(&c).await, (0, 0, 0));
    off.stop().await;
}
