//! Fitting the customer models of [`super::btyd`] by maximum likelihood (in log space,
//! positive parameters) on weighted distinct rows, fast enough for millions of them:
//! the terms that depend on one value only (x, t_x, T) are computed once per distinct
//! value and evaluation, the rows are summed on all cores in fixed chunks (the same sum
//! whatever the number of threads), and a fit on many rows starts from the fit of an
//! evenly spread subset, polished on subsets ten times larger each, so the full data is
//! only needed for the last BFGS steps; with analytic gradients, each value comes with
//! its gradient from the same pass.

use statrs::function::beta::ln_beta;
use statrs::function::gamma::{digamma, ln_gamma};

use super::btyd::{log_add_exp, BgNbd, GammaGamma, History, ParetoNbd};
use super::fit::{central_differences, minimize, polish, Gradient, Minimum};

/// A model fitted by maximum likelihood.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted<M> {
    pub model: M,
    /// The log-likelihood of the data at the model.
    pub ll: f64,
    /// The customers (sum of weights) fitted on.
    pub n: f64,
    pub iterations: usize,
    /// The gradient vanished inside the search box: a maximum of the likelihood.
    pub converged: bool,
    /// Not converged, but the likelihood only grows towards the edge of the search box
    /// (and is flat in the other parameters): its supremum is a limit of the model, such
    /// as BG/NBD's a → 0 when the data shows no dropout, and `model` is near it.
    pub at_limit: bool,
}

/// The search box of the fits, in logs of the parameters.
const LOG_PARAMETER_BOUND: f64 = 20.0;
/// How flat the mean log-likelihood must be, in the parameters inside the box, for an
/// optimum at its edge.
const LIMIT_GRADIENT_TOLERANCE: f64 = 1e-5;
/// Fits on more distinct rows than this start from the fit of about half as many.
const WARM_START_ABOVE: usize = 20_000;
/// Rows per partial sum.
const CHUNK: usize = 8_192;

/// Σ f(row): fixed chunks summed in order, the chunks spread over the cores.
fn chunked_sum<R: Sync>(rows: &[R], f: impl Fn(&R) -> f64 + Sync) -> f64 {
    chunked_sums(rows, |row| [f(row)])[0]
}

/// Σ f(row) of vectors, as [`chunked_sum`].
fn chunked_sums<R: Sync, const N: usize>(
    rows: &[R],
    f: impl Fn(&R) -> [f64; N] + Sync,
) -> [f64; N] {
    let add = |mut sum: [f64; N], v: [f64; N]| {
        sum.iter_mut().zip(v).for_each(|(s, v)| *s += v);
        sum
    };
    let chunks: Vec<&[R]> = rows.chunks(CHUNK).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    let chunk_sum = |c: &[R]| c.iter().map(&f).fold([0.0; N], add);
    if threads <= 1 {
        return chunks.iter().map(|c| chunk_sum(c)).fold([0.0; N], add);
    }
    let mut partial = vec![[0.0; N]; chunks.len()];
    let per_thread = chunks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (sums, group) in partial
            .chunks_mut(per_thread)
            .zip(chunks.chunks(per_thread))
        {
            let chunk_sum = &chunk_sum;
            scope.spawn(move || {
                for (sum, c) in sums.iter_mut().zip(group) {
                    *sum = chunk_sum(c);
                }
            });
        }
    });
    partial.into_iter().fold([0.0; N], add)
}

/// A model's total log-likelihood over rows and its gradient by parameter, in one pass.
type TotalAndGradient<'a, M, R> = &'a (dyn Fn(&M, &[R]) -> (f64, Vec<f64>) + Sync);

/// Maximizes the weighted log-likelihood (`total(model, rows)`) over positive
/// parameters, searched in logs from all ones; `None` without data.
fn fit_positive<R: Clone + Sync, M>(
    rows: &[R],
    weight: impl Fn(&R) -> f64,
    parameters: usize,
    model: impl Fn(&[f64]) -> M,
    total: impl Fn(&M, &[R]) -> f64,
    total_and_gradient: Option<TotalAndGradient<M, R>>,
    warm_start_above: usize,
) -> Option<Fitted<M>> {
    let weight_of = |rows: &[R]| rows.iter().map(&weight).sum::<f64>();
    let n = weight_of(rows);
    // (NaN weights count as none)
    if n.is_nan() || n <= 0.0 {
        return None;
    }
    let model = &model;
    let fused = total_and_gradient.map(|tg| Fused::new(model, tg, rows, n));
    let full_gradient = fused.as_ref().map(|f| f.gradient());
    let full_gradient = full_gradient.as_ref().map(|g| g as Gradient);
    let start = vec![0.0; parameters];
    // A polish on `rows` (weights `n`) from a minimum of a similar function. With the
    // gradient known, each value comes with its gradient: BFGS asks for it next
    // whenever it takes the step.
    let polish_on = |rows: &[R], n: f64, from: &Minimum| match total_and_gradient {
        Some(tg) => {
            let fused = Fused::new(model, tg, rows, n);
            let gradient = fused.gradient();
            polish(
                fused.objective(),
                Some(&gradient),
                &from.point,
                &from.inverse_hessian,
            )
        }
        None => polish(
            objective(model, &total, rows, n),
            None,
            &from.point,
            &from.inverse_hessian,
        ),
    };
    let minimum = if rows.len() > warm_start_above {
        // Fitted on an evenly spread subset, then polished on subsets ten times larger
        // each, up to all rows: most BFGS steps are taken on the smaller ones.
        let spread =
            |size: usize| -> Vec<R> { rows.iter().step_by(rows.len() / size).cloned().collect() };
        let mut size = warm_start_above / 2;
        let subset = spread(size);
        let subset_n = weight_of(&subset);
        let subset_fused = total_and_gradient.map(|tg| Fused::new(model, tg, &subset, subset_n));
        let subset_gradient = subset_fused.as_ref().map(|f| f.gradient());
        let mut near = minimize(
            objective(model, &total, &subset, subset_n),
            subset_gradient.as_ref().map(|g| g as Gradient),
            &start,
        );
        let mut iterations = near.iterations;
        size *= 10;
        while size * 2 <= rows.len() {
            let subset = spread(size);
            let larger = polish_on(&subset, weight_of(&subset), &near);
            iterations += larger.iterations;
            tracing::debug!(
                size,
                iterations = larger.iterations,
                "fit polished on a subset"
            );
            near = larger;
            size *= 10;
        }
        let full = polish_on(rows, n, &near);
        tracing::debug!(
            rows = rows.len(),
            iterations = full.iterations,
            "fit polished on all rows"
        );
        Minimum {
            iterations: iterations + full.iterations,
            ..full
        }
    } else {
        minimize(objective(model, &total, rows, n), full_gradient, &start)
    };
    let inside = |l: &f64| l.abs() < LOG_PARAMETER_BOUND - 1.0;
    let converged = minimum.converged && minimum.point.iter().all(inside);
    // Stopped at the box: is the supremum there, at a limit of the parameters (the
    // gradient flat inside, pointing out of the box at it)?
    let at_limit = !converged && minimum.value.is_finite() && {
        let g = match full_gradient {
            Some(gradient) => gradient(&minimum.point),
            None => central_differences(&objective(model, &total, rows, n), &minimum.point),
        };
        minimum.point.iter().any(|l| !inside(l))
            && minimum.point.iter().zip(&g).all(|(l, g)| {
                g.abs() <= LIMIT_GRADIENT_TOLERANCE || (!inside(l) && g * l.signum() < 0.0)
            })
    };
    let params: Vec<f64> = minimum.point.iter().map(|l| l.exp()).collect();
    Some(Fitted {
        model: model(&params),
        ll: -minimum.value * n,
        n,
        iterations: minimum.iterations,
        converged,
        at_limit,
    })
}

/// [`objective`] and its gradient from one pass over the rows: d(−total / n) / d ln θ
/// = −θ ∂total/∂θ / n. The gradient at the point last valued is kept for the next ask.
struct Fused<'a, M, R, F> {
    model: &'a F,
    total_and_gradient: TotalAndGradient<'a, M, R>,
    rows: &'a [R],
    n: f64,
    /// The logs last valued, and the gradient there.
    last: std::cell::RefCell<Option<(Vec<f64>, Vec<f64>)>>,
}

impl<'a, M, R, F: Fn(&[f64]) -> M> Fused<'a, M, R, F> {
    fn new(
        model: &'a F,
        total_and_gradient: TotalAndGradient<'a, M, R>,
        rows: &'a [R],
        n: f64,
    ) -> Self {
        Self {
            model,
            total_and_gradient,
            rows,
            n,
            last: std::cell::RefCell::new(None),
        }
    }

    /// The mean negative log-likelihood and its gradient in logs of the parameters.
    fn both(&self, logs: &[f64]) -> (f64, Vec<f64>) {
        let params: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        let (total, gradient) = (self.total_and_gradient)(&(self.model)(&params), self.rows);
        let gradient = gradient
            .iter()
            .zip(&params)
            .map(|(g, p)| -g * p / self.n)
            .collect();
        (-total / self.n, gradient)
    }

    /// As [`objective`], keeping the gradient.
    fn objective(&self) -> impl Fn(&[f64]) -> f64 + '_ {
        move |logs: &[f64]| {
            if logs.iter().any(|l| l.abs() > LOG_PARAMETER_BOUND) {
                return f64::INFINITY;
            }
            let (value, gradient) = self.both(logs);
            *self.last.borrow_mut() = Some((logs.to_vec(), gradient));
            value
        }
    }

    fn gradient(&self) -> impl Fn(&[f64]) -> Vec<f64> + '_ {
        move |logs: &[f64]| {
            if let Some((at, gradient)) = self.last.borrow().as_ref() {
                if at.as_slice() == logs {
                    return gradient.clone();
                }
            }
            self.both(logs).1
        }
    }
}

/// The mean negative log-likelihood of `rows` (total weight `n`) at the parameters
/// whose logs are given.
fn objective<'a, R, M>(
    model: &'a impl Fn(&[f64]) -> M,
    total: &'a impl Fn(&M, &[R]) -> f64,
    rows: &'a [R],
    n: f64,
) -> impl Fn(&[f64]) -> f64 + 'a {
    move |logs: &[f64]| {
        // Parameters beyond e^±20 mean the data has no finite optimum.
        if logs.iter().any(|l| l.abs() > LOG_PARAMETER_BOUND) {
            return f64::INFINITY;
        }
        let params: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        -total(&model(&params), rows) / n
    }
}

/// The distinct values of one column, and each row's index into them.
fn distinct(values: impl Iterator<Item = f64> + Clone) -> (Vec<f64>, Vec<u32>) {
    let mut table: Vec<f64> = values.clone().collect();
    table.sort_by(f64::total_cmp);
    table.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let index = values
        .map(|v| table.partition_point(|t| t.total_cmp(&v).is_lt()) as u32)
        .collect();
    (table, index)
}

/// A history as indexes into the distinct values of x, t_x and T.
#[derive(Debug, Clone, Copy)]
struct HistoryRow {
    x: u32,
    t_x: u32,
    t: u32,
    weight: f64,
}

/// BG/NBD fitted to weighted histories.
pub fn fit_bgnbd(data: &[(History, f64)]) -> Option<Fitted<BgNbd>> {
    bgnbd(data, WARM_START_ABOVE)
}

fn bgnbd(data: &[(History, f64)], warm_start_above: usize) -> Option<Fitted<BgNbd>> {
    let (xs, x_index) = distinct(data.iter().map(|(h, _)| h.x));
    let (recencies, recency_index) = distinct(data.iter().map(|(h, _)| h.t_x));
    let (ages, age_index) = distinct(data.iter().map(|(h, _)| h.t));
    let rows: Vec<HistoryRow> = (0..data.len())
        .map(|i| HistoryRow {
            x: x_index[i],
            t_x: recency_index[i],
            t: age_index[i],
            weight: data[i].1,
        })
        .collect();
    let total = |m: &BgNbd, rows: &[HistoryRow]| {
        let BgNbd { r, alpha, a, b } = *m;
        // The terms of BgNbd::ln_likelihood, per distinct value.
        let base = -ln_gamma(r) + r * alpha.ln() - ln_beta(a, b);
        let common: Vec<f64> = xs.iter().map(|x| ln_gamma(r + x) + base).collect();
        let still: Vec<f64> = xs.iter().map(|x| ln_beta(a, b + x)).collect();
        let dropped: Vec<f64> = xs
            .iter()
            .map(|x| {
                if *x > 0.0 {
                    ln_beta(a + 1.0, b + x - 1.0)
                } else {
                    f64::NAN
                }
            })
            .collect();
        let ln_age: Vec<f64> = ages.iter().map(|t| (alpha + t).ln()).collect();
        let ln_recency: Vec<f64> = recencies.iter().map(|t| (alpha + t).ln()).collect();
        chunked_sum(rows, |row| {
            let (i, x) = (row.x as usize, xs[row.x as usize]);
            let still = still[i] - (r + x) * ln_age[row.t as usize];
            let ll = if x > 0.0 {
                let dropped = dropped[i] - (r + x) * ln_recency[row.t_x as usize];
                common[i] + log_add_exp(still, dropped)
            } else {
                common[i] + still
            };
            row.weight * ll
        })
    };
    let total_and_gradient = |m: &BgNbd, rows: &[HistoryRow]| -> (f64, Vec<f64>) {
        let BgNbd { r, alpha, a, b } = *m;
        let base = -ln_gamma(r) + r * alpha.ln() - ln_beta(a, b);
        let beta_a = -(digamma(a) - digamma(a + b));
        let beta_b = -(digamma(b) - digamma(a + b));
        let (psi_a, psi_a1, psi_r) = (digamma(a), digamma(a + 1.0), digamma(r));
        // Per distinct x: the common term, the log terms of the still-active and
        // dropped-out branches and their derivatives.
        let per_x: Vec<[f64; 8]> = xs
            .iter()
            .map(|&x| {
                let psi_abx = digamma(a + b + x);
                let dropped = if x > 0.0 {
                    [
                        ln_beta(a + 1.0, b + x - 1.0),
                        psi_a1 - psi_abx,
                        digamma(b + x - 1.0) - psi_abx,
                    ]
                } else {
                    [f64::NAN, 0.0, 0.0]
                };
                [
                    ln_gamma(r + x) + base,
                    digamma(r + x) - psi_r + alpha.ln(),
                    ln_beta(a, b + x),
                    psi_a - psi_abx,
                    digamma(b + x) - psi_abx,
                    dropped[0],
                    dropped[1],
                    dropped[2],
                ]
            })
            .collect();
        let logs_and_inverses = |values: &[f64]| -> Vec<(f64, f64)> {
            values
                .iter()
                .map(|t| ((alpha + t).ln(), 1.0 / (alpha + t)))
                .collect()
        };
        let ages = logs_and_inverses(&ages);
        let recencies = logs_and_inverses(&recencies);
        let [ll, d_r, d_alpha, d_a, d_b] = chunked_sums(rows, |row| {
            let x = xs[row.x as usize];
            let [common, d_r, still, still_a, still_b, dropped, dropped_a, dropped_b] =
                per_x[row.x as usize];
            let (ln_age, inv_age) = ages[row.t as usize];
            let (ln_recency, inv_recency) = recencies[row.t_x as usize];
            let still = still - (r + x) * ln_age;
            // The log-likelihood, and the dropped-out branch's share of it.
            let (ll, w) = if x > 0.0 {
                let dropped = dropped - (r + x) * ln_recency;
                let e = (-(still - dropped).abs()).exp();
                let w = if still > dropped {
                    e / (1.0 + e)
                } else {
                    1.0 / (1.0 + e)
                };
                (common + still.max(dropped) + e.ln_1p(), w)
            } else {
                (common + still, 0.0)
            };
            let v = 1.0 - w;
            [
                row.weight * ll,
                row.weight * (d_r - v * ln_age - w * ln_recency),
                row.weight * (r / alpha - (r + x) * (v * inv_age + w * inv_recency)),
                row.weight * (beta_a + v * still_a + w * dropped_a),
                row.weight * (beta_b + v * still_b + w * dropped_b),
            ]
        });
        (ll, vec![d_r, d_alpha, d_a, d_b])
    };
    fit_positive(
        &rows,
        |row| row.weight,
        4,
        |p| BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        },
        total,
        Some(&total_and_gradient),
        warm_start_above,
    )
}

/// Pareto/NBD fitted to weighted histories.
pub fn fit_paretonbd(data: &[(History, f64)]) -> Option<Fitted<ParetoNbd>> {
    fit_positive(
        data,
        |(_, w)| *w,
        4,
        |p| ParetoNbd {
            r: p[0],
            alpha: p[1],
            s: p[2],
            beta: p[3],
        },
        |m, rows| chunked_sum(rows, |(h, w)| w * m.ln_likelihood(h)),
        None,
        WARM_START_ABOVE,
    )
}

/// A customer's repeat purchases and their mean value.
pub type Spend = (f64, f64);

/// A repeat customer's spend, with x as an index into its distinct values.
#[derive(Debug, Clone, Copy)]
struct SpendRow {
    x: u32,
    m: f64,
    ln_m: f64,
    weight: f64,
}

/// Gamma-Gamma fitted to weighted (repeat purchases, mean spend) pairs, x > 0, m > 0.
pub fn fit_gammagamma(data: &[(Spend, f64)]) -> Option<Fitted<GammaGamma>> {
    gammagamma(data, WARM_START_ABOVE)
}

fn gammagamma(data: &[(Spend, f64)], warm_start_above: usize) -> Option<Fitted<GammaGamma>> {
    let (xs, x_index) = distinct(data.iter().map(|((x, _), _)| *x));
    let rows: Vec<SpendRow> = data
        .iter()
        .zip(x_index)
        .map(|(((_, m), w), x)| SpendRow {
            x,
            m: *m,
            ln_m: m.ln(),
            weight: *w,
        })
        .collect();
    let total = |model: &GammaGamma, rows: &[SpendRow]| {
        let GammaGamma { p, q, v } = *model;
        // The terms of GammaGamma::ln_likelihood that depend on x only.
        let per_x: Vec<f64> = xs
            .iter()
            .map(|x| {
                ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q) + q * v.ln() + p * x * x.ln()
            })
            .collect();
        chunked_sum(rows, |row| {
            let x = xs[row.x as usize];
            let ll = per_x[row.x as usize] + (p * x - 1.0) * row.ln_m
                - (p * x + q) * (x * row.m + v).ln();
            row.weight * ll
        })
    };
    let total_and_gradient = |model: &GammaGamma, rows: &[SpendRow]| -> (f64, Vec<f64>) {
        let GammaGamma { p, q, v } = *model;
        let psi_q = digamma(q);
        // Per distinct x: the terms of the likelihood and of its derivatives in p and q
        // that depend on x only.
        let per_x: Vec<[f64; 3]> = xs
            .iter()
            .map(|x| {
                let psi = digamma(p * x + q);
                [
                    ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
                        + q * v.ln()
                        + p * x * x.ln(),
                    x * (psi - digamma(p * x) + x.ln()),
                    psi - psi_q + v.ln(),
                ]
            })
            .collect();
        let [ll, d_p, d_q, d_v] = chunked_sums(rows, |row| {
            let x = xs[row.x as usize];
            let [common, d_p, d_q] = per_x[row.x as usize];
            let spent = x * row.m + v;
            let ln_spent = spent.ln();
            [
                row.weight * (common + (p * x - 1.0) * row.ln_m - (p * x + q) * ln_spent),
                row.weight * (d_p + x * (row.ln_m - ln_spent)),
                row.weight * (d_q - ln_spent),
                row.weight * (q / v - (p * x + q) / spent),
            ]
        });
        (ll, vec![d_p, d_q, d_v])
    };
    fit_positive(
        &rows,
        |row| row.weight,
        3,
        |p| GammaGamma {
            p: p[0],
            q: p[1],
            v: p[2],
        },
        total,
        Some(&total_and_gradient),
        warm_start_above,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values in [0, 1).
    fn uniforms(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A customer observed for `t` weeks, buying at Poisson times at `rate` a week and
    /// dropping out after each purchase with probability `dropout`.
    fn buyer(u: &mut impl FnMut() -> f64, t: f64, rate: f64, dropout: f64) -> History {
        let (mut now, mut x, mut t_x) = (0.0, 0.0, 0.0);
        loop {
            now += -(1.0 - u()).ln() / rate;
            if now > t {
                break;
            }
            x += 1.0;
            t_x = (now * 7.0).floor() / 7.0;
            if dropout > 0.0 && u() < dropout {
                break;
            }
        }
        History { x, t_x, t }
    }

    fn relative(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    /// Customers buying at Poisson times who never drop out: BG/NBD's likelihood grows
    /// towards p = 0 (a → 0): the fit ends near it, where the likelihood is flat, or at
    /// the edge of its search box, and says which.
    #[test]
    fn data_without_dropout_fits_at_the_limit() {
        let mut u = uniforms(5);
        for customers in [3_000, 24_000] {
            let histories: Vec<(History, f64)> = (0..customers)
                .map(|_| {
                    let t = 20.0 + (u() * 350.0).floor() / 7.0;
                    let rate = 0.05 + 0.5 * u();
                    (buyer(&mut u, t, rate, 0.0), 1.0)
                })
                .collect();
            let fit = fit_bgnbd(&histories).expect("fit");
            assert!(fit.converged != fit.at_limit, "{fit:?}");
            let dropout = fit.model.a / (fit.model.a + fit.model.b);
            assert!(dropout < 1e-2, "{fit:?}");
        }
    }

    /// The warm-started fit (subset, then a polish with analytic gradients on all rows)
    /// lands where a cold fit on all rows does, although the subset's optimum differs.
    #[test]
    fn warm_started_fits_with_analytic_gradients_reach_the_full_optimum() {
        let mut u = uniforms(11);
        // Customers buying at Poisson times, dropping out after each purchase.
        let histories: Vec<(History, f64)> = (0..24_000)
            .map(|_| {
                let t = 20.0 + (u() * 350.0).floor() / 7.0;
                let rate = -(1.0 - u()).ln() * 0.4;
                let dropout = 0.5 * u();
                (buyer(&mut u, t, rate, dropout), 1.0)
            })
            .collect();
        let cold = bgnbd(&histories, usize::MAX).expect("fit");
        // From 10,000 rows, and from 1,000 polished on 10,000 before all.
        for warm_start_above in [20_000, 2_000] {
            let warm = bgnbd(&histories, warm_start_above).expect("fit");
            assert!(warm.converged && cold.converged, "{warm:?} {cold:?}");
            let (w, c) = (&warm.model, &cold.model);
            for (a, b) in [(w.r, c.r), (w.alpha, c.alpha), (w.a, c.a), (w.b, c.b)] {
                assert!(relative(a, b) < 1e-5, "{warm:?} {cold:?}");
            }
        }
        let spends: Vec<(Spend, f64)> = (0..24_000)
            .map(|_| ((1.0 + (u() * 9.0).floor(), 5.0 + 200.0 * u() * u()), 1.0))
            .collect();
        let warm = gammagamma(&spends, 20_000).expect("fit");
        let cold = gammagamma(&spends, usize::MAX).expect("fit");
        assert!(warm.converged && cold.converged, "{warm:?} {cold:?}");
        let (w, c) = (&warm.model, &cold.model);
        // (the Gamma-Gamma likelihood is flat along p, q, v together)
        for (a, b) in [(w.p, c.p), (w.q, c.q), (w.v, c.v)] {
            assert!(relative(a, b) < 1e-4, "{warm:?} {cold:?}");
        }
        // The subset alone lands elsewhere: the polish did the work.
        let subset: Vec<(Spend, f64)> = spends.iter().step_by(3).copied().collect();
        let part = gammagamma(&subset, usize::MAX).expect("fit");
        assert!(relative(part.model.p, c.p) > 1e-2, "{part:?} {cold:?}");
    }
}
