//! Identity stitching: identifiers seen together (a cookie and a login, a guest order's
//! e-mail and a customer id) are one person. Connected components by union-find over
//! the (id_type, id) pairs of the edges, with the guards CDPs use against bad merges: a
//! blocklist of junk values, a per-type limit on identifiers per person (an edge that
//! would exceed it is refused and reported), and a priority of identifier types.
//!
//! Person ids are deterministic: a hash of the component's anchor (its identifier of the
//! highest-priority type, the smallest id among those), so the same graph gives the same
//! ids whatever order its edges come in. Given the previous run's assignments, a
//! component keeps the previous person id most of its identifiers had (the larger
//! component wins a merge), so ids stay stable as the graph grows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::FastMap;

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

/// Why an edge was not merged or an identifier left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal<'a> {
    /// The identifier is on the blocklist (or junk); edges touching it were ignored.
    Blocked(Id<'a>),
    /// Merging the edge's two persons would give one of them more identifiers of
    /// `id_type` than `limit`.
    OverLimit {
        a: Id<'a>,
        b: Id<'a>,
        id_type: String,
        limit: u32,
    },
}

/// The persons of a graph.
#[derive(Debug)]
pub struct Stitched<'a> {
    /// Every identifier seen, with its person id.
    pub ids: Vec<(Id<'a>, i64)>,
    /// Merges refused and identifiers left out, in a deterministic order.
    pub refusals: Vec<Refusal<'a>>,
}

/// Interned identifiers and the union-find forest over them.
struct Forest<'a> {
    types: Vec<&'a str>,
    type_index: HashMap<&'a str, u32>,
    nodes: Vec<(u32, &'a str)>,
    index: FastMap<(u32, &'a str), u32>,
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl<'a> Forest<'a> {
    fn new() -> Self {
        Self {
            types: Vec::new(),
            type_index: HashMap::new(),
            nodes: Vec::new(),
            index: FastMap::default(),
            parent: Vec::new(),
            size: Vec::new(),
        }
    }

    fn node(&mut self, id_type: &'a str, id: &'a str) -> u32 {
        let next_type = self.types.len() as u32;
        let t = *self.type_index.entry(id_type).or_insert(next_type);
        if t == next_type {
            self.types.push(id_type);
        }
        let next = self.nodes.len() as u32;
        let n = *self.index.entry((t, id)).or_insert(next);
        if n == next {
            self.nodes.push((t, id));
            self.parent.push(n);
            self.size.push(1);
        }
        n
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

    fn id(&self, n: u32) -> Id<'a> {
        let (t, id) = self.nodes[n as usize];
        (self.types[t as usize], id)
    }
}

/// The rank of each identifier type: its place in `priority`, unlisted types after all
/// listed ones, in name order.
fn type_ranks(types: &[&str], priority: &[String]) -> Vec<u32> {
    let mut unlisted: Vec<&str> = types
        .iter()
        .copied()
        .filter(|t| !priority.iter().any(|p| p == t))
        .collect();
    unlisted.sort_unstable();
    types
        .iter()
        .map(|t| match priority.iter().position(|p| p == t) {
            Some(i) => i as u32,
            None => (priority.len() + unlisted.binary_search(t).unwrap_or(0)) as u32,
        })
        .collect()
}

fn is_junk(id: &str, blocklist: &[String]) -> bool {
    let id = id.trim();
    JUNK_IDS.iter().any(|j| id.eq_ignore_ascii_case(j))
        || blocklist.iter().any(|b| id.eq_ignore_ascii_case(b.trim()))
}

/// Stitches the edges `(type_a, id_a, type_b, id_b)` (a side may be missing: the other
/// identifier is then a node of its own) into persons. `previous` holds the person ids
/// of an earlier run. Returns `None` when `stop` was set.
pub fn stitch<'a>(
    edges: impl IntoIterator<Item = (Option<Id<'a>>, Option<Id<'a>>)>,
    rules: &Rules,
    previous: &[(Id<'_>, i64)],
    stop: &AtomicBool,
) -> Option<Stitched<'a>> {
    let mut forest = Forest::new();
    let mut blocked: Vec<Id<'a>> = Vec::new();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut side = |forest: &mut Forest<'a>, id: Option<Id<'a>>| -> Option<u32> {
        let (t, v) = id?;
        if is_junk(v, &rules.blocklist) {
            blocked.push((t, v));
            return None;
        }
        Some(forest.node(t, v))
    };
    for (i, (a, b)) in edges.into_iter().enumerate() {
        if i % (1 << 20) == 0 && stop.load(Ordering::Relaxed) {
            return None;
        }
        let a = side(&mut forest, a);
        let b = side(&mut forest, b);
        if let (Some(a), Some(b)) = (a, b) {
            if a != b {
                pairs.push((a.min(b), a.max(b)));
            }
        }
    }
    let ranks = type_ranks(&forest.types, &rules.priority);
    // Total order of identifiers: type rank, then value, then type name.
    let key = |f: &Forest<'a>, n: u32| {
        let (t, v) = f.nodes[n as usize];
        (ranks[t as usize], v, f.types[t as usize])
    };

    let mut refusals = Vec::new();
    let limits: Vec<(u32, &str, u32)> = rules
        .max_ids_per_type
        .iter()
        .filter_map(|(t, limit)| Some((*forest.type_index.get(t.as_str())?, t.as_str(), *limit)))
        .collect();
    if limits.is_empty() {
        for (a, b) in pairs {
            union(&mut forest, a, b);
        }
    } else {
        // Merge order decides which edge a limit refuses: trusted identifiers first,
        // then by value, so any order of the input gives the same persons.
        let mut canonical: Vec<u32> = (0..forest.nodes.len() as u32).collect();
        canonical.sort_unstable_by(|x, y| key(&forest, *x).cmp(&key(&forest, *y)));
        let mut place = vec![0u32; canonical.len()];
        for (i, n) in canonical.iter().enumerate() {
            place[*n as usize] = i as u32;
        }
        let edge_key = |&(a, b): &(u32, u32)| {
            let (pa, pb) = (place[a as usize], place[b as usize]);
            let (lo, hi) = (pa.min(pb), pa.max(pb));
            // `lo` has the better-ranked type, since places follow ranks first.
            (
                u64::from(hi_rank(&forest, &ranks, &canonical, hi)) << 32 | u64::from(lo),
                hi,
            )
        };
        pairs.sort_unstable_by_key(edge_key);
        pairs.dedup();
        let k = limits.len();
        let mut counts = vec![0u32; forest.nodes.len() * k];
        for (n, (t, _)) in forest.nodes.iter().enumerate() {
            if let Some(j) = limits.iter().position(|(lt, _, _)| lt == t) {
                counts[n * k + j] = 1;
            }
        }
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            if i % (1 << 20) == 0 && stop.load(Ordering::Relaxed) {
                return None;
            }
            let (ra, rb) = (forest.find(a), forest.find(b));
            if ra == rb {
                continue;
            }
            let over = (0..k)
                .find(|j| counts[ra as usize * k + j] + counts[rb as usize * k + j] > limits[*j].2);
            if let Some(j) = over {
                // The better-ranked identifier first, whatever the input said.
                let (a, b) = if key(&forest, a) <= key(&forest, b) {
                    (a, b)
                } else {
                    (b, a)
                };
                refusals.push(Refusal::OverLimit {
                    a: forest.id(a),
                    b: forest.id(b),
                    id_type: limits[j].1.to_owned(),
                    limit: limits[j].2,
                });
                continue;
            }
            let root = union(&mut forest, a, b);
            let other = if root == ra { rb } else { ra };
            for j in 0..k {
                counts[root as usize * k + j] += counts[other as usize * k + j];
            }
        }
    }

    // The anchor of each component: its smallest identifier in the total order.
    let n = forest.nodes.len();
    let mut anchor: Vec<u32> = (0..n as u32).collect();
    let mut roots = vec![0u32; n];
    for i in 0..n as u32 {
        let r = forest.find(i);
        roots[i as usize] = r;
        if key(&forest, i) < key(&forest, anchor[r as usize]) {
            anchor[r as usize] = i;
        }
    }
    let person = person_ids(&forest, &roots, &anchor, previous, &key);

    blocked.sort_unstable();
    blocked.dedup();
    let mut all: Vec<Refusal<'a>> = blocked.into_iter().map(Refusal::Blocked).collect();
    all.extend(refusals);
    Some(Stitched {
        ids: (0..n)
            .map(|i| (forest.id(i as u32), person[roots[i] as usize]))
            .collect(),
        refusals: all,
    })
}

/// The rank of the identifier at canonical place `place`.
fn hi_rank(forest: &Forest<'_>, ranks: &[u32], canonical: &[u32], place: u32) -> u32 {
    let (t, _) = forest.nodes[canonical[place as usize] as usize];
    ranks[t as usize]
}

/// Joins the components of `a` and `b`; the root of the result.
fn union(forest: &mut Forest<'_>, a: u32, b: u32) -> u32 {
    let (ra, rb) = (forest.find(a), forest.find(b));
    if ra == rb {
        return ra;
    }
    let (big, small) = if forest.size[ra as usize] >= forest.size[rb as usize] {
        (ra, rb)
    } else {
        (rb, ra)
    };
    forest.parent[small as usize] = big;
    forest.size[big as usize] += forest.size[small as usize];
    big
}

/// The person id of each root: the previous id most of its identifiers had (ties: the
/// smaller id), else the hash of its anchor; ids unique across components (a hash that
/// is taken is salted until free, the smaller anchor keeping the unsalted one).
fn person_ids<'a, K: Ord>(
    forest: &Forest<'a>,
    roots: &[u32],
    anchor: &[u32],
    previous: &[(Id<'_>, i64)],
    key: &impl Fn(&Forest<'a>, u32) -> K,
) -> Vec<i64> {
    let n = roots.len();
    let mut person = vec![-1i64; n];
    let mut taken: FastMap<i64, u32> = FastMap::default();
    if !previous.is_empty() {
        // Votes of each component for the previous ids of its identifiers.
        let mut votes: FastMap<(u32, i64), u32> = FastMap::default();
        for ((t, v), p) in previous {
            let Some(&ti) = forest.type_index.get(t) else {
                continue;
            };
            if let Some(&node) = forest.index.get(&(ti, *v)) {
                *votes.entry((roots[node as usize], *p)).or_default() += 1;
            }
        }
        // Each previous id goes to the component holding most of its identifiers;
        // each component takes its best-held previous id.
        let mut best_holder: FastMap<i64, (u32, u32)> = FastMap::default();
        for (&(root, p), &count) in &votes {
            let e = best_holder.entry(p).or_insert((count, root));
            if count > e.0
                || (count == e.0
                    && key(forest, anchor[root as usize]) < key(forest, anchor[e.1 as usize]))
            {
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
    let mut fresh: Vec<u32> = (0..n as u32)
        .filter(|&i| roots[i as usize] == i && person[i as usize] < 0)
        .collect();
    fresh.sort_unstable_by(|x, y| {
        key(forest, anchor[*x as usize]).cmp(&key(forest, anchor[*y as usize]))
    });
    for root in fresh {
        let (t, v) = forest.id(anchor[root as usize]);
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

    fn edges<'a>(
        list: &[(&'a str, &'a str, &'a str, &'a str)],
    ) -> Vec<(Option<Id<'a>>, Option<Id<'a>>)> {
        list.iter()
            .map(|&(ta, a, tb, b)| (Some((ta, a)), Some((tb, b))))
            .collect()
    }

    fn persons<'a>(s: &Stitched<'a>) -> HashMap<Id<'a>, i64> {
        s.ids.iter().copied().collect()
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
        assert_eq!(p[&("cookie", "c1")], p[&("email", "a@x.com")]);
        assert_eq!(p[&("cookie", "c1")], anchor_hash("customer", "42", 0));
        assert_eq!(p[&("cookie", "c3")], anchor_hash("email", "b@y.com", 0));
        assert_ne!(p[&("cookie", "c4")], p[&("cookie", "c3")]);
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
        assert!(!p.contains_key(&("email", "unknown")));
        assert_ne!(p[&("customer", "1")], p[&("customer", "2")]);
        // customer 1's edge is merged first (smaller value), customer 2's is refused.
        assert_eq!(p[&("email", "shared@corp.com")], p[&("customer", "1")]);
        assert_eq!(p[&("cookie", "k")], p[&("customer", "2")]);
        assert!(s.refusals.contains(&Refusal::Blocked(("email", "unknown"))));
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
        let old = first.ids[0].1;
        // A new identifier that sorts first joins, and a smaller person merges in.
        let after = [
            ("cookie", "z1", "cookie", "z2"),
            ("cookie", "z2", "cookie", "z3"),
            ("cookie", "a0", "cookie", "z1"),
            ("cookie", "b1", "cookie", "z3"),
        ];
        let previous: Vec<(Id<'_>, i64)> = first.ids.clone();
        let second = stitch(edges(&after), &rules, &previous, &stop).unwrap();
        assert!(second.ids.iter().all(|(_, p)| *p == old));
        // Without the previous run, the anchor (a0) decides.
        let fresh = stitch(edges(&after), &rules, &[], &stop).unwrap();
        assert!(fresh
            .ids
            .iter()
            .all(|(_, p)| *p == anchor_hash("cookie", "a0", 0)));
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
}
