//! Implicit-feedback ALS (Hu, Koren & Volinsky 2008, as in Spark's `implicitPrefs` and
//! the `implicit` library): a user's preference for an item is 1 when they interacted,
//! with confidence c = 1 + alpha·weight, else 0 with confidence 1. User and item factors
//! (rank r) are solved in turn, each row exactly: x_u = (YᵀY + Yᵀ(Cᵘ − I)Y + λI)⁻¹ YᵀCᵘp(u),
//! so one half-step costs O(nnz·r² + rows·r³). Item factors start from a seeded stream
//! per item, rows are solved in parallel and independently: the same data and seed give
//! the same factors whatever the thread count.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::marketing::rng::Rng;

use super::recommend::{best_of, push_ranked, Recommendation};
use super::thread_count;

/// What to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub rank: usize,
    /// λ, the L2 regularisation (> 0).
    pub reg: f64,
    pub alpha: f64,
    pub iterations: usize,
    pub seed: u64,
    /// Threads to solve rows with (0: one per core). The result does not depend on it.
    pub threads: usize,
}

/// Fitted factors, row-major: `users[u * rank .. (u + 1) * rank]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub rank: usize,
    pub users: Vec<f64>,
    pub items: Vec<f64>,
}

impl Model {
    /// Whether every factor is a finite number (a too small `reg` or a huge
    /// `alpha * weight` can make the solves blow up).
    pub fn is_finite(&self) -> bool {
        self.users.iter().chain(&self.items).all(|v| v.is_finite())
    }

    pub fn user(&self, u: u32) -> &[f64] {
        &self.users[u as usize * self.rank..(u as usize + 1) * self.rank]
    }

    pub fn item(&self, i: u32) -> &[f64] {
        &self.items[i as usize * self.rank..(i as usize + 1) * self.rank]
    }
}

/// A sparse matrix by rows: row r's (column, weight) pairs.
#[derive(Debug, Clone)]
pub struct Rows {
    pub starts: Vec<usize>,
    pub entries: Vec<(u32, f64)>,
}

impl Rows {
    /// Groups (row, column, weight) triples by row; weights of the same cell add up.
    pub fn from_triples(triples: &[(u32, u32, f64)], rows: usize, by_column: bool) -> Self {
        let mut cells: Vec<(u32, u32, f64)> = triples
            .iter()
            .map(|&(r, c, w)| if by_column { (c, r, w) } else { (r, c, w) })
            .collect();
        cells.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut entries: Vec<(u32, f64)> = Vec::with_capacity(cells.len());
        let mut starts = vec![0usize; rows + 1];
        let mut last: Option<(u32, u32)> = None;
        for (r, c, w) in cells {
            if last == Some((r, c)) {
                if let Some(e) = entries.last_mut() {
                    e.1 += w;
                }
                continue;
            }
            last = Some((r, c));
            entries.push((c, w));
            starts[r as usize + 1] = entries.len();
        }
        for r in 1..=rows {
            starts[r] = starts[r].max(starts[r - 1]);
        }
        Self { starts, entries }
    }

    pub fn row(&self, r: usize) -> &[(u32, f64)] {
        &self.entries[self.starts[r]..self.starts[r + 1]]
    }

    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fits user and item factors to the (user, item, weight) interactions; stops early
/// (with unfinished factors) once `stop` is set.
pub fn fit(by_user: &Rows, by_item: &Rows, options: Options, stop: &AtomicBool) -> Model {
    let rank = options.rank;
    let mut items = vec![0.0; by_item.len() * rank];
    for (i, row) in items.chunks_mut(rank).enumerate() {
        let mut rng = Rng::for_entity(options.seed, 0xA15, i as u64);
        for v in row {
            *v = rng.f64() * 0.01;
        }
    }
    let mut users = vec![0.0; by_user.len() * rank];
    for _ in 0..options.iterations {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        users = half_step(&items, by_user, options, stop);
        items = half_step(&users, by_item, options, stop);
    }
    Model { rank, users, items }
}

/// Solves every row of `rows` against the fixed factors (rows left zero once `stop` is
/// set: a row's solve can be long at a high rank, so the check is per row).
fn half_step(fixed: &[f64], rows: &Rows, options: Options, stop: &AtomicBool) -> Vec<f64> {
    let rank = options.rank;
    let mut gram = vec![0.0; rank * rank];
    for y in fixed.chunks(rank) {
        add_outer(&mut gram, y, 1.0, rank);
    }
    for d in 0..rank {
        gram[d * rank + d] += options.reg;
    }
    let mut out = vec![0.0; rows.len() * rank];
    let per_thread = rows.len().div_ceil(thread_count(options.threads)).max(1);
    std::thread::scope(|scope| {
        for (chunk_index, chunk) in out.chunks_mut(per_thread * rank).enumerate() {
            let gram = &gram;
            scope.spawn(move || {
                let mut a = vec![0.0; rank * rank];
                let mut b = vec![0.0; rank];
                for (offset, x) in chunk.chunks_mut(rank).enumerate() {
                    let row = rows.row(chunk_index * per_thread + offset);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if row.is_empty() {
                        continue;
                    }
                    a.copy_from_slice(gram);
                    b.iter_mut().for_each(|v| *v = 0.0);
                    for &(column, weight) in row {
                        let y = &fixed[column as usize * rank..(column as usize + 1) * rank];
                        let confidence = 1.0 + options.alpha * weight;
                        add_outer(&mut a, y, confidence - 1.0, rank);
                        for (bv, yv) in b.iter_mut().zip(y) {
                            *bv += confidence * yv;
                        }
                    }
                    solve_cholesky(&mut a, &mut b, rank);
                    x.copy_from_slice(&b);
                }
            });
        }
    });
    out
}

/// a += scale · y yᵀ (rank × rank, row-major).
fn add_outer(a: &mut [f64], y: &[f64], scale: f64, rank: usize) {
    for (i, yi) in y.iter().enumerate() {
        let s = scale * yi;
        let row = &mut a[i * rank..(i + 1) * rank];
        for (aij, yj) in row.iter_mut().zip(y) {
            *aij += s * yj;
        }
    }
}

/// Solves a x = b in place (b becomes x) for a symmetric positive definite `a`
/// (overwritten by its Cholesky factor).
fn solve_cholesky(a: &mut [f64], b: &mut [f64], n: usize) {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        let d = d.max(1e-300).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
}

/// The `k` best items of every user with interactions, by predicted preference x_u·y_i;
/// items nobody interacted with are never recommended. One user's scores are `rank`
/// contiguous multiply-adds over the item factors stored by dimension (vectorised by the
/// compiler), then one pass keeps the best k.
pub fn recommend(
    model: &Model,
    by_user: &Rows,
    by_item: &Rows,
    k: usize,
    exclude_purchased: bool,
    threads: usize,
    stop: &AtomicBool,
) -> Vec<Recommendation> {
    let rank = model.rank;
    let n_items = model.items.len() / rank.max(1);
    let mut by_dimension = vec![0.0; n_items * rank];
    for (i, y) in model.items.chunks(rank.max(1)).enumerate() {
        for (d, v) in y.iter().enumerate() {
            by_dimension[d * n_items + i] = *v;
        }
    }
    let by_dimension = &by_dimension;
    let users = by_user.len();
    let per_thread = users.div_ceil(thread_count(threads)).max(1);
    let unknown: Vec<usize> = (0..by_item.len())
        .filter(|&i| by_item.row(i).is_empty())
        .collect();
    let unknown = &unknown;
    let parts: Vec<Vec<Recommendation>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..users)
            .step_by(per_thread)
            .map(|start| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    let mut scores = vec![0.0f64; n_items];
                    for u in start..(start + per_thread).min(users) {
                        let row = by_user.row(u);
                        if row.is_empty() {
                            continue;
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        scores.iter_mut().for_each(|s| *s = 0.0);
                        for (d, xd) in model.user(u as u32).iter().enumerate() {
                            let column = &by_dimension[d * n_items..(d + 1) * n_items];
                            for (s, y) in scores.iter_mut().zip(column) {
                                *s += xd * y;
                            }
                        }
                        if exclude_purchased {
                            for &(i, _) in row {
                                scores[i as usize] = f64::NEG_INFINITY;
                            }
                        }
                        for &i in unknown {
                            scores[i] = f64::NEG_INFINITY;
                        }
                        push_ranked(&mut out, u as u32, best_of(&scores, k));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    parts.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            rank: 4,
            reg: 0.1,
            alpha: 10.0,
            iterations: 10,
            seed: 7,
            threads: 0,
        }
    }

    /// Two taste groups: users 0-3 buy items 0-2, users 4-7 buy items 3-5; each user
    /// misses one item of their group.
    fn two_groups() -> Vec<(u32, u32, f64)> {
        let mut t = Vec::new();
        for u in 0..8u32 {
            let base = if u < 4 { 0 } else { 3 };
            for i in 0..3u32 {
                if i != u % 3 {
                    t.push((u, base + i, 1.0));
                }
            }
        }
        t
    }

    #[test]
    fn recommends_the_missing_item_of_the_users_group() {
        let t = two_groups();
        let by_user = Rows::from_triples(&t, 8, false);
        let by_item = Rows::from_triples(&t, 6, true);
        let go = AtomicBool::new(false);
        let model = fit(&by_user, &by_item, options(), &go);
        let recs = recommend(&model, &by_user, &by_item, 1, true, 0, &go);
        assert_eq!(recs.len(), 8);
        for r in &recs {
            let base = if r.user < 4 { 0 } else { 3 };
            assert_eq!(r.item, base + r.user % 3, "{r:?}");
        }
        // Deterministic for a seed, whatever the thread count.
        for threads in [1, 3] {
            let o = Options {
                threads,
                ..options()
            };
            assert_eq!(fit(&by_user, &by_item, o, &go), model);
            assert_eq!(
                recommend(&model, &by_user, &by_item, 1, true, threads, &go),
                recs
            );
        }
        let other = Options {
            seed: 8,
            ..options()
        };
        assert_ne!(fit(&by_user, &by_item, other, &go), model);
        assert!(model.is_finite());
        let stopped = AtomicBool::new(true);
        assert!(recommend(&model, &by_user, &by_item, 1, true, 0, &stopped).is_empty());
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        // A = [[4, 2, 1], [2, 5, 3], [1, 3, 6]], x = [1, -2, 3] → b = A x.
        let a = [4.0, 2.0, 1.0, 2.0, 5.0, 3.0, 1.0, 3.0, 6.0];
        let x = [1.0, -2.0, 3.0];
        let mut b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| a[i * 3 + j] * x[j]).sum())
            .collect();
        let mut factor = a.to_vec();
        solve_cholesky(&mut factor, &mut b, 3);
        for (got, want) in b.iter().zip(x) {
            assert!((got - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn triples_of_the_same_cell_add_up() {
        let rows = Rows::from_triples(&[(1, 2, 1.0), (1, 2, 2.0), (0, 1, 1.0)], 3, false);
        assert_eq!(rows.row(0), &[(1, 1.0)]);
        assert_eq!(rows.row(1), &[(2, 3.0)]);
        assert!(rows.row(2).is_empty());
    }
}
