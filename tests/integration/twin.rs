//! A PostgreSQL twin of datapunk's lake for tests that compare the two: a throwaway
//! PostgreSQL cluster ([`postgres::LocalPostgres`]) given datapunk's lake tables, with the
//! same column types (as `format_type` names them) and nullability, and optionally the
//! same rows (copied over in COPY's text format).

#[path = "../../benches/support/postgres.rs"]
#[allow(dead_code)]
pub mod postgres;

use futures::{SinkExt, StreamExt};
use tokio_postgres::Client;

/// Creates datapunk's lake tables in PostgreSQL (schema `lake`); their names, sorted.
pub async fn create_lake_tables(datapunk: &Client, pg: &Client) -> Vec<String> {
    pg.batch_execute("CREATE SCHEMA lake")
        .await
        .expect("schema");
    let tables: Vec<String> = datapunk
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1",
            &[],
        )
        .await
        .expect("lake tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in &tables {
        let columns = datapunk
            .query(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull \
                 FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'lake' AND c.relname = $1 AND a.attnum > 0 \
                 ORDER BY a.attnum",
                &[table],
            )
            .await
            .expect("lake columns");
        let definition: Vec<String> = columns
            .iter()
            .map(|c| {
                let not_null = if c.get::<_, bool>(2) { " NOT NULL" } else { "" };
                format!(
                    "\"{}\" {}{not_null}",
                    c.get::<_, String>(0),
                    c.get::<_, String>(1)
                )
            })
            .collect();
        pg.batch_execute(&format!(
            "CREATE TABLE lake.{table} ({})",
            definition.join(", ")
        ))
        .await
        .expect("create table in PostgreSQL");
    }
    tables
}

/// [`create_lake_tables`], then their rows.
pub async fn load_lake(datapunk: &Client, pg: &Client) {
    for table in create_lake_tables(datapunk, pg).await {
        let mut rows = std::pin::pin!(datapunk
            .copy_out(&format!("COPY lake.{table} TO STDOUT"))
            .await
            .expect("COPY out of datapunk"));
        let sink = pg
            .copy_in::<_, bytes::Bytes>(&format!("COPY lake.{table} FROM STDIN"))
            .await
            .expect("COPY into PostgreSQL");
        let mut sink = std::pin::pin!(sink);
        while let Some(chunk) = rows.next().await {
            sink.send(chunk.expect("COPY data"))
                .await
                .expect("COPY send");
        }
        sink.finish().await.expect("COPY finish");
    }
    pg.batch_execute("ANALYZE").await.expect("analyze");
}

/// Connects to `conn` (a libpq key=value string), driving the connection in the background.
pub async fn connect(conn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}
