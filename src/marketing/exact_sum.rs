//! Sums of doubles that do not depend on the order of the terms: Shewchuk's
//! non-overlapping partials (as Python's `math.fsum`) hold the exact sum, so an
//! aggregate merged from any partitioning gives bit-identical results. [`Moments`]
//! builds a mean and a sum of squared deviations on them, in double-double arithmetic.

/// The exact sum of the doubles added, as non-overlapping partials, smallest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    partials: Vec<f64>,
}

/// `a + b` as the rounded sum and its exact error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let sum = a + b;
    let b_virtual = sum - a;
    let a_virtual = sum - b_virtual;
    (sum, (a - a_virtual) + (b - b_virtual))
}

/// `a × b` as the rounded product and its exact error.
fn two_product(a: f64, b: f64) -> (f64, f64) {
    let product = a * b;
    (product, a.mul_add(b, -product))
}

impl ExactSum {
    /// Adds `x` exactly (a non-finite `x` makes the sum non-finite).
    pub fn add(&mut self, mut x: f64) {
        if !x.is_finite() {
            self.partials = vec![self.value() + x];
            return;
        }
        let mut kept = 0;
        for i in 0..self.partials.len() {
            let (sum, error) = two_sum(x, self.partials[i]);
            if error != 0.0 {
                self.partials[kept] = error;
                kept += 1;
            }
            x = sum;
        }
        self.partials.truncate(kept);
        if x != 0.0 || self.partials.is_empty() {
            self.partials.push(x);
        }
    }

    /// Adds `a × b` exactly.
    pub fn add_product(&mut self, a: f64, b: f64) {
        let (product, error) = two_product(a, b);
        self.add(product);
        self.add(error);
    }

    pub fn merge(&mut self, other: &ExactSum) {
        for x in &other.partials {
            self.add(*x);
        }
    }

    /// The partials, to carry the sum between processes.
    pub fn partials(&self) -> &[f64] {
        &self.partials
    }

    /// A sum from carried partials.
    pub fn from_partials(partials: &[f64]) -> Self {
        let mut sum = Self::default();
        for x in partials {
            sum.add(*x);
        }
        sum
    }

    /// The sum, correctly rounded (as `math.fsum`).
    pub fn value(&self) -> f64 {
        let mut i = self.partials.len();
        if i == 0 {
            return 0.0;
        }
        i -= 1;
        let mut high = self.partials[i];
        let mut low = 0.0;
        while i > 0 {
            i -= 1;
            let x = high;
            let y = self.partials[i];
            high = x + y;
            let y_virtual = high - x;
            low = y - y_virtual;
            if low != 0.0 {
                break;
            }
        }
        // Round half to even across the remaining partials.
        if i > 0
            && ((low < 0.0 && self.partials[i - 1] < 0.0)
                || (low > 0.0 && self.partials[i - 1] > 0.0))
        {
            let y = low * 2.0;
            let x = high + y;
            if y == x - high {
                high = x;
            }
        }
        high
    }

    /// The sum as a double-double: the correctly rounded value and the correctly rounded
    /// rest, both functions of the exact sum only.
    pub fn double_double(&self) -> DoubleDouble {
        let high = self.value();
        let mut rest = self.clone();
        rest.add(-high);
        DoubleDouble(high, rest.value())
    }
}

/// An unevaluated sum of two doubles (~106 bits), for the few operations the moments
/// need; sums of a customer's amounts in it are exact, so order-free.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DoubleDouble(pub f64, pub f64);

impl DoubleDouble {
    fn normalized(high: f64, low: f64) -> Self {
        let (h, l) = two_sum(high, low);
        DoubleDouble(h, l)
    }

    pub fn value(self) -> f64 {
        self.0 + self.1
    }
}

impl std::ops::Add for DoubleDouble {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        let (s, e) = two_sum(self.0, other.0);
        Self::normalized(s, e + self.1 + other.1)
    }
}

impl std::ops::Sub for DoubleDouble {
    type Output = Self;

    fn sub(self, other: Self) -> Self {
        self + DoubleDouble(-other.0, -other.1)
    }
}

impl std::ops::Mul for DoubleDouble {
    type Output = Self;

    fn mul(self, other: Self) -> Self {
        let (p, e) = two_product(self.0, other.0);
        Self::normalized(p, e + self.0 * other.1 + self.1 * other.0)
    }
}

impl std::ops::Div for DoubleDouble {
    type Output = Self;

    fn div(self, other: Self) -> Self {
        let q = self.0 / other.0;
        // One correction from the remainder self − q × other.
        let r = self - other * DoubleDouble(q, 0.0);
        Self::normalized(q, r.0 / other.0)
    }
}

/// Count, sum and sum of squares of one variable, exact and order-free; or of the
/// products of two variables for co-moments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub sum: ExactSum,
    pub sum_squares: ExactSum,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1.0;
        self.sum.add(x);
        self.sum_squares.add_product(x, x);
    }

    pub fn merge(&mut self, other: &Moments) {
        self.n += other.n;
        self.sum.merge(&other.sum);
        self.sum_squares.merge(&other.sum_squares);
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        (self.sum.double_double() / DoubleDouble(self.n, 0.0)).value()
    }

    /// Σ(x − mean)² = Σx² − (Σx)² / n, in double-double.
    pub fn m2(&self) -> f64 {
        let sum = self.sum.double_double();
        let n = DoubleDouble(self.n, 0.0);
        let m2 = (self.sum_squares.double_double() - sum * sum / n).value();
        m2.max(0.0)
    }
}

/// Σ(x − mean x)(y − mean y) = Σxy − Σx Σy / n from exact sums, in double-double.
pub fn co_moment(n: f64, sum_x: &ExactSum, sum_y: &ExactSum, sum_xy: &ExactSum) -> f64 {
    let n = DoubleDouble(n, 0.0);
    (sum_xy.double_double() - sum_x.double_double() * sum_y.double_double() / n).value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_does_not_depend_on_the_order() {
        let values = [1e16, 1.0, -1e16, 3.5, 1e-3, 7e15, -0.25, 2.0f64.powi(-40)];
        let mut forward = ExactSum::default();
        values.iter().for_each(|v| forward.add(*v));
        let mut backward = ExactSum::default();
        values.iter().rev().for_each(|v| backward.add(*v));
        let (mut left, right) = (
            ExactSum::from_partials(&values[..3]),
            ExactSum::from_partials(&values[3..]),
        );
        left.merge(&right);
        assert_eq!(forward.value(), backward.value());
        assert_eq!(forward.value(), left.value());
        assert_eq!(forward.value(), 7e15 + 4.25 + 1e-3 + 2.0f64.powi(-40));
    }

    #[test]
    fn moments_are_exact_with_a_large_mean() {
        let mut m = Moments::default();
        for x in [1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0] {
            m.push(x);
        }
        assert_eq!(m.mean(), 1e9 + 2.0);
        assert_eq!(m.m2(), 2.0);
    }
}
