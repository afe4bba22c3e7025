//! `COPY ... TO STDOUT` as clients read it: text and csv byte for byte as PostgreSQL 15
//! writes them, binary decoded by tokio-postgres, the `COPY n` tag (psql), and a failure
//! half-way ending in a plain ErrorResponse with the connection still usable.

use bytes::Bytes;
use futures::{pin_mut, TryStreamExt};
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::types::Type;

use crate::harness::{sqlstate, TestServer};

async fn copy_text(c: &tokio_postgres::Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    let stream = c.copy_out(sql).await?;
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(String::from_utf8(chunks.concat()).expect("utf-8"))
}

/// Values whose text PostgreSQL 15 prints in one exact way (checked against `psql` on a
/// PostgreSQL 15 server).
const SPECIAL: &str = "SELECT CAST(1.5 AS DOUBLE) AS a, 'tab' || chr(9) || 'and \\ slash' AS b, \
     CAST(NULL AS INT) AS c, true AS d, CAST('2024-01-02 03:04:05.5' AS TIMESTAMP) AS e, \
     CAST(1e20 AS DOUBLE) AS f, DATE '2024-01-02' AS g, CAST(12.5 AS DECIMAL(10,2)) AS h, \
     CAST(0.00001 AS DOUBLE) AS i, CAST('2024-01-02 00:00:00' AS TIMESTAMP) AS j, \
     CAST(3 AS SMALLINT) AS k, 'a,b \"q\"' AS l, '' AS m";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_csv_are_written_as_postgres_writes_them() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let text = copy_text(&c, &format!("COPY ({SPECIAL}) TO STDOUT"))
        .await
        .unwrap();
    assert_eq!(
        text,
        "1.5\ttab\\tand \\\\ slash\t\\N\tt\t2024-01-02 03:04:05.5\t1e+20\t2024-01-02\t12.50\t\
         1e-05\t2024-01-02 00:00:00\t3\ta,b \"q\"\t\n"
    );
    let csv = copy_text(
        &c,
        &format!("COPY ({SPECIAL}) TO STDOUT WITH (FORMAT csv, HEADER)"),
    )
    .await
    .unwrap();
    assert_eq!(
        csv,
        "a,b,c,d,e,f,g,h,i,j,k,l,m\n\
         1.5,tab\tand \\ slash,,t,2024-01-02 03:04:05.5,1e+20,2024-01-02,12.50,1e-05,\
         2024-01-02 00:00:00,3,\"a,b \"\"q\"\"\",\"\"\n"
    );
    // Options: delimiter and NULL string.
    let custom = copy_text(
        &c,
        "COPY (SELECT 1 AS x, CAST(NULL AS TEXT) AS y, 'p|q' AS z) TO STDOUT WITH (DELIMITER '|', NULL 'nil')",
    )
    .await
    .unwrap();
    assert_eq!(custom, "1|nil|p\\|q\n");
}

/// Decimals PostgreSQL prints with their whole scale, including a zero and a value
/// beyond a 96-bit mantissa.
const DECIMALS: &str = "SELECT CAST(0 AS DECIMAL(10,2)) AS a, CAST(-1.5 AS DECIMAL(10,3)) AS b, \
     CAST('12345678901234567890123456789012345678' AS DECIMAL(38,0)) AS c, \
     CAST('0.00001' AS DECIMAL(10,5)) AS d, CAST(10000 AS DECIMAL(12,2)) AS e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimals_are_written_byte_for_byte_as_postgres_writes_them() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let text = copy_text(&c, &format!("COPY ({DECIMALS}) TO STDOUT"))
        .await
        .unwrap();
    assert_eq!(
        text,
        "0.00\t-1.500\t12345678901234567890123456789012345678\t0.00001\t10000.00\n"
    );
    let stream = c
        .copy_out(&format!("COPY ({DECIMALS}) TO STDOUT (FORMAT binary)"))
        .await
        .unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    // `xxd -p` of PostgreSQL 15.18's `COPY (...) TO STDOUT (FORMAT binary)` of the same
    // numeric values.
    let postgres = "5047434f50590aff0d0a0000000000000000000005000000080000000000000002000000\
                    0c0002000040000003000113880000001c000a000900000000000c0d801ed204d2162e23\
                    340d801ed204d2162e0000000a0001fffe0000000503e80000000a000100010000000200\
                    01ffff";
    let ours: String = chunks.concat().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(ours, postgres);
    // As PostgreSQL: the signature with the row in one CopyData, the trailer in another.
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert_eq!(chunks[1].as_ref(), b"\xff\xff");
    // No rows: the signature rides with the trailer (PostgreSQL 15.18's bytes).
    let stream = c
        .copy_out("COPY (SELECT 1 WHERE false) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    let ours: Vec<String> = chunks
        .iter()
        .map(|chunk| chunk.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    assert_eq!(ours, ["5047434f50590aff0d0a000000000000000000ffff"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_text_matches_select_for_a_whole_lake_table() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let query = "SELECT * FROM lake.order_lines ORDER BY order_id, line_no";
    let copied = copy_text(&c, &format!("COPY ({query}) TO STDOUT"))
        .await
        .unwrap();
    let mut expected = String::new();
    for message in c.simple_query(query).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            let values: Vec<&str> = (0..row.len())
                .map(|i| row.get(i).unwrap_or("\\N"))
                .collect();
            expected.push_str(&values.join("\t"));
            expected.push('\n');
        }
    }
    assert_eq!(copied.lines().count(), 2000);
    assert_eq!(copied, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_copy_decodes_to_the_selected_values() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let query =
        "SELECT order_id, line_no, order_ts, country, unit_price, CAST(quantity AS DOUBLE) AS q, \
                 quantity > 2 AS big, CAST(order_ts AS DATE) AS day \
                 FROM lake.order_lines ORDER BY order_id, line_no";
    let expected = c.query(query, &[]).await.unwrap();
    let stream = c
        .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await
        .unwrap();
    let types = [
        Type::INT8,
        Type::INT4,
        Type::TIMESTAMP,
        Type::TEXT,
        Type::NUMERIC,
        Type::FLOAT8,
        Type::BOOL,
        Type::DATE,
    ];
    let rows = BinaryCopyOutStream::new(stream, &types);
    pin_mut!(rows);
    let mut n = 0;
    while let Some(row) = rows.try_next().await.unwrap() {
        let want = &expected[n];
        assert_eq!(row.get::<i64>(0), want.get::<_, i64>(0));
        assert_eq!(row.get::<i32>(1), want.get::<_, i32>(1));
        assert_eq!(
            row.get::<chrono::NaiveDateTime>(2),
            want.get::<_, chrono::NaiveDateTime>(2)
        );
        assert_eq!(row.get::<&str>(3), want.get::<_, &str>(3));
        assert_eq!(
            row.get::<rust_decimal::Decimal>(4),
            want.get::<_, rust_decimal::Decimal>(4)
        );
        assert_eq!(row.get::<f64>(5), want.get::<_, f64>(5));
        assert_eq!(row.get::<bool>(6), want.get::<_, bool>(6));
        assert_eq!(
            row.get::<chrono::NaiveDate>(7),
            want.get::<_, chrono::NaiveDate>(7)
        );
        n += 1;
    }
    assert_eq!(n, expected.len());
    assert_eq!(n, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_half_way_ends_with_an_error_and_the_connection_stays_usable() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    // The division fails in a later batch, after rows have been sent.
    let e = copy_text(
        &c,
        "COPY (SELECT 10 / (v - 50000) AS x FROM generate_series(1, 100000) AS t(v)) TO STDOUT",
    )
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22012", "{e}");
    let one = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(one.get::<_, i32>(0), 1);

    // psql: the error, not "unexpected response", and the tag of a good COPY.
    if !crate::harness::require_tool("psql") {
        return;
    }
    let port = server.addr.port().to_string();
    let psql = |command: &str| {
        std::process::Command::new("psql")
            .args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "a",
                "-d",
                "datapunk",
            ])
            .args(["-c", command])
            .output()
            .expect("psql runs")
    };
    let out = tokio::task::block_in_place(|| {
        psql(
            "COPY (SELECT 10 / (v - 50000) AS x FROM generate_series(1, 100000) AS t(v)) TO STDOUT",
        )
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ERROR:") && err.contains("zero"), "{err}");
    assert!(!err.contains("unexpected"), "{err}");
    let out = tokio::task::block_in_place(|| psql("\\copy lake.order_lines TO '/dev/null'"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("COPY 2000"), "{said}");
}
