//! Point lookups by key on warehouse and audience tables: prepared `WHERE key = $1`
//! answers from the key index (EXPLAIN shows `KeyLookupExec`) with exactly the rows a
//! scan returns, for integer and text keys, IN lists and ORs, missing and NULL keys; a
//! table rebuilt under a lake change is indexed before it is published.

use std::time::Duration;

use crate::harness::{eventually, rows, user, TestServer};

async fn server() -> TestServer {
    TestServer::start(|c, dir| {
        c.warehouse.scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse").into();
        c.audiences.dir = dir.join("audiences").display().to_string();
        c.auth.users = vec![user("admin", "pw", true)];
    })
    .await
}

async fn plan(c: &tokio_postgres::Client, sql: &str) -> String {
    rows(c, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .map(|r| r.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until the (first, background) index build lets `sql` answer by lookup.
async fn indexed(c: &tokio_postgres::Client, sql: &str) {
    eventually(Duration::from_secs(20), || async {
        plan(c, sql).await.contains("KeyLookupExec").then_some(())
    })
    .await;
}

/// Every row, sorted (the statements select text columns only).
fn sorted(rows: Vec<tokio_postgres::Row>) -> Vec<Vec<Option<String>>> {
    let mut out: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn prepared_lookups_answer_from_the_key_index_with_the_rows_a_scan_returns() {
    let s = server().await;
    let c = s.connect_as("admin", Some("pw")).await.expect("connect");
    c.batch_execute(
        "CREATE AUDIENCE by_email AS -- key: email\n\
         SELECT email, customer_id, name, marketing_opt_in \
         FROM warehouse.customers WHERE email IS NOT NULL",
    )
    .await
    .expect("audience");
    assert_eq!(
        rows(
            &c,
            "SELECT key_column FROM datapunk.audiences WHERE name = 'by_email'"
        )
        .await,
        [["email"]]
    );

    let recommendations =
        "SELECT customer_id::text, rank::text, product_id::text, product_name, score::text \
         FROM warehouse.customer_recommendations";
    indexed(&c, &format!("{recommendations} WHERE customer_id = 1")).await;
    indexed(
        &c,
        "SELECT name FROM audience.by_email WHERE email = 'c1@example.com'",
    )
    .await;

    let lookup = c
        .prepare(&format!("{recommendations} WHERE customer_id = $1"))
        .await
        .expect("prepare");
    let scan = c
        .prepare(&format!("{recommendations} WHERE customer_id + 0 = $1"))
        .await
        .expect("prepare");
    let customers: Vec<i64> = rows(&c, "SELECT customer_id FROM warehouse.customers")
        .await
        .into_iter()
        .map(|r| r[0].parse().expect("id"))
        .collect();
    assert!(customers.len() >= 100);
    let mut found = 0;
    for id in customers.iter().copied().chain([0, -1, i64::MAX]) {
        let by_index = sorted(c.query(&lookup, &[&id]).await.expect("lookup"));
        let by_scan = sorted(c.query(&scan, &[&id]).await.expect("scan"));
        assert_eq!(by_index, by_scan, "customer {id}");
        found += by_index.len();
    }
    assert!(found > 100, "the lookups found rows ({found})");
    let none: Option<i64> = None;
    assert!(c
        .query(&lookup, &[&none])
        .await
        .expect("NULL key")
        .is_empty());
    assert!(plan(
        &c,
        &format!("{recommendations} WHERE customer_id IN (3, 4) OR customer_id = 5")
    )
    .await
    .contains("keys=3"));
    assert_eq!(
        sorted(
            c.query(
                &format!("{recommendations} WHERE customer_id IN (3, 4) OR customer_id = 5"),
                &[]
            )
            .await
            .expect("in")
        ),
        sorted(
            c.query(
                &format!("{recommendations} WHERE customer_id + 0 IN (3, 4, 5)"),
                &[]
            )
            .await
            .expect("in")
        ),
    );

    // Several key filters: every one holds; a LIMIT still limits.
    let both = format!("{recommendations} WHERE customer_id IN (3, 4) AND customer_id = 4");
    assert!(plan(&c, &both).await.contains("KeyLookupExec"));
    assert_eq!(
        sorted(c.query(&both, &[]).await.expect("both")),
        sorted(c.query(&scan, &[&4i64]).await.expect("scan")),
    );
    let none = format!("{recommendations} WHERE customer_id IN (3, 4) AND customer_id = 5");
    assert!(c.query(&none, &[]).await.expect("none").is_empty());
    let limited = format!("{recommendations} WHERE customer_id = 4 LIMIT 2");
    assert_eq!(c.query(&limited, &[]).await.expect("limit").len(), 2);

    // A text key on an audience (a Parquet file read through its page index).
    let by_email = c
        .prepare("SELECT customer_id::text, name, email FROM audience.by_email WHERE email = $1")
        .await
        .expect("prepare");
    for id in &customers {
        let email = format!("c{id}@example.com");
        let by_index = sorted(c.query(&by_email, &[&email]).await.expect("lookup"));
        let by_scan = sorted(
            c.query(
                "SELECT customer_id::text, name, email FROM audience.by_email WHERE lower(email) = $1",
                &[&email],
            )
            .await
            .expect("scan"),
        );
        assert_eq!(by_index, by_scan, "{email}");
    }

    // The lake changes: the rebuilt versions are indexed before they are published, so
    // the first lookup after the change already uses the index, and sees the new rows.
    let lines = s.lake.join("order_lines");
    let mut files: Vec<_> = std::fs::read_dir(&lines)
        .expect("dir")
        .map(|e| e.expect("e").path())
        .collect();
    files.sort();
    std::fs::remove_file(&files[0]).expect("remove");
    c.batch_execute("REFRESH LAKE").await.expect("refresh lake");
    let first = customers[0];
    assert!(plan(
        &c,
        &format!("{recommendations} WHERE customer_id = {first}")
    )
    .await
    .contains("KeyLookupExec"));
    assert!(plan(
        &c,
        "SELECT name FROM audience.by_email WHERE email = 'c1@example.com'"
    )
    .await
    .contains("KeyLookupExec"));
    for &id in &customers {
        assert_eq!(
            sorted(c.query(&lookup, &[&id]).await.expect("lookup")),
            sorted(c.query(&scan, &[&id]).await.expect("scan")),
            "customer {id} after the lake changed"
        );
    }
    s.stop().await;
}
