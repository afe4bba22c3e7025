//! "Buy till you die" customer models on the per-customer summary (x = repeat purchase
//! periods, t_x = first to last purchase, T = first purchase to the end of calibration,
//! m = mean value of the repeat purchases): BG/NBD (Fader, Hardie & Lee 2005), Pareto/NBD
//! (Schmittlein, Morrison & Colombo 1987) and Gamma-Gamma spend (Fader, Hardie & Lee
//! 2005, Hardie's note 025), with their log-likelihoods (in logs throughout, logsumexp
//! where terms are added), predictions and the discounted customer lifetime value, as
//! lifetimes 0.11 computes them. Fitting them is [`super::btyd_fit`].

use statrs::function::beta::ln_beta;
use statrs::function::gamma::ln_gamma;

/// ln(e^a + e^b) without overflow.
pub(super) fn log_add_exp(a: f64, b: f64) -> f64 {
    let high = a.max(b);
    if high == f64::NEG_INFINITY {
        return high;
    }
    high + (-(a - b).abs()).exp().ln_1p()
}

/// ln(e^a − e^b) for a ≥ b.
fn log_sub_exp(a: f64, b: f64) -> f64 {
    a + (-(b - a).exp()).ln_1p()
}

/// Gauss' hypergeometric ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its series, summed until the
/// terms stop mattering (callers transform their arguments so the terms stay bounded);
/// NaN when 100,000 terms do not get there (z too near 1 for the series: the fits treat
/// it as outside the domain).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 0.0;
    while k < 1e5 {
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        k += 1.0;
        if term.abs() <= 1e-17 * sum.abs() {
            return sum;
        }
        if !sum.is_finite() {
            break;
        }
    }
    f64::NAN
}

/// One customer's summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Repeat purchase periods.
    pub x: f64,
    /// First to last purchase.
    pub t_x: f64,
    /// First purchase to the end of calibration.
    pub t: f64,
}

/// BG/NBD parameters: purchase rate Gamma(r, α), dropout probability Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// The log-likelihood of one customer's history (FHL 2005 eq. 6, in logs).
    pub fn ln_likelihood(&self, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.x;
        let common = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() - ln_beta(a, b);
        let still = ln_beta(a, b + x) - (r + x) * (alpha + h.t).ln();
        if x > 0.0 {
            let dropped = ln_beta(a + 1.0, b + x - 1.0) - (r + x) * (alpha + h.t_x).ln();
            common + log_add_exp(still, dropped)
        } else {
            common + still
        }
    }

    /// P(alive | history).
    pub fn p_alive(&self, h: &History) -> f64 {
        if h.x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let log_odds =
            (r + h.x) * ((alpha + h.t) / (alpha + h.t_x)).ln() + (a / (b + h.x - 1.0)).ln();
        1.0 / (1.0 + log_odds.exp())
    }

    /// E[purchases in (T, T + t] | history]; with an empty history (x = t_x = T = 0),
    /// E[purchases in (0, t]] of a new customer.
    pub fn expected_purchases(&self, t: f64, h: &History) -> f64 {
        self.expected_purchases_if_alive(t, h.x, h.t) / (1.0 + self.dropout_odds(h))
    }

    /// E[purchases in (T, T + t]] of a customer with x repeat purchases who is still
    /// alive at T: [`Self::expected_purchases`] before the weight of P(alive), the same
    /// for every recency.
    pub fn expected_purchases_if_alive(&self, t: f64, x: f64, big_t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let z = t / (alpha + big_t + t);
        // ₂F₁(r+x, b+x; a+b+x−1; z) (1−z)^(r+x) by Euler's transformation:
        // (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose terms stay bounded.
        let c = a + b + x - 1.0;
        let hyper = (1.0 - z).powf(a - 1.0) * hyp2f1(c - r - x, a - 1.0, c, z);
        (a + b + x - 1.0) / (a - 1.0) * (1.0 - hyper)
    }

    /// The odds of having dropped out by T: a/(b+x−1) ((α+T)/(α+t_x))^(r+x), 0 without a
    /// repeat purchase.
    pub fn dropout_odds(&self, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        if h.x > 0.0 {
            a / (b + h.x - 1.0) * ((alpha + h.t) / (alpha + h.t_x)).powf(r + h.x)
        } else {
            0.0
        }
    }
}

/// Pareto/NBD parameters: purchase rate Gamma(r, α), dropout rate Gamma(s, β).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

impl ParetoNbd {
    /// ln A₀ of the likelihood (lifetimes' `_log_A_0`).
    fn ln_a0(&self, h: &History) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (low, high, t) = if alpha < beta {
            (alpha, beta, r + h.x)
        } else {
            (beta, alpha, s + 1.0)
        };
        let gap = high - low;
        let rsx = r + s + h.x;
        let (q1, q2) = (high + h.t_x, high + h.t);
        let p1 = hyp2f1(rsx, t, rsx + 1.0, gap / q1);
        let p2 = hyp2f1(rsx, t, rsx + 1.0, gap / q2);
        log_sub_exp(p1.ln() + rsx * q2.ln(), p2.ln() + rsx * q1.ln()) - rsx * (q1 * q2).ln()
    }

    /// The log-likelihood of one customer's history.
    pub fn ln_likelihood(&self, h: &History) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let rsx = r + s + h.x;
        let a1 = ln_gamma(r + h.x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let a2 = log_add_exp(
            -(r + h.x) * (alpha + h.t).ln() - s * (beta + h.t).ln(),
            s.ln() + self.ln_a0(h) - rsx.ln(),
        );
        a1 + a2
    }

    /// P(alive | history).
    pub fn p_alive(&self, h: &History) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let exponent = s.ln() - (r + s + h.x).ln()
            + (r + h.x) * (alpha + h.t).ln()
            + s * (beta + h.t).ln()
            + self.ln_a0(h);
        1.0 / (1.0 + exponent.exp())
    }

    /// E[purchases in (T, T + t] | history].
    pub fn expected_purchases(&self, t: f64, h: &History) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let first = ln_gamma(r + h.x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + h.x) * (alpha + h.t).ln()
            - s * (beta + h.t).ln();
        let second = (r + h.x).ln() + (beta + h.t).ln() - (alpha + h.t).ln();
        let third = ((1.0 - ((beta + h.t) / (beta + h.t + t)).powf(s - 1.0)) / (s - 1.0)).ln();
        (first + second + third - self.ln_likelihood(h)).exp()
    }

    /// E[purchases in (0, t]] of a new customer.
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        r * beta / alpha / (s - 1.0) * (1.0 - (beta / (beta + t)).powf(s - 1.0))
    }
}

/// Gamma-Gamma spend parameters p, q, v (lifetimes' names; γ in the papers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl GammaGamma {
    /// The log-likelihood of a customer's mean spend `m` over `x` repeat purchases
    /// (x > 0, m > 0).
    pub fn ln_likelihood(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (x * m + v).ln()
    }

    /// E[spend per purchase | x, m]; the population mean when x is 0.
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, .. } = *self;
        let weight = p * x / (p * x + q - 1.0);
        (1.0 - weight) * self.population_mean() + weight * m
    }

    /// p v / (q − 1).
    pub fn population_mean(&self) -> f64 {
        self.p * self.v / (self.q - 1.0)
    }
}

/// Discounted value of the next `months` months (lifetimes' convention): Σₘ E[spend] ·
/// (E[Y(m f)] − E[Y((m−1) f)]) / (1 + d)^m, f = periods per month.
pub fn clv(
    purchases: &BgNbd,
    spend: &GammaGamma,
    h: &History,
    m: f64,
    months: u32,
    monthly_discount: f64,
    periods_per_month: f64,
) -> f64 {
    spend.expected_spend(h.x, m)
        * discounted_purchases(purchases, h, months, monthly_discount, periods_per_month)
}

/// Σₘ (E[Y(m f)] − E[Y((m−1) f)]) / (1 + d)^m over the next `months` months: the
/// purchases part of [`clv`], the same for every customer with history `h`.
pub fn discounted_purchases(
    purchases: &BgNbd,
    h: &History,
    months: u32,
    monthly_discount: f64,
    periods_per_month: f64,
) -> f64 {
    discounted_purchases_if_alive(
        purchases,
        h.x,
        h.t,
        months,
        monthly_discount,
        periods_per_month,
    ) / (1.0 + purchases.dropout_odds(h))
}

/// [`discounted_purchases`] of a customer still alive at T (before the weight of
/// P(alive)): the same for every recency.
pub fn discounted_purchases_if_alive(
    purchases: &BgNbd,
    x: f64,
    big_t: f64,
    months: u32,
    monthly_discount: f64,
    periods_per_month: f64,
) -> f64 {
    let mut total = 0.0;
    let mut before = 0.0;
    for month in 1..=months {
        let month = f64::from(month);
        let until = purchases.expected_purchases_if_alive(month * periods_per_month, x, big_t);
        total += (until - before) / (1.0 + monthly_discount).powf(month);
        before = until;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::btyd_fit::{fit_bgnbd, fit_gammagamma, fit_paretonbd, Spend};
    use super::*;

    #[test]
    fn hypergeometric_series_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z; ₂F₁(a, b; b; z) = (1 − z)^−a.
        for z in [0.1, 0.5, 0.9] {
            let expected = -(1.0f64 - z).ln() / z;
            assert!((hyp2f1(1.0, 1.0, 2.0, z) - expected).abs() < 1e-13 * expected);
            let expected = (1.0f64 - z).powf(-2.5);
            assert!((hyp2f1(2.5, 3.0, 3.0, z) - expected).abs() < 1e-12 * expected);
        }
    }

    #[test]
    fn pymc_marketing_log_likelihoods() {
        let model = BgNbd {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let ll = |x, t_x| model.ln_likelihood(&History { x, t_x, t: 40.0 });
        assert!((ll(0.0, 0.0) - -0.5994738181995927).abs() < 1e-12);
        assert!((ll(200.0, 38.0) - 100.7956930927063).abs() < 1e-9);
    }

    /// The CDNOW calibration summary (2,357 customers, weeks) as weighted distinct rows.
    type Weighted<T> = Vec<(T, f64)>;

    fn cdnow() -> (Weighted<History>, Weighted<Spend>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv"
        );
        let text = std::fs::read_to_string(path).expect("summary csv");
        let mut histories = Vec::new();
        let mut spends = Vec::new();
        for line in text.lines().skip(1) {
            let v: Vec<f64> = line
                .split(',')
                .map(|c| c.parse().expect("number"))
                .collect();
            histories.push((
                History {
                    x: v[1],
                    t_x: v[2],
                    t: v[3],
                },
                1.0,
            ));
            if v[1] > 0.0 {
                spends.push(((v[1], v[4]), 1.0));
            }
        }
        (histories, spends)
    }

    fn relative(actual: f64, expected: f64) -> f64 {
        ((actual - expected) / expected).abs()
    }

    #[test]
    fn cdnow_fits_match_the_published_maximum_likelihood() {
        let (histories, spends) = cdnow();
        let bg = fit_bgnbd(&histories).expect("fit");
        assert!(bg.converged, "{bg:?}");
        for (actual, expected) in [
            (bg.model.r, 0.24259290542295983),
            (bg.model.alpha, 4.41353173328468),
            (bg.model.a, 0.7928859878007515),
            (bg.model.b, 2.425752930983),
            (bg.ll, -9582.42556056736),
        ] {
            assert!(
                relative(actual, expected) < 1e-5,
                "{bg:?}: {actual} vs {expected}"
            );
        }
        let h = History {
            x: 2.0,
            t_x: 30.43,
            t: 38.86,
        };
        assert!(relative(bg.model.expected_purchases(39.0, &h), 1.2259104850275804) < 1e-5);
        assert!(relative(bg.model.p_alive(&h), 0.7266091629037893) < 1e-5);
        let gg = fit_gammagamma(&spends).expect("fit");
        assert!(gg.converged, "{gg:?}");
        for (actual, expected) in [
            (gg.model.p, 6.248803137454387),
            (gg.model.q, 3.7445883943368123),
            (gg.model.v, 15.447746296427685),
        ] {
            assert!(
                relative(actual, expected) < 1e-5,
                "{gg:?}: {actual} vs {expected}"
            );
        }
        let pareto = fit_paretonbd(&histories).expect("fit");
        for (actual, expected) in [
            (pareto.model.r, 0.553270805402622),
            (pareto.model.alpha, 10.5774706947551),
            (pareto.model.s, 0.6062391372709626),
            (pareto.model.beta, 11.668554613250922),
        ] {
            assert!(
                relative(actual, expected) < 1e-3,
                "{pareto:?}: {actual} vs {expected}"
            );
        }
    }

    #[test]
    fn a_fit_on_many_distinct_rows_starts_from_a_subset_and_reaches_the_same_optimum() {
        let (histories, spends) = cdnow();
        let copies = |k: usize| -> Weighted<History> {
            (0..k)
                .flat_map(|copy| {
                    histories.iter().map(move |(h, w)| {
                        let t = h.t + copy as f64 * 1e-9;
                        (History { t, ..*h }, *w)
                    })
                })
                .collect()
        };
        let once = fit_bgnbd(&histories).expect("fit");
        let many = fit_bgnbd(&copies(10)).expect("fit");
        assert!(many.converged, "{many:?}");
        assert_eq!(many.n, 10.0 * once.n);
        for (a, b) in [
            (many.model.r, once.model.r),
            (many.model.alpha, once.model.alpha),
            (many.model.a, once.model.a),
            (many.model.b, once.model.b),
        ] {
            assert!(relative(a, b) < 1e-5, "{many:?} {once:?}");
        }
        let spend_copies: Weighted<Spend> = (0..25)
            .flat_map(|copy| {
                spends
                    .iter()
                    .map(move |((x, m), w)| ((*x, m + copy as f64 * 1e-9), *w))
            })
            .collect();
        let gg_once = fit_gammagamma(&spends).expect("fit");
        let gg_many = fit_gammagamma(&spend_copies).expect("fit");
        assert!(gg_many.converged, "{gg_many:?}");
        assert!(
            relative(gg_many.model.p, gg_once.model.p) < 1e-5,
            "{gg_many:?}"
        );
        assert!(
            relative(gg_many.model.v, gg_once.model.v) < 1e-5,
            "{gg_many:?}"
        );
    }

    #[test]
    fn a_fit_on_a_handful_of_customers_ends() {
        let rows = [
            (0.0, 0.0, 30.0),
            (2.0, 20.0, 30.0),
            (5.0, 28.0, 30.0),
            (1.0, 3.0, 25.0),
            (0.0, 0.0, 25.0),
        ];
        let data: Vec<(History, f64)> = rows
            .iter()
            .map(|(x, t_x, t)| {
                (
                    History {
                        x: *x,
                        t_x: *t_x,
                        t: *t,
                    },
                    1.0,
                )
            })
            .collect();
        // Five customers have no finite optimum: the search stops at its box and says so.
        let fitted = fit_paretonbd(&data).expect("fit");
        assert!(
            !fitted.converged && fitted.ll.is_finite() && fitted.n == 5.0,
            "{fitted:?}"
        );
    }
}
