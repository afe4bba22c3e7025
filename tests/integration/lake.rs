//! The lake: tables from folders and root files, hive partitions, ignored files, corrupt
//! files (in a folder and in a bucket), and watching for changes.

use std::time::Duration;

use crate::harness::{copy_part, eventually, scalar, sqlstate, LakePlace, TestServer};

#[tokio::test]
async fn folders_files_and_partitions_become_tables() {
    for place in LakePlace::all() {
        folders_files_and_partitions_become_tables_in(place).await;
    }
}

async fn folders_files_and_partitions_become_tables_in(place: LakePlace) {
    let server = TestServer::start_in(place, |c, dir| {
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
            "guest_orders",
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
    for place in LakePlace::all() {
        a_corrupt_file_never_stops_the_server_in(place).await;
    }
}

async fn a_corrupt_file_never_stops_the_server_in(place: LakePlace) {
    let mut server = TestServer::start_in(place, |c, dir| {
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
    server.lake_changed().await;
    if place == LakePlace::Bucket {
        // A bucket is polled, not watched.
        c.batch_execute("REFRESH LAKE").await.unwrap();
    }
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

#[tokio::test]
async fn a_mounted_root_is_a_schema_of_its_own_watched_like_the_lake() {
    let extra = tempfile::tempdir().unwrap();
    datapunk::testing::tiny_lake(extra.path());
    let products = extra.path().join("products");
    copy_part(&products, &extra.path().join("catalog_items/a.parquet"));
    let root = extra.path().display().to_string();
    let server = TestServer::start(move |c, _| {
        c.lake.watch = true;
        c.lake.mounts = vec![datapunk::config::MountConfig {
            name: "events".into(),
            root,
        }];
    })
    .await;
    let c = server.client().await;
    // The same files answer the same in both schemas, and a join crosses them.
    let count = |sql: &'static str| {
        let c = &c;
        async move { scalar(c, sql).await.expect("a count") }
    };
    assert_eq!(
        count("SELECT count(*) FROM events.order_lines").await,
        count("SELECT count(*) FROM lake.order_lines").await
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM lake.customers AS c \
             JOIN events.order_lines AS l USING (customer_id)"
        )
        .await,
        count("SELECT count(*) FROM lake.order_lines").await
    );
    // A table only the mount has is only there.
    let items = count("SELECT count(*) FROM events.catalog_items").await;
    assert_ne!(items, "0");
    let e = c
        .simple_query("SELECT * FROM lake.catalog_items")
        .await
        .expect_err("not in the lake");
    assert_eq!(sqlstate(&e), "42P01");
    // Both lakes' tables are listed, the mount's under its name.
    assert_eq!(
        scalar(
            &c,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'events.catalog_items'"
        )
        .await,
        Some("ok".to_owned())
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'order_lines'"
        )
        .await,
        Some("ok".to_owned())
    );
    // The mount's folder is watched: a new file is served without REFRESH LAKE.
    copy_part(&products, &extra.path().join("catalog_items/b.parquet"));
    let doubled = (items.parse::<i64>().unwrap() * 2).to_string();
    eventually(Duration::from_secs(20), || async {
        (scalar(&c, "SELECT count(*) FROM events.catalog_items").await? == doubled).then_some(())
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_mount_taking_a_schema_of_datapunk_or_a_missing_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = datapunk::config::Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.state.dir = dir.path().join("state").display().to_string();
    datapunk::testing::tiny_lake(&dir.path().join("lake"));
    config.lake.root = dir.path().join("lake").display().to_string();
    let mount = |name: &str, root: &str| datapunk::config::MountConfig {
        name: name.into(),
        root: root.into(),
    };
    config.lake.mounts = vec![
        mount("warehouse", &config.lake.root),
        mount("events", "/no/such/folder"),
        mount("Bad Name", &config.lake.root),
        mount("events", "ftp://x/y"),
    ];
    let Err(e) = datapunk::App::build(config).await else {
        panic!("mounts refused");
    };
    let e = e.to_string();
    for expected in [
        "lake.mounts[0].name",
        "lake.mounts[1].root",
        "lake.mounts[2].name",
        "lake.mounts[3].name \"events\" is used twice",
        "lake.mounts[3].root",
    ] {
        assert!(e.contains(expected), "{expected} in {e}");
    }
}
