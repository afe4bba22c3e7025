//! The fast path of the RFM table: per-customer totals gathered in one pass over the
//! order lines (one hash lookup per line, partial totals per input partition merged
//! at the end), then R, F and M scores computed without a global sort per dimension:
//! recency and frequency are small integer ranges and are ranked by counting, only
//! monetary needs a comparison sort, and the tie-breaker (customer key order) is one
//! sort of the distinct customers.
//!
//! Frequency counts distinct order ids when an order column is given (the lines of an
//! order are usually contiguous, so only id changes are kept; exact whatever the order
//! of lines), otherwise lines. The id changes are kept in full only up to a bound: past
//! it, each increasing stretch keeps its first and last ones (all that orders split
//! between partitions need when lines arrive in id order), and a state that then meets
//! lines out of order says so ([`Totals::needs_exact_pass`]): the input is folded once
//! more keeping everything.

use std::hash::Hasher;

use super::customer_book::{BookEntry, CustomerBook, CustomerKey};
use super::exact_sum::DoubleDouble;
use super::prefetch::prefetch;
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

/// A customer's slot in [`Totals`]' columns.
#[derive(Debug, Clone, Copy)]
struct Slot(u32);

impl BookEntry for Slot {
    fn vacant() -> Self {
        Slot(u32::MAX)
    }
    fn is_vacant(&self) -> bool {
        self.0 == u32::MAX
    }
}

/// Spend, summed exactly: decimals and integers as scaled `i128`, floats as `f64`.
pub trait Amount: Copy + Default + Send + 'static {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    /// A sortable integer with the same order as the amount.
    fn order_key(self) -> i128;
    /// The amount as a double; decimals are scaled integers of `scale` digits.
    fn to_f64(self, scale: i8) -> f64;
}

impl Amount for i128 {
    fn add(self, other: Self) -> Self {
        self.saturating_add(other)
    }
    fn sub(self, other: Self) -> Self {
        self.saturating_sub(other)
    }
    fn order_key(self) -> i128 {
        self
    }
    fn to_f64(self, scale: i8) -> f64 {
        self as f64 / 10f64.powi(i32::from(scale))
    }
}

impl Amount for f64 {
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn sub(self, other: Self) -> Self {
        self - other
    }
    fn to_f64(self, _scale: i8) -> f64 {
        self
    }
    fn order_key(self) -> i128 {
        // IEEE total order as a signed integer.
        let bits = self.to_bits() as i64;
        i128::from(bits ^ (((bits >> 63) as u64) >> 1) as i64)
    }
}

impl Amount for DoubleDouble {
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn sub(self, other: Self) -> Self {
        self - other
    }
    fn to_f64(self, _scale: i8) -> f64 {
        self.value()
    }
    fn order_key(self) -> i128 {
        self.value().order_key()
    }
}

/// One customer's totals, kept together so a line touches one cache line.
///
/// Distinct orders are counted as runs of equal order ids: the lines of an order are
/// contiguous in the files and order ids grow with time, so within one partition a
/// customer's ids usually arrive as increasing runs and the run count is the distinct
/// count. An id lower than the customer's last one marks the customer for an exact
/// recount from the recorded run starts; orders split across partitions are found by
/// [`Totals::merge`] and counted once.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Customer<A> {
    amount: A,
    lines: u64,
    runs: u64,
    last_order: i64,
    /// Latest order time, in the date column's own units (days, or timestamp units).
    last_at: i64,
    /// Runs may not be distinct orders: count from the run starts.
    recount: bool,
}

impl<A: Amount> Customer<A> {
    fn new() -> Self {
        Self {
            amount: A::default(),
            lines: 0,
            runs: 0,
            last_order: i64::MIN,
            last_at: i64::MIN,
            recount: false,
        }
    }

    /// Folds in another partition's totals of the same customer (orders both
    /// partitions saw are subtracted by [`Totals::merge`]).
    fn merge(&mut self, other: &Customer<A>) {
        self.last_at = self.last_at.max(other.last_at);
        self.lines += other.lines;
        self.amount = self.amount.add(other.amount);
        self.runs += other.runs;
        self.recount |= other.recount;
        self.last_order = self.last_order.max(other.last_order);
    }
}

/// A stretch of run starts whose order ids increase (typically one file or row group):
/// `starts[begin..end]`, ids from `low` to `high`. A trimmed stretch no longer keeps the
/// ids between its first and last kept ones; `dropped` holds where they were, as
/// ascending intervals (runs of consecutive ids, coarsened to fewer and wider ones when
/// there are too many): a partition reading files out of order leaves gaps another
/// partition's ids fall into.
#[derive(Debug, Clone)]
struct Stretch {
    begin: usize,
    end: usize,
    low: i64,
    high: i64,
    dropped: Vec<(i64, i64)>,
}

impl Stretch {
    /// The dropped intervals that meet `[low, high]`.
    fn dropped_within(&self, low: i64, high: i64) -> &[(i64, i64)] {
        let from = self.dropped.partition_point(|&(_, end)| end < low);
        let to = self.dropped.partition_point(|&(start, _)| start <= high);
        &self.dropped[from..to.max(from)]
    }

    /// Whether this stretch (its run starts are `starts`) may have seen an id within
    /// `[low, high]`: a kept one, or a dropped interval meeting it.
    fn may_have_within(&self, starts: &[(u32, i64)], low: i64, high: i64) -> bool {
        let ids = &starts[self.begin..self.end];
        let i = ids.partition_point(|&(_, id)| id < low);
        ids.get(i).is_some_and(|&(_, id)| id <= high) || !self.dropped_within(low, high).is_empty()
    }

    /// Whether an id this stretch dropped within `[low, high]` may also be one of
    /// `other`'s: an order both saw, which could then not be counted once.
    fn may_share_dropped(
        &self,
        other: &Stretch,
        other_starts: &[(u32, i64)],
        low: i64,
        high: i64,
    ) -> bool {
        self.dropped_within(low, high)
            .iter()
            .any(|&(start, end)| other.may_have_within(other_starts, start.max(low), end.min(high)))
    }

    /// Records dropped ids (ascending, above any dropped before).
    fn drop_ids(&mut self, ids: impl Iterator<Item = i64>) {
        for id in ids {
            match self.dropped.last_mut() {
                Some((_, end)) if id <= end.saturating_add(1) => *end = id,
                _ => self.dropped.push((id, id)),
            }
        }
    }

    /// Joins dropped intervals less than `gap` apart.
    fn coarsen(&mut self, gap: i64) {
        let mut joined: Vec<(i64, i64)> = Vec::with_capacity(self.dropped.len());
        for &(start, end) in &self.dropped {
            match joined.last_mut() {
                Some((_, last)) if start.saturating_sub(*last) < gap => *last = end,
                _ => joined.push((start, end)),
            }
        }
        self.dropped = joined;
    }
}

/// Dropped-id intervals a partition keeps before coarsening them.
const MAX_DROPPED_INTERVALS: usize = 1 << 16;

/// Run starts kept at each end of a trimmed stretch.
const KEPT_AT_EACH_END: usize = 256;

/// Run starts a partition keeps in full (16 bytes each) before trimming stretches.
pub const KEEP_STARTS: usize = 8 << 20;

/// Beyond this many stretches per side, the order of lines is too mixed for the
/// stretch comparison: every customer is recounted instead.
const MAX_STRETCHES: usize = 1024;

/// Per-customer totals of one input partition (or of all, once merged).
#[derive(Debug)]
pub struct Totals<K, A> {
    index: CustomerBook<K, Slot>,
    pub keys: Vec<K>,
    customers: Vec<Customer<A>>,
    count_orders: bool,
    /// (customer slot, order id) at every run start, in arrival order.
    starts: Vec<(u32, i64)>,
    /// `starts` cut where an id is lower than the one before it.
    stretches: Vec<Stretch>,
    /// The previous line's customer and slot: consecutive lines of an order share it.
    previous: Option<(K, usize)>,
    /// Beyond this many run starts, stretches are trimmed to their ends.
    keep_starts: usize,
    /// Some run starts were dropped.
    trimmed: bool,
    /// Orders shared between partitions fell where starts were dropped.
    inexact: bool,
}

impl<K: CustomerKey, A: Amount> Totals<K, A> {
    /// Totals that keep every run start (exact whatever the order of lines).
    pub fn new(count_orders: bool) -> Self {
        Self::keeping(count_orders, usize::MAX)
    }

    /// Totals that trim their stretches past `keep_starts` run starts.
    pub fn keeping(count_orders: bool, keep_starts: usize) -> Self {
        Self {
            index: CustomerBook::default(),
            keys: Vec::new(),
            customers: Vec::new(),
            count_orders,
            starts: Vec::new(),
            stretches: Vec::new(),
            previous: None,
            keep_starts: keep_starts.max(4 * KEPT_AT_EACH_END),
            trimmed: false,
            inexact: false,
        }
    }

    /// Whether the distinct order counts need run starts these totals dropped: lines of
    /// a customer out of id order, or an order split between partitions where a
    /// stretch was trimmed. Fold the input again with [`Totals::new`].
    pub fn needs_exact_pass(&self) -> bool {
        self.inexact || (self.trimmed && self.customers.iter().any(|c| c.recount))
    }

    pub fn customers(&self) -> usize {
        self.keys.len()
    }

    /// Latest order time of customer `i`, in the units lines were added with.
    pub fn last_at(&self, i: usize) -> i64 {
        self.customers[i].last_at
    }

    /// Total spend of customer `i`.
    pub fn amount(&self, i: usize) -> A {
        self.customers[i].amount
    }

    /// Order lines of customer `i`.
    pub fn lines(&self, i: usize) -> u64 {
        self.customers[i].lines
    }

    /// Customers whose distinct orders need an exact recount.
    pub fn recounted(&self) -> usize {
        self.customers.iter().filter(|c| c.recount).count()
    }

    /// Approximate heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.index.heap_bytes()
            + self.keys.capacity() * std::mem::size_of::<K>()
            + self.customers.capacity() * std::mem::size_of::<Customer<A>>()
            + self.starts.capacity() * 16
            + self.stretches.capacity() * std::mem::size_of::<Stretch>()
            + self
                .stretches
                .iter()
                .map(|s| s.dropped.capacity() * 16)
                .sum::<usize>()
    }

    /// The slot of customer `key`, created on first sight. Looking up a whole batch's
    /// slots first and adding its lines second lets the memory accesses of different
    /// lines overlap (2M customers do not fit in cache).
    pub fn slot(&mut self, key: &K) -> usize {
        if let Some((previous, i)) = &self.previous {
            if previous == key {
                return *i;
            }
        }
        let next = self.keys.len();
        let i = self.index.entry(key, |n| Slot(n as u32)).0 as usize;
        if i == next {
            self.keys.push(key.clone());
            self.customers.push(Customer::new());
        }
        self.previous = Some((key.clone(), i));
        i
    }

    /// Starts loading what [`Totals::slot`] will read for `key`.
    #[inline]
    pub fn prefetch_slot(&self, key: &K) {
        self.index.prefetch(key);
    }

    /// Starts loading what [`Totals::add_to`] will change for slot `i`.
    #[inline]
    pub fn prefetch_customer(&self, i: usize) {
        if let Some(c) = self.customers.get(i) {
            prefetch(c);
        }
    }

    /// Adds one order line at time `at` (any integer time unit: converted to days once
    /// per customer at the end, not once per line).
    pub fn add(&mut self, key: &K, at: i64, amount: Option<A>, order: Option<i64>) {
        let i = self.slot(key);
        self.add_to(i, at, amount, order);
    }

    /// Adds one order line of the customer in slot `i` (from [`Totals::slot`]).
    pub fn add_to(&mut self, i: usize, at: i64, amount: Option<A>, order: Option<i64>) {
        let c = &mut self.customers[i];
        c.last_at = c.last_at.max(at);
        c.lines += 1;
        if let Some(a) = amount {
            c.amount = c.amount.add(a);
        }
        if let (true, Some(order)) = (self.count_orders && !self.inexact, order) {
            let last = c.last_order;
            if order != last {
                c.recount |= order < last;
                c.last_order = last.max(order);
                c.runs += 1;
                match self.stretches.last_mut() {
                    Some(s) if order > s.high => {
                        s.high = order;
                        s.end += 1;
                    }
                    _ => self.stretches.push(Stretch {
                        begin: self.starts.len(),
                        end: self.starts.len() + 1,
                        low: order,
                        high: order,
                        dropped: Vec::new(),
                    }),
                }
                self.starts.push((i as u32, order));
                if self.starts.len() >= self.keep_starts {
                    self.trim();
                }
            }
        }
    }

    /// Keeps only the first and last run starts of every stretch; when lines are too far
    /// out of id order for that to free memory, keeps none (an exact pass will follow).
    fn trim(&mut self) {
        if self.stretches.len() > MAX_STRETCHES {
            self.give_up_starts();
            return;
        }
        let mut kept = Vec::with_capacity(self.stretches.len() * 2 * KEPT_AT_EACH_END);
        for s in &mut self.stretches {
            let ids = &self.starts[s.begin..s.end];
            let begin = kept.len();
            if ids.len() <= 2 * KEPT_AT_EACH_END {
                kept.extend_from_slice(ids);
            } else {
                let middle = KEPT_AT_EACH_END..ids.len() - KEPT_AT_EACH_END;
                kept.extend_from_slice(&ids[..middle.start]);
                kept.extend_from_slice(&ids[middle.end..]);
                s.drop_ids(ids[middle].iter().map(|&(_, id)| id));
                self.trimmed = true;
            }
            s.begin = begin;
            s.end = kept.len();
        }
        self.starts = kept;
        let mut gap = 2;
        while self
            .stretches
            .iter()
            .map(|s| s.dropped.len())
            .sum::<usize>()
            > MAX_DROPPED_INTERVALS
        {
            for s in &mut self.stretches {
                s.coarsen(gap);
            }
            gap = gap.saturating_mul(4);
        }
        if self.starts.len() * 2 > self.keep_starts {
            self.give_up_starts();
        }
    }

    fn give_up_starts(&mut self) {
        self.inexact = true;
        self.starts = Vec::new();
        self.stretches = Vec::new();
    }

    /// Folds another partition's totals into these. An order whose lines both
    /// partitions saw (a file split between them) is counted once: the stretches of
    /// the two sides that overlap are intersected.
    pub fn merge(&mut self, other: Totals<K, A>) {
        let mut slots = Vec::with_capacity(other.keys.len());
        for (key, theirs) in other.keys.iter().zip(&other.customers) {
            let i = self.slot(key);
            slots.push(i as u32);
            self.customers[i].merge(theirs);
        }
        self.trimmed |= other.trimmed;
        self.inexact |= other.inexact;
        if self.count_orders {
            self.subtract_shared_orders(&other, &slots);
        }
        let offset = self.starts.len();
        self.starts.extend(
            other
                .starts
                .into_iter()
                .map(|(j, o)| (slots[j as usize], o)),
        );
        self.stretches
            .extend(other.stretches.into_iter().map(|s| Stretch {
                begin: s.begin + offset,
                end: s.end + offset,
                ..s
            }));
    }

    /// Subtracts, per customer, the orders that both these totals and `other` counted.
    fn subtract_shared_orders(&mut self, other: &Totals<K, A>, slots: &[u32]) {
        if self.stretches.len() > MAX_STRETCHES || other.stretches.len() > MAX_STRETCHES {
            for c in &mut self.customers {
                c.recount = true;
            }
            return;
        }
        // Ids of a stretch within [low, high]: a sorted slice, by binary search.
        // (order id, customer slot) pairs: the same id of another customer is another
        // order of that customer.
        fn within(starts: &[(u32, i64)], s: &Stretch, low: i64, high: i64) -> Vec<(i64, u32)> {
            let ids = &starts[s.begin..s.end];
            let from = ids.partition_point(|(_, id)| *id < low);
            let to = ids.partition_point(|(_, id)| *id <= high);
            ids[from..to].iter().map(|&(slot, id)| (id, slot)).collect()
        }
        for theirs in &other.stretches {
            let mut mine: Vec<(i64, u32)> = Vec::new();
            for s in &self.stretches {
                let (low, high) = (s.low.max(theirs.low), s.high.min(theirs.high));
                if low <= high {
                    if s.may_share_dropped(theirs, &other.starts, low, high)
                        || theirs.may_share_dropped(s, &self.starts, low, high)
                    {
                        self.inexact = true;
                    }
                    mine.extend(within(&self.starts, s, low, high));
                }
            }
            if mine.is_empty() {
                continue;
            }
            mine.sort_unstable();
            mine.dedup();
            for &(j, id) in &other.starts[theirs.begin..theirs.end] {
                let slot = slots[j as usize];
                if mine.binary_search(&(id, slot)).is_ok() {
                    let c = &mut self.customers[slot as usize];
                    c.runs = c.runs.saturating_sub(1);
                }
            }
        }
    }

    /// Frequency per customer: distinct orders when counted, else lines.
    pub fn frequency(&self) -> Vec<u64> {
        if !self.count_orders {
            return self.customers.iter().map(|c| c.lines).collect();
        }
        let mut out: Vec<u64> = self.customers.iter().map(|c| c.runs).collect();
        let recount = |i: usize| self.customers[i].recount;
        if !self.customers.iter().any(|c| c.recount) {
            return out;
        }
        // The recounted customers' run starts, gathered by customer (a counting sort),
        // then sorted and deduplicated per customer.
        let n = self.customers.len();
        let mut offsets = vec![0usize; n + 1];
        for (i, _) in &self.starts {
            if recount(*i as usize) {
                offsets[*i as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut ids = vec![0i64; offsets[n]];
        let mut fill = offsets.clone();
        for (i, order) in &self.starts {
            let i = *i as usize;
            if recount(i) {
                ids[fill[i]] = *order;
                fill[i] += 1;
            }
        }
        for i in (0..n).filter(|&i| recount(i)) {
            let own = &mut ids[offsets[i]..offsets[i + 1]];
            own.sort_unstable();
            out[i] = 1 + own.windows(2).filter(|w| w[0] != w[1]).count() as u64;
        }
        out
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
        assert_eq!(
            (0..3).map(|i| a.last_at(i)).collect::<Vec<_>>(),
            [20, 11, 5]
        );
        assert_eq!((0..3).map(|i| a.lines(i)).collect::<Vec<_>>(), [4, 1, 1]);
        assert_eq!((0..3).map(|i| a.amount(i)).collect::<Vec<_>>(), [176, 0, 2]);
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

    /// Lines of orders 1..=n, `lines_per_order` each, customers round-robin, cut into
    /// `parts` partitions at arbitrary lines (orders split at the cuts).
    fn partitioned(n: i64, parts: usize, keep: usize, shuffle: bool) -> Totals<i64, i128> {
        let mut lines: Vec<(i64, i64)> = (1..=n)
            .flat_map(|order| (0..3).map(move |_| (order % 97, order)))
            .collect();
        if shuffle {
            let mut rng = crate::marketing::rng::Rng::for_entity(7, 0, 0);
            for i in (1..lines.len()).rev() {
                lines.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
        }
        let cut = lines.len() / parts + 1;
        folded(lines.chunks(cut), keep)
    }

    /// Each partition's (customer, order) lines folded, then merged in order.
    fn folded<'a>(
        partitions: impl IntoIterator<Item = &'a [(i64, i64)]>,
        keep: usize,
    ) -> Totals<i64, i128> {
        let mut all: Option<Totals<i64, i128>> = None;
        for lines in partitions {
            let mut t = Totals::keeping(true, keep);
            for (customer, order) in lines {
                t.add(customer, 0, Some(1), Some(*order));
            }
            match &mut all {
                None => all = Some(t),
                Some(a) => a.merge(t),
            }
        }
        all.expect("lines")
    }

    fn by_customer(t: &Totals<i64, i128>) -> Vec<(i64, u64)> {
        let mut out: Vec<(i64, u64)> = t.keys.iter().copied().zip(t.frequency()).collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn trimmed_stretches_count_exactly_when_lines_come_in_id_order() {
        let exact = partitioned(50_000, 3, usize::MAX, false);
        let trimmed = partitioned(50_000, 3, 4096, false);
        assert!(trimmed.trimmed && !trimmed.needs_exact_pass());
        assert!(trimmed.heap_bytes() < exact.heap_bytes() / 4);
        assert_eq!(by_customer(&trimmed), by_customer(&exact));
        // 50,000 orders over 97 customers, each counted once across the cuts.
        assert_eq!(by_customer(&exact).iter().map(|c| c.1).sum::<u64>(), 50_000);
    }

    /// Files of 5,000 orders (ids `file * 10,000 + 1..`), three lines each, read in
    /// order by three partitions whose files interleave (no id in common but the order
    /// split mid-way between the first two): the gaps between one partition's files are
    /// known, so the others' ids that fall there are not mistaken for dropped ones.
    #[test]
    fn trimmed_stretches_count_exactly_when_partitions_interleave_files() {
        let file = |f: i64| -> Vec<(i64, i64)> {
            (1..=5_000)
                .flat_map(|o| (0..3).map(move |_| (o % 89, f * 10_000 + o)))
                .collect()
        };
        let split = file(6);
        let (first, second) = split.split_at(7_501); // order 2,501 on both sides
        let partitions: Vec<Vec<(i64, i64)>> = vec![
            [file(0), file(2), file(4), first.to_vec()].concat(),
            [second.to_vec(), file(7)].concat(),
            [file(1), file(3), file(5)].concat(),
        ];
        let fold = |keep: usize| folded(partitions.iter().map(Vec::as_slice), keep);
        let (exact, trimmed) = (fold(usize::MAX), fold(4096));
        assert!(trimmed.trimmed, "the stretches were trimmed");
        assert!(!trimmed.needs_exact_pass());
        assert_eq!(by_customer(&trimmed), by_customer(&exact));
        assert_eq!(by_customer(&exact).iter().map(|c| c.1).sum::<u64>(), 40_000);
    }

    #[test]
    fn trimmed_totals_ask_for_an_exact_pass_when_lines_are_out_of_order() {
        let shuffled = partitioned(50_000, 2, 4096, true);
        assert!(shuffled.needs_exact_pass());
        let exact = partitioned(50_000, 2, usize::MAX, true);
        assert!(!exact.needs_exact_pass());
        assert_eq!(by_customer(&exact).iter().map(|c| c.1).sum::<u64>(), 50_000);
    }

    #[test]
    fn an_order_id_of_two_customers_is_an_order_of_each() {
        let mut a: Totals<i64, i128> = Totals::new(true);
        a.add(&1, 0, None, Some(5));
        let mut b: Totals<i64, i128> = Totals::new(true);
        b.add(&2, 0, None, Some(5));
        b.add(&1, 0, None, Some(5));
        a.merge(b);
        assert_eq!(by_customer(&a), vec![(1, 1), (2, 1)]);
    }

    #[test]
    fn float_amounts_order_like_numbers() {
        let xs = [-1.5f64, -0.0, 0.0, 2.25, 1e300];
        let keys: Vec<i128> = xs.iter().map(|x| x.order_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
    }
}
