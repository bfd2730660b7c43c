//! `shapley_rate` (docs/model.md §4.4; our choices: docs/models.md): v(S) = conversion rate of the journeys whose
//! label set (distinct labels in the look-back window) is exactly S —
//! conversions / (conversions + non-converting journeys) — and 0 for a set
//! never observed (v(∅) = 0). Each observed set T with conversions or
//! revenue splits them among its labels in proportion to the Shapley values
//! of v restricted to the subsets of T, negatives floored at 0, equally if
//! none is positive. Journeys with no touch in the window credit `unknown`.
//!
//! **Our choices, not the published method.** The Shapley value of the game
//! restricted to T sums to v(T) (a rate, not T's conversions) and can be
//! negative: a label whose presence lowers the observed rate. Two steps are
//! this crate's, not part of the Shapley value or of the papers it follows:
//! (1) negative values are floored at 0 (no label is paid negative
//! conversions), and (2) each converting set's floored values are
//! renormalised to that set's own conversions and revenue (credit is split
//! per set, not by one Shapley value per label over the whole game). Both
//! make the model conserve conversions set by set; neither is in the method
//! as published.
//!
//! **Exact for any set size.** v is zero off the observed sets, so with
//! m = |T| and w(s) = s! (m − 1 − s)! / m!,
//! φ_i = Σ_{S ⊆ T, S observed} v(S) · (w(|S| − 1) if i ∈ S, else −w(|S|)),
//! the usual Shapley sum with the unobserved terms (all zero) left out. The
//! observed subsets of T are found by enumerating T's 2^m subsets when that
//! is fewer than the observed sets, else by scanning the observed sets, so a
//! set costs O(min(2^m, #sets) · m) and no size needs a limit or an error.
//! The full 2^m enumeration is the test oracle. With at most 16 labels the
//! sets are counted straight from the journeys as bit masks into dense
//! per-chunk tables (added in chunk order); otherwise from distinct paths.
//! Must never: name the world, the observation layer or the truth ledger.

use super::paths::PathMap;
use super::{
    Attributor, DEFAULT_LOOKBACK_DAYS, DistinctPaths, Journeys, LOOKBACK, PathHasher, credit_from,
};
use crate::base::credit::Credit;
use crate::log::LabelId;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Shapley value of the "conversion rate of exactly S" game, per converting set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct ShapleyRate {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

/// One observed label set with what its journeys add up to.
pub(crate) struct SetStats {
    /// The set's labels, sorted.
    pub(crate) labels: Box<[LabelId]>,
    /// Conversions of its journeys.
    pub(crate) conversions: f64,
    /// Its journeys: conversions + non-converting journeys.
    pub(crate) journeys: f64,
    /// Revenue of its journeys.
    pub(crate) revenue: f64,
}

/// The observed label sets of the distinct paths, in order of first
/// appearance (so the order never depends on how labels are numbered).
pub(crate) fn label_sets(paths: &DistinctPaths, n_labels: usize) -> Vec<SetStats> {
    let mut by_mask: HashMap<u128, u32, BuildHasherDefault<PathHasher>> = HashMap::default();
    let mut by_labels: PathMap<u32> = PathMap::default();
    let mut sets: Vec<SetStats> = Vec::new();
    let mut key: Vec<LabelId> = Vec::new();
    for p in 0..paths.len() {
        let path = paths.path(p);
        let new_set = |sets: &mut Vec<SetStats>| {
            let mut key: Vec<LabelId> = path.to_vec();
            key.sort_unstable();
            key.dedup();
            sets.push(SetStats {
                labels: key.into(),
                conversions: 0.0,
                journeys: 0.0,
                revenue: 0.0,
            });
            (sets.len() - 1) as u32
        };
        // A bit mask finds the set when labels fit in 128 bits.
        let i = if n_labels <= 128 {
            let mask = path.iter().fold(0u128, |m, &l| m | 1 << l);
            *by_mask.entry(mask).or_insert_with(|| new_set(&mut sets))
        } else {
            key.clear();
            key.extend_from_slice(path);
            key.sort_unstable();
            key.dedup();
            match by_labels.get(key.as_slice()) {
                Some(&i) => i,
                None => {
                    let i = new_set(&mut sets);
                    by_labels.insert(key.as_slice().into(), i);
                    i
                }
            }
        } as usize;
        let s = &mut sets[i];
        s.conversions += paths.conversions[p];
        s.journeys += paths.conversions[p] + paths.nulls[p];
        s.revenue += paths.revenue[p];
    }
    sets
}

/// Most labels for which sets are counted straight from the journeys, as
/// bit masks indexing a dense table (2^labels entries per chunk).
const DIRECT_SET_LABELS: usize = 16;

/// Per label-set mask: conversions, journeys, revenue; and what journeys
/// with no touch in the window carry (conversions, revenue).
#[derive(Clone)]
struct SetCounts {
    by_mask: Vec<[f64; 3]>,
    empty: [f64; 2],
}

/// The observed label sets counted straight from the journeys (no distinct
/// paths, no hashing), by ascending mask, with the conversions and revenue
/// of journeys with no touch in the window; `None` for too many labels.
fn label_sets_direct(journeys: &Journeys, lookback_days: f64) -> Option<(Vec<SetStats>, f64, f64)> {
    let n_labels = journeys.labels.len();
    if n_labels > DIRECT_SET_LABELS {
        return None;
    }
    let init = || SetCounts {
        by_mask: vec![[0.0; 3]; 1 << n_labels],
        empty: [0.0; 2],
    };
    let counts = super::paths::fold_windows(
        journeys,
        lookback_days,
        4 << n_labels,
        init,
        |acc: &mut SetCounts, j, touches| {
            if touches.is_empty() {
                acc.empty[0] += j.conversions;
                acc.empty[1] += j.revenue;
                return;
            }
            let mask = touches.iter().fold(0usize, |m, t| m | 1 << t.label);
            let e = &mut acc.by_mask[mask];
            e[0] += j.conversions;
            e[1] += j.conversions + j.nulls;
            e[2] += j.revenue;
        },
        |acc, other| {
            for (a, b) in acc.by_mask.iter_mut().zip(&other.by_mask) {
                (0..3).for_each(|i| a[i] += b[i]);
            }
            acc.empty[0] += other.empty[0];
            acc.empty[1] += other.empty[1];
        },
    );
    let sets = counts
        .by_mask
        .iter()
        .enumerate()
        .filter(|(_, e)| e.iter().any(|&x| x != 0.0))
        .map(|(mask, e)| SetStats {
            labels: (0..n_labels as LabelId)
                .filter(|&l| mask >> l & 1 == 1)
                .collect(),
            conversions: e[0],
            journeys: e[1],
            revenue: e[2],
        })
        .collect();
    Some((sets, counts.empty[0], counts.empty[1]))
}

/// Positions in `t` of the members of `s`, if `s ⊆ t` (both sorted).
fn positions_in(s: &[LabelId], t: &[LabelId]) -> Option<Vec<usize>> {
    let mut members = Vec::with_capacity(s.len());
    let mut j = 0usize;
    for &x in s {
        while j < t.len() && t[j] < x {
            j += 1;
        }
        if j == t.len() || t[j] != x {
            return None;
        }
        members.push(j);
        j += 1;
    }
    Some(members)
}

/// Shapley values (rates in 0..=1) within this of 0 are rounding noise and
/// count as 0, so a set whose values are all 0 in exact arithmetic splits
/// evenly whichever way the sums were ordered.
const ZERO_TOLERANCE: f64 = 1e-12;

/// Negatives (and rounding noise) floored at 0, then normalised to shares;
/// an even split when nothing is positive.
pub(crate) fn floor_and_normalise(phi: &mut [f64]) {
    phi.iter_mut()
        .for_each(|p| *p = if *p > ZERO_TOLERANCE { *p } else { 0.0 });
    let total: f64 = phi.iter().sum();
    if total > 0.0 {
        phi.iter_mut().for_each(|p| *p /= total);
    } else {
        phi.fill(1.0 / phi.len() as f64);
    }
}

/// Shapley values over the labels of `t` (sorted) for a game that is `v`
/// on the listed subsets (member masks) and 0 elsewhere.
fn shapley_sparse(m: usize, terms: &[(Vec<usize>, f64)]) -> Vec<f64> {
    // w(s) = 1 / (m · C(m − 1, s)).
    let mut w = vec![0.0f64; m];
    let mut binom = 1.0f64;
    for (s, ws) in w.iter_mut().enumerate() {
        *ws = 1.0 / (m as f64 * binom);
        binom = binom * (m - 1 - s) as f64 / (s + 1) as f64;
    }
    let mut phi = vec![0.0f64; m];
    let mut member = vec![false; m];
    for (members, v) in terms {
        let k = members.len();
        members.iter().for_each(|&i| member[i] = true);
        for (i, p) in phi.iter_mut().enumerate() {
            if member[i] {
                *p += v * w[k - 1];
            } else if k < m {
                *p -= v * w[k];
            }
        }
        members.iter().for_each(|&i| member[i] = false);
    }
    phi
}

impl ShapleyRate {
    /// Shares of each label of set `t` (sorted) in its conversions.
    fn shares(&self, t: &[LabelId], sets: &[SetStats], rates: &PathMap<f64>) -> Vec<f64> {
        let m = t.len();
        let mut terms: Vec<(Vec<usize>, f64)> = Vec::new();
        let enumerate = m < 63 && (1u64 << m) <= sets.len() as u64;
        if enumerate {
            let mut key: Vec<LabelId> = Vec::with_capacity(m);
            for mask in 1u64..1 << m {
                key.clear();
                key.extend((0..m).filter(|&i| mask >> i & 1 == 1).map(|i| t[i]));
                if let Some(&v) = rates.get(key.as_slice())
                    && v != 0.0
                {
                    terms.push(((0..m).filter(|&i| mask >> i & 1 == 1).collect(), v));
                }
            }
        } else {
            for s in sets {
                let v = rates[&s.labels];
                if v != 0.0
                    && let Some(members) = positions_in(&s.labels, t)
                {
                    terms.push((members, v));
                }
            }
        }
        let mut phi = shapley_sparse(m, &terms);
        floor_and_normalise(&mut phi);
        phi
    }
}

impl Strategy for ShapleyRate {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "shapley_rate",
        summary: "Shapley value of the conversion rate of each exact channel set, per converting set; our choices, not the published method: negative values floored at 0, each converting set's values renormalised to its conversions",
        params: &[LOOKBACK],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = ShapleyRate {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for ShapleyRate {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        let counted = label_sets_direct(journeys, self.lookback_days)
            .unwrap_or_else(|| self.label_sets_of_paths(journeys));
        self.credit(journeys, counted)
    }
}

impl ShapleyRate {
    /// The observed label sets from the distinct paths (any label count).
    fn label_sets_of_paths(&self, journeys: &Journeys) -> (Vec<SetStats>, f64, f64) {
        let paths = DistinctPaths::count(journeys, self.lookback_days);
        let sets = label_sets(&paths, journeys.labels.len());
        (sets, paths.empty_conversions, paths.empty_revenue)
    }

    /// Credit from the observed sets and what journeys with no touch carry.
    fn credit(
        &self,
        journeys: &Journeys,
        (sets, empty_conversions, empty_revenue): (Vec<SetStats>, f64, f64),
    ) -> Credit {
        let n_labels = journeys.labels.len();
        let mut rates: PathMap<f64> = PathMap::default();
        for s in &sets {
            let v = if s.journeys > 0.0 {
                s.conversions / s.journeys
            } else {
                0.0
            };
            rates.insert(s.labels.clone(), v);
        }
        let mut conv = vec![0.0; n_labels];
        let mut rev = vec![0.0; n_labels];
        conv[journeys.unknown as usize] += empty_conversions;
        rev[journeys.unknown as usize] += empty_revenue;
        for t in sets
            .iter()
            .filter(|s| s.conversions > 0.0 || s.revenue != 0.0)
        {
            let shares = self.shares(&t.labels, &sets, &rates);
            for (&l, share) in t.labels.iter().zip(&shares) {
                conv[l as usize] += t.conversions * share;
                rev[l as usize] += t.revenue * share;
            }
        }
        credit_from(journeys, &conv, &rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};
    use proptest::prelude::*;

    #[test]
    fn direct_set_counts_agree_with_distinct_paths_for_any_thread_count() {
        let js = crate::attribute::tests::random_journeys(3 * (1 << 16) + 77, 9);
        let model = ShapleyRate {
            lookback_days: 90.0,
        };
        let with =
            |threads: usize| crate::attribute::tests::on_threads(threads, || model.attribute(&js));
        let direct = with(1);
        assert_eq!(direct, with(2));
        assert_eq!(direct, with(3));
        let of_paths = model.credit(&js, model.label_sets_of_paths(&js));
        assert!(direct.conversions["unknown"] > 0.0);
        for (l, &x) in &direct.conversions {
            let y = of_paths.conversions[l];
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{l}: {x} vs {y}");
            let (x, y) = (direct.revenue[l], of_paths.revenue[l]);
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{l}: {x} vs {y}");
        }
    }

    /// Shapley values by the textbook sum over all 2^m subsets of `t`.
    fn shapley_full(t: &[LabelId], rates: &PathMap<f64>) -> Vec<f64> {
        let m = t.len();
        let fact = |k: usize| (1..=k).map(|x| x as f64).product::<f64>();
        let v = |mask: u64| -> f64 {
            let key: Vec<LabelId> = (0..m)
                .filter(|&i| mask >> i & 1 == 1)
                .map(|i| t[i])
                .collect();
            rates.get(key.as_slice()).copied().unwrap_or(0.0)
        };
        (0..m)
            .map(|i| {
                (0..1u64 << m)
                    .filter(|s| s >> i & 1 == 0)
                    .map(|s| {
                        let k = s.count_ones() as usize;
                        fact(k) * fact(m - k - 1) / fact(m) * (v(s | 1 << i) - v(s))
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn design_example_b() {
        // v(A) = 2/3, v(B) = 1, v(AB) = 1: the A>B conversion splits 1/3, 2/3.
        let js = paths(
            &["a", "b"],
            &[
                ("a", 1.0, 3.0),
                ("a", 1.0, 3.0),
                ("a", 0.0, 0.0),
                ("b", 1.0, 3.0),
                ("a>b", 1.0, 3.0),
            ],
        );
        let cr = ShapleyRate {
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(
            close(cr.conversions["a"], 7.0 / 3.0),
            "{:?}",
            cr.conversions
        );
        assert!(close(cr.conversions["b"], 5.0 / 3.0));
        assert!(close(cr.revenue["a"], 7.0) && close(cr.revenue["b"], 5.0));
    }

    #[test]
    fn the_sparse_sum_handles_sets_beyond_twenty_labels() {
        // One journey over 24 labels, each also seen alone with rate 1/2:
        // by symmetry each gets 1/24 of the big set's conversion.
        let names: Vec<String> = (0..24).map(|i| format!("c{i:02}")).collect();
        let labels: Vec<&str> = names.iter().map(String::as_str).collect();
        let big = labels.join(">");
        let mut items: Vec<(&str, f64, f64)> = vec![(big.as_str(), 1.0, 24.0)];
        for l in &labels {
            items.push((l, 1.0, 0.0));
            items.push((l, 0.0, 0.0));
        }
        let js = paths(&labels, &items);
        let cr = ShapleyRate {
            lookback_days: 90.0,
        }
        .attribute(&js);
        for l in &labels {
            assert!(close(cr.conversions[*l], 1.0 + 1.0 / 24.0), "{l}");
            assert!(close(cr.revenue[*l], 1.0), "{l}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn sparse_shapley_equals_the_full_enumeration(
            n in 1usize..=7,
            raw in prop::collection::vec(
                (prop::collection::vec(0usize..7, 1..6), 0u8..3, 0u8..3),
                1..40,
            ),
        ) {
            let mut paths = DistinctPaths { offsets: vec![0], ..Default::default() };
            for (p, c, nulls) in &raw {
                paths.steps.extend(p.iter().map(|&i| (i % n) as LabelId));
                paths.offsets.push(paths.steps.len() as u32);
                paths.conversions.push(*c as f64);
                paths.nulls.push(*nulls as f64);
                paths.revenue.push(0.0);
            }
            // Both ways of finding a set: bit masks (7 labels) and sorted
            // label lists (as if there were 200 labels).
            let sets = label_sets(&paths, 7);
            let wide = label_sets(&paths, 200);
            prop_assert_eq!(sets.len(), wide.len());
            for (a, b) in sets.iter().zip(&wide) {
                prop_assert_eq!(&a.labels, &b.labels);
                prop_assert_eq!(a.conversions, b.conversions);
                prop_assert_eq!(a.journeys, b.journeys);
            }
            let mut rates: PathMap<f64> = PathMap::default();
            for s in &sets {
                let v = if s.journeys > 0.0 { s.conversions / s.journeys } else { 0.0 };
                rates.insert(s.labels.clone(), v);
            }
            for t in &sets {
                let m = t.labels.len();
                let want = shapley_full(&t.labels, &rates);
                // Both branches of `shares`' subset search, and the raw sum.
                let mut terms = Vec::new();
                for s in &sets {
                    if let Some(members) = positions_in(&s.labels, &t.labels) {
                        terms.push((members, rates[&s.labels]));
                    }
                }
                let got = shapley_sparse(m, &terms);
                for i in 0..m {
                    prop_assert!((got[i] - want[i]).abs() < 1e-12);
                }
                let model = ShapleyRate { lookback_days: 90.0 };
                let shares = model.shares(&t.labels, &sets, &rates);
                let mut floored = want.clone();
                floor_and_normalise(&mut floored);
                for i in 0..m {
                    prop_assert!((shares[i] - floored[i]).abs() < 1e-12);
                }
            }
        }
    }
}
