//! Baskets and item-item co-occurrence. A basket is the set of distinct items of one
//! order (or one customer); baskets with more than `max_basket_size` distinct items are
//! left out (bulk orders say nothing about taste). For items a ≠ b: co_count = baskets
//! holding both, n_a = baskets holding a, N = baskets kept; cosine = co/√(n_a·n_b),
//! jaccard = co/(n_a + n_b − co), lift = co·N/(n_a·n_b). Pairs with co_count below
//! `min_support` are dropped; each item keeps its `top_k` best partners (score, then
//! co_count, descending; then partner id). Ids are dense `u32`s; baskets are
//! [`Baskets`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::baskets::Baskets;

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
/// nothing once `stop` is set (the query was cancelled). Counted item by item (each
/// item's baskets, each of their items into a dense counter), on `threads` threads
/// (0: one per core): no map of pairs, and the result does not depend on the threads.
pub fn cooccurrence(
    baskets: &Baskets,
    items: usize,
    options: Options,
    threads: usize,
    stop: &AtomicBool,
) -> Vec<Pair> {
    let kept = |b: &[u32]| b.len() <= options.max_basket_size;
    let mut n = vec![0u64; items];
    let mut baskets_kept = 0u64;
    for basket in baskets.iter().filter(|b| kept(b)) {
        baskets_kept += 1;
        for &a in basket {
            n[a as usize] += 1;
        }
    }
    // Each item's baskets of two or more items (compressed, like the baskets).
    let mut starts = vec![0usize; items + 1];
    for basket in baskets.iter().filter(|b| b.len() >= 2 && kept(b)) {
        for &a in basket {
            starts[a as usize + 1] += 1;
        }
    }
    for a in 1..=items {
        starts[a] += starts[a - 1];
    }
    let mut of_item = vec![0u32; starts[items]];
    let mut fill = starts.clone();
    for (id, basket) in baskets.iter().enumerate() {
        if basket.len() >= 2 && kept(basket) {
            for &a in basket {
                of_item[fill[a as usize]] = id as u32;
                fill[a as usize] += 1;
            }
        }
    }
    drop(fill);
    let count = ItemCounter {
        baskets,
        starts: &starts,
        of_item: &of_item,
        n: &n,
        baskets_kept,
        options,
    };
    let next = AtomicUsize::new(0);
    let workers = super::thread_count(threads).min(items.max(1));
    let mut by_item: Vec<Vec<Pair>> = vec![Vec::new(); items];
    let done: Vec<Vec<(u32, Vec<Pair>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| count.items_from(&next, stop)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    if stop.load(Ordering::Relaxed) {
        return Vec::new();
    }
    for (a, pairs) in done.into_iter().flatten() {
        by_item[a as usize] = pairs;
    }
    by_item.into_iter().flatten().collect()
}

/// What the workers of [`cooccurrence`] share.
struct ItemCounter<'a> {
    baskets: &'a Baskets,
    starts: &'a [usize],
    of_item: &'a [u32],
    n: &'a [u64],
    baskets_kept: u64,
    options: Options,
}

impl ItemCounter<'_> {
    /// Takes items from `next` until none are left: each item's best partners.
    fn items_from(&self, next: &AtomicUsize, stop: &AtomicBool) -> Vec<(u32, Vec<Pair>)> {
        const CHUNK: usize = 16;
        let items = self.n.len();
        let mut counts = vec![0u32; items];
        let mut touched = Vec::new();
        let mut out = Vec::new();
        loop {
            let first = next.fetch_add(CHUNK, Ordering::Relaxed);
            if first >= items || stop.load(Ordering::Relaxed) {
                return out;
            }
            for a in first..(first + CHUNK).min(items) {
                let pairs = self.partners(a as u32, &mut counts, &mut touched);
                if !pairs.is_empty() {
                    out.push((a as u32, pairs));
                }
            }
        }
    }

    /// Item a's top_k partners; `counts` is all zeros before and after, `touched` empty.
    fn partners(&self, a: u32, counts: &mut [u32], touched: &mut Vec<u32>) -> Vec<Pair> {
        let of_a = &self.of_item[self.starts[a as usize]..self.starts[a as usize + 1]];
        for &basket in of_a {
            for &b in self.baskets.get(basket as usize) {
                let count = &mut counts[b as usize];
                if *count == 0 {
                    touched.push(b);
                }
                *count += 1;
            }
        }
        let n_a = self.n[a as usize];
        let mut pairs = Vec::new();
        for b in touched.drain(..) {
            let co_count = u64::from(std::mem::take(&mut counts[b as usize]));
            if b == a || co_count < self.options.min_support {
                continue;
            }
            let n_b = self.n[b as usize];
            pairs.push(Pair {
                a,
                b,
                co_count,
                n_a,
                n_b,
                score: self
                    .options
                    .metric
                    .score(co_count, n_a, n_b, self.baskets_kept),
            });
        }
        let best_first = |x: &Pair, y: &Pair| {
            y.score
                .total_cmp(&x.score)
                .then(y.co_count.cmp(&x.co_count))
                .then(x.b.cmp(&y.b))
        };
        if pairs.len() > self.options.top_k {
            pairs.select_nth_unstable_by(self.options.top_k - 1, best_first);
            pairs.truncate(self.options.top_k);
        }
        pairs.sort_unstable_by(best_first);
        pairs
    }
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
        let b = Baskets::from_rows(2, &[0, 0, 0, 1, 1], &[1, 0, 1, 1, 2]);
        let pairs = cooccurrence(&b, 3, options(Metric::Cosine), 1, &AtomicBool::new(false));
        let p01 = pairs.iter().find(|p| p.a == 0 && p.b == 1).unwrap();
        assert_eq!((p01.co_count, p01.n_a, p01.n_b), (1, 1, 2));
        assert!((p01.score - 1.0 / 2f64.sqrt()).abs() < 1e-15);
        // Both directions, nothing for the pair never seen together.
        assert!(pairs.iter().any(|p| p.a == 1 && p.b == 0));
        assert!(!pairs.iter().any(|p| p.a == 0 && p.b == 2));
    }

    #[test]
    fn big_baskets_support_and_top_k_are_applied() {
        let b = Baskets::from_lists(&[vec![0, 1], vec![0, 1], vec![0, 2], vec![0, 1, 2, 3]]);
        let mut o = options(Metric::Count);
        o.max_basket_size = 3;
        o.min_support = 1;
        o.top_k = 1;
        let pairs = cooccurrence(&b, 4, o, 2, &AtomicBool::new(false));
        assert!(cooccurrence(&b, 4, o, 2, &AtomicBool::new(true)).is_empty());
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

    /// Every pair counted directly from each basket's pairs, the way the counting used
    /// to work (a map of pairs), against the item-by-item counting on any threads.
    #[test]
    fn equals_counting_every_pair_of_every_basket() {
        use crate::marketing::rng::Rng;
        use std::collections::HashMap;
        let mut rng = Rng::for_entity(7, 1, 1);
        let lists: Vec<Vec<u32>> = (0..400)
            .map(|_| {
                let len = 1 + rng.geometric(0.35) as usize;
                (0..len)
                    .map(|_| rng.geometric(0.15).min(39) as u32)
                    .collect()
            })
            .collect();
        let baskets = Baskets::from_lists(&lists);
        let o = Options {
            min_support: 2,
            metric: Metric::Lift,
            top_k: 5,
            max_basket_size: 6,
        };
        let mut co: HashMap<(u32, u32), u64> = HashMap::new();
        let mut n = [0u64; 40];
        let mut kept = 0;
        for b in baskets.iter().filter(|b| b.len() <= 6) {
            kept += 1;
            for (i, &x) in b.iter().enumerate() {
                n[x as usize] += 1;
                for &y in &b[i + 1..] {
                    *co.entry((x, y)).or_default() += 1;
                    *co.entry((y, x)).or_default() += 1;
                }
            }
        }
        let mut expected = Vec::new();
        for a in 0..40u32 {
            let mut of_a: Vec<Pair> = co
                .iter()
                .filter(|(&(x, _), &c)| x == a && c >= 2)
                .map(|(&(_, b), &c)| Pair {
                    a,
                    b,
                    co_count: c,
                    n_a: n[a as usize],
                    n_b: n[b as usize],
                    score: Metric::Lift.score(c, n[a as usize], n[b as usize], kept),
                })
                .collect();
            of_a.sort_by(|x, y| {
                y.score
                    .total_cmp(&x.score)
                    .then(y.co_count.cmp(&x.co_count))
                    .then(x.b.cmp(&y.b))
            });
            of_a.truncate(5);
            expected.extend(of_a);
        }
        assert!(expected.len() > 50, "a test that can fail");
        for threads in [1, 3] {
            let got = cooccurrence(&baskets, 40, o, threads, &AtomicBool::new(false));
            assert_eq!(got, expected, "{threads} threads");
        }
    }
}
