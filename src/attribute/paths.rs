//! Distinct paths: one counting pass over the journeys that groups them by
//! their label sequence inside the look-back window, summing conversions,
//! nulls and revenue per path. Markov and `shapley_rate` work on these
//! (their cost then depends on distinct paths, not journeys; figures in BENCHMARKS.md).
//! Must never: name the world, the observation layer or the truth ledger.

use super::Journeys;
use crate::log::LabelId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for label sequences (8 bytes per multiply). Not for
/// untrusted input; iteration order never reaches output.
#[derive(Default, Clone, Copy)]
pub struct PathHasher(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl PathHasher {
    #[inline]
    fn mix(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(K);
    }
}

impl Hasher for PathHasher {
    fn finish(&self) -> u64 {
        // Spread the high bits (hashbrown uses the top 7 for its tags).
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(buf));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.mix(x);
    }
    fn write_u128(&mut self, x: u128) {
        self.mix(x as u64);
        self.mix((x >> 64) as u64);
    }
    fn write_usize(&mut self, x: usize) {
        self.mix(x as u64);
    }
}

/// A `HashMap` keyed by label sequences.
pub(crate) type PathMap<V> = HashMap<Box<[LabelId]>, V, BuildHasherDefault<PathHasher>>;

/// The distinct non-empty label sequences of a set of journeys, in order of
/// first appearance, with what the journeys sharing each one add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DistinctPaths {
    /// Labels of every distinct path, concatenated.
    pub steps: Vec<LabelId>,
    /// Path `p` is `steps[offsets[p]..offsets[p + 1]]`.
    pub offsets: Vec<u32>,
    /// Conversions per path.
    pub conversions: Vec<f64>,
    /// Non-converting journeys per path.
    pub nulls: Vec<f64>,
    /// Revenue per path.
    pub revenue: Vec<f64>,
    /// Conversions of journeys with no touch in the window (`unknown`'s).
    pub empty_conversions: f64,
    /// Revenue of journeys with no touch in the window.
    pub empty_revenue: f64,
}

/// Bits per label in a packed path or state key: label + 1 in each slot, 0
/// for "no label", and never all ones (so `u64::MAX` is free as a marker).
pub(crate) fn label_bits(n_labels: usize) -> u32 {
    // Need label + 1 <= n_labels < 2^bits - 1.
    (usize::BITS - (n_labels + 1).leading_zeros()).max(1)
}

/// Packed key of a path too long for a `u64`.
const LONG: u64 = u64::MAX;
/// Packed keys below this index a dense table in the counting pass.
const SMALL_KEYS: usize = 1 << 16;
/// Journeys per chunk of the parallel key pass (fixed: results never depend
/// on the thread count).
const CHUNK: usize = 1 << 14;

/// One distinct path found by a shard: its first journey and its sums.
struct Found {
    first: u32,
    key: u64,
    conversions: f64,
    nulls: f64,
    revenue: f64,
}

impl Found {
    fn new(first: usize, key: u64) -> Found {
        Found {
            first: first as u32,
            key,
            conversions: 0.0,
            nulls: 0.0,
            revenue: 0.0,
        }
    }
    fn add(&mut self, j: &super::Journey) {
        self.conversions += j.conversions;
        self.nulls += j.nulls;
        self.revenue += j.revenue;
    }
}

fn shard_of(key: u64, shards: usize) -> usize {
    let h = (key ^ (key >> 31)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    ((h >> 40) as usize) % shards
}

impl DistinctPaths {
    /// Count the distinct paths of `journeys` (touches within `lookback_days`
    /// of the lead). Paths are packed into integer keys in parallel, then
    /// each thread counts the keys of its hash shard; every path's sums are
    /// taken in journey order and paths are listed by first journey, so the
    /// result is the same for any thread count.
    pub fn count(journeys: &Journeys, lookback_days: f64) -> DistinctPaths {
        use rayon::prelude::*;
        let bits = label_bits(journeys.labels.len());
        let slots = (64 / bits) as usize;
        let js = &journeys.journeys;
        // Pass 1, by fixed chunks: packed keys; per chunk, what journeys
        // with no touch in the window carry and which paths are too long.
        let mut keys = vec![0u64; js.len()];
        let chunks: Vec<(f64, f64, Vec<u32>)> = keys
            .par_chunks_mut(CHUNK)
            .zip(js.par_chunks(CHUNK))
            .enumerate()
            .map(|(c, (keys, js))| {
                let (mut conversions, mut revenue, mut long) = (0.0, 0.0, Vec::new());
                for (i, (k, j)) in keys.iter_mut().zip(js).enumerate() {
                    let touches = journeys.in_lookback(j, lookback_days);
                    *k = if touches.is_empty() {
                        if j.conversions > 0.0 || j.revenue != 0.0 {
                            conversions += j.conversions;
                            revenue += j.revenue;
                        }
                        0
                    } else if touches.len() > slots {
                        long.push((c * CHUNK + i) as u32);
                        LONG
                    } else {
                        touches
                            .iter()
                            .fold(0u64, |k, t| (k << bits) | (t.label as u64 + 1))
                    };
                }
                (conversions, revenue, long)
            })
            .collect();
        // Pass 2: each thread counts the packed keys of its hash shard.
        let shards = rayon::current_num_threads().max(1);
        let keys = &keys;
        let mut found: Vec<Found> = (0..shards)
            .into_par_iter()
            .map(|shard| {
                // Short paths (most of them) index a dense table; the
                // rest a hash map.
                let mut small: Vec<u32> = vec![u32::MAX; SMALL_KEYS];
                let mut index: HashMap<u64, u32, BuildHasherDefault<PathHasher>> =
                    HashMap::default();
                let mut found: Vec<Found> = Vec::new();
                for (i, &k) in keys.iter().enumerate() {
                    if k == 0 || k == LONG || shard_of(k, shards) != shard {
                        continue;
                    }
                    let slot = if k < SMALL_KEYS as u64 {
                        &mut small[k as usize]
                    } else {
                        index.entry(k).or_insert(u32::MAX)
                    };
                    if *slot == u32::MAX {
                        *slot = found.len() as u32;
                        found.push(Found::new(i, k));
                    }
                    found[*slot as usize].add(&js[i]);
                }
                found
            })
            .flatten()
            .collect();
        // Paths too long to pack.
        let mut out = DistinctPaths::default();
        let mut long: PathMap<u32> = PathMap::default();
        let mut long_found: Vec<Found> = Vec::new();
        for (conversions, revenue, long_journeys) in &chunks {
            out.empty_conversions += conversions;
            out.empty_revenue += revenue;
            for &i in long_journeys {
                let j = &js[i as usize];
                let path: Vec<LabelId> = journeys
                    .in_lookback(j, lookback_days)
                    .iter()
                    .map(|t| t.label)
                    .collect();
                let f = *long.entry(path.into()).or_insert_with(|| {
                    long_found.push(Found::new(i as usize, LONG));
                    (long_found.len() - 1) as u32
                });
                long_found[f as usize].add(j);
            }
        }
        found.extend(long_found);
        // Each shard's list and the long list are sorted runs: a stable sort
        // merges them.
        found.sort_by_key(|f| f.first);
        out.offsets = Vec::with_capacity(found.len() + 1);
        out.offsets.push(0);
        let slot = (1u64 << bits) - 1;
        for f in &found {
            if f.key == LONG {
                let j = &js[f.first as usize];
                out.steps.extend(
                    journeys
                        .in_lookback(j, lookback_days)
                        .iter()
                        .map(|t| t.label),
                );
            } else {
                let len = (64 - f.key.leading_zeros()).div_ceil(bits);
                out.steps.extend(
                    (0..len)
                        .rev()
                        .map(|i| ((f.key >> (i * bits)) & slot) as LabelId - 1),
                );
            }
            out.offsets.push(out.steps.len() as u32);
            out.conversions.push(f.conversions);
            out.nulls.push(f.nulls);
            out.revenue.push(f.revenue);
        }
        out
    }

    /// Number of distinct paths.
    pub fn len(&self) -> usize {
        self.conversions.len()
    }

    /// True when no journey has a touch in the window.
    pub fn is_empty(&self) -> bool {
        self.conversions.is_empty()
    }

    /// The labels of path `p`.
    pub fn path(&self, p: usize) -> &[LabelId] {
        &self.steps[self.offsets[p] as usize..self.offsets[p + 1] as usize]
    }
}

/// Fewest journeys in a chunk of a [`fold_windows`] pass.
const FOLD_CHUNK: usize = 1 << 16;

/// Fold the touches inside the look-back window of every journey into
/// accumulators, one per fixed chunk of journeys (at least `min_chunk`), in
/// parallel, then merge the chunks' accumulators in chunk order. Chunks
/// depend only on the journeys and `min_chunk`, never on the thread count,
/// so neither does the result. Models that only need additive counts over
/// journeys (transition grams, label sets) use this instead of
/// [`DistinctPaths`]: no hashing, no allocation per journey.
pub(crate) fn fold_windows<A: Send>(
    journeys: &Journeys,
    lookback_days: f64,
    min_chunk: usize,
    init: impl Fn() -> A + Sync,
    add: impl Fn(&mut A, &super::Journey, &[super::Touch]) + Sync,
    mut merge: impl FnMut(&mut A, A),
) -> A {
    use rayon::prelude::*;
    let chunk = min_chunk.max(FOLD_CHUNK);
    let parts: Vec<A> = journeys
        .journeys
        .par_chunks(chunk)
        .map(|js| {
            let mut acc = init();
            for j in js {
                add(&mut acc, j, journeys.in_lookback(j, lookback_days));
            }
            acc
        })
        .collect();
    let mut parts = parts.into_iter();
    let mut acc = parts.next().unwrap_or_else(&init);
    for part in parts {
        merge(&mut acc, part);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::paths;

    #[test]
    fn journeys_sharing_a_path_are_summed() {
        let js = paths(
            &["a", "b"],
            &[
                ("a>b", 1.0, 5.0),
                ("a", 0.0, 0.0),
                ("a>b", 0.0, 0.0),
                ("", 1.0, 2.0),
                ("a>b", 1.0, 1.0),
                ("b>a", 1.0, 0.0),
            ],
        );
        let d = DistinctPaths::count(&js, 90.0);
        assert_eq!(d.len(), 3);
        assert_eq!(d.path(0), &[0, 1]);
        assert_eq!(d.path(1), &[0]);
        assert_eq!(d.path(2), &[1, 0]);
        assert_eq!(d.conversions, vec![2.0, 0.0, 1.0]);
        assert_eq!(d.nulls, vec![1.0, 1.0, 0.0]);
        assert_eq!(d.revenue, vec![6.0, 0.0, 0.0]);
        assert_eq!((d.empty_conversions, d.empty_revenue), (1.0, 2.0));
    }

    #[test]
    fn long_paths_are_counted_like_short_ones() {
        // 5 labels → 3 bits a label, 21 steps fit a key; 30 do not.
        let long: String = ["a", "b"].repeat(15).join(">");
        let longer = format!("{long}>a");
        let js = paths(
            &["a", "b"],
            &[
                (long.as_str(), 1.0, 1.0),
                ("a>b", 1.0, 0.0),
                (longer.as_str(), 0.0, 0.0),
                (long.as_str(), 0.0, 0.0),
                (longer.as_str(), 1.0, 4.0),
            ],
        );
        assert_eq!(label_bits(js.labels.len()), 3);
        let d = DistinctPaths::count(&js, 90.0);
        assert_eq!(d.len(), 3);
        assert_eq!(d.path(0).len(), 30);
        assert_eq!(d.path(2).len(), 31);
        assert_eq!(d.conversions, vec![1.0, 1.0, 1.0]);
        assert_eq!(d.nulls, vec![1.0, 0.0, 1.0]);
        assert_eq!(d.revenue, vec![1.0, 0.0, 4.0]);
    }

    #[test]
    fn the_count_does_not_depend_on_the_thread_count() {
        // Several chunks of journeys, short, long (> 16 steps) and empty.
        let names: Vec<String> = (0..9).map(|i| format!("c{i}")).collect();
        let labels: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut js = paths(&labels, &[]);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut touches = Vec::new();
        for _ in 0..3 * CHUNK + 77 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 23) as usize * ((x >> 8) % 3 == 0) as usize + (x >> 20) as usize % 3;
            touches.clear();
            touches.extend((0..len).map(|i| (i as i64, ((x >> (2 * i)) % 11) as LabelId)));
            let conv = ((x >> 40) % 4 == 0) as u8 as f64;
            let lead = (conv > 0.0).then_some(len as i64);
            js.push(&touches, lead, conv, conv * ((x >> 50) % 100) as f64);
        }
        let count_with = |threads: usize| {
            crate::attribute::tests::on_threads(threads, || DistinctPaths::count(&js, 90.0))
        };
        let one = count_with(1);
        assert!(one.len() > 1000 && one.empty_conversions > 0.0);
        assert!((0..one.len()).any(|p| one.path(p).len() > 16));
        assert_eq!(one, count_with(2));
        assert_eq!(one, count_with(3));
    }

    #[test]
    fn label_bits_leave_the_all_ones_slot_free() {
        for n in 1..300usize {
            let b = label_bits(n);
            assert!(n < (1usize << b) - 1, "{n}: {b}");
            assert!(
                b == 1 || n >= (1usize << (b - 1)) - 1,
                "{n}: {b} is not the least"
            );
        }
    }
}
