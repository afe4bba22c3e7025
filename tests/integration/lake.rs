//! The lake: tables from folders and root files, hive partitions, ignored files, corrupt
//! files, and watching for changes.

use std::time::Duration;

use crate::harness::{copy_part, eventually, scalar, sqlstate, TestServer};

#[tokio::test]
async fn folders_files_and_partitions_become_tables() {
    let server = TestServer::start(|c, dir| {
        let lake = dir.join("lake");
        // Hive partitions: lake/products_by_year/year=2023/..., year=2024/...
        let products = lake.join("products");
        copy_part(
            &products,
            &lake.join("parted/year=2023/region=eu/a.parquet"),
        );
        copy_part(
            &products,
            &lake.join("parted/year=2024/region=us/b.parquet"),
        );
        // A single CSV file at the root.
        std::fs::write(lake.join("targets.csv"), "country,target\nUS,100\nDE,50\n").unwrap();
        // Files writers leave behind are ignored.
        std::fs::write(lake.join("orders/_SUCCESS"), "").unwrap();
        std::fs::write(lake.join("orders/.part-9.parquet"), "half written").unwrap();
        std::fs::write(lake.join("orders/_tmp-1.parquet"), "half written").unwrap();
        c.lake.watch = false;
    })
    .await;
    let c = server.client().await;
    let tables = c
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = tables.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        names,
        [
            "customers",
            "experiment_assignments",
            "order_lines",
            "orders",
            "parted",
            "products",
            "targets",
            "web_events"
        ]
    );
    let n = scalar(
        &c,
        "SELECT count(*) FROM lake.parted WHERE year = 2024 AND region = 'us'",
    )
    .await;
    assert_eq!(n, scalar(&c, "SELECT count(*) FROM lake.products").await);
    let row = c
        .query_one(
            "SELECT year, region FROM lake.parted WHERE year = 2023 LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let year: i64 = row.get(0);
    let region: String = row.get(1);
    assert_eq!((year, region.as_str()), (2023, "eu"));
    // A filter on partition columns reads only the files of matching folders.
    let plan = |sql: &'static str| {
        let c = &c;
        async move {
            let shown = crate::harness::rows(c, &format!("EXPLAIN ANALYZE {sql}")).await;
            shown.concat().join("\n")
        }
    };
    let one = plan("SELECT * FROM lake.parted WHERE year = 2024").await;
    assert!(
        one.contains("b.parquet") && !one.contains("a.parquet"),
        "{one}"
    );
    assert!(one.contains("files_opened=1,"), "{one}");
    let both = plan("SELECT * FROM lake.parted WHERE year > 2000 OR region = 'eu'").await;
    assert!(both.contains("files_opened=2,"), "{both}");
    let none = plan("SELECT * FROM lake.parted WHERE region = 'nowhere'").await;
    assert!(!none.contains("parquet"), "{none}");
    let target: i64 = c
        .query_one("SELECT target FROM lake.targets WHERE country = 'DE'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(target, 50);
    // The ignored files did not break lake.orders.
    assert_eq!(
        scalar(
            &c,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'orders'"
        )
        .await
        .as_deref(),
        Some("ok")
    );
}

#[tokio::test]
async fn a_corrupt_file_never_stops_the_server() {
    let server = TestServer::start(|c, dir| {
        let broken = dir.join("lake/broken");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("part-0.parquet"), b"PAR1 this is not parquet").unwrap();
        c.lake.watch = true;
    })
    .await;
    let c = server.client().await;
    let e = c
        .simple_query("SELECT * FROM lake.broken")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    let row = c
        .query_one(
            "SELECT state, error FROM datapunk.lake_tables WHERE table_name = 'broken'",
            &[],
        )
        .await
        .unwrap();
    let state: String = row.get(0);
    let error: String = row.get(1);
    assert_eq!(state, "error");
    assert!(error.contains("part-0.parquet"), "{error}");

    // A good table that gets a corrupt file keeps serving its last good version.
    let before = scalar(&c, "SELECT count(*) FROM lake.orders").await;
    std::fs::write(server.lake.join("orders/part-zz.parquet"), b"garbage").unwrap();
    eventually(Duration::from_secs(20), || async {
        let s = scalar(
            &c,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'orders'",
        )
        .await;
        (s.as_deref() == Some("stale")).then_some(())
    })
    .await;
    assert_eq!(scalar(&c, "SELECT count(*) FROM lake.orders").await, before);
}

#[tokio::test]
async fn watching_picks_up_new_changed_and_removed_tables() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let lake = server.lake.clone();

    // New table.
    copy_part(
        &lake.join("products"),
        &lake.join("new_products/part-0.parquet"),
    );
    eventually(Duration::from_secs(20), || async {
        c.simple_query("SELECT count(*) FROM lake.new_products")
            .await
            .ok()
    })
    .await;

    // Changed table: one more file, more rows.
    let before: i64 = c
        .query_one("SELECT count(*) FROM lake.new_products", &[])
        .await
        .unwrap()
        .get(0);
    copy_part(
        &lake.join("products"),
        &lake.join("new_products/part-1.parquet"),
    );
    eventually(Duration::from_secs(20), || async {
        let n: i64 = c
            .query_one("SELECT count(*) FROM lake.new_products", &[])
            .await
            .ok()?
            .get(0);
        (n == 2 * before).then_some(())
    })
    .await;

    // Removed table.
    std::fs::remove_dir_all(lake.join("new_products")).unwrap();
    eventually(Duration::from_secs(20), || async {
        let e = c
            .simple_query("SELECT count(*) FROM lake.new_products")
            .await
            .err()?;
        (sqlstate(&e) == "42P01").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_files_leads_to_one_rescan() {
    let server = TestServer::start(|c, _| {
        c.lake.debounce_ms = 1000;
    })
    .await;
    let c = server.client().await;
    let lake = server.lake.clone();
    let template = lake.join("products");
    // 300 files written back to back (well within the 1 s quiet period of each other).
    for i in 0..300 {
        copy_part(&template, &lake.join(format!("burst/part-{i:04}.parquet")));
    }
    let versions: i64 = eventually(Duration::from_secs(30), || async {
        let row = c
            .query_opt(
                "SELECT files, versions FROM datapunk.lake_tables WHERE table_name = 'burst'",
                &[],
            )
            .await
            .ok()??;
        let files: i64 = row.get(0);
        (files == 300).then(|| row.get::<_, i64>(1))
    })
    .await;
    assert_eq!(versions, 1, "the burst was loaded in one rescan");
}
