//! A/B test functions over the wire, against scipy and statsmodels: the reference values
//! of the CDNOW reference file (`ab_testing`) and of `tests/fixtures/ab/reference.json`
//! (made by the script beside it), to 1e-9 relative.

use std::path::Path;

use serde_json::Value;

use crate::harness::{sqlstate, TestServer};
use crate::marketing::reference_numbers;

/// The reference values computed for this test (`tests/fixtures/ab/make_reference.py`).
fn ab_reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ab/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference.json")).expect("json")
}

/// The one row of `sql`, every column a double.
async fn doubles(client: &tokio_postgres::Client, sql: &str) -> Vec<f64> {
    let row = client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    (0..row.len()).map(|i| row.get::<_, f64>(i)).collect()
}

fn close(what: &str, actual: f64, expected: &Value) {
    let expected = expected
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no number"));
    let relative = ((actual - expected) / expected.abs().max(1e-300)).abs();
    assert!(
        relative <= 1e-9,
        "{what}: {actual} is not {expected} (relative error {relative:e})"
    );
}

/// Checks each (column, reference) pair of one row.
fn all_close(what: &str, actual: &[f64], expected: &[&Value]) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        close(&format!("{what} [{i}]"), *a, e);
    }
}

#[tokio::test]
async fn tests_on_counts_match_scipy_and_statsmodels() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let r = &reference_numbers()["ab_testing"];
    let two = &r["two_proportions_200of2000_vs_250of2000"];

    let pooled = doubles(
        &c,
        "SELECT (t).p_a, (t).p_b, (t).diff, (t).rel_lift, (t).z, (t).p_value, (t).ci_low, (t).ci_high
         FROM (SELECT ab_proportions_ztest(200, 2000, 250, 2000) AS t) s",
    )
    .await;
    let ci = &two["wald_ci95_diff_unpooled"];
    all_close(
        "pooled z-test",
        &pooled,
        &[
            &two["p_control"],
            &two["p_treatment"],
            &two["diff_treat_minus_control"],
            &two["relative_lift"],
            &two["z_pooled"],
            &two["p_value_two_sided_pooled"],
            &ci[0],
            &ci[1],
        ],
    );
    let unpooled = doubles(
        &c,
        "SELECT (t).z, (t).p_value FROM (SELECT ab_proportions_ztest(200, 2000, 250, 2000, pooled => false) AS t) s",
    )
    .await;
    all_close(
        "unpooled z-test",
        &unpooled,
        &[&two["z_unpooled"], &two["p_value_two_sided_unpooled"]],
    );
    // ClickHouse's proportionsZTest(10, 11, 100, 101, 0.95, 'unpooled') is x − y: here
    // a is its y and b its x.
    let clickhouse = &r["clickhouse_proportionsZTest_doc_example"]["scipy_recomputed"];
    let ours = doubles(
        &c,
        "SELECT (t).z, (t).p_value, (t).ci_low, (t).ci_high
         FROM (SELECT ab_proportions_ztest(11, 101, 10, 100, conf => 0.95, pooled => false) AS t) s",
    )
    .await;
    all_close(
        "ClickHouse's z-test example",
        &ours,
        &[
            &clickhouse[0],
            &clickhouse[1],
            &clickhouse[2],
            &clickhouse[3],
        ],
    );

    let chi2 = doubles(
        &c,
        "SELECT (x).chi2, (x).p_value, (y).chi2, (y).p_value FROM (
           SELECT ab_chi2_2x2(200, 2000, 250, 2000) AS x,
                  ab_chi2_2x2(200, 2000, 250, 2000, yates => true) AS y) s",
    )
    .await;
    all_close(
        "chi-square",
        &chi2,
        &[
            &two["chi2_no_correction"]["stat"],
            &two["chi2_no_correction"]["p"],
            &two["chi2_yates"]["stat"],
            &two["chi2_yates"]["p"],
        ],
    );

    let fisher = doubles(
        &c,
        "SELECT (f).p_value, (f).odds_ratio FROM (SELECT ab_fisher_exact(200, 2000, 250, 2000) AS f) s",
    )
    .await;
    // Odds of b over odds of a: (250 / 1750) / (200 / 1800).
    all_close(
        "Fisher",
        &fisher,
        &[
            &two["fisher_exact_p_two_sided"],
            &Value::from(250.0 * 1800.0 / (1750.0 * 200.0)),
        ],
    );

    let wilson = doubles(
        &c,
        "SELECT (a).low, (a).high, (b).low, (b).high
         FROM (SELECT wilson_ci(200, 2000) AS a, wilson_ci(250, 2000, 0.95) AS b) s",
    )
    .await;
    let (wa, wb) = (&two["wilson_ci95_control"], &two["wilson_ci95_treatment"]);
    all_close("Wilson", &wilson, &[&wa[0], &wa[1], &wb[0], &wb[1]]);

    let size = &r["sample_size_per_arm_p0.10_to_0.12_alpha0.05_power0.8"]["ceil"];
    let ours = c
        .query_one("SELECT ab_sample_size(0.10, 0.12, alpha => 0.05)", &[])
        .await
        .expect("sample size")
        .get::<_, i64>(0);
    assert_eq!(Some(ours), size.as_i64());

    let srm = &r["srm_check_chi2_gof_10120_vs_9880_expected_50_50"];
    let ours = doubles(
        &c,
        "SELECT (t).chi2, (t).p_value FROM (SELECT srm_test(10120, 9880, expected_share_a => 0.5) AS t) s",
    )
    .await;
    all_close("SRM", &ours, &[&srm["stat"], &srm["p"]]);

    // The reference is control − treatment; ours is b − a.
    let welch = &r["welch_from_summary_stats"];
    let ours = doubles(
        &c,
        "SELECT -(t).t, (t).p_value, (t).df
         FROM (SELECT welch_ttest_from_stats(10.5, 2.3, 1000, 10.8, 2.5, 1000) AS t) s",
    )
    .await;
    all_close(
        "Welch from stats",
        &ours,
        &[
            &welch["t_control_minus_treatment"],
            &welch["p"],
            &welch["df"],
        ],
    );

    for case in ab_reference()["bayes"].as_array().expect("bayes cases") {
        let n: Vec<i64> = case["counts"]
            .as_array()
            .expect("counts")
            .iter()
            .map(|v| v.as_i64().expect("count"))
            .collect();
        let prior = &case["prior"];
        let sql = format!(
            "SELECT (b).prob_b_better, (b).expected_loss_a, (b).expected_loss_b FROM (
               SELECT ab_bayes_proportions({}, {}, {}, {}, prior_alpha => {}, prior_beta => {}) AS b) s",
            n[0], n[1], n[2], n[3], prior[0], prior[1]
        );
        all_close(
            &format!("Bayes {n:?}"),
            &doubles(&c, &sql).await,
            &[
                &case["prob_b_better"],
                &case["expected_loss_a"],
                &case["expected_loss_b"],
            ],
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn degenerate_and_bad_inputs_have_documented_answers() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    // No conversions anywhere: no difference, not NaN.
    let none = doubles(
        &c,
        "SELECT (t).z, (t).p_value, (x).chi2, (x).p_value FROM (
           SELECT ab_proportions_ztest(0, 100, 0, 120) AS t, ab_chi2_2x2(0, 100, 0, 120) AS x) s",
    )
    .await;
    assert_eq!(none, vec![0.0, 1.0, 0.0, 1.0]);
    let lift = c
        .query_one(
            "SELECT (ab_proportions_ztest(0, 100, 5, 100)).rel_lift",
            &[],
        )
        .await
        .expect("lift")
        .get::<_, Option<f64>>(0);
    assert_eq!(lift, None, "no lift over a rate of 0");
    let null = c
        .query_one(
            "SELECT ab_proportions_ztest(NULL, 100, 5, 100) IS NULL",
            &[],
        )
        .await
        .expect("null")
        .get::<_, bool>(0);
    assert!(null, "NULL in, NULL out");

    for (sql, words) in [
        ("SELECT ab_proportions_ztest(101, 100, 5, 100)", "success_a"),
        ("SELECT ab_proportions_ztest(1, 0, 5, 100)", "trials_a"),
        (
            "SELECT ab_proportions_ztest(1, 10, 5, 100, conf => 1.5)",
            "conf",
        ),
        ("SELECT wilson_ci(3, -1)", "trials"),
        ("SELECT ab_sample_size(0.1, 0.1)", "differ"),
        ("SELECT srm_test(0, 0)", "positive"),
        (
            "SELECT welch_ttest_from_stats(1, 1, 1, 2, 1, 10)",
            "at least 2",
        ),
        ("SELECT welch_ttest_from_stats(1, -1, 5, 2, 1, 10)", "sd_a"),
        (
            "SELECT ab_bayes_proportions(1, 10, 2, 10, prior_alpha => 0.5)",
            "prior_alpha",
        ),
    ] {
        let e = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "22023", "{sql}: {e}");
        let message = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains(words), "{sql}: {message}");
    }
    server.stop().await;
}

/// The reference experiment as a VALUES list of (value, pre_value, is_treatment).
fn experiment_values(reference: &Value) -> String {
    reference["experiment_rows_value_pre_value_is_treatment"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            format!(
                "({:?}::float8, {:?}::float8, {})",
                r[0].as_f64().unwrap(),
                r[1].as_f64().unwrap(),
                r[2]
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const TTEST_COLUMNS: &str =
    "(t).mean_a, (t).mean_b, (t).t, (t).df, (t).p_value, (t).ci_low, (t).ci_high";

fn ttest_reference(r: &Value) -> Vec<&Value> {
    [
        "mean_a", "mean_b", "t", "df", "p_value", "ci_low", "ci_high",
    ]
    .iter()
    .map(|k| &r[*k])
    .collect()
}

#[tokio::test]
async fn aggregates_over_rows_match_scipy_whatever_the_partitioning() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let reference = ab_reference();
    let rows = experiment_values(&reference);
    let mut answers = Vec::new();
    for partitions in [1, 4] {
        c.simple_query(&format!(
            "SET datafusion.execution.target_partitions = {partitions}"
        ))
        .await
        .expect("set target_partitions");
        // Many small batches, so partial states are merged.
        c.simple_query("SET datafusion.execution.batch_size = 7")
            .await
            .expect("set batch_size");
        let from = format!("FROM (VALUES {rows}) e(v, pre, treated)");
        let welch = doubles(
            &c,
            &format!("SELECT {TTEST_COLUMNS} FROM (SELECT welch_ttest(v, treated) AS t {from}) s"),
        )
        .await;
        all_close("welch_ttest", &welch, &ttest_reference(&reference["welch"]));
        let student = doubles(
            &c,
            &format!("SELECT {TTEST_COLUMNS} FROM (SELECT student_ttest(v, treated, 0.95) AS t {from}) s"),
        )
        .await;
        all_close(
            "student_ttest",
            &student,
            &ttest_reference(&reference["student"]),
        );
        let cuped = doubles(
            &c,
            &format!(
                "SELECT {TTEST_COLUMNS}, (t).variance_reduction
                 FROM (SELECT cuped_ttest(v, pre, treated) AS t {from}) s"
            ),
        )
        .await;
        let mut expected = ttest_reference(&reference["cuped"]);
        expected.push(&reference["cuped"]["variance_reduction"]);
        all_close("cuped_ttest", &cuped, &expected);
        let ranks = doubles(
            &c,
            &format!(
                "SELECT (t).u, (t).p_value FROM (SELECT mann_whitney_u(v, treated) AS t {from}) s"
            ),
        )
        .await;
        let mwu = &reference["mann_whitney_u"];
        all_close("mann_whitney_u", &ranks, &[&mwu["u"], &mwu["p_value"]]);
        answers.push((welch, student, cuped, ranks));
    }
    assert_eq!(
        answers[0], answers[1],
        "the same bits with 1 and 4 partitions"
    );

    // ClickHouse's documented Welch example, with scipy's Student and Mann-Whitney.
    let clickhouse = &reference_numbers()["ab_testing"]["clickhouse_welchTTest_doc_example"];
    let from = "FROM (VALUES (20.3, true), (22.1, true), (21.9, true), (18.9, false), (20.3, false), (19.0, false)) e(v, x)";
    let ours = doubles(
        &c,
        &format!(
            "SELECT (w).t, (w).p_value, (w).df, (w).ci_low, (w).ci_high, (s).p_value, (m).u, (m).p_value FROM (
               SELECT welch_ttest(v, x) AS w, student_ttest(v, x) AS s, mann_whitney_u(v, x) AS m {from}) q"
        ),
    )
    .await;
    all_close(
        "ClickHouse's Welch example",
        &ours,
        &[
            &clickhouse["scipy_welch"][0],
            &clickhouse["scipy_welch"][1],
            &clickhouse["welch_df"],
            &clickhouse["welch_ci95_mean_diff"][0],
            &clickhouse["welch_ci95_mean_diff"][1],
            &clickhouse["scipy_student_pooled"][1],
            &clickhouse["mann_whitney_u_two_sided"][0],
            &clickhouse["mann_whitney_u_two_sided"][1],
        ],
    );

    // Per experiment and arm, as in a read-out; an arm too small is NULL, not an error.
    let small = c
        .query_one(
            "SELECT welch_ttest(v, x) IS NULL, mann_whitney_u(v, x) IS NULL
             FROM (VALUES (1.0, true), (2.0, false), (3.0, false)) e(v, x)",
            &[],
        )
        .await
        .expect("small arms");
    assert!(small.get::<_, bool>(0), "one treatment value: no t-test");
    assert!(
        !small.get::<_, bool>(1),
        "the rank test needs one value per arm"
    );
    let e = c
        .simple_query("SELECT welch_ttest(v, x, 2.0) FROM (VALUES (1.0, true)) e(v, x)")
        .await
        .expect_err("conf out of range");
    assert_eq!(sqlstate(&e), "22023", "{e}");
    server.stop().await;
}
