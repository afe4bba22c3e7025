//! Frequent itemsets (Eclat: depth-first over sorted basket-id lists, intersected) and the
//! association rules A ⇒ C between them. support(X) = share of baskets holding every item
//! of X; confidence = s(A∪C)/s(A); lift = confidence/s(C); leverage = s(A∪C) − s(A)s(C);
//! conviction = (1 − s(C))/(1 − confidence), infinite when confidence is 1. Baskets are
//! [`Baskets`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::baskets::Baskets;

/// A frequent itemset: items ascending, and the number of baskets holding them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Itemset {
    pub items: Vec<u32>,
    pub count: u64,
}

/// More itemsets than this is a runaway search: the caller is told to raise min_support.
pub const MAX_ITEMSETS: usize = 5_000_000;

/// Every itemset of 1 to `max_len` items held by at least `min_count` baskets, in
/// lexicographic order of their items.
///
/// # Errors
/// More than `limit` itemsets (see [`MAX_ITEMSETS`]), or `stop` set (cancelled).
pub fn frequent_itemsets(
    baskets: &Baskets,
    items: usize,
    min_count: u64,
    max_len: usize,
    limit: usize,
    stop: &AtomicBool,
) -> Result<Vec<Itemset>, String> {
    let min_count = min_count.max(1);
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); items];
    for (basket_id, basket) in baskets.iter().enumerate() {
        for &item in basket {
            lists[item as usize].push(basket_id as u32);
        }
    }
    let frequent: Vec<(u32, Vec<u32>)> = lists
        .into_iter()
        .enumerate()
        .filter(|(_, l)| l.len() as u64 >= min_count)
        .map(|(item, l)| (item as u32, l))
        .collect();
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    extend(
        &frequent,
        &mut prefix,
        (min_count, max_len, limit),
        stop,
        &mut out,
    )?;
    Ok(out)
}

fn extend(
    candidates: &[(u32, Vec<u32>)],
    prefix: &mut Vec<u32>,
    bounds: (u64, usize, usize),
    stop: &AtomicBool,
    out: &mut Vec<Itemset>,
) -> Result<(), String> {
    let (min_count, max_len, limit) = bounds;
    for (i, (item, baskets)) in candidates.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return Err("canceled".into());
        }
        prefix.push(*item);
        out.push(Itemset {
            items: prefix.clone(),
            count: baskets.len() as u64,
        });
        if out.len() > limit {
            return Err(format!(
                "more than {limit} frequent itemsets: raise min_support or lower max_len"
            ));
        }
        if prefix.len() < max_len {
            let next: Vec<(u32, Vec<u32>)> = candidates[i + 1..]
                .iter()
                .filter_map(|(other, other_baskets)| {
                    let both = intersect(baskets, other_baskets);
                    (both.len() as u64 >= min_count).then_some((*other, both))
                })
                .collect();
            if !next.is_empty() {
                extend(&next, prefix, bounds, stop, out)?;
            }
        }
        prefix.pop();
    }
    Ok(())
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// A rule A ⇒ C with its measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub antecedent: Vec<u32>,
    pub consequent: Vec<u32>,
    pub antecedent_support: f64,
    pub consequent_support: f64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub leverage: f64,
    pub conviction: f64,
}

/// Every rule A ⇒ C (A, C non-empty, disjoint, A∪C a frequent itemset) with confidence
/// at least `min_confidence`, ordered by antecedent, then consequent.
///
/// # Errors
/// More than `limit` rules (see [`MAX_ITEMSETS`]).
pub fn rules(
    itemsets: &[Itemset],
    baskets: u64,
    min_confidence: f64,
    limit: usize,
) -> Result<Vec<Rule>, String> {
    let counts: HashMap<&[u32], u64> = itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.count))
        .collect();
    let n = baskets.max(1) as f64;
    let mut out = Vec::new();
    for set in itemsets.iter().filter(|s| s.items.len() >= 2) {
        let len = set.items.len();
        for mask in 1..(1u32 << len) - 1 {
            let (a, c): (Vec<u32>, Vec<u32>) = {
                let mut a = Vec::new();
                let mut c = Vec::new();
                for (bit, &item) in set.items.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        a.push(item);
                    } else {
                        c.push(item);
                    }
                }
                (a, c)
            };
            // Every subset of a frequent itemset is frequent (and so counted).
            let (Some(&count_a), Some(&count_c)) =
                (counts.get(a.as_slice()), counts.get(c.as_slice()))
            else {
                continue;
            };
            let confidence = set.count as f64 / count_a as f64;
            if confidence + 1e-12 < min_confidence {
                continue;
            }
            let (s, s_a, s_c) = (set.count as f64 / n, count_a as f64 / n, count_c as f64 / n);
            let conviction = if set.count == count_a {
                f64::INFINITY
            } else {
                (1.0 - s_c) / (1.0 - confidence)
            };
            if out.len() >= limit {
                return Err(format!(
                    "more than {limit} rules: raise min_support or min_confidence, or lower max_len"
                ));
            }
            out.push(Rule {
                antecedent: a,
                consequent: c,
                antecedent_support: s_a,
                consequent_support: s_c,
                support: s,
                confidence,
                lift: confidence / s_c,
                leverage: s - s_a * s_c,
                conviction,
            });
        }
    }
    out.sort_by(|x, y| {
        x.antecedent
            .cmp(&y.antecedent)
            .then_with(|| x.consequent.cmp(&y.consequent))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mlxtend example with ids: 0 Apple, 1 Corn, 2 Dill, 3 Eggs, 4 Ice cream,
    /// 5 Kidney Beans, 6 Milk, 7 Nutmeg, 8 Onion, 9 Unicorn, 10 Yogurt.
    fn go() -> AtomicBool {
        AtomicBool::new(false)
    }

    fn mlxtend() -> Baskets {
        Baskets::from_lists(&[
            vec![3, 5, 6, 7, 8, 10],
            vec![2, 3, 5, 7, 8, 10],
            vec![0, 3, 5, 6],
            vec![1, 5, 6, 9, 10],
            vec![1, 3, 4, 5, 8],
        ])
    }

    #[test]
    fn the_mlxtend_example() {
        let sets = frequent_itemsets(&mlxtend(), 11, 3, 3, MAX_ITEMSETS, &go()).unwrap();
        assert_eq!(sets.len(), 11);
        assert!(sets.contains(&Itemset {
            items: vec![3, 5, 8],
            count: 3
        }));
        let rules = rules(&sets, 5, 0.7, MAX_ITEMSETS).unwrap();
        assert!(super::rules(&sets, 5, 0.7, 3).is_err());
        assert_eq!(rules.len(), 12);
        let eggs_onion = rules
            .iter()
            .find(|r| r.antecedent == [3] && r.consequent == [8])
            .unwrap();
        assert!((eggs_onion.confidence - 0.75).abs() < 1e-12);
        assert!((eggs_onion.lift - 1.25).abs() < 1e-12);
        assert!((eggs_onion.leverage - 0.12).abs() < 1e-12);
        assert!((eggs_onion.conviction - 1.6).abs() < 1e-12);
        let onion_eggs = rules
            .iter()
            .find(|r| r.antecedent == [8] && r.consequent == [3])
            .unwrap();
        assert!(onion_eggs.conviction.is_infinite());
    }

    #[test]
    fn max_len_and_runaway_searches_are_bounded() {
        let sets = frequent_itemsets(&mlxtend(), 11, 3, 1, MAX_ITEMSETS, &go()).unwrap();
        assert_eq!(sets.len(), 5);
        let everything = Baskets::from_lists(&[(0..30).collect::<Vec<u32>>()]);
        assert!(frequent_itemsets(&everything, 30, 1, 30, 1000, &go()).is_err());
        let stopped = AtomicBool::new(true);
        assert!(frequent_itemsets(&mlxtend(), 11, 3, 3, MAX_ITEMSETS, &stopped).is_err());
    }
}
