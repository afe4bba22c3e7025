//! Baskets and item-item co-occurrence. A basket is the set of distinct items of one
//! order (or one customer); baskets with more than `max_basket_size` distinct items are
//! left out (bulk orders say nothing about taste). For items a ≠ b: co_count = baskets
//! holding both, n_a = baskets holding a, N = baskets kept; cosine = co/√(n_a·n_b),
//! jaccard = co/(n_a + n_b − co), lift = co·N/(n_a·n_b). Pairs with co_count below
//! `min_support` are dropped; each item keeps its `top_k` best partners (score, then
//! co_count, descending; then partner id). Ids are dense `u32`s.

use std::sync::atomic::{AtomicBool, Ordering};

use super::FastMap;

/// The similarity score of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    Jaccard,
    Lift,
    Count,
}

impl Metric {
    /// Parses `cosine`, `jaccard`, `lift` or `count`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "cosine" => Some(Metric::Cosine),
            "jaccard" => Some(Metric::Jaccard),
            "lift" => Some(Metric::Lift),
            "count" => Some(Metric::Count),
            _ => None,
        }
    }

    fn score(self, co: u64, n_a: u64, n_b: u64, baskets: u64) -> f64 {
        let (co, n_a, n_b) = (co as f64, n_a as f64, n_b as f64);
        match self {
            Metric::Cosine => co / (n_a * n_b).sqrt(),
            Metric::Jaccard => co / (n_a + n_b - co),
            Metric::Lift => co * baskets as f64 / (n_a * n_b),
            Metric::Count => co,
        }
    }
}

/// Distinct items per basket, baskets in id order, items ascending. `pairs` are
/// (basket, item) rows.
pub fn baskets(mut pairs: Vec<(u32, u32)>) -> Vec<Vec<u32>> {
    pairs.sort_unstable();
    pairs.dedup();
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut current = None;
    for (basket, item) in pairs {
        if current != Some(basket) {
            out.push(Vec::new());
            current = Some(basket);
        }
        if let Some(last) = out.last_mut() {
            last.push(item);
        }
    }
    out
}

/// One ordered pair (both directions are reported).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    pub co_count: u64,
    pub n_a: u64,
    pub n_b: u64,
    pub score: f64,
}

/// What to count and keep.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub min_support: u64,
    pub metric: Metric,
    pub top_k: usize,
    pub max_basket_size: usize,
}

/// The co-occurring pairs of `baskets` over items `0..items`, by item a, best first;
/// nothing once `stop` is set (the query was cancelled).
pub fn cooccurrence(
    baskets: &[Vec<u32>],
    items: usize,
    options: Options,
    stop: &AtomicBool,
) -> Vec<Pair> {
    let mut n = vec![0u64; items];
    let mut co: FastMap<(u32, u32), u64> = FastMap::default();
    let mut kept = 0u64;
    for (i, basket) in baskets
        .iter()
        .filter(|b| b.len() <= options.max_basket_size)
        .enumerate()
    {
        if i % 1024 == 0 && stop.load(Ordering::Relaxed) {
            return Vec::new();
        }
        kept += 1;
        for (i, &a) in basket.iter().enumerate() {
            n[a as usize] += 1;
            for &b in &basket[i + 1..] {
                *co.entry((a, b)).or_insert(0) += 1;
            }
        }
    }
    let mut by_item: Vec<Vec<Pair>> = vec![Vec::new(); items];
    for ((a, b), count) in co {
        if count < options.min_support {
            continue;
        }
        let (n_a, n_b) = (n[a as usize], n[b as usize]);
        let score = options.metric.score(count, n_a, n_b, kept);
        by_item[a as usize].push(Pair {
            a,
            b,
            co_count: count,
            n_a,
            n_b,
            score,
        });
        by_item[b as usize].push(Pair {
            a: b,
            b: a,
            co_count: count,
            n_a: n_b,
            n_b: n_a,
            score,
        });
    }
    let mut out = Vec::new();
    for mut partners in by_item {
        partners.sort_unstable_by(|x, y| {
            y.score
                .total_cmp(&x.score)
                .then(y.co_count.cmp(&x.co_count))
                .then(x.b.cmp(&y.b))
        });
        partners.truncate(options.top_k);
        out.extend(partners);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(metric: Metric) -> Options {
        Options {
            min_support: 1,
            metric,
            top_k: 100,
            max_basket_size: 100,
        }
    }

    #[test]
    fn counts_each_item_once_per_basket() {
        let b = baskets(vec![(0, 1), (0, 0), (0, 1), (1, 1), (1, 2)]);
        assert_eq!(b, vec![vec![0, 1], vec![1, 2]]);
        let pairs = cooccurrence(&b, 3, options(Metric::Cosine), &AtomicBool::new(false));
        let p01 = pairs.iter().find(|p| p.a == 0 && p.b == 1).unwrap();
        assert_eq!((p01.co_count, p01.n_a, p01.n_b), (1, 1, 2));
        assert!((p01.score - 1.0 / 2f64.sqrt()).abs() < 1e-15);
        // Both directions, nothing for the pair never seen together.
        assert!(pairs.iter().any(|p| p.a == 1 && p.b == 0));
        assert!(!pairs.iter().any(|p| p.a == 0 && p.b == 2));
    }

    #[test]
    fn big_baskets_support_and_top_k_are_applied() {
        let b = vec![vec![0, 1], vec![0, 1], vec![0, 2], vec![0, 1, 2, 3]];
        let mut o = options(Metric::Count);
        o.max_basket_size = 3;
        o.min_support = 1;
        o.top_k = 1;
        let pairs = cooccurrence(&b, 4, o, &AtomicBool::new(false));
        assert!(cooccurrence(&b, 4, o, &AtomicBool::new(true)).is_empty());
        let of0: Vec<_> = pairs.iter().filter(|p| p.a == 0).collect();
        assert_eq!(of0.len(), 1);
        assert_eq!((of0[0].b, of0[0].co_count), (1, 2));
        assert!(!pairs.iter().any(|p| p.a == 3 || p.b == 3));
        // lift = co * N / (n_a * n_b) = 2 * 10 / (4 * 5)
        let lift = Metric::Lift.score(2, 4, 5, 10);
        assert!((lift - 1.0).abs() < 1e-15);
        let jaccard = Metric::Jaccard.score(2, 3, 2, 3);
        assert!((jaccard - 2.0 / 3.0).abs() < 1e-15);
    }
}
