//! The anchor workload's three queries (`benches/queries/`), by file name.

pub const QUERIES: &[(&str, &str)] = &[
    ("rfm.sql", include_str!("../queries/rfm.sql")),
    (
        "cohort_retention.sql",
        include_str!("../queries/cohort_retention.sql"),
    ),
    (
        "copurchase_pairs.sql",
        include_str!("../queries/copurchase_pairs.sql"),
    ),
];
