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
    server.stop().await;
}
