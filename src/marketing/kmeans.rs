//! k-means segmentation: Lloyd's algorithm from seeded k-means++ (greedy, as
//! scikit-learn does it, best of several starts) or from given initial points, on
//! z-scored features (population standard deviation) by default.
//!
//! Deterministic whatever the input order: points are sorted before fitting, every
//! reduction runs in that order, the random source is seeded, and clusters are numbered
//! 1..k by their centroids in lexicographic order. Converged means an iteration left
//! every label unchanged. An empty cluster takes the point farthest from its centroid.

use crate::marketing::rng::Rng;

/// How the first centroids are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Greedy k-means++ with `2 + ln k` candidates per step; best of `starts` runs.
    PlusPlus { seed: u64, starts: usize },
    /// The points flagged as initial centroids (exactly k).
    Given,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub k: usize,
    pub init: Init,
    pub standardize: bool,
    pub max_iter: usize,
}

/// A fitted model; centroids are in the standardised space (or raw when not
/// standardising, with mean 0 and std 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub centroids: Vec<Vec<f64>>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub sizes: Vec<u64>,
    /// Sum of squared distances of points to their centroid (standardised space).
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// Points as one flat row-major buffer of `dims` columns, with an initial-centroid flag.
#[derive(Debug, Clone, Default)]
pub struct Points {
    pub dims: usize,
    pub values: Vec<f64>,
    pub initial: Vec<bool>,
}

impl Points {
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            values: Vec::new(),
            initial: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.initial.len()
    }

    pub fn is_empty(&self) -> bool {
        self.initial.is_empty()
    }

    pub fn push(&mut self, point: &[f64], initial: bool) {
        self.values.extend_from_slice(point);
        self.initial.push(initial);
    }

    pub fn append(&mut self, other: &Points) {
        self.values.extend_from_slice(&other.values);
        self.initial.extend_from_slice(&other.initial);
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dims..(i + 1) * self.dims]
    }

    /// The same points in a canonical order (lexicographic, flag last).
    fn sorted(&self) -> Points {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| {
            self.row(a)
                .iter()
                .zip(self.row(b))
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(self.initial[a].cmp(&self.initial[b]))
        });
        let mut out = Points::new(self.dims);
        for i in order {
            out.push(self.row(i), self.initial[i]);
        }
        out
    }
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centroid (lowest index on ties) and the squared distance to it.
pub fn nearest(point: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centroid) in centroids.iter().enumerate() {
        let d = squared_distance(point, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

impl Model {
    /// Standardises a raw point with the model's means and stds.
    pub fn scale(&self, point: &[f64]) -> Vec<f64> {
        point
            .iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(x, (m, s))| (x - m) / s)
            .collect()
    }

    /// The 1-based cluster of a raw point and its Euclidean distance to the centroid.
    pub fn assign(&self, point: &[f64]) -> (usize, f64) {
        let (c, d) = nearest(&self.scale(point), &self.centroids);
        (c + 1, d.sqrt())
    }
}

/// Fits k-means to `points`.
///
/// # Errors
/// No points, k out of range, or (given init) not exactly k flagged points.
pub fn fit(points: &Points, options: &Options) -> Result<Model, String> {
    let k = options.k;
    if points.is_empty() {
        return Err("no points to cluster (NULL features are skipped)".into());
    }
    if k == 0 || k > points.len() {
        return Err(format!(
            "k must be from 1 to the number of points ({}), got {k}",
            points.len()
        ));
    }
    let raw = points.sorted();
    let dims = raw.dims;
    let n = raw.len();
    let (mean, std) = if options.standardize {
        let mut mean = vec![0.0; dims];
        for i in 0..n {
            for (m, x) in mean.iter_mut().zip(raw.row(i)) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0; dims];
        for i in 0..n {
            for ((v, x), m) in var.iter_mut().zip(raw.row(i)).zip(&mean) {
                *v += (x - m) * (x - m);
            }
        }
        let std = var
            .iter()
            .map(|v| {
                let s = (v / n as f64).sqrt();
                if s > 0.0 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        (mean, std)
    } else {
        (vec![0.0; dims], vec![1.0; dims])
    };
    let mut z = Points::new(dims);
    for i in 0..n {
        let row: Vec<f64> = raw
            .row(i)
            .iter()
            .zip(mean.iter().zip(&std))
            .map(|(x, (m, s))| (x - m) / s)
            .collect();
        z.push(&row, raw.initial[i]);
    }

    let best = match &options.init {
        Init::Given => {
            let given: Vec<Vec<f64>> = (0..n)
                .filter(|&i| z.initial[i])
                .map(|i| z.row(i).to_vec())
                .collect();
            if given.len() != k {
                return Err(format!(
                    "{} rows are flagged as initial centroids, k is {k}",
                    given.len()
                ));
            }
            lloyd(&z, given, options.max_iter)
        }
        Init::PlusPlus { seed, starts } => {
            let mut rng = Rng::for_entity(*seed, 0x6b6d_6561_6e73, 0);
            let mut best: Option<Fit> = None;
            for _ in 0..(*starts).max(1) {
                let start = plus_plus(&z, k, &mut rng);
                let fit = lloyd(&z, start, options.max_iter);
                if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
                    best = Some(fit);
                }
            }
            best.expect("at least one start")
        }
    };

    // Number clusters by their centroids, lexicographically.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        best.centroids[a]
            .iter()
            .zip(&best.centroids[b])
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(Model {
        centroids: order.iter().map(|&c| best.centroids[c].clone()).collect(),
        sizes: order.iter().map(|&c| best.sizes[c]).collect(),
        mean,
        std,
        inertia: best.inertia,
        iterations: best.iterations,
        converged: best.converged,
    })
}

struct Fit {
    centroids: Vec<Vec<f64>>,
    sizes: Vec<u64>,
    inertia: f64,
    iterations: usize,
    converged: bool,
}

/// Greedy k-means++: each new centroid is the best of `2 + ln k` candidates drawn with
/// probability proportional to the squared distance to the nearest chosen centroid.
fn plus_plus(z: &Points, k: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let n = z.len();
    let trials = 2 + (k as f64).ln() as usize;
    let first = (rng.next_u64() % n as u64) as usize;
    let mut centroids = vec![z.row(first).to_vec()];
    let mut closest: Vec<f64> = (0..n)
        .map(|i| squared_distance(z.row(i), &centroids[0]))
        .collect();
    while centroids.len() < k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let target = rng.f64() * total;
                let mut acc = 0.0;
                let mut pick = n - 1;
                for (i, d) in closest.iter().enumerate() {
                    acc += d;
                    if acc > target {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                (rng.next_u64() % n as u64) as usize
            };
            let updated: Vec<f64> = (0..n)
                .map(|i| closest[i].min(squared_distance(z.row(i), z.row(candidate))))
                .collect();
            let potential: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|(p, _, _)| potential < *p) {
                best = Some((potential, candidate, updated));
            }
        }
        let (_, chosen, updated) = best.expect("at least one trial");
        centroids.push(z.row(chosen).to_vec());
        closest = updated;
    }
    centroids
}

/// Lloyd iterations until no label changes (or `max_iter`).
fn lloyd(z: &Points, mut centroids: Vec<Vec<f64>>, max_iter: usize) -> Fit {
    let n = z.len();
    let k = centroids.len();
    let dims = z.dims;
    let mut labels = vec![usize::MAX; n];
    let mut distances = vec![0.0; n];
    let mut iterations = 0;
    let mut converged = false;
    loop {
        let mut changed = false;
        for i in 0..n {
            let (c, d) = nearest(z.row(i), &centroids);
            if labels[i] != c {
                labels[i] = c;
                changed = true;
            }
            distances[i] = d;
        }
        if !changed {
            converged = true;
            break;
        }
        if iterations == max_iter.max(1) {
            break;
        }
        iterations += 1;
        let mut sums = vec![vec![0.0; dims]; k];
        let mut counts = vec![0u64; k];
        for i in 0..n {
            counts[labels[i]] += 1;
            for (s, x) in sums[labels[i]].iter_mut().zip(z.row(i)) {
                *s += x;
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // Re-seed an empty cluster with the farthest point.
                let far = (0..n)
                    .max_by(|&a, &b| distances[a].total_cmp(&distances[b]).then(b.cmp(&a)))
                    .unwrap_or(0);
                centroids[c] = z.row(far).to_vec();
                distances[far] = 0.0;
            } else {
                centroids[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            }
        }
    }
    let mut sizes = vec![0u64; k];
    for &l in &labels {
        sizes[l] += 1;
    }
    Fit {
        centroids,
        sizes,
        inertia: distances.iter().sum(),
        iterations,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Points {
        let mut p = Points::new(2);
        for i in 0..30 {
            let t = f64::from(i % 10) * 0.01;
            let (x, y) = match i / 10 {
                0 => (0.0, 0.0),
                1 => (10.0, 0.0),
                _ => (0.0, 10.0),
            };
            p.push(&[x + t, y - t], false);
        }
        p
    }

    #[test]
    fn finds_separated_blobs_and_numbers_them_by_centroid() {
        let options = Options {
            k: 3,
            init: Init::PlusPlus {
                seed: 42,
                starts: 5,
            },
            standardize: false,
            max_iter: 100,
        };
        let model = fit(&blobs(), &options).unwrap();
        assert_eq!(model.sizes, vec![10, 10, 10]);
        assert!(model.converged);
        assert!(model.centroids[0][0] < 1.0 && model.centroids[0][1] < 1.0);
        assert!(model.centroids[1][1] > 9.0);
        assert!(model.centroids[2][0] > 9.0);
        assert_eq!(model.assign(&[9.5, 0.2]).0, 3);
        // Any input order gives the same model.
        let mut reversed = Points::new(2);
        let b = blobs();
        for i in (0..b.len()).rev() {
            reversed.push(b.row(i), false);
        }
        assert_eq!(fit(&reversed, &options).unwrap(), model);
    }

    #[test]
    fn given_initial_points_must_number_k() {
        let mut p = blobs();
        p.initial[0] = true;
        let options = Options {
            k: 2,
            init: Init::Given,
            standardize: true,
            max_iter: 10,
        };
        assert!(fit(&p, &options)
            .unwrap_err()
            .contains("1 rows are flagged"));
        p.initial[15] = true;
        let model = fit(&p, &options).unwrap();
        assert_eq!(model.sizes.iter().sum::<u64>(), 30);
    }
}
