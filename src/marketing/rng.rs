//! A small deterministic random source (SplitMix64) and the distributions drawn from:
//! seeded k-means and ALS starts here, and the demo data set's generator. Hand-written on
//! purpose: seeded results and generated files must stay identical across releases,
//! which a general-purpose RNG crate does not promise.

/// SplitMix64: tiny state, good statistical quality, trivially seedable per entity.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for one (seed, table, entity), independent of every other stream.
    pub fn for_entity(seed: u64, table: u64, entity: u64) -> Self {
        let mut r = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);
        let a = r.next_u64() ^ table.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut r = Rng(a);
        let b = r.next_u64() ^ entity.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7);
        Rng(b)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Index drawn with the given (unnormalised) weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Geometric number of failures before a success with probability `p` (0, 1, 2, ...).
    pub fn geometric(&mut self, p: f64) -> u64 {
        let u = 1.0 - self.f64();
        (u.ln() / (1.0 - p).ln()).floor().max(0.0) as u64
    }

    /// Pareto with shape `alpha` and scale 1.
    pub fn pareto(&mut self, alpha: f64) -> f64 {
        let u = 1.0 - self.f64();
        u.powf(-1.0 / alpha)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Zipf-Mandelbrot sampler over ranks 0..n with weight 1/(rank + q).
#[derive(Debug)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, q: f64) -> Self {
        let mut acc = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                acc += 1.0 / (r as f64 + q);
                acc
            })
            .collect();
        Self { cumulative }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.f64() * total;
        self.cumulative
            .partition_point(|c| *c <= x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..3)
            .map(|_| Rng::for_entity(1, 2, 3).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::for_entity(1, 2, 3).next_u64(),
            Rng::for_entity(1, 2, 4).next_u64()
        );
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Zipf::new(1000, 10.0);
        let mut r = Rng::for_entity(7, 0, 0);
        let low = (0..10_000).filter(|_| z.sample(&mut r) < 100).count();
        assert!(low > 3000, "{low}");
    }
}
