//! `clv_summary` and `customer_clv` over the wire on the CDNOW sample (2,357 customers,
//! as a CSV file in the lake), against lifetimes' own summary, fits and predictions of
//! the same orders (`tests/fixtures/clv`, made by its `make_reference.py`) and the
//! published CLV figures; the same rows whatever the partitioning.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::TestServer;
use crate::marketing::{fails_with, reference_numbers, rows};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A server whose lake holds `lake.cdnow_sample` (customer_id, date, dollar_value, ...).
async fn sample_server() -> TestServer {
    TestServer::start(|_, dir| {
        std::fs::copy(
            Path::new(FIXTURES).join("cdnow/cdnow_sample.csv"),
            dir.join("lake").join("cdnow_sample.csv"),
        )
        .expect("copy the CDNOW sample");
    })
    .await
}

/// lifetimes' per-customer figures: customer → column → value.
fn lifetimes() -> BTreeMap<i64, BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("clv/cdnow_sample_lifetimes.csv"))
        .expect("reference csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let customer = cells[0].parse().expect("customer");
            let values = header[1..]
                .iter()
                .zip(&cells[1..])
                .map(|(h, v)| ((*h).to_owned(), v.parse().expect("number")))
                .collect();
            (customer, values)
        })
        .collect()
}

fn assert_close(what: &str, actual: f64, expected: f64, relative: f64) {
    let error = (actual - expected).abs() / expected.abs().max(1e-300);
    assert!(
        actual == expected || error <= relative,
        "{what}: {actual} is not {expected} within {relative} (relative error {error:e})"
    );
}

fn number(cell: &Option<String>) -> f64 {
    cell.as_deref()
        .expect("not NULL")
        .parse()
        .expect("a number")
}

const SUMMARY: &str = "SELECT customer, frequency, recency, t, monetary_value, frequency_holdout,
        monetary_value_holdout, duration_holdout
 FROM clv_summary('lake.cdnow_sample', 'customer_id', 'date', 'dollar_value',
                  DATE '1997-09-30', observation_end => DATE '1998-06-30')
 ORDER BY customer";

const CLV: &str = "SELECT customer, frequency, recency, t, monetary_value, p_alive,
        expected_purchases, expected_spend, clv
 FROM customer_clv('lake.cdnow_sample', 'customer_id', 'date', 'dollar_value', DATE '1997-09-30')
 ORDER BY customer";

#[tokio::test]
async fn the_cdnow_sample_summary_and_values_match_lifetimes_whatever_the_partitioning() {
    let server = sample_server().await;
    let c = server.client().await;
    let reference = lifetimes();
    let mut answers = Vec::new();
    for partitions in [1, 4] {
        for setting in [
            format!("SET datafusion.execution.target_partitions = {partitions}"),
            "SET datafusion.execution.batch_size = 100".to_owned(),
        ] {
            c.simple_query(&setting).await.expect("setting");
        }
        answers.push((rows(&c, SUMMARY).await, rows(&c, CLV).await));
    }
    for (one, four) in [
        (&answers[0].0, &answers[1].0),
        (&answers[0].1, &answers[1].1),
    ] {
        assert_eq!(one.len(), four.len(), "1 and 4 partitions");
        if let Some((a, b)) = one.iter().zip(four).find(|(a, b)| a != b) {
            panic!("1 and 4 partitions differ: {a:?} and {b:?}");
        }
    }
    let (summary, values) = &answers[0];
    assert_eq!(summary.len(), reference.len(), "one row per customer");
    for row in summary {
        let customer: i64 = row[0].as_deref().expect("customer").parse().expect("id");
        let expected = &reference[&customer];
        for (i, column) in [
            "frequency_cal",
            "recency_cal",
            "T_cal",
            "monetary_value_cal",
            "frequency_holdout",
            "monetary_value_holdout",
            "duration_holdout",
        ]
        .iter()
        .enumerate()
        {
            let what = format!("customer {customer} {column}");
            assert_close(&what, number(&row[1 + i]), expected[*column], 1e-12);
        }
    }
    assert_eq!(values.len(), reference.len());
    for row in values {
        let customer: i64 = row[0].as_deref().expect("customer").parse().expect("id");
        let expected = &reference[&customer];
        // Fits agree with lifetimes' to about 1e-5; the predictions follow.
        for (i, column) in ["p_alive", "expected_purchases", "expected_spend", "clv"]
            .iter()
            .enumerate()
        {
            let what = format!("customer {customer} {column}");
            assert_close(&what, number(&row[5 + i]), expected[*column], 1e-4);
        }
    }
    // The published CLV of ids 1-10 (weeks, 4.345 a month), fitted on the rounded summary.
    let published =
        &reference_numbers()["clv_12_months_discount_1pct_monthly"]["freq_W_f_4.345_ids_1_to_10"];
    for (i, row) in values.iter().take(10).enumerate() {
        let expected = published[i].as_f64().expect("number");
        assert_close(
            &format!("published CLV of id {}", i + 1),
            number(&row[8]),
            expected,
            1e-3,
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn customer_clv_is_the_fits_and_predictions_of_its_summary() {
    let server = sample_server().await;
    let c = server.client().await;
    let sql = "WITH s AS (SELECT * FROM clv_summary('lake.cdnow_sample', 'customer_id', 'date',
                                                'dollar_value', DATE '1997-09-30', period => 'day')),
          m AS (SELECT bgnbd_fit(frequency, recency, t) AS bg,
                       gammagamma_fit(frequency, monetary_value) AS gg
                FROM s WHERE frequency >= 0),
          c AS (SELECT * FROM customer_clv('lake.cdnow_sample', 'customer_id', 'date',
                                           'dollar_value', DATE '1997-09-30',
                                           months => 6, monthly_discount => 0.02, period => 'day'))
     SELECT c.customer, c.p_alive, bgnbd_p_alive(m.bg, s.frequency, s.recency, s.t),
            c.expected_purchases,
            bgnbd_expected_purchases(m.bg, 6 * 30, s.frequency, s.recency, s.t),
            c.expected_spend, gammagamma_expected_spend(m.gg, s.frequency, s.monetary_value),
            c.clv, clv(m.bg, m.gg, s.frequency, s.recency, s.t, s.monetary_value,
                       months => 6, monthly_discount => 0.02, period => 'day'),
            (m.bg).converged AND (m.gg).converged
     FROM c JOIN s ON c.customer = s.customer CROSS JOIN m
     ORDER BY c.customer";
    let got = rows(&c, sql).await;
    assert_eq!(got.len(), 2357);
    for row in &got {
        assert_eq!(row[9].as_deref(), Some("t"), "both fits converge");
        for pair in 0..4 {
            let what = format!("customer {:?} column {pair}", row[0]);
            let (table, scalar) = (number(&row[1 + 2 * pair]), number(&row[2 + 2 * pair]));
            assert_close(&what, table, scalar, 1e-12);
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn clv_tables_take_text_customers_and_timestamps_and_refuse_bad_arguments() {
    let server = sample_server().await;
    let c = server.client().await;
    // Text keys and timestamps give the same summary as integers and dates.
    let by_text = rows(
        &c,
        "SELECT customer AS id, frequency, recency, t, monetary_value
         FROM clv_summary('SELECT customer_id::text AS id, date::timestamp + INTERVAL ''13 hours'' AS at,
                                  dollar_value FROM lake.cdnow_sample',
                          'id', 'at', 'dollar_value', DATE '1997-09-30', 'day')
         ORDER BY id",
    )
    .await;
    let by_id = rows(
        &c,
        "SELECT customer::text AS id, frequency, recency, t, monetary_value
         FROM clv_summary('lake.cdnow_sample', 'customer_id', 'date', 'dollar_value',
                          DATE '1997-09-30', 'day')
         ORDER BY id",
    )
    .await;
    assert_eq!(by_text.len(), by_id.len());
    if let Some((a, b)) = by_text.iter().zip(&by_id).find(|(a, b)| a != b) {
        panic!("text keys and timestamps differ: {a:?} and {b:?}");
    }
    let call = |rest: &str| {
        format!(
            "SELECT * FROM clv_summary('lake.cdnow_sample', 'customer_id', 'date', 'dollar_value'{rest})"
        )
    };
    fails_with(&c, &call(", DATE '1997-09-30', 'month'"), "22023", "period").await;
    fails_with(
        &c,
        &call(", DATE '1997-09-30', observation_end => DATE '1997-01-01'"),
        "22023",
        "observation_end",
    )
    .await;
    fails_with(&c, &call(", NULL::date"), "22023", "calibration_end").await;
    fails_with(&c, &call(", 'soon'"), "22023", "calibration_end").await;
    fails_with(
        &c,
        "SELECT * FROM clv_summary('lake.cdnow_sample', 'customer_id', 'when', 'dollar_value', DATE '1997-09-30')",
        "42703",
        "when",
    )
    .await;
    fails_with(
        &c,
        "SELECT * FROM clv_summary('lake.cdnow_sample', 'customer_id', 'dollar_value', 'date', DATE '1997-09-30')",
        "22023",
        "date column",
    )
    .await;
    // Nobody bought again: no repeat customers to fit spend on.
    fails_with(
        &c,
        "SELECT * FROM customer_clv('lake.cdnow_sample', 'customer_id', 'date', 'dollar_value', DATE '1997-01-01')",
        "22023",
        "customer_clv",
    )
    .await;
    server.stop().await;
}
