//! The per-customer summary the lifetime-value models are fitted on, as Fader, Hardie &
//! Lee (2005) define it and lifetimes' `summary_data_from_transaction_data` and
//! `calibration_and_holdout_data` compute it: purchases on the same day count once,
//! `frequency` = distinct purchase days − 1, `recency` = first to last purchase day,
//! `t` = first purchase day to the end of calibration, `monetary_value` = mean value of
//! the repeat purchase days (0 without any); with a holdout period, the distinct
//! purchase days in it, the mean value of its order lines (lifetimes' definition) and
//! its length. Gathered in one pass over the order lines: one hash lookup per line,
//! partial summaries per input partition merged at the end, no sort of the lines.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};

use super::rfm_table::{Amount, KeyHasher};

/// The calibration period (up to and including `calibration_end`, a day number) and
/// the optional holdout period after it (up to and including `observation_end`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Periods {
    pub calibration_end: i64,
    pub observation_end: Option<i64>,
}

/// Days a customer bought on: runs of equal days are kept once, and the list is sorted
/// and deduplicated whenever it doubles, so it stays near the distinct days whatever
/// the order of the lines.
#[derive(Debug, Clone, Default)]
struct Days {
    days: Vec<i32>,
    distinct_up_to: usize,
}

impl Days {
    /// Adds a day; returns the bytes the list grew by.
    fn push(&mut self, day: i32) -> usize {
        if self.days.last() == Some(&day) {
            return 0;
        }
        let before = self.days.capacity();
        self.days.push(day);
        if self.days.len() >= 2 * self.distinct_up_to.max(8) {
            self.compact();
        }
        (self.days.capacity() - before) * 4
    }

    /// Adds another list's days; returns the bytes the list grew by.
    fn extend(&mut self, other: Days) -> usize {
        let before = self.days.capacity();
        self.days.extend(other.days);
        if self.days.len() >= 2 * self.distinct_up_to.max(8) {
            self.compact();
        }
        (self.days.capacity() - before) * 4
    }

    fn compact(&mut self) {
        self.days.sort_unstable();
        self.days.dedup();
        self.distinct_up_to = self.days.len();
    }

    fn distinct(&mut self) -> usize {
        self.compact();
        self.days.len()
    }
}

/// One customer's purchases so far.
#[derive(Debug, Clone)]
struct Purchases<A> {
    /// First and last calibration purchase day (`i32::MAX`, `i32::MIN` before any).
    first: i32,
    last: i32,
    /// Value bought on the first day, and in the whole calibration period.
    first_value: A,
    total: A,
    days: Days,
    holdout_days: Days,
    holdout_total: A,
    /// Holdout lines with a value.
    holdout_lines: u64,
}

impl<A: Amount> Purchases<A> {
    fn new() -> Self {
        Self {
            first: i32::MAX,
            last: i32::MIN,
            first_value: A::default(),
            total: A::default(),
            days: Days::default(),
            holdout_days: Days::default(),
            holdout_total: A::default(),
            holdout_lines: 0,
        }
    }

    fn add_first(&mut self, day: i32, value: A) {
        if day < self.first {
            self.first = day;
            self.first_value = value;
        } else if day == self.first {
            self.first_value = self.first_value.add(value);
        }
    }

    /// Folds in another partition's purchases; returns the bytes the day lists grew by.
    fn merge(&mut self, other: Purchases<A>) -> usize {
        self.add_first(other.first, other.first_value);
        self.last = self.last.max(other.last);
        self.total = self.total.add(other.total);
        self.holdout_total = self.holdout_total.add(other.holdout_total);
        self.holdout_lines += other.holdout_lines;
        self.days.extend(other.days) + self.holdout_days.extend(other.holdout_days)
    }
}

/// Per-customer purchases of one input partition (or of all, once merged).
#[derive(Debug)]
pub struct Summaries<K, A> {
    periods: Periods,
    index: HashMap<K, u32, BuildHasherDefault<KeyHasher>>,
    keys: Vec<K>,
    customers: Vec<Purchases<A>>,
    /// Heap bytes of all the day lists, kept as they grow (summing them per batch would
    /// cost a pass over every customer).
    days_bytes: usize,
}

/// One customer's summary, in days.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub frequency: i64,
    pub recency: f64,
    pub t: f64,
    pub monetary_value: f64,
    pub holdout: Option<Holdout>,
}

/// One customer's holdout period.
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    pub frequency: i64,
    pub monetary_value: f64,
    pub duration: f64,
}

impl<K: Hash + Eq + Clone + Ord, A: Amount> Summaries<K, A> {
    pub fn new(periods: Periods) -> Self {
        Self {
            periods,
            index: HashMap::default(),
            keys: Vec::new(),
            customers: Vec::new(),
            days_bytes: 0,
        }
    }

    /// The slot of customer `key`, created on first sight.
    pub fn slot(&mut self, key: &K) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i as usize;
        }
        let i = self.keys.len();
        self.index.insert(key.clone(), i as u32);
        self.keys.push(key.clone());
        self.customers.push(Purchases::new());
        i
    }

    /// Whether a line of day `day` counts (calibration or holdout).
    pub fn counts(&self, day: i64) -> bool {
        day <= self
            .periods
            .observation_end
            .unwrap_or(self.periods.calibration_end)
    }

    /// Adds a line of customer slot `slot` bought on day `day` (which [`Self::counts`])
    /// for `value` (`None`: a purchase without a value).
    pub fn add(&mut self, slot: usize, day: i64, value: Option<A>) {
        let c = &mut self.customers[slot];
        // Days beyond i32 are millions of years away; clamp rather than wrap.
        let day32 = day.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        if day <= self.periods.calibration_end {
            let value = value.unwrap_or_default();
            c.add_first(day32, value);
            c.last = c.last.max(day32);
            c.total = c.total.add(value);
            self.days_bytes += c.days.push(day32);
        } else {
            self.days_bytes += c.holdout_days.push(day32);
            if let Some(v) = value {
                c.holdout_total = c.holdout_total.add(v);
                c.holdout_lines += 1;
            }
        }
    }

    /// Folds in another partition's purchases.
    pub fn merge(&mut self, other: Summaries<K, A>) {
        for (key, purchases) in other.keys.into_iter().zip(other.customers) {
            let slot = self.slot(&key);
            self.days_bytes += self.customers[slot].merge(purchases);
        }
    }

    /// Approximate heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        let per_customer = std::mem::size_of::<K>() * 2 + 8 + std::mem::size_of::<Purchases<A>>();
        self.keys.capacity() * per_customer + self.days_bytes
    }

    /// The summaries of the customers who bought in the calibration period, in key
    /// order, in days; `scale` is the decimal scale of the amounts.
    pub fn finish(self, scale: i8) -> Vec<(K, Summary)> {
        let periods = self.periods;
        let mut rows: Vec<(K, Summary)> = self
            .keys
            .into_iter()
            .zip(self.customers)
            .filter(|(_, c)| c.first != i32::MAX)
            .map(|(key, mut c)| {
                let frequency = c.days.distinct() as i64 - 1;
                let monetary_value = if frequency > 0 {
                    c.total.sub(c.first_value).to_f64(scale) / frequency as f64
                } else {
                    0.0
                };
                let holdout = periods.observation_end.map(|end| Holdout {
                    frequency: c.holdout_days.distinct() as i64,
                    monetary_value: if c.holdout_lines > 0 {
                        c.holdout_total.to_f64(scale) / c.holdout_lines as f64
                    } else {
                        0.0
                    },
                    duration: (end - periods.calibration_end) as f64,
                });
                let summary = Summary {
                    frequency,
                    recency: f64::from(c.last - c.first),
                    t: (periods.calibration_end - i64::from(c.first)) as f64,
                    monetary_value,
                    holdout,
                };
                (key, summary)
            })
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summaries(lines: &[(i64, i64, i128)], periods: Periods) -> Vec<(i64, Summary)> {
        let mut s = Summaries::<i64, i128>::new(periods);
        for &(customer, day, cents) in lines {
            if s.counts(day) {
                let slot = s.slot(&customer);
                s.add(slot, day, Some(cents));
            }
        }
        s.finish(2)
    }

    #[test]
    fn same_day_purchases_count_once_and_the_first_day_is_not_a_repeat() {
        let periods = Periods {
            calibration_end: 100,
            observation_end: None,
        };
        // Customer 1: day 10 (two lines), day 20 twice, day 40; day 120 is too late.
        let lines = [
            (1, 20, 500),
            (1, 10, 100),
            (1, 40, 300),
            (1, 10, 200),
            (1, 20, 100),
            (1, 120, 9999),
            (2, 50, 700),
        ];
        let rows = summaries(&lines, periods);
        assert_eq!(rows.len(), 2);
        let one = &rows[0].1;
        assert_eq!(one.frequency, 2);
        assert_eq!(one.recency, 30.0);
        assert_eq!(one.t, 90.0);
        // Repeat days: day 20 (6.00) and day 40 (3.00).
        assert_eq!(one.monetary_value, 4.5);
        let two = &rows[1].1;
        assert_eq!((two.frequency, two.recency, two.t), (0, 0.0, 50.0));
        assert_eq!(two.monetary_value, 0.0);
    }

    #[test]
    fn partitions_merge_to_the_same_summary() {
        let periods = Periods {
            calibration_end: 100,
            observation_end: Some(150),
        };
        let lines: Vec<(i64, i64, i128)> = (0..200)
            .map(|i| (i % 7, (i * 37) % 150, i128::from(i * 13 % 1000)))
            .collect();
        let whole = summaries(&lines, periods);
        let mut merged = Summaries::<i64, i128>::new(periods);
        for chunk in lines.chunks(30) {
            let mut part = Summaries::new(periods);
            for &(customer, day, cents) in chunk {
                let slot = part.slot(&customer);
                part.add(slot, day, Some(cents));
            }
            merged.merge(part);
        }
        assert_eq!(merged.finish(2), whole);
        let h = whole[0].1.holdout.as_ref().expect("holdout");
        assert_eq!(h.duration, 50.0);
    }
}
