//! Audiences over the wire: CREATE / DROP / REFRESH AUDIENCE, `audience.NAME`,
//! `datapunk.audiences` and `datapunk.audience_changes` on a real server over a real lake
//! whose files change, a restart on the same state dir, and the errors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::harness::{column, sqlstate, user, TestServer};

/// Customers with at least `min` order lines: membership moves when files go.
fn busy_customers(min: i64) -> String {
    format!(
        "SELECT customer_id, count(*) AS lines FROM lake.order_lines GROUP BY customer_id \
         HAVING count(*) >= {min}"
    )
}

async fn keys(client: &tokio_postgres::Client, sql: &str) -> BTreeSet<String> {
    column(client, sql).await.into_iter().collect()
}

struct Dirs {
    _root: tempfile::TempDir,
    lake: PathBuf,
    state: PathBuf,
    definitions: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().expect("tempdir");
    let lake = root.path().join("lake");
    datapunk::testing::tiny_lake(&lake);
    Dirs {
        lake,
        state: root.path().join("state"),
        definitions: root.path().join("audiences"),
        _root: root,
    }
}

async fn server(d: &Dirs) -> TestServer {
    let (lake, state, definitions) = (d.lake.clone(), d.state.clone(), d.definitions.clone());
    TestServer::start(move |c, _| {
        c.lake.root = lake.display().to_string();
        c.state.dir = state.display().to_string();
        c.audiences.dir = definitions.display().to_string();
        c.auth.users = vec![user("admin", "pw", true), user("analyst", "pw", false)];
    })
    .await
}

async fn admin(s: &TestServer) -> tokio_postgres::Client {
    s.connect_as("admin", Some("pw")).await.expect("admin")
}

fn changes_of(rows: &[tokio_postgres::SimpleQueryMessage], change: &str) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) if r.get(1) == Some(change) => {
                r.get(0).map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

fn lake_file(lake: &Path, table: &str, index: usize) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(lake.join(table))
        .expect("table dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files.swap_remove(index)
}

#[tokio::test]
async fn membership_diffs_follow_the_lake_and_survive_a_restart() {
    let d = dirs();
    let s = server(&d).await;
    let c = admin(&s).await;
    let query = busy_customers(4);
    let before = keys(&c, &query).await;
    assert!(before.len() > 5, "the tiny lake has busy customers");
    c.batch_execute(&format!("CREATE AUDIENCE busy AS {query}"))
        .await
        .expect("create");
    assert!(d.definitions.join("busy.sql").exists());
    let members = keys(&c, "SELECT customer_id FROM audience.busy").await;
    assert_eq!(members, before);
    let entered = keys(
        &c,
        "SELECT key FROM datapunk.audience_changes WHERE audience = 'busy' AND change = 'entered'",
    )
    .await;
    assert_eq!(entered, before, "everyone enters on the first refresh");

    // A file of order lines goes: some customers drop below the threshold.
    std::fs::remove_file(lake_file(&d.lake, "order_lines", 0)).expect("remove a file");
    c.batch_execute("REFRESH LAKE").await.expect("refresh lake");
    let after = keys(&c, &query).await;
    assert_ne!(after, before, "removing a file changes the membership");
    assert_eq!(
        keys(&c, "SELECT customer_id FROM audience.busy").await,
        after
    );
    let rows = c
        .simple_query(
            "SELECT key, change FROM datapunk.audience_changes \
             WHERE audience = 'busy' AND refresh_id = 2",
        )
        .await
        .expect("changes");
    let exited: BTreeSet<String> = before.difference(&after).cloned().collect();
    let entered: BTreeSet<String> = after.difference(&before).cloned().collect();
    assert_eq!(changes_of(&rows, "exited"), exited);
    assert_eq!(changes_of(&rows, "entered"), entered);
    let status = keys(
        &c,
        "SELECT members || '/' || entered || '/' || exited || '/' || state FROM datapunk.audiences WHERE name = 'busy'",
    )
    .await;
    assert_eq!(
        status,
        BTreeSet::from([format!(
            "{}/{}/{}/ok",
            after.len(),
            entered.len(),
            exited.len()
        )])
    );
    let first_entered = keys(
        &c,
        "SELECT customer_id || ' ' || entered_at FROM audience.busy",
    )
    .await;
    drop(c);
    s.stop().await;

    // Restart on the same state: the same members, entered_at kept, history intact, and
    // a refresh with nothing changed records nothing.
    let s = server(&d).await;
    let c = admin(&s).await;
    assert_eq!(
        keys(
            &c,
            "SELECT customer_id || ' ' || entered_at FROM audience.busy"
        )
        .await,
        first_entered
    );
    let history = keys(
        &c,
        "SELECT count(*) FROM datapunk.audience_changes WHERE audience = 'busy'",
    )
    .await;
    assert_eq!(
        history,
        BTreeSet::from([(before.len() + entered.len() + exited.len()).to_string()])
    );
    c.batch_execute("REFRESH AUDIENCE busy")
        .await
        .expect("refresh");
    assert_eq!(
        keys(
            &c,
            "SELECT entered || '/' || exited FROM datapunk.audiences"
        )
        .await,
        BTreeSet::from(["0/0".to_owned()])
    );

    c.batch_execute("DROP AUDIENCE busy").await.expect("drop");
    assert!(!d.definitions.join("busy.sql").exists());
    let e = c
        .simple_query("SELECT * FROM audience.busy")
        .await
        .expect_err("dropped");
    assert_eq!(sqlstate(&e), "42P01");
    s.stop().await;
}

/// An edited definition may give the key another type (here integer to text, whose
/// orders differ: "10" < "9"): the diff still matches members by value, and those
/// who stay keep their `entered_at`.
#[tokio::test]
async fn an_edited_key_type_still_diffs_by_value() {
    let d = dirs();
    let s = server(&d).await;
    let c = admin(&s).await;
    // Ids of one digit and of two.
    let query = format!(
        "SELECT customer_id - 10 AS customer_id, lines FROM ({}) AS b",
        busy_customers(2)
    );
    c.batch_execute(&format!("CREATE AUDIENCE busy AS {query}"))
        .await
        .expect("create");
    let before = keys(
        &c,
        "SELECT customer_id || ' ' || entered_at FROM audience.busy",
    )
    .await;
    assert!(
        before.iter().any(|k| k.starts_with("1 ")) && before.iter().any(|k| k.starts_with("10 ")),
        "keys of one and of several digits: {before:?}"
    );

    std::fs::remove_file(lake_file(&d.lake, "order_lines", 0)).expect("remove a file");
    std::fs::write(
        d.definitions.join("busy.sql"),
        format!("SELECT CAST(customer_id AS VARCHAR) AS customer_id, lines FROM ({query}) AS q"),
    )
    .expect("edit");
    c.batch_execute("REFRESH LAKE").await.expect("refresh lake");
    c.batch_execute("REFRESH AUDIENCE busy")
        .await
        .expect("refresh");
    let after = keys(&c, &query).await;
    let before_keys: BTreeSet<String> = before
        .iter()
        .map(|k| k.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    let rows = c
        .simple_query(
            "SELECT key, change FROM datapunk.audience_changes \
             WHERE audience = 'busy' AND refresh_id = 2",
        )
        .await
        .expect("changes");
    assert_eq!(
        changes_of(&rows, "exited"),
        before_keys.difference(&after).cloned().collect()
    );
    assert_eq!(
        changes_of(&rows, "entered"),
        after.difference(&before_keys).cloned().collect()
    );
    assert!(
        !changes_of(&rows, "exited").is_empty(),
        "removing a file makes someone leave"
    );
    let stayed = keys(
        &c,
        "SELECT customer_id || ' ' || entered_at FROM audience.busy",
    )
    .await;
    for member in &stayed {
        let key = member.split(' ').next().unwrap_or_default();
        if before_keys.contains(key) {
            assert!(before.contains(member), "{member} kept its entered_at");
        }
    }
    s.stop().await;
}

/// Twenty refreshes that each move the membership: the history is merged into few files
/// (eight of one level make one of the next) and still reads change for change as the
/// refreshes recorded it, also after a restart.
#[tokio::test]
async fn a_long_history_is_compacted_and_reads_the_same() {
    let d = dirs();
    let s = server(&d).await;
    let c = admin(&s).await;
    let customers: BTreeSet<i64> = column(&c, "SELECT DISTINCT customer_id FROM lake.order_lines")
        .await
        .iter()
        .map(|k| k.parse().expect("an id"))
        .collect();
    let definition = |left_out: i64| {
        format!(
            "SELECT DISTINCT customer_id FROM lake.order_lines WHERE customer_id % 20 <> {left_out}"
        )
    };
    let members = |left_out: i64| -> BTreeSet<i64> {
        customers
            .iter()
            .copied()
            .filter(|c| c % 20 != left_out)
            .collect()
    };
    c.batch_execute(&format!("CREATE AUDIENCE rotating AS {}", definition(0)))
        .await
        .expect("create");
    let mut expected: BTreeSet<String> = members(0)
        .iter()
        .map(|k| format!("1 {k} entered"))
        .collect();
    for refresh in 2..=21 {
        // Refresh r leaves out the ids of remainder r - 1.
        let (before, after) = ((refresh - 2) % 20, (refresh - 1) % 20);
        std::fs::write(d.definitions.join("rotating.sql"), definition(after)).expect("edit");
        c.batch_execute("REFRESH AUDIENCE rotating")
            .await
            .expect("refresh");
        for k in members(before).difference(&members(after)) {
            expected.insert(format!("{refresh} {k} exited"));
        }
        for k in members(after).difference(&members(before)) {
            expected.insert(format!("{refresh} {k} entered"));
        }
    }
    let history =
        "SELECT refresh_id || ' ' || key || ' ' || change FROM datapunk.audience_changes \
                   WHERE audience = 'rotating'";
    let recorded = keys(&c, history).await;
    assert_eq!(
        (
            recorded.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&recorded).collect::<Vec<_>>()
        ),
        (vec![], vec![]),
        "recorded and not expected, expected and not recorded"
    );
    assert_eq!(
        column(&c, "SELECT count(*) FROM datapunk.audience_changes").await,
        vec![expected.len().to_string()],
        "no change recorded twice"
    );
    drop(c);
    s.stop().await;

    // 21 change files: two merged files of eight, five of one refresh each.
    let (_, manifest) =
        datapunk::activation::store::AudienceDir::open(d.state.join("audiences").join("rotating"))
            .expect("state");
    let levels: Vec<u32> = manifest
        .changes
        .iter()
        .map(|name| {
            datapunk::activation::compaction::parse_name(name)
                .expect("a change file")
                .2
        })
        .collect();
    assert_eq!(levels, [1, 1, 0, 0, 0, 0, 0], "{:?}", manifest.changes);

    let s = server(&d).await;
    let c = admin(&s).await;
    assert_eq!(keys(&c, history).await, expected, "after a restart");
    s.stop().await;
}

#[tokio::test]
async fn audience_commands_check_users_names_and_queries() {
    let d = dirs();
    let s = server(&d).await;
    let analyst = s.connect_as("analyst", Some("pw")).await.expect("analyst");
    let e = analyst
        .batch_execute("CREATE AUDIENCE x AS SELECT customer_id FROM lake.customers")
        .await
        .expect_err("not admin");
    assert_eq!(sqlstate(&e), "42501");
    let c = admin(&s).await;
    let cases = [
        (
            "CREATE AUDIENCE x AS SELECT customer_id FROM lake.nope",
            "42P01",
        ),
        (
            "CREATE AUDIENCE x AS SELECT name FROM lake.customers",
            "42703",
        ),
        (
            "CREATE AUDIENCE \"Bad Name\" AS SELECT customer_id FROM lake.customers",
            "42602",
        ),
        ("DROP AUDIENCE nope", "42704"),
        ("REFRESH AUDIENCE nope", "42704"),
    ];
    for (sql, code) in cases {
        let e = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), code, "{sql}: {e:?}");
    }
    c.batch_execute("DROP AUDIENCE IF EXISTS nope")
        .await
        .expect("if exists");
    // One row per member: a repeated key is refused, and nothing is kept.
    let e = c
        .batch_execute("CREATE AUDIENCE twice AS SELECT customer_id FROM lake.order_lines")
        .await
        .expect_err("repeated keys");
    assert!(format!("{e:?}").contains("more than one row"), "{e:?}");
    assert!(!d.definitions.join("twice.sql").exists());
    c.batch_execute("CREATE AUDIENCE everyone AS SELECT customer_id, email FROM lake.customers")
        .await
        .expect("create");
    let e = c
        .batch_execute("CREATE AUDIENCE everyone AS SELECT customer_id FROM lake.customers")
        .await
        .expect_err("taken");
    assert_eq!(sqlstate(&e), "42710");
    // Everyone reads: the members, their status and their history.
    let n = keys(&analyst, "SELECT count(*) FROM audience.everyone").await;
    let customers = keys(&analyst, "SELECT count(*) FROM lake.customers").await;
    assert_eq!(n, customers);
    assert_eq!(
        keys(
            &analyst,
            "SELECT members || ' ' || state FROM datapunk.audiences WHERE name = 'everyone'"
        )
        .await,
        BTreeSet::from([format!("{} ok", customers.first().expect("count"))])
    );
    assert_eq!(
        keys(
            &analyst,
            "SELECT count(*) FROM datapunk.audience_changes WHERE audience = 'everyone'"
        )
        .await,
        customers
    );
    keys(&analyst, "SELECT count(*) FROM datapunk.export_runs").await;
    // But only an admin changes them.
    for sql in ["DROP AUDIENCE everyone", "REFRESH AUDIENCE everyone"] {
        let e = analyst.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql}");
    }
    assert!(d.definitions.join("everyone.sql").exists());

    // The extended protocol (what JDBC and most drivers use) runs the same commands.
    let e = analyst
        .execute("REFRESH AUDIENCE everyone", &[])
        .await
        .expect_err("not admin");
    assert_eq!(sqlstate(&e), "42501");
    c.execute(
        "CREATE AUDIENCE later AS SELECT customer_id FROM lake.customers",
        &[],
    )
    .await
    .expect("create, extended");
    let statement = c.prepare("REFRESH AUDIENCE later").await.expect("prepare");
    assert!(statement.params().is_empty() && statement.columns().is_empty());
    c.execute(&statement, &[]).await.expect("refresh, extended");
    c.execute(&statement, &[]).await.expect("refresh again");
    assert_eq!(
        keys(
            &c,
            "SELECT refresh_id FROM datapunk.audiences WHERE name = 'later'"
        )
        .await,
        BTreeSet::from(["3".to_owned()])
    );
    let e = c
        .execute("DROP AUDIENCE nope", &[])
        .await
        .expect_err("unknown");
    assert_eq!(sqlstate(&e), "42704");
    c.execute("DROP AUDIENCE later", &[])
        .await
        .expect("drop, extended");
    assert!(!d.definitions.join("later.sql").exists());

    // An edited definition file counts from the next refresh; its key may not change.
    std::fs::write(
        d.definitions.join("everyone.sql"),
        "SELECT customer_id, email FROM lake.customers WHERE customer_id <= 10",
    )
    .expect("edit");
    c.batch_execute("REFRESH AUDIENCE everyone")
        .await
        .expect("refresh edited");
    assert_eq!(
        keys(&c, "SELECT count(*) FROM audience.everyone").await,
        BTreeSet::from(["10".to_owned()])
    );
    std::fs::write(
        d.definitions.join("everyone.sql"),
        "-- key: email\nSELECT customer_id, email FROM lake.customers",
    )
    .expect("edit key");
    let e = c
        .batch_execute("REFRESH AUDIENCE everyone")
        .await
        .expect_err("key changed");
    assert!(format!("{e:?}").contains("keeps its key"), "{e:?}");
    assert_eq!(
        keys(&c, "SELECT count(*) FROM audience.everyone").await,
        BTreeSet::from(["10".to_owned()])
    );
    s.stop().await;
}

#[tokio::test]
async fn a_failing_audience_keeps_its_members_and_says_where() {
    let d = dirs();
    std::fs::create_dir_all(&d.definitions).expect("dir");
    std::fs::write(
        d.definitions.join("opted_in.sql"),
        "-- everyone who said yes\nSELECT customer_id\nFROM lake.customers\nWHERE marketing_opt_in\n",
    )
    .expect("definition");
    std::fs::write(d.definitions.join("buyers.sql"), busy_customers(1)).expect("definition");
    let s = server(&d).await;
    let c = admin(&s).await;
    let members = keys(&c, "SELECT count(*) FROM audience.opted_in").await;
    assert_ne!(members, BTreeSet::from(["0".to_owned()]));
    // The table the audience reads goes away: the refresh fails, the members stay.
    std::fs::remove_dir_all(d.lake.join("customers")).expect("remove table");
    c.batch_execute("REFRESH LAKE").await.expect("refresh lake");
    assert_eq!(
        keys(&c, "SELECT count(*) FROM audience.opted_in").await,
        members
    );
    let status = keys(
        &c,
        "SELECT state || ' ' || error FROM datapunk.audiences WHERE name = 'opted_in'",
    )
    .await;
    let status = status.into_iter().next().expect("a status row");
    assert!(status.starts_with("stale "), "{status}");
    let file = d.definitions.join("opted_in.sql");
    assert!(
        status.contains(&format!("{}:3: ", file.display())),
        "the file and line of the error: {status}"
    );
    // The others still refresh.
    assert_eq!(
        keys(
            &c,
            "SELECT refresh_id || ' ' || state FROM datapunk.audiences WHERE name = 'buyers'"
        )
        .await,
        BTreeSet::from(["2 ok".to_owned()])
    );
    s.stop().await;
}

#[tokio::test]
async fn warehouse_builds_and_lake_changes_refresh_the_audiences_over_them() {
    let d = dirs();
    let scripts = d.lake.parent().expect("root").join("scripts");
    std::fs::create_dir_all(&scripts).expect("scripts");
    std::fs::write(
        scripts.join("010_buyers.sql"),
        format!("CREATE TABLE warehouse.buyers AS {}", busy_customers(2)),
    )
    .expect("script");
    std::fs::create_dir_all(&d.definitions).expect("dir");
    std::fs::write(
        d.definitions.join("loyal.sql"),
        "SELECT customer_id FROM warehouse.buyers WHERE lines >= 3\n",
    )
    .expect("definition");
    let (lake, state, definitions) = (d.lake.clone(), d.state.clone(), d.definitions.clone());
    let s = TestServer::start(move |c, _| {
        c.lake.root = lake.display().to_string();
        c.state.dir = state.display().to_string();
        c.audiences.dir = definitions.display().to_string();
        c.warehouse.scripts_dir = scripts.display().to_string();
        c.lake.watch = true;
    })
    .await;
    let c = s.client().await;
    let status = "SELECT refresh_id || ' ' || members FROM datapunk.audiences";
    let before = keys(&c, status).await;
    let expected = keys(&c, "SELECT count(*) FROM warehouse.buyers WHERE lines >= 3").await;
    assert_eq!(
        before,
        BTreeSet::from([format!("1 {}", expected.first().expect("count"))])
    );
    // The script changes: the rebuilt table is what the audience reads next.
    std::fs::write(
        d.lake
            .parent()
            .expect("root")
            .join("scripts/010_buyers.sql"),
        format!("CREATE TABLE warehouse.buyers AS {}", busy_customers(5)),
    )
    .expect("script");
    c.batch_execute("REFRESH WAREHOUSE").await.expect("rebuild");
    let expected = keys(&c, "SELECT count(*) FROM warehouse.buyers WHERE lines >= 3").await;
    assert_eq!(
        keys(&c, status).await,
        BTreeSet::from([format!("2 {}", expected.first().expect("count"))])
    );
    assert_eq!(
        keys(&c, "SELECT count(*) FROM audience.loyal").await,
        expected
    );
    // A file leaves the lake: the watcher rebuilds the table, then the audience, unasked.
    std::fs::remove_file(lake_file(&d.lake, "order_lines", 0)).expect("remove");
    let refreshed = crate::harness::eventually(std::time::Duration::from_secs(30), || async {
        let status = keys(&c, status).await;
        status
            .contains(&format!(
                "3 {}",
                keys(&c, "SELECT count(*) FROM warehouse.buyers WHERE lines >= 3")
                    .await
                    .first()?
            ))
            .then_some(status)
    })
    .await;
    assert_eq!(
        refreshed,
        keys(&c, "SELECT '3 ' || count(*) FROM audience.loyal").await
    );
    s.stop().await;
}

/// The demo ships one audience per trigger-marketing pattern; on the demo lake each has
/// members, and they are the customers the pattern describes (checked against queries
/// written another way, straight on the lake).
#[tokio::test]
async fn demo_trigger_audiences_have_the_members_their_patterns_describe() {
    let s = TestServer::start(|c, dir| {
        c.lake.root = String::new();
        c.lake.demo_dir = dir.join("demo").display().to_string();
    })
    .await;
    let c = s.client().await;
    let status = crate::harness::rows(
        &c,
        "SELECT name, members, entered, state, coalesce(error, '') FROM datapunk.audiences ORDER BY name",
    )
    .await;
    let names: Vec<&str> = status.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "cart_abandonment",
            "post_purchase_recommendations",
            "welcome",
            "win_back"
        ]
    );
    for row in &status {
        assert_eq!(row[3], "ok", "{row:?}");
        assert!(row[1].parse::<u64>().expect("members") > 0, "{row:?}");
        assert_eq!(
            row[1], row[2],
            "everyone enters on the first refresh: {row:?}"
        );
    }

    let welcome = keys(&c, "SELECT customer_id FROM audience.welcome").await;
    let first_orders = keys(
        &c,
        "SELECT customer_id FROM lake.orders WHERE status <> 'cancelled' GROUP BY customer_id \
         HAVING min(order_ts) > (SELECT max(order_ts) FROM lake.orders) - INTERVAL '24 hours'",
    )
    .await;
    assert_eq!(welcome, first_orders);

    let carts = keys(&c, "SELECT customer_id FROM audience.cart_abandonment").await;
    let abandoned = keys(
        &c,
        "WITH bought AS ( \
             SELECT customer_id, max(ts) AS last_ts FROM ( \
                 SELECT customer_id, order_ts AS ts FROM lake.orders \
                 UNION ALL SELECT customer_id, event_ts FROM lake.web_events \
                 WHERE event_type = 'purchase' AND customer_id IS NOT NULL) AS b \
             GROUP BY customer_id) \
         SELECT DISTINCT e.customer_id FROM lake.web_events AS e \
         JOIN lake.customers AS c ON c.customer_id = e.customer_id \
         LEFT JOIN bought AS b ON b.customer_id = e.customer_id \
         WHERE e.event_type = 'add_to_cart' AND c.marketing_opt_in \
           AND e.event_ts BETWEEN (SELECT max(event_ts) FROM lake.web_events) - INTERVAL '25 hours' + INTERVAL '1 microsecond' \
                              AND (SELECT max(event_ts) FROM lake.web_events) - INTERVAL '1 hour' \
           AND (b.last_ts IS NULL OR b.last_ts < e.event_ts)",
    )
    .await;
    assert_eq!(carts, abandoned);

    let recommended = keys(
        &c,
        "SELECT customer_id FROM audience.post_purchase_recommendations \
         WHERE product_id_1 IS NOT NULL AND product_id_2 IS NOT NULL AND product_id_3 IS NOT NULL \
           AND product_id_1 <> product_id_2 AND product_id_2 <> product_id_3 \
           AND product_id_1 <> product_id_3",
    )
    .await;
    let yesterdays_buyers = keys(
        &c,
        "SELECT DISTINCT customer_id FROM lake.orders WHERE status = 'completed' \
         AND date_trunc('day', order_ts) = date_trunc('day', (SELECT max(order_ts) FROM lake.orders)) - INTERVAL '1 day'",
    )
    .await;
    assert_eq!(recommended, yesterdays_buyers);

    let win_back = keys(&c, "SELECT customer_id FROM audience.win_back").await;
    let slipping = keys(
        &c,
        "SELECT customer_id FROM warehouse.customer_rfm WHERE segment IN ('At Risk', 'Can''t Lose Them')",
    )
    .await;
    assert_eq!(win_back, slipping);
    s.stop().await;
}
