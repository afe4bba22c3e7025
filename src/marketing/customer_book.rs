//! Per-customer state addressed by customer key, for folds over order lines with
//! millions of customers. Integer ids that fill most of their range (the usual
//! sequence-numbered customer ids) are addressed directly by id: one memory access per
//! lookup, no hashing, no probing, no rehashing. Any other key, and integer ids spread
//! too thinly for that, go to a hash map. The book starts hashed and moves to the
//! direct layout when the map is about to grow and the ids seen fill at least a
//! quarter of their range; it moves back if a later id would spread the range too thin.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};

use super::rfm_table::KeyHasher;

/// A customer key; integers can be addressed directly.
pub trait CustomerKey: Hash + Eq + Clone + Ord {
    /// The key as an integer id, when it is one.
    fn id(&self) -> Option<i64> {
        None
    }
    /// The key of an integer id (`None` for keys that are not integers).
    fn from_id(_id: i64) -> Option<Self> {
        None
    }
}

impl CustomerKey for i64 {
    fn id(&self) -> Option<i64> {
        Some(*self)
    }
    fn from_id(id: i64) -> Option<Self> {
        Some(id)
    }
}

impl CustomerKey for String {}

/// A customer's state, with a vacant value for the ids of the direct layout that no
/// customer has.
pub trait BookEntry: Sized {
    fn vacant() -> Self;
    fn is_vacant(&self) -> bool;
}

/// The direct layout may span at most this many ids per customer seen...
const IDS_PER_CUSTOMER: i128 = 4;
/// ... or this many ids whatever the customers.
const MIN_DIRECT_SPAN: i128 = 1 << 16;

/// Customers by key.
#[derive(Debug)]
pub struct CustomerBook<K, V> {
    layout: Layout<K, V>,
    len: usize,
    /// The hash map's capacity when the direct layout was last considered.
    considered_at: usize,
}

#[derive(Debug)]
enum Layout<K, V> {
    Hashed(HashMap<K, V, BuildHasherDefault<KeyHasher>>),
    /// `entries[i]` is the customer with id `base + i` (or vacant).
    Direct {
        base: i64,
        entries: Vec<V>,
    },
}

impl<K: CustomerKey, V: BookEntry> Default for CustomerBook<K, V> {
    fn default() -> Self {
        Self {
            layout: Layout::Hashed(HashMap::default()),
            len: 0,
            considered_at: usize::MAX,
        }
    }
}

impl<K: CustomerKey, V: BookEntry> CustomerBook<K, V> {
    /// The customers in the book.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The customer's entry, made by `new(n)` when the key is the `n`th new one
    /// (counting from 0).
    pub fn entry(&mut self, key: &K, new: impl FnOnce(usize) -> V) -> &mut V {
        let id = key.id();
        match (&self.layout, id) {
            (Layout::Direct { .. }, None) => self.hash_all(),
            (Layout::Direct { base, entries }, Some(id)) => {
                let index = i128::from(id) - i128::from(*base);
                if index < 0 || index >= entries.len() as i128 {
                    self.widen(id);
                }
            }
            (Layout::Hashed(map), Some(id))
                if map.len() == map.capacity() && map.capacity() != self.considered_at =>
            {
                self.considered_at = map.capacity();
                self.consider_direct(id);
            }
            (Layout::Hashed(_), _) => {}
        }
        let Self { layout, len, .. } = self;
        let n = *len;
        match layout {
            Layout::Direct { base, entries } => {
                // (the layout stays direct only with the id in its range)
                let index = id.map(|id| i128::from(id) - i128::from(*base));
                let entry = &mut entries[index
                    .and_then(|i| usize::try_from(i).ok())
                    .unwrap_or(usize::MAX)];
                if entry.is_vacant() {
                    *entry = new(n);
                    *len += 1;
                }
                entry
            }
            Layout::Hashed(map) => {
                let mut inserted = false;
                let entry = map.entry(key.clone()).or_insert_with(|| {
                    inserted = true;
                    new(n)
                });
                *len += usize::from(inserted);
                entry
            }
        }
    }

    /// The entry of a key, if the customer is in the book.
    pub fn get(&self, key: &K) -> Option<&V> {
        match &self.layout {
            Layout::Hashed(map) => map.get(key),
            Layout::Direct { base, entries } => {
                let index = i128::from(key.id()?) - i128::from(*base);
                let entry = entries.get(usize::try_from(index).ok()?)?;
                (!entry.is_vacant()).then_some(entry)
            }
        }
    }

    /// Starts loading the entry of `key` into the cache, when the layout is direct (a
    /// hash map's slot is only known by probing).
    #[inline]
    pub fn prefetch(&self, key: &K) {
        if let (Layout::Direct { base, entries }, Some(id)) = (&self.layout, key.id()) {
            if let Some(entry) = usize::try_from(id.wrapping_sub(*base))
                .ok()
                .and_then(|i| entries.get(i))
            {
                super::prefetch::prefetch(entry);
            }
        }
    }

    /// Every customer with its entry, in no particular order.
    pub fn into_entries(self) -> Box<dyn Iterator<Item = (K, V)>>
    where
        K: 'static,
        V: 'static,
    {
        match self.layout {
            Layout::Hashed(map) => Box::new(map.into_iter()),
            Layout::Direct { base, entries } => Box::new(keyed(base, entries)),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        match &self.layout {
            Layout::Hashed(map) => map.capacity() * (std::mem::size_of::<(K, V)>() * 8 / 7 + 1),
            Layout::Direct { entries, .. } => entries.capacity() * std::mem::size_of::<V>(),
        }
    }

    /// Moves every customer to a hash map.
    fn hash_all(&mut self) {
        let Layout::Direct { base, entries } =
            std::mem::replace(&mut self.layout, Layout::Hashed(HashMap::default()))
        else {
            return;
        };
        let mut map = HashMap::with_capacity_and_hasher(self.len * 2, Default::default());
        map.extend(keyed(base, entries));
        self.considered_at = map.capacity();
        self.layout = Layout::Hashed(map);
    }

    /// Whether ids from `low` to `high` (inclusive) are dense enough to address directly.
    fn dense_enough(&self, low: i64, high: i64) -> bool {
        let span = i128::from(high) - i128::from(low) + 1;
        span <= MIN_DIRECT_SPAN.max(IDS_PER_CUSTOMER * (self.len as i128 + 1))
    }

    /// The hash map is full: move to the direct layout instead of growing it, if every
    /// key is an integer and the ids (with `next`) are dense enough.
    fn consider_direct(&mut self, next: i64) {
        let Layout::Hashed(map) = &self.layout else {
            return;
        };
        let Some((low, high)) = map.keys().try_fold((next, next), |(low, high), key| {
            let id = key.id()?;
            Some((low.min(id), high.max(id)))
        }) else {
            return;
        };
        if !self.dense_enough(low, high) {
            return;
        }
        let Layout::Hashed(map) =
            std::mem::replace(&mut self.layout, Layout::Hashed(HashMap::default()))
        else {
            return;
        };
        let span = (i128::from(high) - i128::from(low) + 1) as usize;
        let mut entries: Vec<V> = Vec::with_capacity(span);
        entries.resize_with(span, V::vacant);
        for (key, entry) in map {
            if let Some(id) = key.id() {
                entries[(i128::from(id) - i128::from(low)) as usize] = entry;
            }
        }
        self.layout = Layout::Direct { base: low, entries };
    }

    /// An id outside the direct layout's range: widen the range (with room to grow on
    /// that side) if it stays dense enough, else move every customer to a hash map.
    fn widen(&mut self, id: i64) {
        let Layout::Direct { base, entries } = &mut self.layout else {
            return;
        };
        let (low, high) = (*base, *base + (entries.len() as i64 - 1));
        let (low, high) = (low.min(id), high.max(id));
        if !self.dense_enough(low, high) {
            self.hash_all();
            return;
        }
        // Room for half as many more ids again on the side that grew, within the limit.
        let span = i128::from(high) - i128::from(low) + 1;
        let limit = MIN_DIRECT_SPAN.max(IDS_PER_CUSTOMER * (self.len as i128 + 1));
        let room = (span / 2).min(limit - span).max(0);
        let Layout::Direct { base, entries } = &mut self.layout else {
            return;
        };
        if id < *base {
            let low = (i128::from(id) - room).max(i128::from(i64::MIN)) as i64;
            let before = (i128::from(*base) - i128::from(low)) as usize;
            let mut grown: Vec<V> = Vec::with_capacity(before + entries.len());
            grown.resize_with(before, V::vacant);
            grown.append(entries);
            *entries = grown;
            *base = low;
        } else {
            let high = (i128::from(id) + room).min(i128::from(i64::MAX));
            let len = (high - i128::from(*base) + 1) as usize;
            entries.resize_with(len, V::vacant);
        }
    }
}

/// The customers of a direct layout from `base`, with their keys.
fn keyed<K: CustomerKey, V: BookEntry>(base: i64, entries: Vec<V>) -> impl Iterator<Item = (K, V)> {
    entries
        .into_iter()
        .enumerate()
        .filter(|(_, entry)| !entry.is_vacant())
        .filter_map(move |(i, entry)| Some((K::from_id(base.checked_add(i as i64)?)?, entry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Seen(u32);

    impl BookEntry for Seen {
        fn vacant() -> Self {
            Seen(u32::MAX)
        }
        fn is_vacant(&self) -> bool {
            self.0 == u32::MAX
        }
    }

    fn layout<K, V>(book: &CustomerBook<K, V>) -> &'static str {
        match book.layout {
            Layout::Hashed(_) => "hashed",
            Layout::Direct { .. } => "direct",
        }
    }

    /// Every key gets the number of its first appearance, whatever the layout the
    /// book is in when it comes back.
    fn check(keys: &[i64]) -> CustomerBook<i64, Seen> {
        let mut book = CustomerBook::<i64, Seen>::default();
        let mut first: HashMap<i64, u32> = HashMap::new();
        for key in keys {
            let next = first.len() as u32;
            let expected = *first.entry(*key).or_insert(next);
            let got = book.entry(key, |n| Seen(n as u32));
            assert_eq!(got.0, expected, "key {key}");
        }
        assert_eq!(book.len(), first.len());
        for (key, n) in &first {
            assert_eq!(book.get(key), Some(&Seen(*n)));
        }
        let mut all: Vec<(i64, Seen)> = entries_of(&book);
        all.sort_by_key(|(k, _)| *k);
        let mut expected: Vec<(i64, Seen)> = first.iter().map(|(k, n)| (*k, Seen(*n))).collect();
        expected.sort_by_key(|(k, _)| *k);
        assert_eq!(all, expected);
        book
    }

    fn entries_of(book: &CustomerBook<i64, Seen>) -> Vec<(i64, Seen)> {
        let copy = CustomerBook {
            layout: match &book.layout {
                Layout::Hashed(map) => Layout::Hashed(map.clone()),
                Layout::Direct { base, entries } => Layout::Direct {
                    base: *base,
                    entries: entries.clone(),
                },
            },
            len: book.len,
            considered_at: book.considered_at,
        };
        copy.into_entries().collect()
    }

    /// A deterministic shuffle of 0..n.
    fn scrambled(n: i64) -> impl Iterator<Item = i64> {
        (0..n).map(move |i| (i * 7_919) % n)
    }

    #[test]
    fn dense_ids_in_any_order_move_to_the_direct_layout() {
        let keys: Vec<i64> = scrambled(200_000).map(|i| 1_000_000 + i).collect();
        let repeated: Vec<i64> = keys.iter().chain(keys.iter().step_by(3)).copied().collect();
        let book = check(&repeated);
        assert_eq!(layout(&book), "direct");
    }

    #[test]
    fn ids_spread_thin_stay_hashed_and_a_far_id_moves_the_book_back() {
        let sparse: Vec<i64> = scrambled(100_000).map(|i| i * 1_000).collect();
        assert_eq!(layout(&check(&sparse)), "hashed");
        let mut keys: Vec<i64> = scrambled(100_000).collect();
        keys.extend([i64::MAX, i64::MIN, -5, 50]);
        keys.extend(scrambled(1_000));
        assert_eq!(layout(&check(&keys)), "hashed");
        // growing down and up from the middle stays direct
        let mut keys: Vec<i64> = (0..150_000).map(|i| 500_000 + i).collect();
        keys.extend((0..150_000).map(|i| 499_999 - i));
        assert_eq!(layout(&check(&keys)), "direct");
    }

    #[test]
    fn text_keys_are_hashed() {
        let mut book = CustomerBook::<String, Seen>::default();
        for i in 0..100_000 {
            book.entry(&format!("c{}", i % 70_000), |n| Seen(n as u32));
        }
        assert_eq!(book.len(), 70_000);
        assert_eq!(book.get(&"c5".to_owned()), Some(&Seen(5)));
        assert_eq!(layout(&book), "hashed");
    }
}
