//! Every query in sql/examples (the ones the README quotes) runs on the demo warehouse
//! and answers sensibly.

use crate::harness::{scalar, TestServer};
use crate::marketing::rows;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/examples");

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{EXAMPLES}/{name}")).expect(name)
}

#[tokio::test]
async fn every_example_query_runs_on_the_demo_warehouse() {
    let server = TestServer::with_warehouse().await;
    let c = server.client().await;
    let mut names: Vec<String> = std::fs::read_dir(EXAMPLES)
        .expect("sql/examples")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for name in &names {
        let got = rows(&c, &example(name)).await;
        assert!(!got.is_empty(), "{name} returned no rows");
    }

    // Segment sizes cover every scored customer once.
    let sizes = rows(&c, &example("rfm_segment_sizes.sql")).await;
    let total: u64 = sizes
        .iter()
        .map(|r| r[1].as_deref().unwrap().parse::<u64>().unwrap())
        .sum();
    let customers = scalar(&c, "SELECT count(*) FROM warehouse.customer_rfm").await;
    assert_eq!(Some(total.to_string()), customers);

    // The win-back list holds only lapsed valuable customers who opted in.
    for row in rows(&c, &example("winback_campaign.sql")).await {
        let segment = row[3].as_deref().unwrap();
        assert!(
            segment == "At Risk" || segment == "Can't Lose Them",
            "{row:?}"
        );
        let id = row[0].as_deref().unwrap();
        let opted_in = scalar(
            &c,
            &format!("SELECT marketing_opt_in FROM lake.customers WHERE customer_id = {id}"),
        )
        .await;
        assert_eq!(opted_in.as_deref(), Some("t"));
    }

    // Migration counts add up to the customers scored at the later date.
    let migration = rows(&c, &example("segment_migration.sql")).await;
    let moved: u64 = migration
        .iter()
        .map(|r| r[2].as_deref().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(Some(moved.to_string()), customers);

    // Cluster profiles: clusters 1..4 covering every customer.
    let profiles = rows(&c, &example("kmeans_cluster_profiles.sql")).await;
    let clusters: Vec<&str> = profiles.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(clusters, ["1", "2", "3", "4"]);
    let clustered: u64 = profiles
        .iter()
        .map(|r| r[1].as_deref().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(Some(clustered.to_string()), customers);

    // Lifetime value: the top customers in order, with probabilities and positive values.
    let top = rows(&c, &example("clv_top_customers.sql")).await;
    let number = |cell: &Option<String>| cell.as_deref().unwrap().parse::<f64>().unwrap();
    assert!(
        top.windows(2).all(|w| number(&w[0][6]) >= number(&w[1][6])),
        "{top:?}"
    );
    for row in &top {
        let p_alive = number(&row[3]);
        assert!(
            (0.0..=1.0).contains(&p_alive) && number(&row[6]) > 0.0,
            "{row:?}"
        );
    }
    let valued = scalar(&c, "SELECT count(*) FROM warehouse.customer_clv").await;
    assert_eq!(
        valued, customers,
        "every customer with a completed order is valued"
    );
    for row in rows(&c, &example("clv_churned_high_spenders.sql")).await {
        assert!(number(&row[5]) < 0.3, "{row:?}");
    }

    // The experiment read-out: conversion, Welch and CUPED on revenue, SRM, next size.
    let readout = rows(&c, &example("experiment_readout.sql")).await;
    let tests: Vec<(&str, &str)> = readout
        .iter()
        .map(|r| (r[0].as_deref().unwrap(), r[1].as_deref().unwrap()))
        .collect();
    assert_eq!(
        tests,
        [
            ("conversion", "two-proportion z-test"),
            ("revenue per unit", "CUPED t-test"),
            ("revenue per unit", "Welch t-test")
        ]
    );
    for row in &readout {
        let p_value = number(&row[7]);
        assert!((0.0..=1.0).contains(&p_value), "{row:?}");
        assert!(number(&row[8]) <= number(&row[9]), "interval {row:?}");
        assert!(number(&row[11]) > 0.001, "the demo split is fair: {row:?}");
    }
    assert!(number(&readout[0][12]) > 100.0, "{:?}", readout[0]);
    assert!(
        number(&readout[1][10]) > 0.0,
        "CUPED removes variance: {:?}",
        readout[1]
    );
    server.stop().await;
}
