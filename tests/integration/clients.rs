//! Startup and catalog probes that drivers and BI tools send (pgjdbc, Metabase,
//! Grafana, Superset/SQLAlchemy, DBeaver, Power BI): each must succeed with a sensible
//! answer, in both protocols.

use crate::harness::{scalar, TestServer};

const PROBES: &[&str] = &[
    "SET extra_float_digits = 3",
    "SET application_name = 'PostgreSQL JDBC Driver'",
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "SHOW TRANSACTION ISOLATION LEVEL",
    "SELECT current_schemas(true)",
    "SELECT count(*) FROM pg_get_keywords()",
    "SELECT count(*) FROM pg_catalog.pg_range",
    "SELECT count(*) FROM pg_catalog.pg_enum",
    "SELECT current_setting('server_version_num')",
    "SELECT pg_is_in_recovery()",
    "SELECT pg_backend_pid()",
    "SELECT version()",
    "SELECT current_database(), current_user, session_user",
    "SELECT has_table_privilege('lake.orders', 'SELECT')",
    "SELECT nspname FROM pg_catalog.pg_namespace ORDER BY nspname",
    "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lake'",
    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'lake' AND table_name = 'orders'",
    "SELECT * FROM information_schema.table_constraints WHERE table_schema = 'lake'",
    "SELECT * FROM information_schema.key_column_usage",
    "SELECT * FROM information_schema.referential_constraints",
    "SELECT * FROM information_schema.constraint_column_usage",
    "DISCARD ALL",
];

#[tokio::test]
async fn driver_and_bi_tool_probes_succeed() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    for sql in PROBES {
        if let Err(e) = c.simple_query(sql).await {
            panic!("simple: {sql}: {:?}", e.as_db_error().map(|d| d.message()));
        }
        if !sql.starts_with("SET") && !sql.starts_with("DISCARD") {
            if let Err(e) = c.query(*sql, &[]).await {
                panic!(
                    "extended: {sql}: {:?}",
                    e.as_db_error().map(|d| d.message())
                );
            }
        }
    }
    assert_eq!(
        scalar(&c, "SHOW TRANSACTION ISOLATION LEVEL")
            .await
            .as_deref(),
        Some("read committed")
    );
    assert_eq!(
        scalar(&c, "SELECT current_setting('server_version_num')")
            .await
            .as_deref(),
        Some("160006")
    );
    // DISCARD ALL resets the session.
    c.batch_execute("SET search_path TO lake").await.unwrap();
    c.batch_execute("DISCARD ALL").await.unwrap();
    assert_eq!(
        scalar(&c, "SHOW search_path").await.as_deref(),
        Some("warehouse, lake")
    );
}

#[tokio::test]
async fn many_concurrent_connections_each_get_their_own_answers() {
    let server = TestServer::start(|c, _| c.server.max_connections = 300).await;
    let mut tasks = Vec::new();
    for i in 0..200i64 {
        let conn = server.conn_string("analyst", None);
        tasks.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            let stmt = client
                .prepare("SELECT $1::BIGINT * 2 + count(*) * 0 FROM lake.products")
                .await
                .expect("prepare");
            for j in 0..20i64 {
                let v = i * 1000 + j;
                let got: i64 = client.query_one(&stmt, &[&v]).await.expect("query").get(0);
                assert_eq!(got, v * 2);
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
}
