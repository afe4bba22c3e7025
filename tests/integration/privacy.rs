//! Privacy over the wire: a forgotten person's rows are gone from every pii table on every
//! path a client can take (a penetration list run before and after the erasure, with
//! tokio-postgres, psql and psycopg), users read only the schemas they are granted
//! (42501 everywhere else, and the catalogs do not list the rest), masked columns stay
//! masked through filters and joins, and `datapunk_forget` is for admins only.

use datapunk::config::{Config, PiiTableConfig, UserConfig};

use crate::harness::{python_has, require_tool, rows, scalar, sqlstate, TestServer};

fn pii(table: &str, id_type: &str, column: &str) -> PiiTableConfig {
    PiiTableConfig {
        table: table.into(),
        id_type: id_type.into(),
        column: column.into(),
    }
}

/// The tiny lake with the warehouse scripts (its identity graph), the pii tables of the
/// README's example, and three users: `admin`, `ana` (warehouse only, masked) and `pia`
/// (every schema, pii in clear).
fn configure(c: &mut Config) {
    c.warehouse.scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse").into();
    c.privacy.pii_tables = vec![
        pii("lake.customers", "customer_id", "customer_id"),
        pii("lake.customers", "email", "email"),
        pii("lake.orders", "customer_id", "customer_id"),
        pii("lake.web_events", "customer_id", "customer_id"),
        pii("lake.web_events", "anonymous_id", "anonymous_id"),
        pii("lake.guest_orders", "email", "email"),
        pii("lake.guest_orders", "anonymous_id", "anonymous_id"),
        pii("warehouse.customers", "customer_id", "customer_id"),
        pii("warehouse.profiles", "person", "person_id"),
    ];
    c.privacy.masked_columns = vec!["email".into(), "name".into()];
    c.auth.users = vec![
        crate::harness::user("admin", "admin-pw", true),
        UserConfig {
            name: "ana".into(),
            password: "ana-pw".into(),
            schemas: Some(vec!["warehouse".into()]),
            ..Default::default()
        },
        UserConfig {
            name: "pia".into(),
            password: "pia-pw".into(),
            pii: true,
            ..Default::default()
        },
    ];
}

/// Rows a statement (simple protocol, several allowed) returns, or its SQLSTATE.
async fn probe(c: &tokio_postgres::Client, sql: &str) -> Result<usize, String> {
    match c.simple_query(sql).await {
        Ok(messages) => Ok(messages
            .iter()
            .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
            .count()),
        Err(e) => Err(format!("{}: {e}", sqlstate(&e))),
    }
}

/// Ways to read a person's rows, each written to return exactly those rows (so each must
/// find them before the erasure: a probe that cannot fail proves nothing). `{x}`: the
/// customer id, `{e}`: their guest order's e-mail, `{ce}`: their customer e-mail,
/// `{a}`: their guest order's device, `{p}`:
/// their person id, `{lake}`: the lake folder.
const PROBES: &[&str] = &[
    "SELECT * FROM lake.customers WHERE customer_id = {x}",
    "SELECT * FROM lake.orders WHERE customer_id = {x}",
    "SELECT * FROM \"lake\".\"customers\" WHERE customer_id = {x}",
    "SELECT * FROM LAKE.CUSTOMERS WHERE CUSTOMER_ID = {x}",
    "WITH c AS (SELECT * FROM lake.customers) SELECT * FROM c WHERE customer_id = {x}",
    "SELECT * FROM (SELECT * FROM lake.orders) o WHERE o.customer_id = {x}",
    "SELECT customer_id FROM lake.customers WHERE customer_id = {x} \
     UNION SELECT customer_id FROM lake.orders WHERE customer_id = {x}",
    "SELECT (SELECT max(order_id) FROM lake.orders WHERE customer_id = {x}) AS o \
     WHERE (SELECT count(*) FROM lake.orders WHERE customer_id = {x}) > 0",
    "SELECT c.customer_id FROM lake.customers c JOIN lake.orders o \
     ON o.customer_id = c.customer_id WHERE c.customer_id = {x}",
    "SELECT l.* FROM (VALUES ({x})) v(id) CROSS JOIN LATERAL \
     (SELECT * FROM lake.orders o WHERE o.customer_id = v.id) l",
    "SELECT * FROM lake.orders WHERE customer_id IN (SELECT {x})",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM lake.customers WHERE customer_id = {x})",
    "SELECT customer_id, count(*) FROM lake.orders GROUP BY customer_id HAVING customer_id = {x}",
    "SELECT * FROM (SELECT customer_id, row_number() OVER (PARTITION BY customer_id) AS n \
     FROM lake.orders) w WHERE customer_id = {x}",
    "SELECT * FROM lake.orders WHERE CAST(customer_id AS TEXT) = '{x}'",
    "SELECT * FROM lake.orders WHERE customer_id + 0 = {x}",
    "SELECT * FROM lake.orders WHERE customer_id = {x} LIMIT 1",
    "SELECT * FROM lake.orders WHERE customer_id BETWEEN {x} AND {x}",
    "SELECT * FROM lake.orders WHERE customer_id = ANY(ARRAY[{x}])",
    "SELECT * FROM lake.guest_orders WHERE email = '{e}'",
    "SELECT * FROM lake.web_events WHERE anonymous_id = '{a}'",
    "SELECT * FROM lake.web_events WHERE customer_id = {x}",
    "SELECT * FROM lake.customers WHERE lower(email) = lower('{ce}')",
    "SELECT * FROM warehouse.profiles WHERE person_id = {p}",
    "SELECT * FROM warehouse.customers WHERE customer_id = {x}",
    "SELECT ol.* FROM lake.order_lines ol JOIN lake.orders o USING (order_id) \
     WHERE o.customer_id = {x}",
    "SELECT * FROM identity_stitch('SELECT ''customer_id'', CAST(customer_id AS TEXT), \
     ''email'', email FROM lake.customers') WHERE id = '{x}'",
    "SET search_path = lake; SELECT * FROM customers WHERE customer_id = {x}",
    "PREPARE leak(bigint) AS SELECT * FROM lake.orders WHERE customer_id = $1; \
     EXECUTE leak({x})",
    "BEGIN; DECLARE leak CURSOR FOR SELECT * FROM lake.orders WHERE customer_id = {x}; \
     FETCH ALL FROM leak; COMMIT",
    "SELECT array_agg(order_id) FROM lake.orders WHERE customer_id = {x} HAVING count(*) > 0",
    "SELECT string_agg(email, ',') FROM lake.customers WHERE customer_id = {x} \
     HAVING count(*) > 0",
    "SELECT * FROM audience.watched WHERE customer_id = {x}",
    "SELECT * FROM datapunk.audience_changes WHERE key = '{x}'",
];

/// Ways around the catalog that must fail outright (reading files, defining tables).
const BYPASSES: &[&str] = &[
    "SELECT pg_read_file('{lake}/customers/part-00000.parquet')",
    "SELECT * FROM read_parquet('{lake}/customers')",
    "CREATE EXTERNAL TABLE leak STORED AS PARQUET LOCATION '{lake}/customers'",
    "CREATE VIEW leak AS SELECT * FROM lake.customers",
    "COPY lake.customers FROM '{lake}/customers/part-00000.parquet'",
];

struct Person {
    x: String,
    e: String,
    ce: String,
    a: String,
    p: String,
}

fn fill(sql: &str, who: &Person, lake: &str) -> String {
    sql.replace("{x}", &who.x)
        .replace("{ce}", &who.ce)
        .replace("{e}", &who.e)
        .replace("{a}", &who.a)
        .replace("{p}", &who.p)
        .replace("{lake}", lake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_person_is_gone_from_every_pii_table_on_every_path() {
    let server = TestServer::start(|c, _| configure(c)).await;
    let admin = server
        .connect_as("admin", Some("admin-pw"))
        .await
        .expect("admin");
    // A customer who also ordered as a guest, and their identifiers.
    let chosen = rows(
        &admin,
        "SELECT c.id, CAST(c.person_id AS TEXT), o.email, o.anonymous_id \
         FROM warehouse.identity_graph c \
         JOIN warehouse.identity_graph g ON g.person_id = c.person_id AND g.id_type = 'email' \
         JOIN lake.guest_orders o ON o.email = g.id \
         WHERE c.id_type = 'customer_id' ORDER BY c.id LIMIT 1",
    )
    .await;
    let [x, p, e, a] = chosen
        .first()
        .expect("a customer with a guest order")
        .as_slice()
    else {
        panic!("{chosen:?}")
    };
    let (x, p, e, a) = (x.clone(), p.clone(), e.clone(), a.clone());
    let ce = scalar(
        &admin,
        &format!("SELECT email FROM lake.customers WHERE customer_id = {x}"),
    )
    .await
    .expect("the customer's e-mail");
    let lake = server.lake.display().to_string();
    let who = Person {
        x: x.clone(),
        e: e.clone(),
        ce,
        a,
        p: p.clone(),
    };
    // An audience they are in (with someone else), and its history.
    for sql in [
        format!(
            "CREATE AUDIENCE watched AS SELECT customer_id, email FROM lake.customers \
             WHERE customer_id IN ({x}, (SELECT min(customer_id) FROM lake.customers \
             WHERE customer_id <> {x}))"
        ),
        "REFRESH AUDIENCE watched".to_owned(),
    ] {
        admin.batch_execute(&sql).await.expect(&sql);
    }
    let probes: Vec<String> = PROBES.iter().map(|s| fill(s, &who, &lake)).collect();
    assert!(probes.len() >= 30, "{} probes", probes.len());
    let mut blind = Vec::new();
    for sql in &probes {
        match probe(&admin, sql).await {
            Ok(n) if n > 0 => {}
            other => blind.push(format!("{sql} -> {other:?}")),
        }
    }
    assert!(
        blind.is_empty(),
        "probes that do not see the person before the erasure:\n{}",
        blind.join("\n")
    );
    let bypasses: Vec<String> = BYPASSES.iter().map(|s| fill(s, &who, &lake)).collect();
    // The same query once more: its result is cached and must not outlive the erasure.
    let cached = format!("SELECT order_id FROM lake.orders WHERE customer_id = {x}");
    assert!(!rows(&admin, &cached).await.is_empty());
    assert!(!rows(&admin, &cached).await.is_empty());

    let total = "SELECT count(*) FROM lake.orders";
    let before = scalar(&admin, total).await.expect("a count");
    let theirs = scalar(
        &admin,
        &format!("SELECT count(*) FROM lake.orders WHERE customer_id = {x}"),
    )
    .await
    .expect("a count");

    // Only admins forget.
    let pia = server.connect_as("pia", Some("pia-pw")).await.expect("pia");
    let refused = pia
        .query("SELECT datapunk_forget('customer_id', $1)", &[&x])
        .await
        .expect_err("pia is not an admin");
    assert_eq!(sqlstate(&refused), "42501");
    // Bound parameters, as drivers send them.
    let said: String = admin
        .query_one("SELECT datapunk_forget($1, $2)", &[&"customer_id", &x])
        .await
        .expect("forget")
        .get(0);
    assert!(said.contains(&format!("person {p}")), "{said}");

    let mut leaks = Vec::new();
    for client in [&admin, &pia] {
        for sql in &probes {
            if let Ok(n) = probe(client, sql).await {
                if n > 0 {
                    leaks.push(format!("{sql} -> {n} rows"));
                }
            }
        }
        for sql in &bypasses {
            if let Ok(n) = probe(client, sql).await {
                leaks.push(format!("{sql} -> ran ({n} rows)"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "the erased person leaked:\n{}",
        leaks.join("\n")
    );
    assert!(
        rows(&admin, &cached).await.is_empty(),
        "a cached result outlived the erasure"
    );
    // Counts too: none comes from file statistics that still hold their rows.
    let n = |s: String| s.parse::<i64>().expect("a number");
    assert_eq!(
        n(scalar(&admin, total).await.expect("a count")),
        n(before) - n(theirs)
    );
    // COPY out: nothing of theirs in the whole table.
    let copied = copy_out(&admin, "COPY lake.orders TO STDOUT").await;
    assert!(!copied
        .lines()
        .any(|l| l.split('\t').nth(1) == Some(x.as_str())));
    assert!(!copied.is_empty());

    // The request is in the log, for admins only.
    let log = rows(
        &admin,
        "SELECT requested_by, id_type, id, CAST(person_id AS TEXT), state FROM datapunk.erasure_log",
    )
    .await;
    assert_eq!(
        log,
        vec![vec![
            "admin".to_owned(),
            "customer_id".into(),
            x.clone(),
            p.clone(),
            "pending".into()
        ]]
    );
    let hidden = pia
        .simple_query("SELECT * FROM datapunk.erasure_log")
        .await
        .expect_err("pia may not read the erasure log");
    assert_eq!(sqlstate(&hidden), "42501");

    // Real clients.
    let count = format!("SELECT count(*) FROM lake.orders WHERE customer_id = {x}");
    if require_tool("psql") {
        let out = std::process::Command::new("psql")
            .args(["-X", "-A", "-t", "-c", &count])
            .arg(server.conn_string("admin", Some("admin-pw")))
            .output()
            .expect("psql runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{out:?}");
    }
    if python_has("psycopg") {
        let out = crate::harness::python_output(&format!(
            "import psycopg\n\
             with psycopg.connect({conn:?}) as c:\n\
             \x20   print(c.execute('SELECT count(*) FROM lake.orders WHERE customer_id = %s', ({x},)).fetchone()[0])\n\
             \x20   print(c.execute('SELECT count(*) FROM lake.guest_orders WHERE email = %s', ({e:?},)).fetchone()[0])",
            conn = server.conn_string("admin", Some("admin-pw")),
        ));
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["0", "0"],
            "{out}"
        );
    }
    // Someone else is untouched.
    assert!(!rows(
        &admin,
        &format!("SELECT * FROM lake.orders WHERE customer_id <> {x} LIMIT 1")
    )
    .await
    .is_empty());
    assert_eq!(
        scalar(&admin, "SELECT count(*) FROM audience.watched").await,
        Some("1".to_owned())
    );
}

/// Two admins forgetting many people at once: each forgets exactly the rows the query
/// returns (the call is made after `ORDER BY ... LIMIT`, as PostgreSQL makes it), every
/// request gets its own number, in one sequence, and every person is in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bulk_erasures_forget_whom_they_select_and_number_each_request_once() {
    let server = TestServer::start(|c, _| configure(c)).await;
    let forget = |parity: i64| {
        let server = &server;
        async move {
            let admin = server
                .connect_as("admin", Some("admin-pw"))
                .await
                .expect("admin");
            rows(
                &admin,
                &format!(
                    "SELECT datapunk_forget('customer_id', CAST(customer_id AS TEXT)) \
                     FROM lake.customers WHERE customer_id % 2 = {parity} \
                     ORDER BY customer_id LIMIT 40"
                ),
            )
            .await
            .len()
        }
    };
    let (even, odd) = tokio::join!(forget(0), forget(1));
    assert_eq!((even, odd), (40, 40));
    let admin = server
        .connect_as("admin", Some("admin-pw"))
        .await
        .expect("admin");
    assert_eq!(
        rows(
            &admin,
            "SELECT count(*), count(DISTINCT request), min(request), max(request), \
             count(DISTINCT id) FROM datapunk.erasure_log"
        )
        .await,
        vec![vec!["80", "80", "1", "80", "80"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()]
    );
}

async fn copy_out(c: &tokio_postgres::Client, sql: &str) -> String {
    use futures::StreamExt;
    let stream = c.copy_out(sql).await.expect("copy out");
    futures::pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("copy data"));
    }
    String::from_utf8(out).expect("text")
}

/// What `ana` (granted `warehouse` only) may not read, by every path; each must be
/// refused with 42501.
const FORBIDDEN: &[&str] = &[
    "SELECT * FROM lake.customers",
    "SELECT count(*) FROM lake.orders",
    "SELECT * FROM \"lake\".\"customers\"",
    "SELECT * FROM LAKE.Customers",
    "WITH c AS (SELECT * FROM lake.customers) SELECT * FROM c",
    "SELECT (SELECT count(*) FROM lake.orders)",
    "SELECT customer_id FROM warehouse.customers UNION SELECT customer_id FROM lake.customers",
    "SELECT * FROM warehouse.customers w \
     WHERE EXISTS (SELECT 1 FROM lake.orders o WHERE o.customer_id = w.customer_id)",
    "SELECT * FROM warehouse.customers w CROSS JOIN LATERAL \
     (SELECT * FROM lake.orders o WHERE o.customer_id = w.customer_id) l",
    "SET search_path = lake; SELECT * FROM orders",
    "SET search_path = warehouse, lake; SELECT * FROM guest_orders",
    "PREPARE p AS SELECT * FROM lake.customers; EXECUTE p",
    "BEGIN; DECLARE c CURSOR FOR SELECT * FROM lake.customers; FETCH ALL FROM c; COMMIT",
    "SELECT * FROM identity_stitch('SELECT ''a'', ''1'', ''email'', email FROM lake.customers')",
    "SELECT * FROM datapunk.erasure_log",
    "SELECT key FROM datapunk.audience_changes",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_read_only_their_schemas_and_masked_columns_stay_masked() {
    let server = TestServer::start(|c, _| configure(c)).await;
    let admin = server
        .connect_as("admin", Some("admin-pw"))
        .await
        .expect("admin");
    let ana = server.connect_as("ana", Some("ana-pw")).await.expect("ana");
    let pia = server.connect_as("pia", Some("pia-pw")).await.expect("pia");

    let mut open = Vec::new();
    for sql in FORBIDDEN {
        let ana = server.connect_as("ana", Some("ana-pw")).await.expect("ana");
        match probe(&ana, sql).await {
            Err(e) if e.starts_with("42501") => {}
            other => open.push(format!("{sql} -> {other:?}")),
        }
        assert!(
            probe(&pia, sql.replace("erasure_log", "lake_tables").as_str())
                .await
                .is_ok(),
            "{sql}"
        );
    }
    assert!(
        open.is_empty(),
        "ana read what she may not:\n{}",
        open.join("\n")
    );
    match ana.copy_out("COPY lake.customers TO STDOUT").await {
        Ok(_) => panic!("COPY of a forbidden table ran"),
        Err(e) => assert_eq!(sqlstate(&e), "42501"),
    }
    // The catalogs do not list what she may not read.
    for listing in [
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake'",
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'lake'",
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'lake'",
        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = 'lake'",
        "SELECT c.relname FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lake'",
        "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'lake'",
    ] {
        assert!(rows(&ana, listing).await.is_empty(), "{listing}");
        assert!(!rows(&pia, listing).await.is_empty(), "{listing}");
    }
    assert!(!rows(
        &ana,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'warehouse'"
    )
    .await
    .is_empty());
    // Nor the system tables kept from her: the erasure log (admins) and audience
    // changes (readers of schema audience).
    let system = "SELECT table_name FROM information_schema.tables \
                  WHERE table_schema = 'datapunk' ORDER BY 1";
    let names = |rows: Vec<Vec<String>>| -> Vec<String> {
        rows.into_iter()
            .map(|r| r[0].clone())
            .filter(|n| ["audience_changes", "erasure_log", "lake_tables"].contains(&n.as_str()))
            .collect()
    };
    assert_eq!(names(rows(&ana, system).await), ["lake_tables"]);
    assert_eq!(
        names(rows(&pia, system).await),
        ["audience_changes", "lake_tables"]
    );
    assert_eq!(
        names(rows(&admin, system).await),
        ["audience_changes", "erasure_log", "lake_tables"]
    );

    // Masked for ana, clear for pia and admins; equal values stay equal.
    let sql = "SELECT customer_id, email, name FROM warehouse.customers ORDER BY customer_id";
    let clear = rows(&admin, sql).await;
    assert_eq!(rows(&pia, sql).await, clear);
    let masked = rows(&ana, sql).await;
    assert_eq!(masked.len(), clear.len());
    for (m, c) in masked.iter().zip(&clear) {
        assert_eq!(m[0], c[0]);
        for i in [1, 2] {
            // NULL stays NULL; every value is masked.
            assert!(
                (c[i].is_empty() && m[i].is_empty()) || m[i].starts_with("masked:"),
                "{m:?}"
            );
        }
        assert!(c[1].is_empty() || m[1] != c[1]);
    }
    let distinct = "SELECT count(DISTINCT email) FROM warehouse.customers";
    assert_eq!(scalar(&ana, distinct).await, scalar(&admin, distinct).await);
    // Filters see the masked value: a known e-mail finds nothing.
    let known = &clear.iter().find(|r| !r[1].is_empty()).expect("an e-mail")[1];
    for filter in [
        format!("SELECT * FROM warehouse.customers WHERE email = '{known}'"),
        format!("SELECT * FROM warehouse.customers WHERE lower(email) = lower('{known}')"),
        "SELECT * FROM warehouse.customers WHERE email LIKE '%@%'".to_owned(),
        format!("SELECT * FROM warehouse.customers WHERE email IN (SELECT '{known}')"),
    ] {
        assert!(rows(&ana, &filter).await.is_empty(), "{filter}");
        assert!(!rows(&pia, &filter).await.is_empty(), "{filter}");
    }
    // Joins on a masked column still match (the hash is keyed, not random).
    let join =
        "SELECT count(*) FROM warehouse.customers c JOIN warehouse.profiles p ON p.email = c.email";
    assert_eq!(scalar(&ana, join).await, scalar(&admin, join).await);

    if require_tool("psql") {
        let out = std::process::Command::new("psql")
            .args(["-X", "-c", "\\dt lake.*", "-c", "\\dn"])
            .arg(server.conn_string("ana", Some("ana-pw")))
            .output()
            .expect("psql runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("Did not find any relation named \"lake.*\""),
            "{text}"
        );
        assert!(
            text.contains("warehouse") && !text.contains(" lake "),
            "{text}"
        );
    }
    if python_has("psycopg") {
        let out = crate::harness::python_output(&format!(
            "import psycopg\n\
             with psycopg.connect({conn:?}, autocommit=True) as c:\n\
             \x20   try:\n\
             \x20       c.execute('SELECT * FROM lake.customers WHERE customer_id = %s', (1,))\n\
             \x20   except psycopg.errors.InsufficientPrivilege as e:\n\
             \x20       print('refused', e.sqlstate)\n\
             \x20   print(c.execute('SELECT email FROM warehouse.customers WHERE customer_id = %s', (int({id:?}),)).fetchone()[0][:7])",
            conn = server.conn_string("ana", Some("ana-pw")),
            id = clear[0][0],
        ));
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["refused", "42501", "masked:"],
            "{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiences_and_exports_keep_only_people_with_marketing_consent() {
    let server = TestServer::start(|c, dir| {
        c.privacy.consent_table = "lake.customers".into();
        c.activation.export_roots = vec![dir.join("out").display().to_string()];
        c.exports = vec![
            datapunk::config::ExportConfig {
                name: "all_consented".into(),
                query: "SELECT customer_id, country FROM lake.customers".into(),
                path: dir.join("out/a").display().to_string(),
                consent_column: String::new(),
                ..Default::default()
            },
            datapunk::config::ExportConfig {
                name: "service_mail".into(),
                query: "SELECT customer_id, country FROM lake.customers".into(),
                path: dir.join("out/b").display().to_string(),
                consent_column: String::new(),
                ignore_consent: true,
                ..Default::default()
            },
        ];
    })
    .await;
    let c = server.client().await;
    let all = scalar(&c, "SELECT count(*) FROM lake.customers")
        .await
        .unwrap();
    let consented = scalar(
        &c,
        "SELECT count(*) FROM lake.customers WHERE marketing_opt_in",
    )
    .await
    .unwrap();
    assert_ne!(all, consented, "the lake has people without consent");
    c.batch_execute("CREATE AUDIENCE everyone AS SELECT customer_id, country FROM lake.customers")
        .await
        .unwrap();
    assert_eq!(
        scalar(&c, "SELECT count(*) FROM audience.everyone")
            .await
            .unwrap(),
        consented
    );
    // An admin's explicit opt-out.
    c.batch_execute(
        "CREATE AUDIENCE notices AS -- consent: ignore\nSELECT customer_id FROM lake.customers",
    )
    .await
    .unwrap();
    assert_eq!(
        scalar(&c, "SELECT count(*) FROM audience.notices")
            .await
            .unwrap(),
        all
    );
    // Without the key consent is recorded by, nobody can be checked: refused.
    let refused = c
        .batch_execute("CREATE AUDIENCE by_mail AS -- key: email\nSELECT email FROM lake.customers")
        .await
        .expect_err("no consent key");
    let message = refused
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("customer_id"), "{refused:?}");
    c.batch_execute("RUN EXPORT all_consented").await.unwrap();
    c.batch_execute("RUN EXPORT service_mail").await.unwrap();
    let exported = rows(
        &c,
        "SELECT name, rows FROM datapunk.export_runs ORDER BY name",
    )
    .await;
    assert_eq!(
        exported,
        vec![
            vec!["all_consented".to_owned(), consented.clone()],
            vec!["service_mail".to_owned(), all.clone()]
        ]
    );
}
