//! A/B test statistics: two-sided tests of treatment (`b`) against control (`a`), every
//! difference is `b − a`. Proportions (z-test, χ² and Fisher's exact test on the 2×2
//! table, Wilson interval, sample size, sample-ratio mismatch), means (Welch and Student
//! t-tests from summary statistics or exact mergeable sums, CUPED), ranks (Mann-Whitney
//! U from mergeable [`RankCounts`]) and the Bayesian probability that `b` is better
//! (exact sum, not sampling). The distributions are statrs'; [`Error`] carries the
//! message of an argument out of range.

use std::collections::BTreeMap;
use std::f64::consts::SQRT_2;

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::exact_sum::{co_moment, ExactSum, Moments};
use statrs::function::beta::ln_beta;
use statrs::function::erf::{erfc, erfc_inv};

/// An argument out of its domain, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

/// A statistic, or why its arguments are out of range.
pub type Outcome<T> = Result<T, Error>;

fn fail<T>(message: impl Into<String>) -> Outcome<T> {
    Err(Error(message.into()))
}

/// The two-sided p-value of a standard normal statistic.
pub fn normal_p_value(z: f64) -> f64 {
    erfc(z.abs() / SQRT_2)
}

/// The standard normal quantile of `p`.
pub fn normal_quantile(p: f64) -> f64 {
    -SQRT_2 * erfc_inv(2.0 * p)
}

/// The two-sided critical value of a confidence level (1.96 for 0.95).
fn normal_critical(conf: f64) -> Outcome<f64> {
    check_confidence(conf)?;
    Ok(normal_quantile(0.5 + conf / 2.0))
}

fn check_confidence(conf: f64) -> Outcome<()> {
    if conf > 0.0 && conf < 1.0 {
        Ok(())
    } else {
        fail(format!(
            "conf must be between 0 and 1 (exclusive), got {conf}"
        ))
    }
}

/// The p-value of a χ² statistic with one degree of freedom.
fn chi2_1_p_value(chi2: f64) -> f64 {
    erfc((chi2 / 2.0).sqrt())
}

/// Student's t distribution with `df` degrees of freedom (positive, may be fractional).
fn student(df: f64) -> Outcome<StudentsT> {
    StudentsT::new(0.0, 1.0, df).map_err(|e| Error(format!("degrees of freedom {df}: {e}")))
}

/// The two-sided p-value of `t` with `df` degrees of freedom.
fn t_p_value(t: f64, df: f64) -> Outcome<f64> {
    if t.is_nan() {
        return Ok(f64::NAN);
    }
    Ok((2.0 * student(df)?.cdf(-t.abs())).min(1.0))
}

/// The two-sided critical value of Student's t: statrs' quantile polished by Newton
/// steps on its CDF, so intervals match scipy's to the last digits.
fn t_critical(conf: f64, df: f64) -> Outcome<f64> {
    check_confidence(conf)?;
    let dist = student(df)?;
    let target = 0.5 - conf / 2.0; // lower tail, where the CDF is accurate
    let mut t = dist.inverse_cdf(target);
    for _ in 0..4 {
        let density = statrs::distribution::Continuous::pdf(&dist, t);
        if density <= 0.0 || !t.is_finite() {
            break;
        }
        let step = (dist.cdf(t) - target) / density;
        t -= step;
        if step.abs() <= 1e-15 * t.abs() {
            break;
        }
    }
    Ok(-t)
}

/// Successes and trials of one arm, checked.
fn rate(successes: f64, trials: f64, arm: &str) -> Outcome<f64> {
    let whole_positive = trials > 0.0 && trials.fract() == 0.0;
    if !whole_positive {
        return fail(format!(
            "trials_{arm} must be a positive whole number, got {trials}"
        ));
    }
    if !(0.0..=trials).contains(&successes) || successes.fract() != 0.0 {
        return fail(format!(
            "success_{arm} must be a whole number from 0 to trials_{arm} ({trials}), got {successes}"
        ));
    }
    Ok(successes / trials)
}

/// Two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionsTest {
    pub p_a: f64,
    pub p_b: f64,
    pub diff: f64,
    /// `diff / p_a`; `None` when `p_a` is 0.
    pub rel_lift: Option<f64>,
    pub z: f64,
    pub p_value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The z-test of `p_b − p_a`: z with the pooled standard error under H0 (or unpooled),
/// the confidence interval always with the unpooled (Wald) standard error. With a zero
/// standard error (both rates 0, or both 1) and no difference, z is 0 and p 1; with a
/// difference but zero unpooled error (0% against 100%), z is ±∞ and p 0.
///
/// # Errors
/// Trials not positive, successes outside 0..=trials, conf outside (0, 1).
pub fn proportions_ztest(
    success_a: f64,
    trials_a: f64,
    success_b: f64,
    trials_b: f64,
    conf: f64,
    pooled: bool,
) -> Outcome<ProportionsTest> {
    let p_a = rate(success_a, trials_a, "a")?;
    let p_b = rate(success_b, trials_b, "b")?;
    let critical = normal_critical(conf)?;
    let diff = p_b - p_a;
    let unpooled_se = (p_a * (1.0 - p_a) / trials_a + p_b * (1.0 - p_b) / trials_b).sqrt();
    let se = if pooled {
        let p = (success_a + success_b) / (trials_a + trials_b);
        (p * (1.0 - p) * (1.0 / trials_a + 1.0 / trials_b)).sqrt()
    } else {
        unpooled_se
    };
    let z = if se > 0.0 {
        diff / se
    } else if diff == 0.0 {
        0.0
    } else {
        diff.signum() * f64::INFINITY
    };
    Ok(ProportionsTest {
        p_a,
        p_b,
        diff,
        rel_lift: (p_a > 0.0).then(|| diff / p_a),
        z,
        p_value: normal_p_value(z),
        ci_low: diff - critical * unpooled_se,
        ci_high: diff + critical * unpooled_se,
    })
}

/// A test statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chi2Test {
    pub chi2: f64,
    pub p_value: f64,
}

/// Pearson's χ² test of independence on the 2×2 table (arm × converted), with Yates'
/// continuity correction if asked (as scipy's `chi2_contingency`, whose default it is).
/// A table with an empty margin (no successes or no failures at all) has χ² 0, p 1.
///
/// # Errors
/// As [`proportions_ztest`].
pub fn chi2_2x2(
    success_a: f64,
    trials_a: f64,
    success_b: f64,
    trials_b: f64,
    yates: bool,
) -> Outcome<Chi2Test> {
    rate(success_a, trials_a, "a")?;
    rate(success_b, trials_b, "b")?;
    let observed = [
        [success_a, trials_a - success_a],
        [success_b, trials_b - success_b],
    ];
    let total = trials_a + trials_b;
    let columns = [success_a + success_b, total - success_a - success_b];
    if columns.contains(&0.0) {
        return Ok(Chi2Test {
            chi2: 0.0,
            p_value: 1.0,
        });
    }
    let rows = [trials_a, trials_b];
    let mut chi2 = 0.0;
    for (i, row) in observed.iter().enumerate() {
        for (j, o) in row.iter().enumerate() {
            let expected = rows[i] * columns[j] / total;
            let mut gap = (o - expected).abs();
            if yates {
                gap -= gap.min(0.5);
            }
            chi2 += gap * gap / expected;
        }
    }
    Ok(Chi2Test {
        chi2,
        p_value: chi2_1_p_value(chi2),
    })
}

/// Fisher's exact test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FisherTest {
    pub p_value: f64,
    /// The sample odds ratio `odds_b / odds_a`: ∞ when only `odds_a` is 0, `None` when
    /// both odds are 0 or both infinite.
    pub odds_ratio: Option<f64>,
}

/// Fisher's exact test, two-sided as scipy's `fisher_exact`: the probability, under
/// the hypergeometric law of the table with its margins fixed, of every table at most
/// as likely as the one observed (within a relative 1e-7, as R's `fisher.test`, so a
/// mirror table of equal probability is never lost to rounding). The probabilities are
/// ratios from the mode outward, exact to rounding whatever the counts.
///
/// # Errors
/// As [`proportions_ztest`].
pub fn fisher_exact(
    success_a: f64,
    trials_a: f64,
    success_b: f64,
    trials_b: f64,
) -> Outcome<FisherTest> {
    rate(success_a, trials_a, "a")?;
    rate(success_b, trials_b, "b")?;
    let successes = success_a + success_b;
    // Successes of arm a, given the margins, are hypergeometric on lo..=hi; weight(k)
    // is its probability relative to the mode's.
    let lo = (successes - trials_b).max(0.0);
    let hi = successes.min(trials_a);
    if hi - lo > 5e7 {
        return fail(
            "Fisher's exact test enumerates every table: use ab_chi2_2x2 for counts this large",
        );
    }
    let mode = ((trials_a + 1.0) * (successes + 1.0) / (trials_a + trials_b + 2.0))
        .floor()
        .clamp(lo, hi);
    // P(k + 1) / P(k).
    let up =
        |k: f64| (trials_a - k) * (successes - k) / ((k + 1.0) * (trials_b - successes + k + 1.0));
    let mut weights = vec![0.0; (hi - lo) as usize + 1];
    let at = |k: f64| (k - lo) as usize;
    weights[at(mode)] = 1.0;
    let mut k = mode;
    while k < hi && weights[at(k)] > 0.0 {
        weights[at(k + 1.0)] = weights[at(k)] * up(k);
        k += 1.0;
    }
    let mut k = mode;
    while k > lo && weights[at(k)] > 0.0 {
        weights[at(k - 1.0)] = weights[at(k)] / up(k - 1.0);
        k -= 1.0;
    }
    let observed = weights[at(success_a)] * (1.0 + 1e-7);
    let total: f64 = weights.iter().sum();
    let tail: f64 = weights.iter().filter(|w| **w <= observed).sum();
    let odds_a = success_a * (trials_b - success_b);
    let odds_b = success_b * (trials_a - success_a);
    let odds_ratio = if odds_a == 0.0 && odds_b == 0.0 {
        None
    } else {
        Some(odds_b / odds_a)
    };
    Ok(FisherTest {
        p_value: (tail / total).min(1.0),
        odds_ratio,
    })
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The Wilson score interval of a proportion (statsmodels' `proportion_confint(...,
/// method='wilson')`).
///
/// # Errors
/// Trials not positive, successes outside 0..=trials, conf outside (0, 1).
pub fn wilson_ci(successes: f64, trials: f64, conf: f64) -> Outcome<Interval> {
    let whole_positive = trials > 0.0 && trials.fract() == 0.0;
    if !whole_positive {
        return fail(format!(
            "trials must be a positive whole number, got {trials}"
        ));
    }
    if !(0.0..=trials).contains(&successes) || successes.fract() != 0.0 {
        return fail(format!(
            "successes must be a whole number from 0 to trials ({trials}), got {successes}"
        ));
    }
    let z = normal_critical(conf)?;
    let p = successes / trials;
    let z2 = z * z;
    let denominator = 1.0 + z2 / trials;
    let center = (p + z2 / (2.0 * trials)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt();
    Ok(Interval {
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    })
}

/// Subjects per arm to detect `p_base → p_target` with a two-sided test at `alpha` and
/// `power`: the classic formula with the pooled variance under H0, rounded up.
///
/// # Errors
/// Rates outside (0, 1) or equal, alpha or power outside (0, 1).
pub fn sample_size(p_base: f64, p_target: f64, alpha: f64, power: f64) -> Outcome<f64> {
    for (name, p) in [("p_base", p_base), ("p_target", p_target)] {
        if !(p > 0.0 && p < 1.0) {
            return fail(format!(
                "{name} must be between 0 and 1 (exclusive), got {p}"
            ));
        }
    }
    if p_base == p_target {
        return fail("p_base and p_target must differ: no sample detects a zero effect");
    }
    for (name, v) in [("alpha", alpha), ("power", power)] {
        if !(v > 0.0 && v < 1.0) {
            return fail(format!(
                "{name} must be between 0 and 1 (exclusive), got {v}"
            ));
        }
    }
    let z_alpha = normal_quantile(1.0 - alpha / 2.0);
    let z_power = normal_quantile(power);
    let mean = (p_base + p_target) / 2.0;
    let spread = z_alpha * (2.0 * mean * (1.0 - mean)).sqrt()
        + z_power * (p_base * (1.0 - p_base) + p_target * (1.0 - p_target)).sqrt();
    let effect = p_target - p_base;
    Ok((spread / effect).powi(2).ceil())
}

/// The sample-ratio mismatch check: χ² goodness of fit of the arm sizes to the planned
/// share of arm a.
///
/// # Errors
/// Negative or fractional counts, no subjects, a share outside (0, 1).
pub fn srm_test(n_a: f64, n_b: f64, expected_share_a: f64) -> Outcome<Chi2Test> {
    for (name, n) in [("n_a", n_a), ("n_b", n_b)] {
        let whole = n >= 0.0 && n.fract() == 0.0;
        if !whole {
            return fail(format!("{name} must be a whole number ≥ 0, got {n}"));
        }
    }
    if !(expected_share_a > 0.0 && expected_share_a < 1.0) {
        return fail(format!(
            "expected_share_a must be between 0 and 1 (exclusive), got {expected_share_a}"
        ));
    }
    let total = n_a + n_b;
    if total == 0.0 {
        return fail("n_a + n_b must be positive");
    }
    let expected_a = total * expected_share_a;
    let expected_b = total - expected_a;
    let chi2 = (n_a - expected_a).powi(2) / expected_a + (n_b - expected_b).powi(2) / expected_b;
    Ok(Chi2Test {
        chi2,
        p_value: chi2_1_p_value(chi2),
    })
}

/// One arm's count, mean and sum of squared deviations from the mean.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Summary {
    /// From summary statistics (sample standard deviation).
    pub fn from_stats(mean: f64, sd: f64, n: f64) -> Self {
        Self {
            n,
            mean,
            m2: sd * sd * (n - 1.0),
        }
    }

    /// From exact sums of the values.
    pub fn from_moments(m: &Moments) -> Self {
        Self {
            n: m.n,
            mean: m.mean(),
            m2: m.m2(),
        }
    }

    /// The sample variance (n − 1).
    pub fn variance(&self) -> f64 {
        self.m2 / (self.n - 1.0)
    }
}

/// A two-sample t-test of the means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    pub mean_a: f64,
    pub mean_b: f64,
    pub diff: f64,
    pub t: f64,
    pub df: f64,
    pub p_value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The variance assumption of a t-test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variances {
    /// Welch: each arm its own variance, Welch–Satterthwaite degrees of freedom.
    Unequal,
    /// Student: one pooled variance, n_a + n_b − 2 degrees of freedom.
    Pooled,
}

/// The t-test of `mean_b − mean_a`. Zero variance in both arms: t is 0 (p 1) when the
/// means are equal and ±∞ (p 0) otherwise.
///
/// # Errors
/// An arm with fewer than 2 values, a negative standard deviation, conf outside (0, 1).
pub fn ttest(a: &Summary, b: &Summary, variances: Variances, conf: f64) -> Outcome<TTest> {
    check_confidence(conf)?;
    for (arm, m) in [("a", a), ("b", b)] {
        let enough = m.n >= 2.0;
        if !enough {
            return fail(format!(
                "a t-test needs at least 2 values in each arm, arm {arm} has {}",
                m.n
            ));
        }
        let spread = m.m2 >= 0.0;
        if !spread {
            return fail(format!("the standard deviation of arm {arm} must be ≥ 0"));
        }
    }
    let (va, vb) = (a.variance(), b.variance());
    let (se2, df) = match variances {
        Variances::Unequal => {
            let (qa, qb) = (va / a.n, vb / b.n);
            let se2 = qa + qb;
            let df = se2 * se2 / (qa * qa / (a.n - 1.0) + qb * qb / (b.n - 1.0));
            (se2, df)
        }
        Variances::Pooled => {
            let df = a.n + b.n - 2.0;
            let pooled = (a.m2 + b.m2) / df;
            (pooled * (1.0 / a.n + 1.0 / b.n), df)
        }
    };
    let diff = b.mean - a.mean;
    let se = se2.sqrt();
    if se == 0.0 {
        let t = if diff == 0.0 {
            0.0
        } else {
            diff.signum() * f64::INFINITY
        };
        return Ok(TTest {
            mean_a: a.mean,
            mean_b: b.mean,
            diff,
            t,
            df: a.n + b.n - 2.0,
            p_value: if diff == 0.0 { 1.0 } else { 0.0 },
            ci_low: diff,
            ci_high: diff,
        });
    }
    let t = diff / se;
    let critical = t_critical(conf, df)?;
    Ok(TTest {
        mean_a: a.mean,
        mean_b: b.mean,
        diff,
        t,
        df,
        p_value: t_p_value(t, df)?,
        ci_low: diff - critical * se,
        ci_high: diff + critical * se,
    })
}

/// Exact sums of one arm for CUPED: the metric `y`, the pre-period covariate `x`, and
/// Σxy; mergeable in any order with the same result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CupedSums {
    pub y: Moments,
    pub x: Moments,
    pub xy: ExactSum,
}

impl CupedSums {
    pub fn push(&mut self, y: f64, x: f64) {
        self.y.push(y);
        self.x.push(x);
        self.xy.add_product(x, y);
    }

    pub fn merge(&mut self, other: &CupedSums) {
        self.y.merge(&other.y);
        self.x.merge(&other.x);
        self.xy.merge(&other.xy);
    }

    fn co_moment(&self) -> f64 {
        co_moment(self.y.n, &self.x.sum, &self.y.sum, &self.xy)
    }
}

/// A CUPED-adjusted Welch test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CupedTest {
    pub test: TTest,
    pub theta: f64,
    /// 1 − Var(adjusted) / Var(y), both pooled over the arms: the share of variance the
    /// pre-period covariate removed.
    pub variance_reduction: f64,
}

/// CUPED (Deng et al. 2013): `y − θ (x − mean x)` with θ = Cov(x, y) / Var(x) from the
/// data of both arms pooled, then Welch's test on the adjusted values. The means in the
/// result are the adjusted means. A covariate without variance adjusts nothing (θ 0).
///
/// # Errors
/// As [`ttest`].
pub fn cuped_ttest(a: &CupedSums, b: &CupedSums, conf: f64) -> Outcome<CupedTest> {
    let mut all = a.clone();
    all.merge(b);
    let (all_m2_x, all_c_xy, all_m2_y) = (all.x.m2(), all.co_moment(), all.y.m2());
    let theta = if all_m2_x > 0.0 {
        all_c_xy / all_m2_x
    } else {
        0.0
    };
    let mean_x = all.x.mean();
    let adjusted_m2 = |m2_y: f64, c_xy: f64, m2_x: f64| {
        (m2_y - 2.0 * theta * c_xy + theta * theta * m2_x).max(0.0)
    };
    let adjust = |arm: &CupedSums| Summary {
        n: arm.y.n,
        mean: arm.y.mean() - theta * (arm.x.mean() - mean_x),
        m2: adjusted_m2(arm.y.m2(), arm.co_moment(), arm.x.m2()),
    };
    let test = ttest(&adjust(a), &adjust(b), Variances::Unequal, conf)?;
    let variance_reduction = if all_m2_y > 0.0 {
        1.0 - adjusted_m2(all_m2_y, all_c_xy, all_m2_x) / all_m2_y
    } else {
        0.0
    };
    Ok(CupedTest {
        test,
        theta,
        variance_reduction,
    })
}

/// Each distinct value with how often it occurs in arm a and in arm b: the exact,
/// mergeable state of a rank test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankCounts {
    counts: BTreeMap<OrderedValue, (f64, f64)>,
}

/// An `f64` ordered by `total_cmp` (NaN is rejected before it gets here).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedValue(f64);

impl Eq for OrderedValue {}

impl PartialOrd for OrderedValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedValue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl RankCounts {
    /// Counts `value` (`-0.0` is `0.0`) in arm b if `treatment`, else in arm a.
    pub fn push(&mut self, value: f64, treatment: bool) {
        self.add(value, if treatment { (0.0, 1.0) } else { (1.0, 0.0) });
    }

    /// Adds counts of one value.
    pub fn add(&mut self, value: f64, (a, b): (f64, f64)) {
        let key = OrderedValue(if value == 0.0 { 0.0 } else { value });
        let entry = self.counts.entry(key).or_default();
        entry.0 += a;
        entry.1 += b;
    }

    pub fn merge(&mut self, other: &RankCounts) {
        for (value, counts) in &other.counts {
            self.add(value.0, *counts);
        }
    }

    /// Each distinct value with its counts in arm a and arm b, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        self.counts.iter().map(|(v, (a, b))| (v.0, *a, *b))
    }

    /// The number of values in arm a and in arm b.
    pub fn arm_sizes(&self) -> (f64, f64) {
        self.counts
            .values()
            .fold((0.0, 0.0), |(a, b), (ca, cb)| (a + ca, b + cb))
    }

    /// Distinct values held.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// U of arm b: the pairs (a, b) with b > a, ties counting ½.
    pub u: f64,
    pub p_value: f64,
}

/// Mann-Whitney U of arm b against arm a, two-sided, normal approximation with the tie
/// correction and continuity correction (scipy's `mannwhitneyu(b, a,
/// method='asymptotic')`). All values tied: p 1.
///
/// # Errors
/// An empty arm.
pub fn mann_whitney_u(counts: &RankCounts) -> Outcome<RankTest> {
    let (n_a, n_b) = counts.arm_sizes();
    if n_a == 0.0 || n_b == 0.0 {
        return fail(format!(
            "the Mann-Whitney test needs values in both arms, got {n_a} in a and {n_b} in b"
        ));
    }
    // Average ranks, ties sharing theirs; tie term Σ(t³ − t).
    let mut rank_sum_b = 0.0;
    let mut below = 0.0;
    let mut ties = 0.0;
    for (_, ca, cb) in counts.iter() {
        let t = ca + cb;
        let average_rank = below + (t + 1.0) / 2.0;
        rank_sum_b += cb * average_rank;
        ties += t * t * t - t;
        below += t;
    }
    let n = n_a + n_b;
    let u = rank_sum_b - n_b * (n_b + 1.0) / 2.0;
    let mean = n_a * n_b / 2.0;
    let sd = (n_a * n_b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    let p_value = if sd > 0.0 {
        let larger = u.max(n_a * n_b - u);
        let z = (larger - mean - 0.5) / sd;
        erfc(z / SQRT_2).min(1.0)
    } else {
        1.0
    };
    Ok(RankTest { u, p_value })
}

/// The Bayesian comparison of two conversion rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BayesTest {
    /// P(p_b > p_a) under the Beta posteriors.
    pub prob_b_better: f64,
    /// E[max(p_b − p_a, 0)]: what choosing a loses in conversion rate.
    pub expected_loss_a: f64,
    /// E[max(p_a − p_b, 0)]: what choosing b loses.
    pub expected_loss_b: f64,
}

/// P(X_b > X_a) for X_a ~ Beta(αa, βa), X_b ~ Beta(αb, βb), αb a whole number: Evan
/// Miller's closed form, a sum of αb terms, each in logs.
fn prob_beta_greater(alpha_a: f64, beta_a: f64, alpha_b: f64, beta_b: f64) -> f64 {
    let base = ln_beta(alpha_a, beta_a);
    let mut sum = 0.0;
    let mut i = 0.0;
    while i < alpha_b {
        sum += (ln_beta(alpha_a + i, beta_a + beta_b)
            - (beta_b + i).ln()
            - ln_beta(1.0 + i, beta_b)
            - base)
            .exp();
        i += 1.0;
    }
    sum.clamp(0.0, 1.0)
}

/// P(X_b > X_a), summing over the smaller whole α (both are whole here).
fn prob_greater(alpha_a: f64, beta_a: f64, alpha_b: f64, beta_b: f64) -> f64 {
    if alpha_b <= alpha_a {
        prob_beta_greater(alpha_a, beta_a, alpha_b, beta_b)
    } else {
        1.0 - prob_beta_greater(alpha_b, beta_b, alpha_a, beta_a)
    }
}

/// Beta-binomial comparison with a Beta(prior_alpha, prior_beta) prior on each rate:
/// the exact probability that b's rate is higher and each choice's expected loss.
///
/// # Errors
/// Counts as in [`proportions_ztest`]; prior_alpha not a positive whole number (the
/// closed form needs it), prior_beta not positive.
pub fn bayes_proportions(
    success_a: f64,
    trials_a: f64,
    success_b: f64,
    trials_b: f64,
    prior_alpha: f64,
    prior_beta: f64,
) -> Outcome<BayesTest> {
    rate(success_a, trials_a, "a")?;
    rate(success_b, trials_b, "b")?;
    let whole = prior_alpha >= 1.0 && prior_alpha.fract() == 0.0;
    if !whole {
        return fail(format!(
            "prior_alpha must be a whole number ≥ 1 (the exact closed form needs it), got {prior_alpha}"
        ));
    }
    let positive = prior_beta > 0.0 && prior_beta.is_finite();
    if !positive {
        return fail(format!("prior_beta must be positive, got {prior_beta}"));
    }
    let (alpha_a, beta_a) = (prior_alpha + success_a, prior_beta + trials_a - success_a);
    let (alpha_b, beta_b) = (prior_alpha + success_b, prior_beta + trials_b - success_b);
    let mean_a = alpha_a / (alpha_a + beta_a);
    let mean_b = alpha_b / (alpha_b + beta_b);
    // E[X_b 1(X_b > X_a)] = mean_b P(X'_b > X_a), X'_b ~ Beta(αb + 1, βb); likewise a.
    let expected_loss_a = (mean_b * prob_greater(alpha_a, beta_a, alpha_b + 1.0, beta_b)
        - mean_a * prob_greater(alpha_a + 1.0, beta_a, alpha_b, beta_b))
    .max(0.0);
    let expected_loss_b = (mean_a * prob_greater(alpha_b, beta_b, alpha_a + 1.0, beta_a)
        - mean_b * prob_greater(alpha_b + 1.0, beta_b, alpha_a, beta_a))
    .max(0.0);
    Ok(BayesTest {
        prob_b_better: prob_greater(alpha_a, beta_a, alpha_b, beta_b),
        expected_loss_a,
        expected_loss_b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_arms_have_no_difference() {
        let test = proportions_ztest(0.0, 10.0, 0.0, 10.0, 0.95, true).unwrap();
        assert_eq!((test.z, test.p_value, test.rel_lift), (0.0, 1.0, None));
        let test = chi2_2x2(5.0, 5.0, 7.0, 7.0, false).unwrap();
        assert_eq!((test.chi2, test.p_value), (0.0, 1.0));
    }

    #[test]
    fn bad_counts_are_errors() {
        assert!(proportions_ztest(11.0, 10.0, 1.0, 10.0, 0.95, true).is_err());
        assert!(proportions_ztest(1.0, 0.0, 1.0, 10.0, 0.95, true).is_err());
        assert!(wilson_ci(1.0, 10.0, 1.0).is_err());
        assert!(sample_size(0.1, 0.1, 0.05, 0.8).is_err());
        let one = Summary::from_stats(1.0, 1.0, 1.0);
        assert!(ttest(&one, &one, Variances::Unequal, 0.95).is_err());
        assert!(mann_whitney_u(&RankCounts::default()).is_err());
    }
}
