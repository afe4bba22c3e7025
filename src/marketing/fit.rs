//! Unconstrained minimization for maximum-likelihood fits: Nelder-Mead to get near the
//! optimum from a poor start, then BFGS with central-difference (or the caller's
//! analytic) gradients and a backtracking line search to converge tightly. Deterministic: the same function and
//! start give the same bits. Callers optimize positive parameters in log space.

/// The outcome of a minimization.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    /// Nelder-Mead and BFGS iterations.
    pub iterations: usize,
    /// The gradient vanished (to `GRADIENT_TOLERANCE`) at a finite value.
    pub converged: bool,
    /// BFGS's estimate of the inverse Hessian at `point`, row-major: where a polish of a
    /// similar function can start from.
    pub inverse_hessian: Vec<f64>,
}

/// A function's gradient, when the caller knows it.
pub type Gradient<'a> = &'a dyn Fn(&[f64]) -> Vec<f64>;

const GRADIENT_TOLERANCE: f64 = 1e-7;
const SIMPLEX_ITERATIONS: usize = 5_000;
const BFGS_ITERATIONS: usize = 500;

/// Minimizes `f` from `start`, with `f`'s gradient when known (central differences
/// otherwise). Non-finite values are treated as +∞ (outside the domain).
pub fn minimize(f: impl Fn(&[f64]) -> f64, gradient: Option<Gradient>, start: &[f64]) -> Minimum {
    let f = finite(f);
    let (near, simplex_iterations) = nelder_mead(&f, start);
    let mut minimum = match gradient {
        Some(gradient) => bfgs(&f, gradient, &near, None),
        None => bfgs(&f, &|x| central_differences(&f, x), &near, None),
    };
    minimum.iterations += simplex_iterations;
    minimum
}

/// Minimizes `f` from `start`, already near the minimum (BFGS only), from an estimate of
/// the inverse Hessian there (such as a [`Minimum`] of a similar function has), with
/// `f`'s gradient when known (central differences otherwise).
pub fn polish(
    f: impl Fn(&[f64]) -> f64,
    gradient: Option<Gradient>,
    start: &[f64],
    inverse_hessian: &[f64],
) -> Minimum {
    let f = finite(f);
    match gradient {
        Some(gradient) => bfgs(&f, gradient, start, Some(inverse_hessian)),
        None => bfgs(
            &f,
            &|x| central_differences(&f, x),
            start,
            Some(inverse_hessian),
        ),
    }
}

/// `f` with non-finite values as +∞ (outside the domain).
fn finite(f: impl Fn(&[f64]) -> f64) -> impl Fn(&[f64]) -> f64 {
    move |x: &[f64]| {
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    }
}

fn nelder_mead(f: &impl Fn(&[f64]) -> f64, start: &[f64]) -> (Vec<f64>, usize) {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    simplex.push((start.to_vec(), f(start)));
    for i in 0..n {
        let mut p = start.to_vec();
        p[i] += if p[i] == 0.0 {
            0.25
        } else {
            0.25 * p[i].abs().max(1.0)
        };
        let v = f(&p);
        simplex.push((p, v));
    }
    let mut iterations = 0;
    while iterations < SIMPLEX_ITERATIONS {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[n].1);
        if worst.is_finite() && (worst - best).abs() <= 1e-12 * (1.0 + best.abs()) {
            break;
        }
        iterations += 1;
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|(p, _)| p[j]).sum::<f64>() / n as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n].0)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let reflected = along(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = along(-2.0);
            let fe = f(&expanded);
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted = if fr < simplex[n].1 {
                along(-0.5)
            } else {
                along(0.5)
            };
            let fc = f(&contracted);
            if fc < simplex[n].1.min(fr) {
                simplex[n] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for (p, v) in simplex.iter_mut().skip(1) {
                    for (x, b) in p.iter_mut().zip(&best) {
                        *x = b + 0.5 * (*x - b);
                    }
                    *v = f(p);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    (simplex.swap_remove(0).0, iterations)
}

/// The gradient of `f` at `x` by central differences.
pub fn central_differences(f: &impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut probe = x.to_vec();
    (0..x.len())
        .map(|i| {
            let h = 1e-6 * x[i].abs().max(1.0);
            probe[i] = x[i] + h;
            let up = f(&probe);
            probe[i] = x[i] - h;
            let down = f(&probe);
            probe[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn bfgs(
    f: &impl Fn(&[f64]) -> f64,
    gradient: &dyn Fn(&[f64]) -> Vec<f64>,
    start: &[f64],
    h0: Option<&[f64]>,
) -> Minimum {
    let n = start.len();
    let mut x = start.to_vec();
    let mut value = f(&x);
    let mut g = gradient(&x);
    // The inverse Hessian estimate, row-major.
    let identity: Vec<f64> = (0..n * n)
        .map(|k| if k % (n + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let mut h = match h0 {
        Some(h0) if h0.len() == n * n => h0.to_vec(),
        _ => identity,
    };
    let done =
        |point: Vec<f64>, value: f64, iterations: usize, converged: bool, h: Vec<f64>| Minimum {
            point,
            value,
            iterations,
            converged,
            inverse_hessian: h,
        };
    let small = |g: &[f64]| g.iter().all(|v| v.abs() <= GRADIENT_TOLERANCE);
    for iteration in 0..BFGS_ITERATIONS {
        if !value.is_finite() {
            return done(x, value, iteration, false, h);
        }
        if small(&g) {
            return done(x, value, iteration, true, h);
        }
        let mut direction: Vec<f64> = (0..n).map(|i| -dot(&h[i * n..(i + 1) * n], &g)).collect();
        let mut slope = dot(&direction, &g);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            h.iter_mut()
                .enumerate()
                .for_each(|(k, v)| *v = if k % (n + 1) == 0 { 1.0 } else { 0.0 });
            direction = g.iter().map(|v| -v).collect();
            slope = dot(&direction, &g);
        }
        let mut step = 1.0;
        let mut next = x.clone();
        let mut next_value = f64::INFINITY;
        while step > 1e-20 {
            next = x
                .iter()
                .zip(&direction)
                .map(|(a, d)| a + step * d)
                .collect();
            next_value = f(&next);
            if next_value <= value + 1e-4 * step * slope {
                break;
            }
            step *= 0.5;
        }
        let progress = next_value < value;
        if !progress {
            // No progress along the best direction: as close as differences can tell.
            let converged = small(&g) || max_abs(&g) <= 1e-5;
            return done(x, value, iteration, converged, h);
        }
        let next_g = gradient(&next);
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            let hy: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], &y)).collect();
            let yhy = dot(&y, &hy);
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] +=
                        (sy + yhy) * s[i] * s[j] / (sy * sy) - (hy[i] * s[j] + s[i] * hy[j]) / sy;
                }
            }
        }
        x = next;
        value = next_value;
        g = next_g;
    }
    let converged = small(&g);
    done(x, value, BFGS_ITERATIONS, converged, h)
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let rosenbrock = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let m = minimize(rosenbrock, None, &[-1.2, 1.0]);
        assert!(m.converged, "{m:?}");
        assert!(
            (m.point[0] - 1.0).abs() < 1e-5 && (m.point[1] - 1.0).abs() < 1e-5,
            "{m:?}"
        );
    }
}
