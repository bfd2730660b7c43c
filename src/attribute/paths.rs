//! Distinct paths: one counting pass over the journeys that groups them by
//! their label sequence inside the look-back window, summing conversions,
//! nulls and revenue per path. Markov and `shapley_rate` work on these
//! (their cost then depends on distinct paths, not journeys; DESIGN §9).
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

impl DistinctPaths {
    /// Count the distinct paths of `journeys` (touches within `lookback_days`
    /// of the lead).
    pub fn count(journeys: &Journeys, lookback_days: f64) -> DistinctPaths {
        let mut out = DistinctPaths {
            offsets: vec![0],
            ..Default::default()
        };
        let mut index: PathMap<u32> = PathMap::default();
        let mut key: Vec<LabelId> = Vec::new();
        for j in &journeys.journeys {
            let touches = journeys.in_lookback(j, lookback_days);
            if touches.is_empty() {
                if j.conversions > 0.0 || j.revenue != 0.0 {
                    out.empty_conversions += j.conversions;
                    out.empty_revenue += j.revenue;
                }
                continue;
            }
            key.clear();
            key.extend(touches.iter().map(|t| t.label));
            let p = match index.get(key.as_slice()) {
                Some(&p) => p as usize,
                None => {
                    let p = out.conversions.len();
                    index.insert(key.as_slice().into(), p as u32);
                    out.steps.extend_from_slice(&key);
                    out.offsets.push(out.steps.len() as u32);
                    out.conversions.push(0.0);
                    out.nulls.push(0.0);
                    out.revenue.push(0.0);
                    p
                }
            };
            out.conversions[p] += j.conversions;
            out.nulls[p] += j.nulls;
            out.revenue[p] += j.revenue;
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
}
