//! The per-customer summary the lifetime-value models are fitted on, as Fader, Hardie &
//! Lee (2005) define it and lifetimes' `summary_data_from_transaction_data` and
//! `calibration_and_holdout_data` compute it: purchases on the same day count once,
//! `frequency` = distinct purchase days − 1, `recency` = first to last purchase day,
//! `t` = first purchase day to the end of calibration, `monetary_value` = mean value of
//! the repeat purchase days (0 without any); with a holdout period, the distinct
//! purchase days in it, the mean value of its order lines (lifetimes' definition) and
//! its length. Gathered in one pass over the order lines: one lookup per run of a
//! customer's lines (by id for dense integer ids, [`super::customer_book`]), each
//! purchase day appended to a log radix-sorted and counted at the end on all cores (no
//! per-customer lists), partial summaries per input partition merged at the end, no
//! sort of the lines.

use super::customer_book::{BookEntry, CustomerBook, CustomerKey};
use super::rfm_table::Amount;

/// The calibration period (up to and including `calibration_end`, a day number) and
/// the optional holdout period after it (up to and including `observation_end`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Periods {
    pub calibration_end: i64,
    pub observation_end: Option<i64>,
}

/// The (customer slot, day) pairs seen, to count each customer's distinct purchase
/// days at the end. Appended to sequentially (no per-customer allocation, no random
/// access per line) in 256 parts by slot; a part is sorted and deduplicated whenever it
/// doubles, so it stays near the distinct pairs whatever the order of the lines.
#[derive(Debug)]
struct DayLog {
    parts: Vec<LogPart>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct LogPart {
    pairs: Vec<u64>,
    distinct_up_to: usize,
}

const LOG_PARTS: usize = 256;

impl LogPart {
    fn compact(&mut self) {
        radsort::sort(&mut self.pairs);
        self.pairs.dedup();
        self.distinct_up_to = self.pairs.len();
    }
}

impl DayLog {
    fn new() -> Self {
        Self {
            parts: (0..LOG_PARTS).map(|_| LogPart::default()).collect(),
            bytes: 0,
        }
    }

    fn push(&mut self, slot: u32, day: i32) {
        let part = &mut self.parts[slot as usize % LOG_PARTS];
        let before = part.pairs.capacity();
        // Slot in the high half, the day's bits (order-preserving) in the low half.
        part.pairs
            .push(u64::from(slot) << 32 | u64::from((day as u32) ^ 0x8000_0000));
        if part.pairs.len() >= 2 * part.distinct_up_to.max(4096) {
            part.compact();
        }
        self.bytes += (part.pairs.capacity() - before) * 8;
    }

    /// Takes in another log whose slot `s` is our slot `slots[s]`: its pairs are
    /// appended (room made once per part), left to be deduplicated when counted.
    fn absorb(&mut self, other: DayLog, slots: &[u32]) {
        let ours = |pair: u64| u64::from(slots[(pair >> 32) as usize]) << 32 | (pair & 0xffff_ffff);
        let mut incoming = vec![0usize; LOG_PARTS];
        for part in &other.parts {
            for &pair in &part.pairs {
                incoming[(ours(pair) >> 32) as usize % LOG_PARTS] += 1;
            }
        }
        for (part, more) in self.parts.iter_mut().zip(incoming) {
            let before = part.pairs.capacity();
            part.pairs.reserve_exact(more);
            self.bytes += (part.pairs.capacity() - before) * 8;
        }
        for part in other.parts {
            for pair in part.pairs {
                let pair = ours(pair);
                self.parts[(pair >> 32) as usize % LOG_PARTS]
                    .pairs
                    .push(pair);
            }
        }
    }

    /// Each slot's number of distinct days (`slots` slots), the parts counted on all
    /// cores.
    fn distinct_days(self, slots: usize) -> Vec<u32> {
        let threads = super::thread_count(0).clamp(1, self.parts.len().max(1));
        let mut groups: Vec<Vec<LogPart>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, part) in self.parts.into_iter().enumerate() {
            groups[i % threads].push(part);
        }
        let count = |group: Vec<LogPart>| {
            let mut counts = vec![0u32; slots];
            for mut part in group {
                part.compact();
                for &pair in &part.pairs {
                    counts[(pair >> 32) as usize] += 1;
                }
            }
            counts
        };
        std::thread::scope(|scope| {
            let counted: Vec<_> = groups
                .into_iter()
                .map(|group| scope.spawn(move || count(group)))
                .collect();
            let mut total = vec![0u32; slots];
            for part in counted {
                let part = part
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                total.iter_mut().zip(part).for_each(|(t, c)| *t += c);
            }
            total
        })
    }
}

/// One customer's calibration purchases so far (its days are in the [`DayLog`]).
#[derive(Debug, Clone)]
struct Purchases<A> {
    /// Where this customer's days are logged.
    slot: u32,
    /// First and last calibration purchase day (`i32::MAX`, `i32::MIN` before any).
    first: i32,
    last: i32,
    /// The day last logged, calibration and holdout: the lines of one day usually come
    /// together and are logged once.
    logged: i32,
    holdout_logged: i32,
    /// Value bought on the first day, and in the whole calibration period.
    first_value: A,
    total: A,
}

/// One customer's holdout purchases (only kept when there is a holdout period).
#[derive(Debug, Clone, Copy, Default)]
struct HoldoutTotals<A> {
    total: A,
    /// Holdout lines with a value.
    lines: u64,
}

impl<A: Amount> BookEntry for Purchases<A> {
    fn vacant() -> Self {
        Self::new(u32::MAX)
    }
    fn is_vacant(&self) -> bool {
        self.slot == u32::MAX
    }
}

impl<A: Amount> Purchases<A> {
    fn new(slot: u32) -> Self {
        Self {
            slot,
            first: i32::MAX,
            last: i32::MIN,
            logged: i32::MIN,
            holdout_logged: i32::MIN,
            first_value: A::default(),
            total: A::default(),
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
}

/// Per-customer purchases of one input partition (or of all, once merged).
#[derive(Debug)]
pub struct Summaries<K, A> {
    periods: Periods,
    customers: CustomerBook<K, Purchases<A>>,
    holdouts: Vec<HoldoutTotals<A>>,
    days: DayLog,
    holdout_days: DayLog,
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

/// Days beyond i32 are millions of years away; clamp rather than wrap.
fn day32(day: i64) -> i32 {
    day.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

impl<K: CustomerKey + 'static, A: Amount> Summaries<K, A> {
    pub fn new(periods: Periods) -> Self {
        Self {
            periods,
            customers: CustomerBook::default(),
            holdouts: Vec::new(),
            days: DayLog::new(),
            holdout_days: DayLog::new(),
        }
    }

    /// Adds order lines: (customer, day, value; `None` for a purchase without a value).
    /// Lines after the periods are skipped; consecutive lines of one customer (the
    /// lines of an order) cost one lookup.
    pub fn add_lines<'k>(&mut self, lines: impl IntoIterator<Item = (&'k K, i64, Option<A>)>)
    where
        K: 'k,
    {
        let Self {
            periods,
            customers,
            holdouts,
            days,
            holdout_days,
        } = self;
        let end = periods.observation_end.unwrap_or(periods.calibration_end);
        let mut current: Option<(&'k K, &mut Purchases<A>)> = None;
        for (key, day, value) in lines {
            if day > end {
                continue;
            }
            let c = match &mut current {
                Some((k, c)) if *k == key => c,
                _ => {
                    current = None;
                    let c = customers.entry(key, |slot| {
                        if periods.observation_end.is_some() {
                            holdouts.push(HoldoutTotals::default());
                        }
                        Purchases::new(slot as u32)
                    });
                    &mut current.insert((key, c)).1
                }
            };
            let day = day32(day);
            if i64::from(day) <= periods.calibration_end {
                let value = value.unwrap_or_default();
                c.add_first(day, value);
                c.last = c.last.max(day);
                c.total = c.total.add(value);
                if c.logged != day {
                    c.logged = day;
                    days.push(c.slot, day);
                }
            } else {
                if c.holdout_logged != day {
                    c.holdout_logged = day;
                    holdout_days.push(c.slot, day);
                }
                if let Some(v) = value {
                    let h = &mut holdouts[c.slot as usize];
                    h.total = h.total.add(v);
                    h.lines += 1;
                }
            }
        }
    }

    /// Folds in another partition's purchases.
    pub fn merge(&mut self, other: Summaries<K, A>) {
        let mut slots = vec![0u32; other.customers.len()];
        for (key, theirs) in other.customers.into_entries() {
            let holdouts = &mut self.holdouts;
            let with_holdout = self.periods.observation_end.is_some();
            let ours = self.customers.entry(&key, |slot| {
                if with_holdout {
                    holdouts.push(HoldoutTotals::default());
                }
                Purchases::new(slot as u32)
            });
            slots[theirs.slot as usize] = ours.slot;
            ours.add_first(theirs.first, theirs.first_value);
            ours.last = ours.last.max(theirs.last);
            ours.total = ours.total.add(theirs.total);
            if let Some(h) = other.holdouts.get(theirs.slot as usize) {
                let mine = &mut self.holdouts[ours.slot as usize];
                mine.total = mine.total.add(h.total);
                mine.lines += h.lines;
            }
        }
        self.days.absorb(other.days, &slots);
        self.holdout_days.absorb(other.holdout_days, &slots);
    }

    /// Approximate heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.customers.heap_bytes()
            + self.holdouts.capacity() * std::mem::size_of::<HoldoutTotals<A>>()
            + self.days.bytes
            + self.holdout_days.bytes
    }

    /// The summaries of the customers who bought in the calibration period, in key
    /// order, in days; `scale` is the decimal scale of the amounts.
    pub fn finish(self, scale: i8) -> Vec<(K, Summary)> {
        let periods = self.periods;
        let slots = self.customers.len();
        let days = self.days.distinct_days(slots);
        let holdout_days = self.holdout_days.distinct_days(slots);
        let holdouts = self.holdouts;
        let mut rows: Vec<(K, Summary)> = self
            .customers
            .into_entries()
            .filter(|(_, c)| c.first != i32::MAX)
            .map(|(key, c)| {
                let slot = c.slot as usize;
                let frequency = i64::from(days[slot]) - 1;
                let monetary_value = if frequency > 0 {
                    c.total.sub(c.first_value).to_f64(scale) / frequency as f64
                } else {
                    0.0
                };
                let holdout = periods.observation_end.map(|end| {
                    let h = holdouts[slot];
                    Holdout {
                        frequency: i64::from(holdout_days[slot]),
                        monetary_value: if h.lines > 0 {
                            h.total.to_f64(scale) / h.lines as f64
                        } else {
                            0.0
                        },
                        duration: (end - periods.calibration_end) as f64,
                    }
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
        s.add_lines(lines.iter().map(|(c, d, v)| (c, *d, Some(*v))));
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
            part.add_lines(chunk.iter().map(|(c, d, v)| (c, *d, Some(*v))));
            merged.merge(part);
        }
        assert_eq!(merged.finish(2), whole);
        let h = whole[0].1.holdout.as_ref().expect("holdout");
        assert_eq!(h.duration, 50.0);
    }
    #[test]
    fn distinct_days_are_exact_in_any_order_and_split() {
        let periods = Periods {
            calibration_end: 400,
            observation_end: Some(500),
        };
        // 30,000 lines of 40 customers on scattered days, far past the log's compaction.
        let mut x: u64 = 7;
        let lines: Vec<(i64, i64, i128)> = (0..30_000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                ((x >> 40) as i64 % 40, (x >> 20) as i64 % 520, 100)
            })
            .collect();
        let whole = summaries(&lines, periods);
        for (customer, summary) in &whole {
            let days = |range: std::ops::RangeInclusive<i64>| {
                let mut d: Vec<i64> = lines
                    .iter()
                    .filter(|l| l.0 == *customer && range.contains(&l.1))
                    .map(|l| l.1)
                    .collect();
                d.sort_unstable();
                d.dedup();
                d.len() as i64
            };
            assert_eq!(summary.frequency, days(i64::MIN..=400) - 1);
            let holdout = summary.holdout.as_ref().expect("holdout");
            assert_eq!(holdout.frequency, days(401..=500));
        }
        let mut merged = Summaries::<i64, i128>::new(periods);
        for chunk in lines.chunks(7_000) {
            let mut part = Summaries::new(periods);
            part.add_lines(chunk.iter().map(|(c, d, v)| (c, *d, Some(*v))));
            merged.merge(part);
        }
        assert_eq!(merged.finish(2), whole);
    }
}
