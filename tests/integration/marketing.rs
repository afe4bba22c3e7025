//! Marketing functions over the wire, exact on real data: the CDNOW fixture
//! (tests/fixtures/cdnow) against its per-customer reference and reference numbers.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{sqlstate, TestServer};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cdnow");

/// A server whose lake holds `lake.cdnow_master`.
pub async fn cdnow_server() -> TestServer {
    TestServer::start(|_, dir| {
        let lake = dir.join("lake");
        std::fs::copy(
            Path::new(FIXTURES).join("cdnow_master.parquet"),
            lake.join("cdnow_master.parquet"),
        )
        .expect("copy the CDNOW fixture");
    })
    .await
}

/// Rows of a simple-protocol query as text cells.
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

/// Runs `sql`, which must fail with SQLSTATE `state` and a message containing `words`;
/// then checks the connection still answers.
pub async fn fails_with(c: &tokio_postgres::Client, sql: &str, state: &str, words: &str) {
    let e = c.simple_query(sql).await.expect_err(sql);
    assert_eq!(sqlstate(&e), state, "{sql}: {e}");
    let message = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains(words), "{sql}: {message}");
    assert!(!rows(c, "SELECT 1").await.is_empty(), "still usable");
}

/// `cdnow_master_rfm_reference.csv`: header name → column, one row per customer.
fn reference() -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("cdnow_master_rfm_reference.csv"))
        .expect("reference csv");
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let body = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (header, body)
}

pub fn reference_numbers() -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("reference_numbers.json"))
        .expect("reference_numbers.json");
    serde_json::from_str(&text).expect("json")
}

/// Per-customer recency, frequency, monetary and scores in both tie modes, in plain SQL.
const RFM_IN_SQL: &str = "
WITH c AS (
  SELECT customer_id, DATE '1998-07-01' - max(order_date) AS recency_days,
         count(*) AS frequency, sum(dollar_value) AS monetary
  FROM lake.cdnow_master GROUP BY customer_id)
SELECT customer_id, recency_days, frequency, monetary,
  rfm_score(recency_days, higher_is_better => false) OVER (ORDER BY customer_id) AS r_ntile,
  rfm_score(recency_days, higher_is_better => false, ties => 'same') OVER (ORDER BY customer_id) AS r_tie,
  rfm_score(frequency) OVER (ORDER BY customer_id) AS f_ntile,
  rfm_score(frequency, ties => 'same') OVER (ORDER BY customer_id) AS f_tie,
  rfm_score(monetary, 5) OVER (ORDER BY customer_id) AS m_ntile,
  rfm_score(monetary, n => 5, ties => 'same') OVER (ORDER BY customer_id) AS m_tie
FROM c ORDER BY customer_id";

/// Compares query rows (customer first) with the reference columns of the same names;
/// numbers compare as numbers (the CSV writes 89.0 where numeric prints 89.00).
fn mismatches(columns: &[&str], got: &[Vec<Option<String>>]) -> Vec<String> {
    let (header, expected) = reference();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == c).expect(c))
        .collect();
    assert_eq!(got.len(), expected.len(), "one row per customer");
    let mut out = Vec::new();
    for (g, e) in got.iter().zip(&expected) {
        for (k, &i) in index.iter().enumerate() {
            let g = g[k].as_deref().unwrap_or("NULL");
            let same = match (g.parse::<f64>(), e[i].parse::<f64>()) {
                (Ok(a), Ok(b)) => (a - b).abs() < 1e-9,
                _ => g == e[i],
            };
            if !same {
                out.push(format!(
                    "customer {}: {} = {g}, expected {}",
                    e[0], columns[k], e[i]
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn rfm_score_in_plain_sql_matches_the_cdnow_reference() {
    let server = cdnow_server().await;
    let c = server.client().await;
    let got = rows(&c, RFM_IN_SQL).await;
    let columns = [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_ntile",
        "r_tie",
        "f_ntile",
        "f_tie",
        "m_ntile",
        "m_tie",
    ];
    let bad = mismatches(&columns, &got);
    assert!(
        bad.is_empty(),
        "{} mismatches, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    // Segment counts on the canonical map and the R×F grid, both tie modes.
    let numbers = reference_numbers();
    let expected = &numbers["rfm_cdnow_master"]["segment_counts"];
    for (key, call) in [
        ("seg125_ntile", "rfm_segment(r_ntile, f_ntile, m_ntile)"),
        ("segRF10_ntile", "rfm_segment_rf(r_ntile, f_ntile)"),
        ("seg125_tie", "rfm_segment(r_tie, f_tie, m_tie)"),
        ("segRF10_tie", "rfm_segment_rf(r_tie, f_tie)"),
    ] {
        let sql = format!(
            "SELECT {call} AS segment, count(*) FROM ({RFM_IN_SQL}) s GROUP BY 1 ORDER BY 1"
        );
        let got: BTreeMap<String, u64> = rows(&c, &sql)
            .await
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().expect("segment"),
                    r[1].as_deref().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let want: BTreeMap<String, u64> = expected[key]
            .as_object()
            .expect(key)
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .filter(|(_, v)| *v > 0)
            .collect();
        assert_eq!(got, want, "{key}");
    }
    server.stop().await;
}

#[tokio::test]
async fn rfm_score_edge_cases_follow_sql_ntile() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let scores = |sql: &'static str| {
        let c = &c;
        async move {
            rows(c, sql)
                .await
                .into_iter()
                .map(|r| r[0].clone().unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    // 10 rows into 4 buckets: 3, 3, 2, 2.
    assert_eq!(
        scores(
            "SELECT rfm_score(v, 4) OVER (ORDER BY v) FROM generate_series(1, 10) t(v) ORDER BY v"
        )
        .await,
        "1,1,1,2,2,2,3,3,4,4"
    );
    // Fewer rows than buckets: 1, 2, 3.
    assert_eq!(
        scores("SELECT rfm_score(v) OVER (ORDER BY v) FROM generate_series(1, 3) t(v) ORDER BY v")
            .await,
        "1,2,3"
    );
    // Lower is better: the smallest value scores best.
    assert_eq!(
        scores("SELECT rfm_score(v, 5, false) OVER (ORDER BY v) FROM generate_series(1, 5) t(v) ORDER BY v").await,
        "5,4,3,2,1"
    );
    // All ties: split by the window's order, or all in the first bucket.
    assert_eq!(
        scores(
            "SELECT rfm_score(1, 2) OVER (ORDER BY k) FROM generate_series(1, 4) t(k) ORDER BY k"
        )
        .await,
        "1,1,2,2"
    );
    assert_eq!(
        scores("SELECT rfm_score(1, 2, ties => 'same') OVER (ORDER BY k) FROM generate_series(1, 4) t(k) ORDER BY k").await,
        "1,1,1,1"
    );
    // NULL values score NULL and are not counted.
    assert_eq!(
        scores("SELECT rfm_score(CASE WHEN k % 2 = 0 THEN NULL ELSE k END, 2) OVER (ORDER BY k) FROM generate_series(1, 6) t(k) ORDER BY k").await,
        "1,NULL,1,NULL,2,NULL"
    );
    // NULL scores give a NULL segment.
    assert_eq!(scores("SELECT rfm_segment(NULL, 1, 1)").await, "NULL");

    // Bad arguments: 22023 naming the function and the value.
    for (sql, words) in [
        ("SELECT rfm_segment(6, 1, 1)", "rfm_segment: score 6"),
        ("SELECT rfm_segment_rf(1, 0)", "rfm_segment_rf: score 0"),
        (
            "SELECT rfm_score(v, 0) OVER () FROM generate_series(1, 3) t(v)",
            "rfm_score: n",
        ),
        (
            "SELECT rfm_score(v, ties => 'odd') OVER () FROM generate_series(1, 3) t(v)",
            "odd",
        ),
    ] {
        fails_with(&c, sql, "22023", words).await;
    }
    // The server is still there.
    assert_eq!(scores("SELECT rfm_segment(5, 5, 5)").await, "Champions");
    server.stop().await;
}

#[tokio::test]
async fn rfm_table_function_matches_the_cdnow_reference() {
    let server = cdnow_server().await;
    let c = server.client().await;
    let columns = [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_ntile",
        "f_ntile",
        "m_ntile",
        "seg125_ntile",
        "segRF10_ntile",
    ];
    for (ties, suffix) in [("split", "ntile"), ("same", "tie")] {
        // The same table by table name and by query, named arguments included.
        for source in ["lake.cdnow_master", "SELECT * FROM lake.cdnow_master"] {
            let sql = format!(
                "SELECT customer, recency_days, frequency, monetary, r, f, m, segment, segment_rf \
                 FROM rfm('{}', 'customer_id', 'order_date', 'dollar_value', DATE '1998-07-01', \
                 ties => '{ties}') ORDER BY customer",
                source.replace('\'', "''")
            );
            let got = rows(&c, &sql).await;
            let named: Vec<String> = columns.iter().map(|c| c.replace("ntile", suffix)).collect();
            let named: Vec<&str> = named.iter().map(String::as_str).collect();
            let bad = mismatches(&named, &got);
            assert!(
                bad.is_empty(),
                "ties {ties}, {source}: {} mismatches, first: {:?}",
                bad.len(),
                &bad[..bad.len().min(5)]
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn rfm_table_function_counts_distinct_orders_like_plain_sql() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let orders = "SELECT customer_id, order_ts, order_id, quantity * unit_price AS amount \
                  FROM lake.order_lines";
    let fast = rows(
        &c,
        &format!(
            "SELECT customer, recency_days, frequency, monetary, r, f, m, rfm_code \
             FROM rfm('{orders}', 'customer_id', 'order_ts', 'amount', DATE '2025-01-01', \
             order_column => 'order_id') ORDER BY customer"
        ),
    )
    .await;
    let plain = rows(
        &c,
        &format!(
            "WITH c AS (SELECT customer_id, DATE '2025-01-01' - CAST(max(order_ts) AS DATE) AS recency_days, \
                    count(DISTINCT order_id) AS frequency, sum(amount) AS monetary \
                    FROM ({orders}) o GROUP BY customer_id), \
             s AS (SELECT *, \
                    rfm_score(recency_days, higher_is_better => false) OVER (ORDER BY customer_id) AS r, \
                    rfm_score(frequency) OVER (ORDER BY customer_id) AS f, \
                    rfm_score(monetary) OVER (ORDER BY customer_id) AS m FROM c) \
             SELECT customer_id, recency_days, frequency, monetary, r, f, m, \
                    concat(r, f, m) FROM s ORDER BY customer_id"
        ),
    )
    .await;
    assert!(plain.len() > 10, "the tiny lake has customers");
    let numbers = |rows: Vec<Vec<Option<String>>>| -> Vec<Vec<String>> {
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| {
                        let v = v.unwrap_or_default();
                        v.parse::<f64>().map_or(v, |x| format!("{x:.6}"))
                    })
                    .collect()
            })
            .collect()
    };
    assert_eq!(numbers(fast), numbers(plain));

    // Wrong input gets the right SQLSTATE and the server stays up.
    for (sql, state) in [
        (
            "SELECT * FROM rfm('lake.nope', 'customer_id', 'order_ts', 'unit_price', DATE '2025-01-01')",
            "42P01",
        ),
        (
            "SELECT * FROM rfm('lake.order_lines', 'nope', 'order_ts', 'unit_price', DATE '2025-01-01')",
            "42703",
        ),
        (
            "SELECT * FROM rfm('lake.order_lines', 'customer_id', 'order_ts', 'unit_price', DATE '2025-01-01', ties => 'odd')",
            "22023",
        ),
        (
            "SELECT * FROM rfm('lake.order_lines', 'customer_id', 'order_ts', 'country', DATE '2025-01-01')",
            "22023",
        ),
        (
            "SELECT * FROM rfm('lake.order_lines', 'customer_id', 'order_ts', 'unit_price', NULL)",
            "22023",
        ),
    ] {
        fails_with(&c, sql, state, "").await;
    }
    server.stop().await;
}

/// The CDNOW k-means features of the spec: log RFM per customer.
const CDNOW_FEATURES: &str = "[ln(1 + recency_days), ln(1 + frequency), ln(1 + monetary)]";
const CDNOW_RFM: &str =
    "rfm('lake.cdnow_master', 'customer_id', 'order_date', 'dollar_value', DATE '1998-07-01')";

#[tokio::test]
async fn kmeans_reproduces_the_cdnow_reference() {
    let server = cdnow_server().await;
    let c = server.client().await;
    let numbers = reference_numbers();
    let reference = &numbers["kmeans_cdnow_rfm"];
    let fit = |args: &str| {
        format!(
            "SELECT get_field(model, 'sizes'), get_field(model, 'inertia'), \
                    get_field(model, 'converged'), get_field(model, 'mean') \
             FROM (SELECT kmeans_fit({CDNOW_FEATURES}, {args}) AS model FROM {CDNOW_RFM}) m"
        )
    };
    // Lloyd from the explicit initial centroids (customers 1, 1000, 5000, 20000).
    let init: Vec<String> = reference["lloyd_explicit_init"]["init_customer_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let got = rows(
        &c,
        &fit(&format!("4, init => customer IN ({})", init.join(", "))),
    )
    .await;
    let row = &got[0];
    assert_eq!(row[0].as_deref(), Some("{2356,4864,7385,8965}"));
    let want = reference["lloyd_explicit_init"]["inertia_SSE"]
        .as_f64()
        .unwrap();
    let inertia: f64 = row[1].as_deref().unwrap().parse().unwrap();
    assert!(
        ((inertia - want) / want).abs() < 1e-6,
        "inertia {inertia}, reference {want}"
    );
    assert_eq!(row[2].as_deref(), Some("t"));
    let means: Vec<f64> = row[3]
        .as_deref()
        .unwrap()
        .trim_matches(|ch| ch == '{' || ch == '}')
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for (got, want) in means
        .iter()
        .zip(reference["feature_mean"].as_array().unwrap())
    {
        assert!((got - want.as_f64().unwrap()).abs() < 1e-9, "mean {got}");
    }

    // Seeded k-means++: within 0.1 % of the reference, identical on rerun and whatever
    // the partitioning.
    let mut results = Vec::new();
    for partitions in [2, 1, 4] {
        c.simple_query(&format!(
            "SET datafusion.execution.target_partitions = {partitions}"
        ))
        .await
        .expect("set target_partitions");
        results.push(rows(&c, &fit("4, seed => 7")).await);
    }
    results.push(rows(&c, &fit("4, seed => 7")).await);
    let inertia: f64 = results[0][0][1].as_deref().unwrap().parse().unwrap();
    assert!(
        ((inertia - 15897.4) / 15897.4).abs() < 1e-3,
        "k-means++ inertia {inertia}"
    );
    for other in &results[1..] {
        assert_eq!(other, &results[0], "same model whatever the partitioning");
    }

    // Assigning every customer reproduces the model's sizes.
    let sizes = rows(
        &c,
        &format!(
            "WITH m AS (SELECT kmeans_fit({CDNOW_FEATURES}, 4, seed => 7) AS model FROM {CDNOW_RFM}) \
             SELECT kmeans_assign({CDNOW_FEATURES}, m.model) AS cluster, count(*) \
             FROM {CDNOW_RFM} CROSS JOIN m GROUP BY 1 ORDER BY 1"
        ),
    )
    .await;
    let counts: Vec<String> = sizes.iter().map(|r| r[1].clone().unwrap()).collect();
    assert_eq!(
        format!("{{{}}}", counts.join(",")),
        results[0][0][0].clone().unwrap()
    );

    // Bad input: 22023 with the reason; the server stays up.
    for (sql, words) in [
        ("SELECT kmeans_fit([x], 3) FROM (VALUES (1.0), (2.0)) t(x)", "k must be from 1 to"),
        ("SELECT kmeans_fit([x], 0) FROM (VALUES (1.0), (2.0)) t(x)", "k must be an integer"),
        (
            "SELECT kmeans_fit(CASE WHEN x > 1 THEN [x, x] ELSE [x] END, 1) FROM (VALUES (1.0), (2.0)) t(x)",
            "must have 1 elements",
        ),
        (
            "SELECT kmeans_fit([x], 2, init => x > 5) FROM (VALUES (1.0), (2.0), (9.0)) t(x)",
            "1 rows are flagged",
        ),
    ] {
        fails_with(&c, sql, "22023", words).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn every_documented_example_gives_its_documented_output() {
    let server = cdnow_server().await;
    let c = server.client().await;
    for doc in datapunk::udf::docs() {
        let mut lines = doc.example_output.lines();
        let cells =
            |line: &str| -> Vec<String> { line.split('|').map(|c| c.trim().to_owned()).collect() };
        let header = cells(lines.next().expect("header"));
        lines.next(); // the rule under the header
        let expected: Vec<Vec<String>> = lines.map(cells).collect();
        let messages = c
            .simple_query(doc.example)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", doc.name));
        let mut columns = Vec::new();
        let mut got = Vec::new();
        for m in messages {
            match m {
                tokio_postgres::SimpleQueryMessage::RowDescription(d) => {
                    columns = d.iter().map(|c| c.name().to_owned()).collect();
                }
                tokio_postgres::SimpleQueryMessage::Row(r) => got.push(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("").to_owned())
                        .collect::<Vec<_>>(),
                ),
                _ => {}
            }
        }
        assert_eq!(columns, header, "{}: columns", doc.name);
        assert_eq!(got, expected, "{}: rows", doc.name);
    }
    server.stop().await;
}
