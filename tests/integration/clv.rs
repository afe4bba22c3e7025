//! Customer-lifetime models over the wire, against the published CDNOW maximum
//! likelihood (`tests/fixtures/cdnow`: the 2,357-customer sample's calibration summary in
//! weeks, and `reference_numbers.json`).

use std::path::Path;

use crate::harness::TestServer;
use crate::marketing::reference_numbers;

/// The calibration summary as a VALUES list of (x, t_x, t, zbar).
fn summary_values() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv");
    let text = std::fs::read_to_string(path).expect("summary csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            format!(
                "({}, {}::float8, {}::float8, {}::float8)",
                cells[1], cells[2], cells[3], cells[4]
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn close(what: &str, actual: f64, expected: &serde_json::Value, relative: f64) {
    let expected = expected
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no number"));
    let error = ((actual - expected) / expected).abs();
    assert!(
        error <= relative,
        "{what}: {actual} is not {expected} within {relative} (relative error {error:e})"
    );
}

#[tokio::test]
async fn cdnow_fits_match_the_maximum_likelihood_whatever_the_partitioning() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let reference = reference_numbers();
    let from = format!("FROM (VALUES {}) s(x, t_x, t, zbar)", summary_values());
    let mut answers = Vec::new();
    for partitions in [1, 4] {
        for setting in [
            format!("SET datafusion.execution.target_partitions = {partitions}"),
            "SET datafusion.execution.batch_size = 100".to_owned(),
        ] {
            c.simple_query(&setting).await.expect("setting");
        }
        let row = c
            .query_one(
                &format!(
                    "SELECT (b).r, (b).alpha, (b).a, (b).b, (b).ll, (b).n, (b).converged,
                            (g).p, (g).q, (g).v, (g).n, (g).converged,
                            (p).r, (p).alpha, (p).s, (p).beta
                     FROM (SELECT bgnbd_fit(x, t_x, t) AS b, gammagamma_fit(x, zbar) AS g,
                                  paretonbd_fit(x, t_x, t) AS p {from}) f"
                ),
                &[],
            )
            .await
            .expect("fits");
        let f = |i: usize| row.get::<_, f64>(i);
        let bg = &reference["bg_nbd"]["mle_this_script"];
        for (i, name) in ["r", "alpha", "a", "b", "LL"].iter().enumerate() {
            close(&format!("BG/NBD {name}"), f(i), &bg[*name], 1e-4);
        }
        assert_eq!(f(5), 2357.0);
        assert!(row.get::<_, bool>(6), "BG/NBD converged");
        let gg = &reference["gamma_gamma"]["mle_this_script"];
        for (i, name) in ["p", "q", "gamma"].iter().enumerate() {
            close(&format!("Gamma-Gamma {name}"), f(7 + i), &gg[*name], 1e-4);
        }
        assert_eq!(f(10), 946.0, "customers with a repeat purchase");
        assert!(row.get::<_, bool>(11), "Gamma-Gamma converged");
        let pareto = &reference["pareto_nbd"]["lifetimes_0_11_3_this_machine"];
        for (i, name) in ["r", "alpha", "s", "beta"].iter().enumerate() {
            close(
                &format!("Pareto/NBD {name}"),
                f(12 + i),
                &pareto[*name],
                1e-3,
            );
        }
        answers.push(
            (0..16)
                .filter(|i| ![6, 11].contains(i))
                .map(f)
                .collect::<Vec<f64>>(),
        );
    }
    assert_eq!(
        answers[0], answers[1],
        "the same bits with 1 and 4 partitions"
    );
    server.stop().await;
}

#[tokio::test]
async fn cdnow_predictions_match_the_reference_at_the_fitted_models() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let reference = reference_numbers();
    // The models are fitted once; each case is a row of one query.
    let query = |cases: &str, prediction: &str| {
        format!(
            "WITH models AS (SELECT bgnbd_fit(x, t_x, t) AS bg, gammagamma_fit(x, zbar) AS gg
                             FROM (VALUES {}) s(x, t_x, t, zbar)),
                  cases AS (SELECT * FROM (VALUES {cases}) c(i, x, t_x, t, h))
             SELECT {prediction} FROM models CROSS JOIN cases ORDER BY i",
            summary_values()
        )
    };
    let doubles = |sql: String| {
        let c = &c;
        async move {
            c.query(&sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| (r.get::<_, f64>(0), r.get::<_, f64>(1)))
                .collect::<Vec<_>>()
        }
    };
    let examples = reference["bg_nbd"]["conditional_expectation_examples"]
        .as_array()
        .expect("examples");
    let cases: Vec<String> = examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "({i}, {}, {}::float8, {}::float8, {})",
                e["x"], e["t_x"], e["T"], e["t"]
            )
        })
        .collect();
    let got = doubles(query(
        &cases.join(", "),
        "bgnbd_expected_purchases(bg, h, x, t_x, t), bgnbd_p_alive(bg, x, t_x, t)",
    ))
    .await;
    for (case, (expected, alive)) in examples.iter().zip(&got) {
        close("E[Y(t)]", *expected, &case["E_Y_t_given_history_mle"], 1e-4);
        close("P(alive)", *alive, &case["P_alive_mle"], 1e-4);
    }
    let spends = reference["gamma_gamma"]["conditional_expected_spend_examples"]
        .as_array()
        .expect("examples");
    let cases: Vec<String> = spends
        .iter()
        .enumerate()
        .map(|(i, e)| format!("({i}, {}, 0.0, {}::float8, 0)", e["x"], e["zbar"]))
        .collect();
    let got = doubles(query(
        &cases.join(", "),
        "gammagamma_expected_spend(gg, x, t), gammagamma_expected_spend(gg, 0, 0)",
    ))
    .await;
    for (case, (spend, population)) in spends.iter().zip(&got) {
        close("E[spend]", *spend, &case["E_spend"], 1e-4);
        close(
            "population mean",
            *population,
            &reference["gamma_gamma"]["population_mean_spend_p_gamma_over_q_minus_1"],
            1e-4,
        );
    }
    // CLV of customers 1-10, 12 months at 1% a month: weeks (4.345 a month) and
    // lifetimes' default freq='D' on weekly data (30 periods a month).
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv");
    let text = std::fs::read_to_string(path).expect("summary csv");
    let cases: Vec<String> = text
        .lines()
        .skip(1)
        .take(10)
        .enumerate()
        .map(|(i, line)| {
            let v: Vec<&str> = line.split(',').collect();
            format!(
                "({i}, {}, {}::float8, {}::float8, {}::float8)",
                v[1], v[2], v[3], v[4]
            )
        })
        .collect();
    let got = doubles(query(
        &cases.join(", "),
        "clv(bg, gg, x, t_x, t, h, months => 12, monthly_discount => 0.01, period => 'week'),
         clv(bg, gg, x, t_x, t, h, period => 'day')",
    ))
    .await;
    let clv = &reference["clv_12_months_discount_1pct_monthly"];
    let weeks = &clv["freq_W_f_4.345_ids_1_to_10"];
    let days = &clv["freq_D_f_30_ids_1_to_10_(lifetimes docs default; treats weekly data as days, i.e. 30 weeks per month)"];
    for (i, (week, day)) in got.iter().enumerate() {
        close(
            &format!("CLV id {} in weeks", i + 1),
            *week,
            &weeks[i],
            1e-3,
        );
        close(
            &format!("CLV id {} as lifetimes' freq='D'", i + 1),
            *day,
            &days[i],
            1e-3,
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_models_and_arguments_are_22023() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let bg = "named_struct('r', 0.24, 'alpha', 4.4, 'a', 0.79, 'b', 2.4)";
    let gg = "named_struct('p', 6.2, 'q', 3.7, 'v', 15.4)";
    for (sql, words) in [
        (format!("SELECT bgnbd_p_alive({gg}, 1, 2, 3)"), "no field r"),
        (format!("SELECT bgnbd_p_alive({bg}, 1, 5, 3)"), "recency"),
        (
            format!("SELECT bgnbd_expected_purchases({bg}, -1, 1, 2, 3)"),
            "horizon",
        ),
        (
            format!("SELECT clv({bg}, {gg}, 1, 2, 3, 10, months => 0)"),
            "months",
        ),
        (
            format!("SELECT clv({bg}, {gg}, 1, 2, 3, 10, period => 'fortnight')"),
            "period",
        ),
    ] {
        let e = c.simple_query(&sql).await.expect_err(&sql);
        assert_eq!(crate::harness::sqlstate(&e), "22023", "{sql}: {e}");
        let message = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains(words), "{sql}: {message}");
    }
    let null = c
        .query_one(
            &format!("SELECT clv({bg}, {gg}, NULL, 2, 3, 10) IS NULL"),
            &[],
        )
        .await
        .expect("null")
        .get::<_, bool>(0);
    assert!(null, "NULL in, NULL out");
    server.stop().await;
}
