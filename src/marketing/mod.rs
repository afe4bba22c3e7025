//! Marketing analytics: the logic behind datapunk's marketing SQL functions (RFM scoring
//! and segments first). Pure functions over plain values; the SQL wrappers are
//! registered by [`crate::udf::register_all`].

pub mod kmeans;
pub mod rfm;
pub mod rfm_table;
