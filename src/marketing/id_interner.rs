//! Numbers the distinct (type, value) identifiers of an identity graph 0, 1, 2, ... and
//! keeps their text once, in one byte arena. Lookups compare 96 bits of XXH3-128
//! fingerprints instead of text: an open-addressing table of 16-byte (fingerprint,
//! number) slots reads one cache line per identifier and never the text of earlier
//! batches (a chance collision of two different identifiers, about 10^-13 for 10^8 of
//! them, is far below a disk error), and
//! batches are looked up with the next slots prefetched, so hundreds of millions of
//! identifiers are numbered at memory speed. The table is [`SHARDS`] tables chosen by
//! fingerprint, each doubling on its own: a growing table never holds a copy of all
//! slots at once, and the memory a small shard frees is reused by the next to grow
//! (fresh pages, which the kernel must zero, cost as much as the lookups here).

use twox_hash::XxHash3_128;

use super::prefetch::prefetch;

/// The size of the arena's chunks: its pages are touched as values fill them.
const CHUNK: usize = 64 << 20;

/// The number of tables the slots are spread over (by the top bits of a fingerprint).
const SHARDS: usize = 256;

/// How far ahead of the identifier being numbered its table slot is prefetched.
const PREFETCH_AHEAD: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Slot {
    fingerprint: [u32; 3],
    /// The identifier's number, `EMPTY` in a free slot.
    node: u32,
}

const EMPTY: u32 = u32::MAX;

const FREE: Slot = Slot {
    fingerprint: [0, 0, 0],
    node: EMPTY,
};

/// The numbered identifiers (module header).
#[derive(Debug, Default)]
pub struct Interner {
    /// [`SHARDS`] open-addressing tables (empty until the first identifier).
    shards: Vec<Shard>,
    types: Vec<String>,
    node_type: Vec<u16>,
    /// The values, one after the other in chunks of [`CHUNK`] bytes (a longer value
    /// has a chunk of its own): filled, never moved, so a growing arena copies nothing.
    chunks: Vec<Vec<u8>>,
    /// Where each identifier's value ends: its chunk in the high 32 bits, the offset
    /// in the low ones. It starts where the previous value ends, or at 0 in a new chunk.
    ends: Vec<u64>,
    /// The values' total length.
    value_len: usize,
}

/// One of the tables: a power of two of slots, at most 3/4 used.
#[derive(Debug, Default)]
struct Shard {
    slots: Vec<Slot>,
    used: usize,
}

impl Shard {
    /// Doubles the table (or makes the first one).
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![FREE; capacity]);
        let mask = capacity - 1;
        for slot in old.into_iter().filter(|s| s.node != EMPTY) {
            let mut at = place(&slot.fingerprint, mask);
            while self.slots[at].node != EMPTY {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }
}

/// An identifier's place in the table: its fingerprint and type.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    fingerprint: [u32; 3],
    id_type: u16,
}

impl Interner {
    /// The number of identifiers.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The identifier types seen, by their index.
    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// The index of type `name`, added when new; `None` when it would be the
    /// 65,537th type.
    pub fn type_index(&mut self, name: &str) -> Option<u16> {
        match self.find_type(name) {
            Some(t) => Some(t),
            None => {
                let index = u16::try_from(self.types.len()).ok()?;
                self.types.push(name.to_owned());
                Some(index)
            }
        }
    }

    /// The index of type `name`, if seen.
    pub fn find_type(&self, name: &str) -> Option<u16> {
        self.types.iter().position(|t| t == name).map(|i| i as u16)
    }

    /// The table key of `value` of type `id_type`.
    pub fn key(id_type: u16, value: &str) -> Key {
        let h = XxHash3_128::oneshot_with_seed(u64::from(id_type), value.as_bytes());
        Key {
            fingerprint: [h as u32, (h >> 32) as u32, (h >> 64) as u32],
            id_type,
        }
    }

    /// The shard of `key` and its first slot there (the shard has slots).
    fn home(&self, key: &Key) -> (usize, usize) {
        let shard = shard_of(&key.fingerprint);
        (
            shard,
            place(&key.fingerprint, self.shards[shard].slots.len() - 1),
        )
    }

    /// Numbers each of `keys`, new identifiers after the known ones; `value(i)` is the
    /// text of `keys[i]`, asked for only when it is new.
    ///
    /// # Panics
    /// More than 4,294,967,294 identifiers.
    pub fn intern<'v>(
        &mut self,
        keys: &[Key],
        value: impl Fn(usize) -> &'v str,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        if self.shards.is_empty() {
            self.shards.resize_with(SHARDS, Shard::default);
            self.shards.iter_mut().for_each(Shard::grow);
        }
        for (i, key) in keys.iter().enumerate() {
            if let Some(ahead) = keys.get(i + PREFETCH_AHEAD) {
                let (shard, at) = self.home(ahead);
                prefetch(&self.shards[shard].slots[at]);
            }
            let shard = &mut self.shards[shard_of(&key.fingerprint)];
            if (shard.used + 1) * 4 > shard.slots.len() * 3 {
                shard.grow();
            }
            let mask = shard.slots.len() - 1;
            let mut at = place(&key.fingerprint, mask);
            loop {
                let slot = shard.slots[at];
                if slot.node == EMPTY {
                    let node = u32::try_from(self.ends.len())
                        .ok()
                        .filter(|n| *n != EMPTY)
                        .expect("fewer than 2^32 - 1 identifiers");
                    shard.slots[at] = Slot {
                        fingerprint: key.fingerprint,
                        node,
                    };
                    shard.used += 1;
                    self.push_value(value(i).as_bytes());
                    self.node_type.push(key.id_type);
                    out.push(node);
                    break;
                }
                if slot.fingerprint == key.fingerprint {
                    out.push(slot.node);
                    break;
                }
                at = (at + 1) & mask;
            }
        }
    }

    /// The number of an identifier, if known.
    pub fn lookup(&self, key: &Key) -> Option<u32> {
        if self.shards.is_empty() {
            return None;
        }
        let (shard, mut at) = self.home(key);
        let slots = &self.shards[shard].slots;
        let mask = slots.len() - 1;
        loop {
            let slot = slots[at];
            if slot.node == EMPTY {
                return None;
            }
            if slot.fingerprint == key.fingerprint {
                return Some(slot.node);
            }
            at = (at + 1) & mask;
        }
    }

    /// Makes room for up to `ids` identifiers at once, so the per-identifier arrays
    /// never copy themselves as they grow; untouched room costs no memory. Nothing
    /// happens when the system refuses that much address space.
    pub fn expect(&mut self, ids: usize) {
        let more = ids.saturating_sub(self.ends.len());
        if self.ends.try_reserve_exact(more).is_ok() {
            let _ = self.node_type.try_reserve_exact(more);
        }
    }

    /// Appends a new identifier's value to the arena.
    fn push_value(&mut self, value: &[u8]) {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= value.len());
        if !fits {
            self.chunks.push(Vec::with_capacity(CHUNK.max(value.len())));
        }
        let at = (self.chunks.len() - 1) as u64;
        let chunk = self.chunks.last_mut().expect("a chunk");
        chunk.extend_from_slice(value);
        let end = u32::try_from(chunk.len()).expect("identifiers shorter than 4 GiB");
        self.ends.push(at << 32 | u64::from(end));
        self.value_len += value.len();
    }

    /// The total length of the identifiers' values.
    pub fn value_len(&self) -> usize {
        self.value_len
    }

    /// Frees the lookup table once every identifier is numbered (the text stays).
    pub fn stop_lookups(&mut self) {
        self.shards = Vec::new();
    }

    /// The type index of identifier `node`.
    pub fn type_of(&self, node: u32) -> u16 {
        self.node_type[node as usize]
    }

    /// The value of identifier `node` as bytes (they sort as the text does).
    pub fn value_bytes(&self, node: u32) -> &[u8] {
        let n = node as usize;
        let (chunk, end) = (self.ends[n] >> 32, self.ends[n] as u32 as usize);
        let start = match n.checked_sub(1).map(|p| self.ends[p]) {
            Some(previous) if previous >> 32 == chunk => previous as u32 as usize,
            _ => 0,
        };
        &self.chunks[chunk as usize][start..end]
    }

    /// The value of identifier `node`.
    pub fn value(&self, node: u32) -> &str {
        // The arena holds only whole `&str` values, appended one after the other.
        std::str::from_utf8(self.value_bytes(node)).expect("identifier values are UTF-8")
    }

    /// Identifier `node` as (type, value).
    pub fn id(&self, node: u32) -> (&str, &str) {
        (&self.types[self.type_of(node) as usize], self.value(node))
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.slots.capacity())
            .sum::<usize>()
            * std::mem::size_of::<Slot>()
            + self.chunks.iter().map(Vec::len).sum::<usize>()
            + self.ends.len() * 8
            + self.node_type.len() * 2
    }
}

/// The shard of `fingerprint` (bits the place within a shard does not use).
fn shard_of(fingerprint: &[u32; 3]) -> usize {
    (fingerprint[2] >> (32 - SHARDS.trailing_zeros())) as usize
}

/// The first slot to look at for `fingerprint` in a table of `mask + 1` slots.
fn place(fingerprint: &[u32; 3], mask: usize) -> usize {
    ((u64::from(fingerprint[1]) << 32 | u64::from(fingerprint[0])) as usize) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_identifiers_get_one_number_and_types_keep_values_apart() {
        let mut ids = Interner::default();
        let (c, e) = (
            ids.type_index("cookie").unwrap(),
            ids.type_index("email").unwrap(),
        );
        let values: Vec<String> = (0..5000).map(|i| format!("v{}", i % 3000)).collect();
        let mut keys: Vec<Key> = values.iter().map(|v| Interner::key(c, v)).collect();
        keys.push(Interner::key(e, "v1"));
        let mut refs: Vec<&str> = values.iter().map(String::as_str).collect();
        refs.push("v1");
        let mut out = Vec::new();
        ids.intern(&keys, |i| refs[i], &mut out);
        assert_eq!(ids.len(), 3001);
        assert_eq!(out[1], out[3001]);
        assert_eq!(out[5000], 3000);
        assert_eq!(ids.id(out[5000]), ("email", "v1"));
        assert_eq!(ids.id(out[2999]), ("cookie", "v2999"));
        assert_eq!(ids.lookup(&Interner::key(c, "v17")), Some(17));
        assert_eq!(ids.lookup(&Interner::key(e, "v17")), None);
        ids.stop_lookups();
        assert_eq!(ids.value(17), "v17");
    }

    #[test]
    fn values_that_do_not_fit_their_chunk_start_the_next_and_longer_ones_get_their_own() {
        let mut ids = Interner::default();
        let t = ids.type_index("t").unwrap();
        let values: Vec<String> = [CHUNK / 2 + 1, 3, CHUNK / 2, CHUNK * 2, 5, 0]
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i}").repeat(*n))
            .collect();
        let keys: Vec<Key> = values.iter().map(|v| Interner::key(t, v)).collect();
        let mut out = Vec::new();
        ids.intern(&keys, |i| &values[i], &mut out);
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5]);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(ids.value(i as u32), v, "value {i}");
        }
        assert_eq!(ids.chunks.len(), 4);
        assert_eq!(
            ids.value_len(),
            values.iter().map(String::len).sum::<usize>()
        );
    }
}
