//! The warehouse: the shipped scripts build their tables; a failing script reports
//! file:line, keeps the previous version, and later scripts still run; REFRESH WAREHOUSE;
//! tables are stored and served again after a restart, and a lake change rebuilds only
//! the tables that read what changed.

use std::time::Duration;

use crate::harness::{scalar, sqlstate, user, TestServer};

#[tokio::test]
async fn shipped_scripts_build_their_tables() {
    let server = TestServer::with_warehouse().await;
    let c = server.client().await;
    // One row per order, per customer; daily sales add up to net revenue.
    assert_eq!(
        scalar(&c, "SELECT count(*) FROM warehouse.orders").await,
        scalar(&c, "SELECT count(*) FROM lake.orders").await
    );
    assert_eq!(
        scalar(&c, "SELECT count(*) FROM warehouse.customers").await,
        scalar(&c, "SELECT count(*) FROM lake.customers").await
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT count(DISTINCT order_id) = count(*) FROM warehouse.orders"
        )
        .await
        .as_deref(),
        Some("t")
    );
    assert_eq!(
        scalar(&c, "SELECT sum(revenue) FROM warehouse.daily_sales").await,
        scalar(
            &c,
            "SELECT sum(net_revenue) FROM warehouse.orders WHERE status <> 'cancelled'"
        )
        .await
    );
    assert_eq!(
        scalar(&c, "SELECT sum(orders) FROM warehouse.customers").await,
        scalar(
            &c,
            "SELECT count(*) FROM warehouse.orders WHERE status <> 'cancelled'"
        )
        .await
    );
    let states = c
        .query(
            "SELECT table_name, state FROM datapunk.warehouse_tables ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let states: Vec<(String, String)> = states.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        states,
        [
            ("customer_clv".to_owned(), "ok".to_owned()),
            ("customer_recommendations".to_owned(), "ok".to_owned()),
            ("customer_rfm".to_owned(), "ok".to_owned()),
            ("customer_segments".to_owned(), "ok".to_owned()),
            ("customers".to_owned(), "ok".to_owned()),
            ("daily_sales".to_owned(), "ok".to_owned()),
            ("experiment_results".to_owned(), "ok".to_owned()),
            ("identity_graph".to_owned(), "ok".to_owned()),
            ("orders".to_owned(), "ok".to_owned()),
            ("product_pairs".to_owned(), "ok".to_owned()),
            ("profiles".to_owned(), "ok".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_failing_script_keeps_the_previous_version_and_later_scripts_run() {
    let server = TestServer::start(|c, dir| {
        let scripts = dir.join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        std::fs::write(
            scripts.join("010_big_orders.sql"),
            "-- orders above 100\nCREATE TABLE warehouse.big_orders AS\nSELECT order_id FROM lake.orders WHERE order_id > 100\n",
        )
        .unwrap();
        std::fs::write(
            scripts.join("020_x.sql"),
            "-- fine for now\nCREATE TABLE warehouse.x AS SELECT count(*) AS n FROM lake.orders\n",
        )
        .unwrap();
        std::fs::write(
            scripts.join("030_after.sql"),
            "CREATE VIEW warehouse.after AS SELECT 1 AS one\n",
        )
        .unwrap();
        c.warehouse.scripts_dir = scripts.display().to_string();
        c.auth.users = vec![user("admin", "adminpw", true), user("reader", "readerpw", false)];
    })
    .await;
    let c = server.connect_as("admin", Some("adminpw")).await.unwrap();
    let n_before = scalar(&c, "SELECT n FROM warehouse.x").await;
    assert!(n_before.is_some());

    // Break 020 (a bad column on line 3) and rebuild on demand.
    let scripts = std::path::PathBuf::from(&server.config.warehouse.scripts_dir);
    std::fs::write(
        scripts.join("020_x.sql"),
        "-- now broken\nCREATE TABLE warehouse.x AS\nSELECT no_such_column AS n FROM lake.orders\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("030_after.sql"),
        "CREATE VIEW warehouse.after AS SELECT 2 AS one\n",
    )
    .unwrap();
    c.batch_execute("REFRESH WAREHOUSE").await.unwrap();

    let row = c
        .query_one(
            "SELECT state, error, script FROM datapunk.warehouse_tables WHERE table_name = 'x'",
            &[],
        )
        .await
        .unwrap();
    let (state, error, script): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(state, "stale");
    assert!(script.ends_with("020_x.sql"), "{script}");
    assert!(error.contains("020_x.sql:3: "), "{error}");
    assert!(error.contains("no_such_column"), "{error}");
    // The previous version is still served; the script after it ran.
    assert_eq!(scalar(&c, "SELECT n FROM warehouse.x").await, n_before);
    assert_eq!(
        scalar(&c, "SELECT one FROM warehouse.after")
            .await
            .as_deref(),
        Some("2")
    );

    // Only admins may refresh.
    let r = server.connect_as("reader", Some("readerpw")).await.unwrap();
    let e = r.batch_execute("REFRESH WAREHOUSE").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42501");
}

/// Tables built with PostgreSQL's date arithmetic keep PostgreSQL's types: an interval
/// for a timestamp difference and a timestamp for a date plus an interval (a fix that
/// changed a type after planning would fail the build with a schema mismatch).
#[tokio::test]
async fn scripts_with_date_arithmetic_build_tables_of_postgres_types() {
    let server = TestServer::start(|c, dir| {
        let scripts = dir.join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        std::fs::write(
            scripts.join("010_order_spans.sql"),
            "CREATE TABLE warehouse.order_spans AS\n\
             SELECT order_id, max(order_ts) - min(order_ts) AS span,\n\
             CAST(min(order_ts) AS DATE) + INTERVAL '1 month' AS follow_up,\n\
             2 * (max(order_ts) - min(order_ts)) AS twice\n\
             FROM lake.order_lines GROUP BY order_id\n",
        )
        .unwrap();
        c.warehouse.scripts_dir = scripts.display().to_string();
    })
    .await;
    let c = server.client().await;
    let types = c
        .query(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = 'order_spans' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap();
    let types: Vec<String> = types.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        types,
        [
            "bigint",
            "interval",
            "timestamp without time zone",
            "interval"
        ]
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM warehouse.order_spans WHERE twice >= span"
        )
        .await
        .as_deref(),
        scalar(&c, "SELECT count(DISTINCT order_id) FROM lake.order_lines")
            .await
            .as_deref()
    );
}

/// `built_at` of each table of `datapunk.warehouse_tables`, by name.
async fn built_at(c: &tokio_postgres::Client) -> std::collections::BTreeMap<String, String> {
    crate::harness::rows(
        c,
        "SELECT table_name, CAST(built_at AS TEXT) FROM datapunk.warehouse_tables",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone()))
    .collect()
}

/// The tables whose `built_at` differs between two readings.
fn rebuilt(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(table, at)| before.get(*table) != Some(*at))
        .map(|(table, _)| table.clone())
        .collect()
}

#[tokio::test]
async fn tables_persist_across_restarts_and_only_what_changed_is_rebuilt() {
    let mut server = TestServer::start(|c, dir| {
        let scripts = dir.join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        for (name, sql) in [
            (
                "010_per_customer.sql",
                "CREATE TABLE warehouse.per_customer AS SELECT customer_id, count(*) AS n FROM lake.orders GROUP BY customer_id",
            ),
            (
                "020_catalogue.sql",
                "CREATE TABLE warehouse.catalogue AS SELECT count(*) AS products FROM lake.products",
            ),
            (
                "030_total.sql",
                "CREATE TABLE warehouse.total AS SELECT sum(n) AS orders FROM per_customer",
            ),
            (
                "040_stamped.sql",
                "CREATE TABLE warehouse.stamped AS SELECT count(*) AS products, max(now()) AS at FROM lake.products",
            ),
        ] {
            std::fs::write(scripts.join(name), sql).unwrap();
        }
        c.warehouse.scripts_dir = scripts.display().to_string();
    })
    .await;
    let c = server.client().await;
    let first = built_at(&c).await;
    assert_eq!(first.len(), 4, "{first:?}");
    let orders = scalar(&c, "SELECT orders FROM warehouse.total").await;
    assert_eq!(orders, scalar(&c, "SELECT count(*) FROM lake.orders").await);
    let state = std::path::PathBuf::from(&server.config.state.dir).join("warehouse");
    assert!(state.join("manifest.toml").exists());

    // A restart serves what was built: nothing is built again, the rows are the same.
    drop(c);
    server.restart().await;
    let c = server.client().await;
    let restarted = built_at(&c).await;
    assert_eq!(
        rebuilt(&first, &restarted),
        ["stamped"],
        "only the script calling now()"
    );
    assert_eq!(
        scalar(&c, "SELECT orders FROM warehouse.total").await,
        orders
    );
    assert_eq!(
        scalar(&c, "SELECT count(*) FROM warehouse.per_customer").await,
        scalar(&c, "SELECT count(DISTINCT customer_id) FROM lake.orders").await
    );

    // More products: only the scripts reading lake.products are built again.
    let before = built_at(&c).await;
    let products = scalar(&c, "SELECT products FROM warehouse.catalogue").await;
    crate::harness::copy_part(
        &server.lake.join("products"),
        &server.lake.join("products/part-extra.parquet"),
    );
    let after = crate::harness::eventually(std::time::Duration::from_secs(30), || async {
        let after = built_at(&c).await;
        (rebuilt(&before, &after).len() >= 2).then_some(after)
    })
    .await;
    assert_eq!(rebuilt(&before, &after), ["catalogue", "stamped"]);
    assert_ne!(
        scalar(&c, "SELECT products FROM warehouse.catalogue").await,
        products
    );

    // More orders: the table reading them and the one reading that table.
    let before = after;
    crate::harness::copy_part(
        &server.lake.join("orders"),
        &server.lake.join("orders/part-extra.parquet"),
    );
    let after = crate::harness::eventually(std::time::Duration::from_secs(30), || async {
        let after = built_at(&c).await;
        (rebuilt(&before, &after).len() >= 3).then_some(after)
    })
    .await;
    assert_eq!(
        rebuilt(&before, &after),
        ["per_customer", "stamped", "total"]
    );
    assert_eq!(
        scalar(&c, "SELECT orders FROM warehouse.total").await,
        scalar(&c, "SELECT count(*) FROM lake.orders").await
    );

    // A stored file that cannot be read is built again at the next start, not served.
    drop(c);
    let manifest = std::fs::read_to_string(state.join("manifest.toml")).unwrap();
    let file = manifest
        .lines()
        .skip_while(|l| !l.contains("[tables.total]"))
        .find_map(|l| l.strip_prefix("file = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    std::fs::write(state.join(&file), b"PAR1 not parquet").unwrap();
    server.restart().await;
    let c = server.client().await;
    assert_eq!(
        scalar(&c, "SELECT orders FROM warehouse.total").await,
        scalar(&c, "SELECT count(*) FROM lake.orders").await
    );
    server.stop().await;
}

/// A script joining two inputs too big to hash under the memory limit: its build fails
/// with hash joins and is run again with sort-merge joins, whose sorts spill, so the
/// table is built within the limit (and the server keeps serving).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_too_big_to_hash_under_the_memory_limit_is_built_by_sorting() {
    let _exclusive = crate::harness::MEMORY_HEAVY.lock().await;
    // Spilling between partitions could hang with every thread idle: fail instead.
    let starting = TestServer::start(|c, dir| {
        let scripts = dir.join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        // Each side: two million rows with a 32-character text, ~100 MB in memory.
        std::fs::write(
            scripts.join("010_joined.sql"),
            "CREATE TABLE warehouse.joined AS\n\
             SELECT a.v, a.m, b.w\n\
             FROM (SELECT v, md5(CAST(v AS TEXT)) AS m FROM generate_series(1, 2000000) AS t(v)) AS a\n\
             JOIN (SELECT v * 3 AS v, md5(CAST(v AS TEXT)) AS w FROM generate_series(1, 2000000) AS t(v)) AS b\n\
             ON a.v = b.v\n",
        )
        .unwrap();
        c.warehouse.scripts_dir = scripts.display().to_string();
        c.server.memory_limit_mb = 100;
        c.server.spill_dir = dir.join("spill").display().to_string();
    });
    let server = tokio::time::timeout(Duration::from_secs(120), starting)
        .await
        .expect("the build finishes, one way or another, within two minutes");
    let c = server.client().await;
    let row = c
        .query_one(
            "SELECT state, error FROM datapunk.warehouse_tables WHERE table_name = 'joined'",
            &[],
        )
        .await
        .unwrap();
    let (state, error): (String, Option<String>) = (row.get(0), row.get(1));
    assert_eq!(state, "ok", "{error:?}");
    assert_eq!(
        scalar(&c, "SELECT count(*) FROM warehouse.joined")
            .await
            .as_deref(),
        Some("666666")
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT w = md5('666666') AND m = md5('1999998') FROM warehouse.joined WHERE v = 1999998"
        )
        .await
        .as_deref(),
        Some("t")
    );
    server.stop().await;
}
