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
