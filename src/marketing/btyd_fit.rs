//! Fitting the customer models of [`super::btyd`] by maximum likelihood (in log space,
//! positive parameters) on weighted distinct rows, fast enough for millions of them:
//! the terms that depend on one value only (x, t_x, T) are computed once per distinct
//! value and evaluation, the rows are summed on all cores in fixed chunks (the same sum
//! whatever the number of threads), and a fit on many rows starts from the fit of an
//! evenly spread subset, so the full data is only needed for the last BFGS steps.

use statrs::function::beta::ln_beta;
use statrs::function::gamma::ln_gamma;

use super::btyd::{log_add_exp, BgNbd, GammaGamma, History, ParetoNbd};
use super::fit::{minimize, polish, Minimum};

/// A model fitted by maximum likelihood.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted<M> {
    pub model: M,
    /// The log-likelihood of the data at the model.
    pub ll: f64,
    /// The customers (sum of weights) fitted on.
    pub n: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// The search box of the fits, in logs of the parameters.
const LOG_PARAMETER_BOUND: f64 = 20.0;
/// Fits on more distinct rows than this start from the fit of about half as many.
const WARM_START_ABOVE: usize = 20_000;
/// Rows per partial sum.
const CHUNK: usize = 8_192;

/// Σ f(row): fixed chunks summed in order, the chunks spread over the cores.
fn chunked_sum<R: Sync>(rows: &[R], f: impl Fn(&R) -> f64 + Sync) -> f64 {
    let chunks: Vec<&[R]> = rows.chunks(CHUNK).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    let chunk_sum = |c: &[R]| c.iter().map(&f).sum::<f64>();
    if threads <= 1 {
        return chunks.iter().map(|c| chunk_sum(c)).sum();
    }
    let mut partial = vec![0.0; chunks.len()];
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
    partial.iter().sum()
}

/// Maximizes the weighted log-likelihood (`total(model, rows)`) over positive
/// parameters, searched in logs from all ones; `None` without data.
fn fit_positive<R: Clone + Sync, M>(
    rows: &[R],
    weight: impl Fn(&R) -> f64,
    parameters: usize,
    model: impl Fn(&[f64]) -> M,
    total: impl Fn(&M, &[R]) -> f64,
) -> Option<Fitted<M>> {
    let weight_of = |rows: &[R]| rows.iter().map(&weight).sum::<f64>();
    let n = weight_of(rows);
    // (NaN weights count as none)
    if n.is_nan() || n <= 0.0 {
        return None;
    }
    let objective = |rows, n| objective(&model, &total, rows, n);
    let start = vec![0.0; parameters];
    let minimum = if rows.len() > WARM_START_ABOVE {
        let every = rows.len() / (WARM_START_ABOVE / 2);
        let subset: Vec<R> = rows.iter().step_by(every).cloned().collect();
        let near = minimize(objective(&subset, weight_of(&subset)), &start);
        let full = polish(objective(rows, n), &near.point, &near.inverse_hessian);
        Minimum {
            iterations: near.iterations + full.iterations,
            ..full
        }
    } else {
        minimize(objective(rows, n), &start)
    };
    let params: Vec<f64> = minimum.point.iter().map(|l| l.exp()).collect();
    Some(Fitted {
        model: model(&params),
        ll: -minimum.value * n,
        n,
        iterations: minimum.iterations,
        converged: minimum.converged
            && minimum
                .point
                .iter()
                .all(|l| l.abs() < LOG_PARAMETER_BOUND - 1.0),
    })
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
    )
}
