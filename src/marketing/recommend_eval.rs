//! Offline evaluation of top-k recommendations against a holdout (groundwork for
//! `rec_eval`, issue 6): precision@k = hits / k, recall@k = hits / |holdout|, hit rate =
//! share of users with a hit, AP@k = Σ precision@i over the ranks i of hits / min(|holdout|,
//! k), NDCG@k = DCG / IDCG with 1 / log2(rank + 1) gains, catalogue coverage = distinct
//! recommended items / catalogue size. Users are averaged with equal weight.

use std::collections::HashSet;
use std::hash::Hash;

/// The metrics of one user.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UserMetrics {
    pub precision: f64,
    pub recall: f64,
    pub hit: f64,
    pub average_precision: f64,
    pub ndcg: f64,
}

/// Metrics of one user's ranked recommendations (best first; only the first `k` count)
/// against the items the user actually bought in the holdout.
pub fn user_metrics<T: Eq + Hash>(
    recommended: &[T],
    holdout: &HashSet<T>,
    k: usize,
) -> UserMetrics {
    if k == 0 || holdout.is_empty() {
        return UserMetrics::default();
    }
    let mut hits = 0usize;
    let mut precision_sum = 0.0;
    let mut dcg = 0.0;
    for (rank, item) in recommended.iter().take(k).enumerate() {
        if holdout.contains(item) {
            hits += 1;
            precision_sum += hits as f64 / (rank + 1) as f64;
            dcg += 1.0 / ((rank + 2) as f64).log2();
        }
    }
    let ideal = holdout.len().min(k);
    let idcg: f64 = (0..ideal)
        .map(|rank| 1.0 / ((rank + 2) as f64).log2())
        .sum();
    UserMetrics {
        precision: hits as f64 / k as f64,
        recall: hits as f64 / holdout.len() as f64,
        hit: if hits > 0 { 1.0 } else { 0.0 },
        average_precision: precision_sum / ideal as f64,
        ndcg: dcg / idcg,
    }
}

/// The mean of per-user metrics (equal weight per user).
pub fn mean(users: &[UserMetrics]) -> UserMetrics {
    let n = users.len().max(1) as f64;
    let sum = |f: fn(&UserMetrics) -> f64| users.iter().map(f).sum::<f64>() / n;
    UserMetrics {
        precision: sum(|u| u.precision),
        recall: sum(|u| u.recall),
        hit: sum(|u| u.hit),
        average_precision: sum(|u| u.average_precision),
        ndcg: sum(|u| u.ndcg),
    }
}

/// Share of the catalogue that appears in at least one user's top k (recommended items
/// outside the catalogue do not count; an empty catalogue is covered 0).
pub fn coverage<'a, T: Eq + Hash + 'a>(
    recommendations: impl IntoIterator<Item = &'a [T]>,
    k: usize,
    catalogue: &HashSet<T>,
) -> f64 {
    if catalogue.is_empty() {
        return 0.0;
    }
    let distinct: HashSet<&T> = recommendations
        .into_iter()
        .flat_map(|r| r.iter().take(k))
        .filter(|item| catalogue.contains(item))
        .collect();
    distinct.len() as f64 / catalogue.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's worked example (reference_numbers.json,
    /// `recommendation_metrics_worked_example`).
    #[test]
    fn the_worked_example_gives_the_reference_numbers() {
        let recs = [
            vec!["A", "B", "C", "D", "E"],
            vec!["B", "F", "G", "H", "I"],
            vec!["C", "A", "J", "K", "L"],
        ];
        let holdout: [HashSet<&str>; 3] = [
            ["B", "E", "Z"].into_iter().collect(),
            ["X"].into_iter().collect(),
            ["A", "C"].into_iter().collect(),
        ];
        let users: Vec<UserMetrics> = recs
            .iter()
            .zip(&holdout)
            .map(|(r, h)| user_metrics(r, h, 5))
            .collect();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(users[0].average_precision, 0.3));
        assert!(close(users[0].ndcg, 0.4776237035032179));
        assert!(close(users[2].ndcg, 1.0));
        let m = mean(&users);
        assert!(close(m.precision, 0.26666666666666666));
        assert!(close(m.recall, 0.5555555555555555));
        assert!(close(m.hit, 0.6666666666666666));
        assert!(close(m.average_precision, 0.43333333333333335));
        assert!(close(m.ndcg, 0.4925412345010726));
        // 12 distinct items recommended out of a catalogue of 24 (A to X).
        let letters: Vec<String> = ('A'..='X').map(String::from).collect();
        let catalogue: HashSet<&str> = letters.iter().map(String::as_str).collect();
        assert!(close(
            coverage(recs.iter().map(Vec::as_slice), 5, &catalogue),
            0.5
        ));
        // Items outside the catalogue do not count.
        let small: HashSet<&str> = ["A", "B", "Q", "R"].into_iter().collect();
        assert!(close(
            coverage(recs.iter().map(Vec::as_slice), 5, &small),
            0.5
        ));
    }
}
