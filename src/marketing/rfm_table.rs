//! The fast path of the RFM table: per-customer totals gathered in one pass over the
//! order lines (one hash lookup per line, partial totals per input partition merged
//! at the end), then R, F and M scores computed without a global sort per dimension:
//! recency and frequency are small integer ranges and are ranked by counting, only
//! monetary needs a comparison sort, and the tie-breaker (customer key order) is one
//! sort of the distinct customers.
//!
//! Frequency counts distinct order ids when an order column is given (the lines of an
//! order are usually contiguous, so only id changes are kept; exact whatever the order
//! of lines), otherwise lines.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::rfm::{ntile, Ties};

/// A fast, deterministic hasher for customer keys (Fx-style multiply-rotate).
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

type KeyMap<K> = HashMap<K, u32, BuildHasherDefault<KeyHasher>>;

/// Spend, summed exactly: decimals and integers as scaled `i128`, floats as `f64`.
pub trait Amount: Copy + Default + Send + 'static {
    fn add(self, other: Self) -> Self;
    /// A sortable integer with the same order as the amount.
    fn order_key(self) -> i128;
}

impl Amount for i128 {
    fn add(self, other: Self) -> Self {
        self.saturating_add(other)
    }
    fn order_key(self) -> i128 {
        self
    }
}

impl Amount for f64 {
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn order_key(self) -> i128 {
        // IEEE total order as a signed integer.
        let bits = self.to_bits() as i64;
        i128::from(bits ^ (((bits >> 63) as u64) >> 1) as i64)
    }
}

/// Distinct orders per customer, counted as runs of equal order ids: the lines of an
/// order are contiguous in the files and order ids grow with time, so a customer's ids
/// arrive as increasing runs and the run count is the distinct count. When they do not
/// (an id lower than the last one, or two partitions whose id ranges of a customer
/// overlap), that customer is counted exactly from the recorded run starts.
#[derive(Debug, Default)]
struct OrderRuns {
    last: Vec<i64>,
    low: Vec<i64>,
    runs: Vec<u64>,
    /// Runs may not be distinct orders: count this customer from `starts`.
    recount: Vec<bool>,
    /// (customer slot, order id) at every run start, for the recount.
    starts: Vec<(u32, i64)>,
}

impl OrderRuns {
    fn push_customer(&mut self) {
        self.last.push(i64::MIN);
        self.low.push(i64::MAX);
        self.runs.push(0);
        self.recount.push(false);
    }

    fn add(&mut self, i: usize, order: i64) {
        let last = self.last[i];
        if order == last {
            return;
        }
        if order < last {
            self.recount[i] = true;
        }
        self.last[i] = last.max(order);
        self.low[i] = self.low[i].min(order);
        self.runs[i] += 1;
        self.starts.push((i as u32, order));
    }

    /// Folds customer `j` of `other` into customer `i`.
    fn merge_customer(&mut self, i: usize, other: &OrderRuns, j: usize) {
        if other.runs[j] == 0 {
            return;
        }
        if self.runs[i] > 0 {
            let (a_low, a_high) = (self.low[i], self.last[i]);
            let (b_low, b_high) = (other.low[j], other.last[j]);
            let shared = if a_high < b_low || b_high < a_low {
                0
            } else if a_high == b_low || b_high == a_low {
                // One boundary order split across partitions (runs are increasing).
                1
            } else {
                self.recount[i] = true;
                0
            };
            self.runs[i] = self.runs[i] + other.runs[j] - shared;
        } else {
            self.runs[i] = other.runs[j];
        }
        self.recount[i] |= other.recount[j];
        self.last[i] = self.last[i].max(other.last[j]);
        self.low[i] = self.low[i].min(other.low[j]);
    }

    /// Distinct orders per customer.
    fn distinct(&self) -> Vec<u64> {
        let mut out = self.runs.clone();
        if !self.recount.iter().any(|r| *r) {
            return out;
        }
        let mut ids: Vec<(u32, i64)> = self
            .starts
            .iter()
            .filter(|(i, _)| self.recount[*i as usize])
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for (i, recount) in self.recount.iter().enumerate() {
            if *recount {
                out[i] = 0;
            }
        }
        for (i, _) in ids {
            out[i as usize] += 1;
        }
        out
    }
}

/// Per-customer totals of one input partition (or of all, once merged).
#[derive(Debug)]
pub struct Totals<K, A> {
    index: KeyMap<K>,
    pub keys: Vec<K>,
    /// Latest order day (days since 1970-01-01).
    pub last_day: Vec<i32>,
    pub lines: Vec<u64>,
    pub amount: Vec<A>,
    /// Distinct orders, when an order column is given.
    orders: Option<OrderRuns>,
    /// The previous line's customer and slot: consecutive lines of an order share it.
    previous: Option<(K, usize)>,
}

impl<K: Hash + Eq + Clone, A: Amount> Totals<K, A> {
    pub fn new(count_orders: bool) -> Self {
        Self {
            index: KeyMap::default(),
            keys: Vec::new(),
            last_day: Vec::new(),
            lines: Vec::new(),
            amount: Vec::new(),
            orders: count_orders.then(OrderRuns::default),
            previous: None,
        }
    }

    pub fn customers(&self) -> usize {
        self.keys.len()
    }

    /// Approximate heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        let per_customer = std::mem::size_of::<K>() * 2
            + 4
            + 8
            + std::mem::size_of::<A>()
            + 16
            + if self.orders.is_some() { 25 } else { 0 };
        let starts = self.orders.as_ref().map_or(0, |o| o.starts.capacity() * 16);
        self.keys.capacity() * per_customer + starts
    }

    fn slot(&mut self, key: &K) -> usize {
        if let Some((previous, i)) = &self.previous {
            if previous == key {
                return *i;
            }
        }
        let i = match self.index.get(key) {
            Some(&i) => i as usize,
            None => {
                let i = self.keys.len();
                self.index.insert(key.clone(), i as u32);
                self.keys.push(key.clone());
                self.last_day.push(i32::MIN);
                self.lines.push(0);
                self.amount.push(A::default());
                if let Some(orders) = &mut self.orders {
                    orders.push_customer();
                }
                i
            }
        };
        self.previous = Some((key.clone(), i));
        i
    }

    /// Adds one order line.
    pub fn add(&mut self, key: &K, day: i32, amount: Option<A>, order: Option<i64>) {
        let i = self.slot(key);
        if day > self.last_day[i] {
            self.last_day[i] = day;
        }
        self.lines[i] += 1;
        if let Some(a) = amount {
            self.amount[i] = self.amount[i].add(a);
        }
        if let (Some(orders), Some(order)) = (&mut self.orders, order) {
            orders.add(i, order);
        }
    }

    /// Folds another partition's totals into these.
    pub fn merge(&mut self, other: Totals<K, A>) {
        let mut slots = Vec::with_capacity(other.keys.len());
        for (j, key) in other.keys.iter().enumerate() {
            let i = self.slot(key);
            slots.push(i as u32);
            self.last_day[i] = self.last_day[i].max(other.last_day[j]);
            self.lines[i] += other.lines[j];
            self.amount[i] = self.amount[i].add(other.amount[j]);
            if let (Some(mine), Some(theirs)) = (&mut self.orders, &other.orders) {
                mine.merge_customer(i, theirs, j);
            }
        }
        if let (Some(mine), Some(theirs)) = (&mut self.orders, other.orders) {
            mine.starts.extend(
                theirs
                    .starts
                    .into_iter()
                    .map(|(j, o)| (slots[j as usize], o)),
            );
        }
    }

    /// Frequency per customer: distinct orders when counted, else lines.
    pub fn frequency(&mut self) -> Vec<u64> {
        match &self.orders {
            None => self.lines.clone(),
            Some(orders) => orders.distinct(),
        }
    }
}

/// The order in which `values` rank worst to best (ascending when higher is better),
/// equal values in index order: counting when the range is small, else a sort.
pub fn rank_order(values: &[i128], higher_is_better: bool) -> Vec<u32> {
    let len = values.len();
    let Some((&min, &max)) = values.iter().min().zip(values.iter().max()) else {
        return Vec::new();
    };
    let range = (max - min) as u128 + 1;
    if range <= (4 * len as u128) + 1024 {
        let buckets = range as usize;
        let bucket = |v: i128| {
            let b = (v - min) as usize;
            if higher_is_better {
                b
            } else {
                buckets - 1 - b
            }
        };
        let mut start = vec![0u32; buckets + 1];
        for &v in values {
            start[bucket(v) + 1] += 1;
        }
        for b in 0..buckets {
            start[b + 1] += start[b];
        }
        let mut order = vec![0u32; len];
        for (i, &v) in values.iter().enumerate() {
            let b = bucket(v);
            order[start[b] as usize] = i as u32;
            start[b] += 1;
        }
        order
    } else {
        let mut order: Vec<u32> = (0..len as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (va, vb) = (values[a as usize], values[b as usize]);
            let by_value = if higher_is_better {
                va.cmp(&vb)
            } else {
                vb.cmp(&va)
            };
            by_value.then(a.cmp(&b))
        });
        order
    }
}

/// Scores 1..=n per value (n = best), SQL-standard NTILE over [`rank_order`]; under
/// [`Ties::Same`] every value takes the score of the first of its equals.
pub fn scores(values: &[i128], higher_is_better: bool, n: usize, ties: Ties) -> Vec<u32> {
    let order = rank_order(values, higher_is_better);
    let len = values.len();
    let mut out = vec![0u32; len];
    let mut group_start = 0;
    for (position, &i) in order.iter().enumerate() {
        if position == 0 || values[order[position - 1] as usize] != values[i as usize] {
            group_start = position;
        }
        let at = match ties {
            Ties::Split => position,
            Ties::Same => group_start,
        };
        out[i as usize] = ntile(at, len, n) as u32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_and_sorting_rank_alike() {
        let values: Vec<i128> = vec![5, 1, 3, 3, 9, 1, 7];
        let counted = rank_order(&values, true);
        assert_eq!(counted, vec![1, 5, 2, 3, 0, 6, 4]);
        let spread: Vec<i128> = values.iter().map(|v| v * 1_000_000_000_000).collect();
        assert_eq!(rank_order(&spread, true), counted);
        assert_eq!(rank_order(&values, false), vec![4, 6, 0, 2, 3, 1, 5]);
        assert_eq!(rank_order(&spread, false), vec![4, 6, 0, 2, 3, 1, 5]);
    }

    #[test]
    fn scores_are_ntile_with_index_tie_break() {
        let values: Vec<i128> = (1..=10).collect();
        assert_eq!(
            scores(&values, true, 4, Ties::Split),
            vec![1, 1, 1, 2, 2, 2, 3, 3, 4, 4]
        );
        let ties = vec![1, 1, 1, 1, 2, 3];
        assert_eq!(scores(&ties, true, 3, Ties::Split), vec![1, 1, 2, 2, 3, 3]);
        assert_eq!(scores(&ties, true, 3, Ties::Same), vec![1, 1, 1, 1, 3, 3]);
    }

    #[test]
    fn totals_count_distinct_orders_and_merge() {
        let mut a: Totals<i64, i128> = Totals::new(true);
        a.add(&7, 10, Some(100), Some(1));
        a.add(&7, 12, Some(50), Some(1));
        a.add(&8, 11, None, Some(2));
        a.add(&7, 9, Some(25), Some(3));
        let mut b: Totals<i64, i128> = Totals::new(true);
        b.add(&7, 20, Some(1), Some(1)); // order 1 again, in another partition
        b.add(&9, 5, Some(2), Some(4));
        a.merge(b);
        assert_eq!(a.keys, vec![7, 8, 9]);
        assert_eq!(a.last_day, vec![20, 11, 5]);
        assert_eq!(a.lines, vec![4, 1, 1]);
        assert_eq!(a.amount, vec![176, 0, 2]);
        assert_eq!(a.frequency(), vec![2, 1, 1]);
    }

    #[test]
    fn distinct_orders_whatever_the_line_order_and_partitioning() {
        // Orders of one customer: 1 1 2 3 3 in partition a, 3 4 in b (3 split), and a
        // customer whose lines come back to an earlier order (5 6 5).
        let mut a: Totals<i64, i128> = Totals::new(true);
        for order in [1, 1, 2, 3, 3] {
            a.add(&1, 0, None, Some(order));
        }
        for order in [5, 6, 5] {
            a.add(&2, 0, None, Some(order));
        }
        let mut b: Totals<i64, i128> = Totals::new(true);
        for order in [3, 4] {
            b.add(&1, 0, None, Some(order));
        }
        // Overlapping ranges across partitions: 10 12 in c, 11 12 in d.
        let mut c: Totals<i64, i128> = Totals::new(true);
        for order in [10, 12] {
            c.add(&3, 0, None, Some(order));
        }
        let mut d: Totals<i64, i128> = Totals::new(true);
        for order in [11, 12] {
            d.add(&3, 0, None, Some(order));
        }
        a.merge(b);
        a.merge(c);
        a.merge(d);
        assert_eq!(a.keys, vec![1, 2, 3]);
        assert_eq!(a.frequency(), vec![4, 2, 3]);
    }

    #[test]
    fn float_amounts_order_like_numbers() {
        let xs = [-1.5f64, -0.0, 0.0, 2.25, 1e300];
        let keys: Vec<i128> = xs.iter().map(|x| x.order_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
    }
}
