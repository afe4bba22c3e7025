//! Marketing analytics: the logic behind datapunk's marketing SQL functions (RFM scoring,
//! segments and the RFM table's fast path, k-means; baskets, co-occurrence, frequent
//! itemsets and rules, item-based and ALS recommendations, and their evaluation;
//! customer-lifetime models and A/B test statistics). Plain values and slices in, no
//! Arrow, nothing of the server; the SQL wrappers are in `udf`.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The hash map of in-memory computations over ids and keys from the warehouse: aHash
/// with fixed keys is several times faster than the default SipHash on integer keys.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<ahash::AHasher>>;

/// The threads to use for `requested` (0: one per core).
fn thread_count(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

pub mod ab_test;
pub mod als;
pub mod baskets;
pub mod btyd;
pub mod btyd_fit;
pub mod clv_summary;
pub mod cooccurrence;
pub mod customer_book;
pub mod exact_sum;
pub mod fit;
pub mod id_interner;
pub mod identity;
pub mod itemsets;
pub mod kmeans;
pub mod prefetch;
pub mod recommend;
pub mod recommend_eval;
pub mod rfm;
pub mod rfm_table;
pub mod rng;
