//! Top-k recommendations per user: the selection of the k best-scored items (score
//! descending, then item id, so ties are broken the same way every run), and item-based
//! scoring: a candidate's score is the sum of its similarities to the items the user
//! bought (each bought item counted once).

use std::sync::atomic::{AtomicBool, Ordering};

/// One recommended item of one user; rank 1 is the best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    pub user: u32,
    pub item: u32,
    pub rank: u32,
    pub score: f64,
}

/// The `k` best of `candidates` (item, score), best first. NaN scores are skipped.
pub fn top_k(mut candidates: Vec<(u32, f64)>, k: usize) -> Vec<(u32, f64)> {
    candidates.retain(|(_, s)| !s.is_nan());
    let better = |x: &(u32, f64), y: &(u32, f64)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
    if candidates.len() > k && k > 0 {
        candidates.select_nth_unstable_by(k - 1, better);
        candidates.truncate(k);
    }
    candidates.truncate(k);
    candidates.sort_unstable_by(better);
    candidates
}

/// The `k` best (index, score) of dense `scores`, best first, ties by index; NaN and
/// -Infinity (excluded items) are skipped. One pass, k-sized buffer.
pub fn best_of(scores: &[f64], k: usize) -> Vec<(u32, f64)> {
    let mut best: Vec<(u32, f64)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() || s == f64::NEG_INFINITY || (best.len() == k && s <= best[k - 1].1) {
            continue;
        }
        // After every equal or better score: an earlier index wins a tie.
        let at = best.partition_point(|&(_, b)| b >= s);
        best.insert(at, (i as u32, s));
        best.truncate(k);
    }
    best
}

/// Appends `user`'s ranked `best` to `out`.
pub fn push_ranked(out: &mut Vec<Recommendation>, user: u32, best: Vec<(u32, f64)>) {
    out.extend(
        best.into_iter()
            .enumerate()
            .map(|(i, (item, score))| Recommendation {
                user,
                item,
                rank: i as u32 + 1,
                score,
            }),
    );
}

/// Item-based recommendations. `histories[user]` holds the user's distinct items,
/// `similar[item]` the item's (partner, similarity) pairs; items are `0..items`.
pub fn from_similar_items(
    histories: &[Vec<u32>],
    similar: &[Vec<(u32, f64)>],
    items: usize,
    k: usize,
    exclude_purchased: bool,
    stop: &AtomicBool,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut score = vec![0.0f64; items];
    let mut touched: Vec<u32> = Vec::new();
    let mut is_touched = vec![false; items];
    let mut bought = vec![false; items];
    for (user, history) in histories.iter().enumerate() {
        if user % 256 == 0 && stop.load(Ordering::Relaxed) {
            return Vec::new();
        }
        if history.is_empty() {
            continue;
        }
        for &item in history {
            bought[item as usize] = true;
        }
        for &item in history {
            for &(partner, similarity) in similar.get(item as usize).map_or(&[][..], Vec::as_slice)
            {
                let p = partner as usize;
                if exclude_purchased && bought[p] {
                    continue;
                }
                if !is_touched[p] {
                    is_touched[p] = true;
                    touched.push(partner);
                }
                score[p] += similarity;
            }
        }
        let candidates: Vec<(u32, f64)> = touched.iter().map(|&i| (i, score[i as usize])).collect();
        push_ranked(&mut out, user as u32, top_k(candidates, k));
        for &i in &touched {
            score[i as usize] = 0.0;
            is_touched[i as usize] = false;
        }
        touched.clear();
        for &item in history {
            bought[item as usize] = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_breaks_ties_by_item() {
        let best = top_k(
            vec![(3, 1.0), (1, 2.0), (2, 1.0), (0, f64::NAN), (4, 0.5)],
            3,
        );
        assert_eq!(best, vec![(1, 2.0), (2, 1.0), (3, 1.0)]);
        assert_eq!(top_k(vec![(1, 1.0)], 5), vec![(1, 1.0)]);
        assert!(top_k(vec![(1, 1.0)], 0).is_empty());
        let dense = [1.0, 2.0, f64::NEG_INFINITY, 1.0, f64::NAN, 0.5];
        assert_eq!(best_of(&dense, 3), vec![(1, 2.0), (0, 1.0), (3, 1.0)]);
        assert_eq!(
            best_of(&dense, 3),
            top_k(vec![(0, 1.0), (1, 2.0), (3, 1.0), (5, 0.5)], 3)
        );
        assert!(best_of(&dense, 0).is_empty());
    }

    #[test]
    fn scores_sum_similarities_and_exclude_bought_items() {
        // Item 0 is like 1 (0.5) and 2 (0.2); item 1 is like 2 (0.4).
        let similar = vec![
            vec![(1, 0.5), (2, 0.2)],
            vec![(0, 0.5), (2, 0.4)],
            vec![(0, 0.2), (1, 0.4)],
        ];
        let go = AtomicBool::new(false);
        let recs = from_similar_items(&[vec![0, 1], vec![]], &similar, 3, 5, true, &go);
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].user, recs[0].item, recs[0].rank), (0, 2, 1));
        assert!((recs[0].score - 0.6).abs() < 1e-15);
        let all = from_similar_items(&[vec![0, 1]], &similar, 3, 5, false, &go);
        assert_eq!(
            all.iter().map(|r| r.item).collect::<Vec<_>>(),
            vec![2, 0, 1]
        );
    }
}
