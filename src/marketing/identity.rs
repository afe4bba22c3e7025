//! Identity stitching: identifiers seen together (a cookie and a login, a guest order's
//! e-mail and a customer id) are one person. Connected components by union-find over
//! the (id_type, id) pairs of the edges, with the guards CDPs use against bad merges: a
//! blocklist of junk values, a per-type limit on identifiers per person (an edge that
//! would exceed it is refused and reported), and a priority of identifier types.
//!
//! A [`Graph`] takes edges batch by batch and keeps only the identifiers (numbered by
//! [`super::id_interner`]) and the union-find forest: without limits an edge is merged
//! as it comes, with limits the edges are kept as pairs of numbers and merged in a
//! fixed order at the end.
//!
//! Person ids are deterministic: a hash of the component's anchor (its identifier of the
//! highest-priority type, the smallest id among those), so the same graph gives the same
//! ids whatever order its edges come in. Given the previous run's assignments, a
//! component keeps the previous person id most of its identifiers had (the larger
//! component wins a merge), so ids stay stable as the graph grows.

use std::sync::atomic::{AtomicBool, Ordering};

use super::id_interner::{Interner, Key};
use super::prefetch::prefetch;
use super::FastMap;

/// How many identifiers ahead of the edge being merged their parents are prefetched.
const PREFETCH_AHEAD: usize = 16;

/// Values that are never identifiers of a person, whatever their type (compared
/// trimmed and lower-cased).
pub const JUNK_IDS: &[&str] = &[
    "",
    "unknown",
    "null",
    "none",
    "undefined",
    "n/a",
    "na",
    "-",
    "test@test.com",
    "test@example.com",
    "noreply@example.com",
    "no-reply@example.com",
];

/// The guards of one stitching run.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// At most this many identifiers of the type per person.
    pub max_ids_per_type: Vec<(String, u32)>,
    /// Identifier types from the most to the least trusted; the anchor of a person is
    /// of the first type present, and edges are merged in this order when limits apply.
    /// Types not listed come after, by name.
    pub priority: Vec<String>,
    /// Further values that are not identifiers (besides [`JUNK_IDS`]).
    pub blocklist: Vec<String>,
}

/// An identifier: its type and value.
pub type Id<'a> = (&'a str, &'a str);

/// An identifier with its own text: (type, value).
pub type OwnedId = (String, String);

/// Why an edge was not merged or an identifier left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The identifier is on the blocklist (or junk); edges touching it were ignored.
    Blocked(OwnedId),
    /// Merging the edge's two persons would give one of them more identifiers of
    /// `id_type` than `limit`.
    OverLimit {
        a: OwnedId,
        b: OwnedId,
        id_type: String,
        limit: u32,
    },
}

/// More distinct identifier types than a graph can number (65,536).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyTypes;

impl std::fmt::Display for TooManyTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than {} distinct identifier types", 1u32 << 16)
    }
}

impl std::error::Error for TooManyTypes {}

fn owned((t, v): Id<'_>) -> OwnedId {
    (t.to_owned(), v.to_owned())
}

/// The most identifiers [`Graph::expect_edges`] makes room for at once (about 4.5 GB of
/// address space); a larger graph grows its arrays as it goes.
const MAX_EXPECTED_IDS: usize = 1 << 28;

/// Edges made ready for a [`Graph`] by a [`Preparer`]: each identifier's type number
/// and table key, junk values set aside. Preparing is half of the work per edge and
/// needs nothing of the graph, so it can run on another thread.
#[derive(Debug, Default)]
pub struct Prepared {
    keys: Vec<Key>,
    /// The edge and side (0 or 1) of each key, in edge order.
    places: Vec<(u32, u8)>,
    /// Types first seen in this batch, in the order they were numbered.
    new_types: Vec<String>,
    /// Junk identifiers first seen in this batch.
    blocked: Vec<OwnedId>,
}

/// One side of an edge as a caller reads it: its type's name, a token equal only for
/// equal names when the caller has one for free (an Arrow string view of a short string
/// is the string itself), and its value.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub type_name: &'a str,
    pub type_token: Option<u128>,
    pub value: &'a str,
}

/// Prepares batches of edges for one graph ([`Graph::take_preparer`]): numbers the
/// identifier types, recognises junk values and hashes each identifier.
#[derive(Debug)]
pub struct Preparer {
    junk: Junk,
    types: Vec<String>,
    /// Type numbers by token (a handful: identifier types are few).
    tokens: Vec<(u128, u16)>,
    blocked: std::collections::HashSet<OwnedId>,
}

/// The most type tokens a [`Preparer`] remembers.
const MAX_TOKENS: usize = 16;

impl Preparer {
    fn new(rules: &Rules) -> Self {
        Self {
            junk: Junk::new(&rules.blocklist),
            types: Vec::new(),
            tokens: Vec::new(),
            blocked: std::collections::HashSet::new(),
        }
    }

    /// The number of `side`'s type, numbered when new.
    fn type_index(&mut self, side: &Side<'_>, new_types: &mut Vec<String>) -> Option<u16> {
        if let Some(token) = side.type_token {
            if let Some(&(_, t)) = self.tokens.iter().find(|(k, _)| *k == token) {
                return Some(t);
            }
        }
        let name = side.type_name;
        let t = match self.types.iter().position(|t| t == name) {
            Some(t) => t as u16,
            None => {
                let index = u16::try_from(self.types.len()).ok()?;
                self.types.push(name.to_owned());
                new_types.push(name.to_owned());
                index
            }
        };
        if let Some(token) = side.type_token.filter(|_| self.tokens.len() < MAX_TOKENS) {
            self.tokens.push((token, t));
        }
        Some(t)
    }

    /// One batch (a missing or junk side makes the other identifier a node of its own).
    ///
    /// # Errors
    /// An edge brings the 65,537th identifier type (the preparer then forgets the
    /// batch: the types and junk it saw are new again).
    pub fn prepare(&mut self, edges: &[Edge<'_>]) -> Result<Prepared, TooManyTypes> {
        self.prepare_sides(edges.len(), |e, side| {
            let (a, b) = &edges[e as usize];
            let (type_name, value) = if side == 0 { a } else { b }.as_ref()?;
            Some(Side {
                type_name,
                type_token: None,
                value,
            })
        })
    }

    /// A batch of `edges` edges whose sides are `side(edge, 0)` and `side(edge, 1)`
    /// (`None`: missing), as [`Preparer::prepare`] does.
    ///
    /// # Errors
    /// As [`Preparer::prepare`].
    pub fn prepare_sides<'v>(
        &mut self,
        edges: usize,
        side: impl Fn(u32, u8) -> Option<Side<'v>>,
    ) -> Result<Prepared, TooManyTypes> {
        let mut p = Prepared {
            keys: Vec::with_capacity(edges * 2),
            places: Vec::with_capacity(edges * 2),
            ..Prepared::default()
        };
        let (types_before, tokens_before) = (self.types.len(), self.tokens.len());
        for e in 0..edges as u32 {
            for s in [0u8, 1] {
                let Some(id) = side(e, s) else { continue };
                if self.junk.contains(id.value) {
                    let id = owned((id.type_name, id.value));
                    if !self.blocked.contains(&id) {
                        self.blocked.insert(id.clone());
                        p.blocked.push(id);
                    }
                    continue;
                }
                let Some(t) = self.type_index(&id, &mut p.new_types) else {
                    self.types.truncate(types_before);
                    self.tokens.truncate(tokens_before);
                    for id in &p.blocked {
                        self.blocked.remove(id);
                    }
                    return Err(TooManyTypes);
                };
                p.keys.push(Interner::key(t, id.value));
                p.places.push((e, s));
            }
        }
        Ok(p)
    }
}

/// The identifiers seen so far and how they connect: edges are added as they are read
/// (nothing of the input is kept but the identifiers' text), then [`Graph::finish`]
/// gives the persons.
#[derive(Debug)]
pub struct Graph {
    rules: Rules,
    ids: Interner,
    parent: Vec<u32>,
    size: Vec<u32>,
    /// The edges, kept only when limits decide their merge order; else they are merged
    /// as they come (components do not depend on the order).
    pairs: Option<Vec<(u32, u32)>>,
    blocked: Vec<OwnedId>,
    /// Prepares [`Graph::add_batch`]'s edges until taken to prepare them elsewhere.
    preparer: Option<Preparer>,
    numbers: Vec<u32>,
}

/// One batch of edges for [`Graph::add_batch`]: each side an identifier or nothing.
pub type Edge<'a> = (Option<Id<'a>>, Option<Id<'a>>);

impl Graph {
    pub fn new(rules: Rules) -> Self {
        let pairs = (!rules.max_ids_per_type.is_empty()).then(Vec::new);
        let preparer = Some(Preparer::new(&rules));
        Self {
            rules,
            ids: Interner::default(),
            parent: Vec::new(),
            size: Vec::new(),
            pairs,
            blocked: Vec::new(),
            preparer,
            numbers: Vec::new(),
        }
    }

    /// The graph's preparer, to prepare its edges on another thread and hand them to
    /// [`Graph::add_prepared`]; [`Graph::add_batch`] cannot be used after.
    ///
    /// # Panics
    /// Taken before.
    pub fn take_preparer(&mut self) -> Preparer {
        self.preparer.take().expect("the preparer is taken once")
    }

    /// Makes room for the identifiers of `edges` edges at once (at most two each), so
    /// the graph's arrays never copy themselves into fresh memory as they grow: room
    /// not filled is address space, not memory.
    pub fn expect_edges(&mut self, edges: usize) {
        let ids = edges.saturating_mul(2).min(MAX_EXPECTED_IDS);
        self.ids.expect(ids);
        let more = ids.saturating_sub(self.parent.len());
        if self.parent.try_reserve_exact(more).is_ok() {
            let _ = self.size.try_reserve_exact(more);
        }
    }

    /// Adds edges (a missing or junk side makes the other identifier a node of its own).
    ///
    /// # Errors
    /// An edge brings the 65,537th identifier type (the batch is then not merged).
    ///
    /// # Panics
    /// The preparer was taken ([`Graph::take_preparer`]).
    pub fn add_batch(&mut self, edges: &[Edge<'_>]) -> Result<(), TooManyTypes> {
        let preparer = self
            .preparer
            .as_mut()
            .expect("the graph prepares its edges");
        let prepared = preparer.prepare(edges)?;
        self.add_prepared(&prepared, |e, side| {
            let (a, b) = &edges[e as usize];
            let (_, v) = if side == 0 { a } else { b }.expect("a prepared side");
            v
        });
        Ok(())
    }

    /// Adds a batch prepared by this graph's preparer; `value(edge, side)` is the text
    /// of that side's identifier, asked for only when it is new.
    pub fn add_prepared<'v>(&mut self, prepared: &Prepared, value: impl Fn(u32, u8) -> &'v str) {
        for t in &prepared.new_types {
            self.ids.type_index(t);
        }
        self.blocked.extend(prepared.blocked.iter().cloned());
        let places = &prepared.places;
        let mut numbers = std::mem::take(&mut self.numbers);
        self.ids.intern(
            &prepared.keys,
            |i| {
                let (e, side) = places[i];
                value(e, side)
            },
            &mut numbers,
        );
        self.parent
            .extend(self.parent.len() as u32..self.ids.len() as u32);
        self.size.resize(self.ids.len(), 1);
        // Both sides of an edge are consecutive when both are identifiers.
        let mut i = 0;
        while i < numbers.len() {
            if let Some(&ahead) = numbers.get(i + PREFETCH_AHEAD) {
                prefetch(&self.parent[ahead as usize]);
            }
            let (edge, side) = places[i];
            if side == 0
                && i + 1 < numbers.len()
                && places[i + 1] == (edge, 1)
                && numbers[i] != numbers[i + 1]
            {
                let (a, b) = (numbers[i], numbers[i + 1]);
                match &mut self.pairs {
                    Some(pairs) => pairs.push((a.min(b), a.max(b))),
                    // Most edges repeat one already merged: both ends then point at
                    // the same root, and nothing else need be read.
                    None if self.parent[a as usize] == self.parent[b as usize] => {}
                    None => {
                        self.union(a, b);
                    }
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        self.numbers = numbers;
    }

    fn find(&mut self, mut n: u32) -> u32 {
        let mut root = n;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        while self.parent[n as usize] != root {
            let next = self.parent[n as usize];
            self.parent[n as usize] = root;
            n = next;
        }
        root
    }

    /// Joins the components of `a` and `b`; the root of the result.
    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        big
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + (self.parent.len() + self.size.len()) * 4
            + self.pairs.as_ref().map_or(0, |p| p.capacity() * 8)
    }

    /// The persons: `previous` holds the person ids of an earlier run. `None` when
    /// `stop` was set.
    pub fn finish<'p>(
        mut self,
        previous: impl IntoIterator<Item = (Id<'p>, i64)>,
        stop: &AtomicBool,
    ) -> Option<Persons> {
        let ranks = type_ranks(self.ids.types(), &self.rules.priority);
        let refusals = match self.pairs.take() {
            Some(pairs) => self.merge_within_limits(pairs, &ranks, stop)?,
            None => Vec::new(),
        };
        // The anchor of each component: its smallest identifier in the total order.
        // Once every identifier was looked up, `parent` holds each one's root.
        let n = self.ids.len();
        let mut anchor = std::mem::take(&mut self.size);
        for (i, a) in anchor.iter_mut().enumerate() {
            *a = i as u32;
        }
        for i in 0..n as u32 {
            if i % (1 << 20) == 0 && stop.load(Ordering::Relaxed) {
                return None;
            }
            let r = self.find(i);
            if order(&self.ids, &ranks, i, anchor[r as usize]).is_lt() {
                anchor[r as usize] = i;
            }
        }
        let roots = std::mem::take(&mut self.parent);
        let mut earlier: Vec<(u32, i64)> = Vec::new();
        for ((t, v), p) in previous {
            let Some(t) = self.ids.find_type(t) else {
                continue;
            };
            if let Some(node) = self.ids.lookup(&Interner::key(t, v)) {
                earlier.push((node, p));
            }
        }
        self.ids.stop_lookups();
        let mut person = person_ids(&self.ids, &ranks, &roots, &anchor, &earlier);
        drop(anchor);
        let mut merged: Vec<(i64, i64)> = earlier
            .iter()
            .map(|&(node, old)| (old, person[roots[node as usize] as usize]))
            .filter(|(old, new)| old != new)
            .collect();
        merged.sort_unstable();
        merged.dedup();
        // Each identifier's person id in its own place (a root's stays), so the output
        // column is this array rather than a copy.
        for i in 0..person.len() {
            person[i] = person[roots[i] as usize];
        }
        drop(roots);
        self.blocked.sort_unstable();
        let mut all: Vec<Refusal> = self.blocked.into_iter().map(Refusal::Blocked).collect();
        all.extend(refusals);
        Some(Persons {
            ids: self.ids,
            person,
            refusals: all,
            merged,
        })
    }

    /// Merges `pairs` trusted identifiers first, then by value (so any order of the
    /// input gives the same persons), refusing those that would exceed a limit.
    fn merge_within_limits(
        &mut self,
        mut pairs: Vec<(u32, u32)>,
        ranks: &[u32],
        stop: &AtomicBool,
    ) -> Option<Vec<Refusal>> {
        let limits: Vec<(u16, String, u32)> = self
            .rules
            .max_ids_per_type
            .iter()
            .filter_map(|(t, limit)| Some((self.ids.find_type(t)?, t.clone(), *limit)))
            .collect();
        if limits.is_empty() {
            for (a, b) in pairs {
                self.union(a, b);
            }
            return Some(Vec::new());
        }
        let ids = &self.ids;
        let mut canonical: Vec<u32> = (0..ids.len() as u32).collect();
        canonical.sort_unstable_by(|x, y| order(ids, ranks, *x, *y));
        let mut place = vec![0u32; canonical.len()];
        for (i, n) in canonical.iter().enumerate() {
            place[*n as usize] = i as u32;
        }
        let rank_at = |p: u32| ranks[ids.type_of(canonical[p as usize]) as usize];
        pairs.sort_unstable_by_key(|&(a, b)| {
            let (pa, pb) = (place[a as usize], place[b as usize]);
            let (lo, hi) = (pa.min(pb), pa.max(pb));
            // `lo` has the better-ranked type, since places follow ranks first.
            (u64::from(rank_at(hi)) << 32 | u64::from(lo), hi)
        });
        pairs.dedup();
        drop(place);
        drop(canonical);
        let k = limits.len();
        let mut counts = vec![0u32; ids.len() * k];
        for n in 0..ids.len() {
            let t = ids.type_of(n as u32);
            if let Some(j) = limits.iter().position(|(lt, _, _)| *lt == t) {
                counts[n * k + j] = 1;
            }
        }
        let mut refusals = Vec::new();
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            if i % (1 << 20) == 0 && stop.load(Ordering::Relaxed) {
                return None;
            }
            let (ra, rb) = (self.find(a), self.find(b));
            if ra == rb {
                continue;
            }
            let over = (0..k)
                .find(|j| counts[ra as usize * k + j] + counts[rb as usize * k + j] > limits[*j].2);
            if let Some(j) = over {
                // The better-ranked identifier first, whatever the input said.
                let (a, b) = if order(&self.ids, ranks, a, b).is_le() {
                    (a, b)
                } else {
                    (b, a)
                };
                refusals.push(Refusal::OverLimit {
                    a: owned(self.ids.id(a)),
                    b: owned(self.ids.id(b)),
                    id_type: limits[j].1.clone(),
                    limit: limits[j].2,
                });
                continue;
            }
            let root = self.union(a, b);
            let other = if root == ra { rb } else { ra };
            for j in 0..k {
                counts[root as usize * k + j] += counts[other as usize * k + j];
            }
        }
        Some(refusals)
    }
}

/// The persons of a graph: every identifier seen with its person id.
#[derive(Debug)]
pub struct Persons {
    ids: Interner,
    /// Each identifier's person id.
    person: Vec<i64>,
    /// Merges refused and identifiers left out, in a deterministic order.
    pub refusals: Vec<Refusal>,
    /// (earlier person id, person id now) of each earlier person whose identifiers now
    /// belong to another, in order.
    pub merged: Vec<(i64, i64)>,
}

impl Persons {
    /// The number of identifiers.
    pub fn len(&self) -> usize {
        self.person.len()
    }

    pub fn is_empty(&self) -> bool {
        self.person.is_empty()
    }

    /// Identifier `i` (in the order first seen).
    pub fn id(&self, i: usize) -> Id<'_> {
        self.ids.id(i as u32)
    }

    /// The total length of the identifiers' types and of their values.
    pub fn text_len(&self) -> (usize, usize) {
        let types = self.ids.types();
        let type_len = (0..self.ids.len() as u32)
            .map(|i| types[self.ids.type_of(i) as usize].len())
            .sum();
        (type_len, self.ids.value_len())
    }

    /// The person id of identifier `i`.
    pub fn person(&self, i: usize) -> i64 {
        self.person[i]
    }

    /// Each identifier's person id, in identifier order.
    pub fn into_person_ids(self) -> Vec<i64> {
        self.person
    }
}

/// The total order of identifiers: type rank, then value, then type name.
fn order(ids: &Interner, ranks: &[u32], x: u32, y: u32) -> std::cmp::Ordering {
    let (tx, ty) = (ids.type_of(x), ids.type_of(y));
    ranks[tx as usize]
        .cmp(&ranks[ty as usize])
        .then_with(|| ids.value_bytes(x).cmp(ids.value_bytes(y)))
        .then_with(|| ids.types()[tx as usize].cmp(&ids.types()[ty as usize]))
}

/// The rank of each identifier type: its place in `priority`, unlisted types after all
/// listed ones, in name order.
fn type_ranks(types: &[String], priority: &[String]) -> Vec<u32> {
    let mut unlisted: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !priority.iter().any(|p| p == t))
        .collect();
    unlisted.sort_unstable();
    types
        .iter()
        .map(|t| match priority.iter().position(|p| p == t) {
            Some(i) => i as u32,
            None => (priority.len() + unlisted.binary_search(&t.as_str()).unwrap_or(0)) as u32,
        })
        .collect()
}

/// Recognises junk values ([`JUNK_IDS`] and a blocklist) compared trimmed and
/// lower-cased. Every identifier of every edge passes here, so a value that has no
/// surrounding space and no junk value of its length is let through at once.
#[derive(Debug, Default)]
struct Junk {
    /// The junk values, trimmed, by their length in bytes.
    by_len: Vec<Vec<String>>,
}

impl Junk {
    fn new(blocklist: &[String]) -> Self {
        let mut junk = Junk::default();
        for value in JUNK_IDS
            .iter()
            .copied()
            .chain(blocklist.iter().map(String::as_str))
        {
            let value = value.trim();
            if junk.by_len.len() <= value.len() {
                junk.by_len.resize_with(value.len() + 1, Vec::new);
            }
            junk.by_len[value.len()].push(value.to_owned());
        }
        junk
    }

    fn contains(&self, id: &str) -> bool {
        let bytes = id.as_bytes();
        let spaced =
            |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii() || char::from(*b).is_whitespace());
        let id = if spaced(bytes.first()) || spaced(bytes.last()) {
            id.trim()
        } else {
            id
        };
        self.by_len
            .get(id.len())
            .is_some_and(|same_len| same_len.iter().any(|j| id.eq_ignore_ascii_case(j)))
    }
}

/// The person id of each root: the previous id most of its identifiers had (ties: the
/// smaller id), else the hash of its anchor; ids unique across components. A hash that
/// is taken is salted until free; when fresh anchors' hashes collide, the smaller anchor
/// keeps the unsalted one (so the ids depend only on the graph, not on its order).
fn person_ids(
    ids: &Interner,
    ranks: &[u32],
    roots: &[u32],
    anchor: &[u32],
    earlier: &[(u32, i64)],
) -> Vec<i64> {
    let n = roots.len();
    let mut person = vec![-1i64; n];
    let mut taken: FastMap<i64, u32> = FastMap::default();
    let before = |x: u32, y: u32| order(ids, ranks, anchor[x as usize], anchor[y as usize]);
    if !earlier.is_empty() {
        // Votes of each component for the previous ids of its identifiers.
        let mut votes: FastMap<(u32, i64), u32> = FastMap::default();
        for &(node, p) in earlier {
            *votes.entry((roots[node as usize], p)).or_default() += 1;
        }
        // Each previous id goes to the component holding most of its identifiers;
        // each component takes its best-held previous id.
        let mut best_holder: FastMap<i64, (u32, u32)> = FastMap::default();
        for (&(root, p), &count) in &votes {
            let e = best_holder.entry(p).or_insert((count, root));
            if count > e.0 || (count == e.0 && before(root, e.1).is_lt()) {
                *e = (count, root);
            }
        }
        let mut choice: FastMap<u32, (u32, i64)> = FastMap::default();
        for (&p, &(count, root)) in &best_holder {
            let e = choice.entry(root).or_insert((count, p));
            if count > e.0 || (count == e.0 && p < e.1) {
                *e = (count, p);
            }
        }
        for (root, (_, p)) in choice {
            person[root as usize] = p;
            taken.insert(p, root);
        }
    }
    // Fresh components whose anchor hash is free take it at once; those left (hashes
    // shared with another fresh anchor or already taken: rare) go in anchor order.
    let hash_of = |root: u32| {
        let (t, v) = ids.id(anchor[root as usize]);
        anchor_hash(t, v, 0)
    };
    let mut claims: Vec<(i64, u32)> = (0..n as u32)
        .filter(|&i| roots[i as usize] == i && person[i as usize] < 0)
        .map(|root| (hash_of(root), root))
        .collect();
    radsort::sort_by_key(&mut claims, |c| c.0);
    let mut contested: Vec<u32> = Vec::new();
    for group in claims.chunk_by(|x, y| x.0 == y.0) {
        let h = group[0].0;
        if group.len() == 1 && !taken.contains_key(&h) {
            person[group[0].1 as usize] = h;
        } else {
            contested.extend(group.iter().map(|c| c.1));
        }
    }
    if contested.is_empty() {
        return person;
    }
    for &(h, root) in &claims {
        if person[root as usize] == h {
            taken.insert(h, root);
        }
    }
    drop(claims);
    contested.sort_unstable_by(|x, y| before(*x, *y));
    for root in contested {
        let (t, v) = ids.id(anchor[root as usize]);
        let mut salt = 0u64;
        loop {
            let id = anchor_hash(t, v, salt);
            if let std::collections::hash_map::Entry::Vacant(e) = taken.entry(id) {
                e.insert(root);
                person[root as usize] = id;
                break;
            }
            salt += 1;
        }
    }
    person
}

/// A stable, positive 63-bit hash of an identifier (FNV-1a, then SplitMix64's
/// finaliser): fixed forever, since person ids are kept in warehouses and exports.
pub fn anchor_hash(id_type: &str, id: &str, salt: u64) -> i64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in id_type.bytes().chain([0u8]).chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    let mut z = h ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Stitches the edges `(type_a, id_a, type_b, id_b)` (a side may be missing: the other
    /// identifier is then a node of its own) into persons. `previous` holds the person ids
    /// of an earlier run. Returns `None` when `stop` was set.
    fn stitch<'a>(
        edges: impl IntoIterator<Item = Edge<'a>>,
        rules: &Rules,
        previous: &[(Id<'_>, i64)],
        stop: &AtomicBool,
    ) -> Option<Persons> {
        let mut graph = Graph::new(rules.clone());
        let edges: Vec<Edge<'a>> = edges.into_iter().collect();
        for chunk in edges.chunks(8192) {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            graph.add_batch(chunk).unwrap();
        }
        graph.finish(previous.iter().copied(), stop)
    }

    fn edges<'a>(
        list: &[(&'a str, &'a str, &'a str, &'a str)],
    ) -> Vec<(Option<Id<'a>>, Option<Id<'a>>)> {
        list.iter()
            .map(|&(ta, a, tb, b)| (Some((ta, a)), Some((tb, b))))
            .collect()
    }

    fn persons(s: &Persons) -> HashMap<OwnedId, i64> {
        (0..s.len())
            .map(|i| (owned(s.id(i)), s.person(i)))
            .collect()
    }

    fn key(t: &str, v: &str) -> OwnedId {
        owned((t, v))
    }

    const GRAPH: &[(&str, &str, &str, &str)] = &[
        ("cookie", "c1", "customer", "42"),
        ("cookie", "c2", "customer", "42"),
        ("email", "a@x.com", "customer", "42"),
        ("cookie", "c3", "email", "b@y.com"),
        ("cookie", "c4", "cookie", "c4"),
    ];

    #[test]
    fn identifiers_seen_together_are_one_person_whatever_the_order() {
        let stop = AtomicBool::new(false);
        let rules = Rules {
            priority: vec!["customer".into(), "email".into()],
            ..Rules::default()
        };
        let s = stitch(edges(GRAPH), &rules, &[], &stop).unwrap();
        let p = persons(&s);
        assert_eq!(p.len(), 7);
        assert_eq!(p[&key("cookie", "c1")], p[&key("email", "a@x.com")]);
        assert_eq!(p[&key("cookie", "c1")], anchor_hash("customer", "42", 0));
        assert_eq!(p[&key("cookie", "c3")], anchor_hash("email", "b@y.com", 0));
        assert_ne!(p[&key("cookie", "c4")], p[&key("cookie", "c3")]);
        let mut reversed = GRAPH.to_vec();
        reversed.reverse();
        let flipped: Vec<_> = reversed.iter().map(|&(a, b, c, d)| (c, d, a, b)).collect();
        assert_eq!(
            persons(&stitch(edges(&flipped), &rules, &[], &stop).unwrap()),
            p
        );
    }

    #[test]
    fn junk_is_blocked_and_limits_refuse_merges_deterministically() {
        let stop = AtomicBool::new(false);
        let graph = [
            ("email", "shared@corp.com", "customer", "1"),
            ("email", "shared@corp.com", "customer", "2"),
            ("cookie", "k", "email", "unknown"),
            ("cookie", "k", "customer", "2"),
        ];
        let rules = Rules {
            max_ids_per_type: vec![("customer".into(), 1)],
            priority: vec!["customer".into(), "email".into()],
            blocklist: Vec::new(),
        };
        let s = stitch(edges(&graph), &rules, &[], &stop).unwrap();
        let p = persons(&s);
        assert!(!p.contains_key(&key("email", "unknown")));
        assert_ne!(p[&key("customer", "1")], p[&key("customer", "2")]);
        // customer 1's edge is merged first (smaller value), customer 2's is refused.
        assert_eq!(
            p[&key("email", "shared@corp.com")],
            p[&key("customer", "1")]
        );
        assert_eq!(p[&key("cookie", "k")], p[&key("customer", "2")]);
        assert!(s
            .refusals
            .contains(&Refusal::Blocked(key("email", "unknown"))));
        assert!(s
            .refusals
            .iter()
            .any(|r| matches!(r, Refusal::OverLimit { id_type, .. } if id_type == "customer")));
        let mut reversed = graph.to_vec();
        reversed.reverse();
        let again = stitch(edges(&reversed), &rules, &[], &stop).unwrap();
        assert_eq!(persons(&again), p);
        assert_eq!(again.refusals, s.refusals);
    }

    #[test]
    fn a_growing_graph_keeps_the_larger_components_id() {
        let stop = AtomicBool::new(false);
        let rules = Rules::default();
        let before = [
            ("cookie", "z1", "cookie", "z2"),
            ("cookie", "z2", "cookie", "z3"),
        ];
        let first = stitch(edges(&before), &rules, &[], &stop).unwrap();
        let old = first.person(0);
        // A new identifier that sorts first joins, and a smaller person merges in.
        let after = [
            ("cookie", "z1", "cookie", "z2"),
            ("cookie", "z2", "cookie", "z3"),
            ("cookie", "a0", "cookie", "z1"),
            ("cookie", "b1", "cookie", "z3"),
        ];
        let previous: Vec<(Id<'_>, i64)> = (0..first.len())
            .map(|i| (first.id(i), first.person(i)))
            .collect();
        let second = stitch(edges(&after), &rules, &previous, &stop).unwrap();
        assert!((0..second.len()).all(|i| second.person(i) == old));
        // Without the previous run, the anchor (a0) decides.
        let fresh = stitch(edges(&after), &rules, &[], &stop).unwrap();
        assert!((0..fresh.len()).all(|i| fresh.person(i) == anchor_hash("cookie", "a0", 0)));
    }

    #[test]
    fn person_ids_are_fixed_values() {
        // Stored ids must not change across releases: FNV-1a of `customer\042`, then
        // SplitMix64's finaliser, shifted to 63 bits (computed independently in Python).
        assert_eq!(anchor_hash("customer", "42", 0), 6_733_463_103_430_523_787);
        assert_eq!(
            anchor_hash("email", "ann@x.com", 0),
            2_428_156_437_222_336_167
        );
        assert!(anchor_hash("customer", "42", 0) >= 0);
        assert_ne!(
            anchor_hash("customer", "42", 0),
            anchor_hash("customer", "42", 1)
        );
        assert_ne!(
            anchor_hash("customer", "4", 0),
            anchor_hash("customer4", "", 0)
        );
    }

    #[test]
    fn junk_is_recognised_trimmed_and_in_any_case_whatever_its_length() {
        let junk = Junk::new(&[" Shared@Example.org ".to_owned()]);
        for value in [
            "",
            "   ",
            " Unknown ",
            "NULL",
            "\u{2003}n/a\t",
            "TEST@example.com",
            "shared@example.ORG",
        ] {
            assert!(junk.contains(value), "{value:?} is junk");
        }
        // Same lengths as junk values, or junk inside: identifiers.
        for value in [
            "abcdef0123456789",
            "unknowns",
            "x-",
            "nonE1",
            "é",
            "a unknown",
        ] {
            assert!(!junk.contains(value), "{value:?} is an identifier");
        }
    }

    #[test]
    fn the_65537th_identifier_type_is_refused_not_a_panic() {
        let types: Vec<String> = (0..=u16::MAX as u32 + 1).map(|i| format!("t{i}")).collect();
        let rows: Vec<Edge<'_>> = types
            .iter()
            .map(|t| (Some((t.as_str(), "v")), None))
            .collect();
        let mut graph = Graph::new(Rules::default());
        let (fits, rest) = rows.split_at((1 << 16) - 6);
        assert_eq!(graph.add_batch(fits), Ok(()));
        // Junk, then seven new types: the last is the 65,537th.
        let mut over = vec![(Some(("t0", "unknown")), None)];
        over.extend_from_slice(rest);
        assert_eq!(graph.add_batch(&over), Err(TooManyTypes));
        // The refused batch left nothing behind: its first type is new again.
        assert_eq!(graph.add_batch(&rest[..1]), Ok(()));
        let persons = graph
            .finish(std::iter::empty(), &AtomicBool::new(false))
            .unwrap();
        assert_eq!(persons.len(), fits.len() + 1);
        assert_eq!(persons.id(persons.len() - 1), ("t65530", "v"));
        assert!(persons.refusals.is_empty(), "{:?}", persons.refusals);
    }
}
