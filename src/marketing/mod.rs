//! Marketing analytics: the logic behind datapunk's marketing SQL functions (RFM scoring,
//! segments and the RFM table's fast path, k-means; the evaluation metrics of
//! recommendations). Plain values and slices in, no Arrow; the SQL wrappers live in
//! [`crate::udf`].

pub mod kmeans;
pub mod recommend_eval;
pub mod rfm;
pub mod rfm_table;
