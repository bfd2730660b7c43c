//! `markov{order}`: removal effects of an absorbing Markov chain estimated
//! from the paths (Anderl et al. 2016), computed from the chain's linear
//! system — never by simulating walks.
//!
//! **Chain.** A state of order k is the last min(k, t) labels seen after t
//! steps, from `(start)`; every touch label is a step (`direct` and
//! `unassigned` too). Each distinct path (touches in the look-back window)
//! with `c` conversions and `n` non-converting journeys adds `c + n` to each
//! of its transitions, `c` from its last state to `(conversion)` and `n` to
//! `(null)`; transition probabilities are these counts over each state's
//! total. Paths with no weight add nothing.
//!
//! **Counting.** These weights are additive over journeys, so when a gram
//! fits [`DIRECT_GRAM_BITS`] they are counted straight from the journeys
//! (dense tables per fixed chunk of journeys, added in chunk order: the
//! same for any thread count); otherwise from the distinct paths.
//!
//! **Removal effects.** x(s) = P(conversion | s) solves x = Q x + r over the
//! transient states. P = x(start). Removing label c makes every state that
//! contains c absorb into `(null)` (x = 0 there) and gives P_c; the removal
//! effect is RE_c = (P − P_c) / P, floored at 0 against rounding.
//!
//! **Solve.** With at most 256 transient states the system is solved by dense
//! Gaussian elimination with partial pivoting (exact up to rounding: orders
//! 1 and 2 on usual label counts). Larger chains (orders 3–4) are solved by
//! Gauss–Seidel sweeps in successor-first (DFS post-order) order, which is
//! exact in one sweep on the acyclic part of the chain; sweeps stop when no
//! value moves by more than 5e-16 and the residual max-norm is at most 1e-14
//! (x lies in [0, 1]). If 100,000 sweeps do not get there, chains of up to
//! 2,048 states fall back to the dense solve; larger ones keep the last
//! sweep. Removals are solved in parallel, each deterministically.
//!
//! **Credit.** Conversions of the journeys with a path × RE_c / Σ RE.
//! Revenue, by [`MarkovRevenue`]:
//! - `share` (the default): split by the same conversion removal-effect
//!   shares, so a model's revenue and lead credit tell one story;
//! - `value` (`markov:K:value`, id `markov_K_value`): split by **value
//!   removal effects**, the semantics of ChannelAttribution's
//!   `markov_model(..., var_value = ...)`, computed exactly. There a walk
//!   that converts draws its conversion's value from the conversions that
//!   left the chain from the same (last) state, and a label's value removal
//!   effect is the share of the expected value collected by walks that
//!   visit it — the value lost when the label's states absorb into
//!   `(null)`. Exactly: y(s) = expected value collected from s solves
//!   y = Q y + b with b(s) = (revenue of the paths ending in s) / (total
//!   weight leaving s) = P(s → conversion) × the mean value per conversion
//!   leaving s; W = y(start), W_c with c's states removed, value RE_c =
//!   (W − W_c) / W; revenue × value RE_c / Σ value RE. Same solvers as the
//!   conversions (b is scaled by the largest revenue per exiting journey so
//!   y stays in [0, 1]); one more solve per label. Differences from the
//!   package, all on purpose: exact rather than simulated (no seed, no
//!   step cap); the revenue of paths with no conversion (deals in a cluster
//!   without a lead; rows with value but no conversion) counts where its
//!   path ends, where the package leaves it out of the removal effect but
//!   still hands it out; negative revenue counts as 0 in the value chain.
//!   With equal value per conversion the two splits agree (tested). When no
//!   value removal effect is positive, revenue falls back to `share`.
//!
//! **Why `share` is the default.** At order 1 the value split ties each
//! conversion's value to the last state before the lead; in our logs that
//! is mostly the converting session's return visit (direct or brand search:
//! about three quarters of the quickstart's journeys with a touch), not the
//! channel that brought the lead, and each state's mean value rests on the
//! few paths with deals. Measured against the truths on deterministic
//! journeys (4 replicates, docs/models.md), it is not better: revenue error
//! lower on quickstart, higher and more variable on b2b_saas, neither
//! difference clear of the replicate noise. So the default keeps one set of
//! shares for leads and revenue, and `markov_K` keeps its numbers; `value`
//! is there to match ChannelAttribution's `var_value` output and to show
//! what value weighting does.
//!
//! Journeys with no touch in the window credit `unknown`, as every model does.
//!
//! **Degenerate chains.** No conversion on any path: P = 0 and every RE is
//! 0; then revenue of paths (journeys with deals but no lead) is split as
//! `linear` splits it (or by value removal effects under `value`, which
//! such revenue can make positive), and conversions are zero. The system is never
//! singular: every state lies on an observed path with positive weight,
//! whose last state exits the chain, so every state reaches absorption; a
//! zero pivot can therefore only come from rounding and gives x = 0 there.
//! A label only on null paths still gets a removal effect when its states
//! lead into converting states (docs/model.md §4.6 (d)). Never negative, never NaN.
//! Must never: name the world, the observation layer or the truth ledger.

use super::paths::{fold_windows, label_bits};
use super::{
    Attributor, DEFAULT_LOOKBACK_DAYS, DistinctPaths, Journey, Journeys, LOOKBACK, Touch,
    credit_from,
};
use crate::attribute::PathHasher;
use crate::base::credit::Credit;
use crate::log::LabelId;
use crate::strategy::{
    Needs, ParamDescriptor, ParamProblem, ParamValue, SpecError, Strategy, StrategyDescriptor,
    at_most, spec_err,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

/// Markov-chain removal effects of a given order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct Markov {
    /// Labels of history in a state; clamped to 1..=4.
    pub order: u8,
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
    /// How revenue is split: by the conversion removal-effect shares, or by
    /// value removal effects.
    pub revenue: MarkovRevenue,
}

/// What a fitted chain says.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkovFit {
    /// P(conversion) from `(start)`.
    pub p_conversion: f64,
    /// Removal effect per label (0 for labels on no path).
    pub removal_effects: BTreeMap<String, f64>,
    /// Transient states of the chain, `(start)` included.
    pub states: usize,
    /// Value removal effect per label (the share of the expected revenue
    /// lost without it); `Some` when the model splits revenue by value.
    pub value_removal_effects: Option<BTreeMap<String, f64>>,
}

/// Chains with at most this many transient states are solved densely.
const DENSE_MAX: usize = 256;
/// Gauss–Seidel stops when no value moves more than this in a sweep…
const SWEEP_TOL: f64 = 5e-16;
/// …and the residual max-norm is at most this.
const RESIDUAL_TOL: f64 = 1e-14;
const MAX_SWEEPS: usize = 100_000;
/// Largest chain the dense fallback accepts.
const DENSE_FALLBACK_MAX: usize = 2048;

/// An absorbing chain in compressed rows over its transient states; state 0
/// is `(start)`. A state's key packs its labels (label + 1, `bits` each,
/// newest lowest), so keys sort with `(start)` = 0 first.
#[derive(Clone)]
struct Chain {
    order: u32,
    bits: u32,
    keys: Vec<u128>,
    row: Vec<u32>,
    col: Vec<u32>,
    prob: Vec<f64>,
    /// What leaving a state for good pays: P(→ conversion) in the
    /// conversion chain; the expected value collected, scaled, in the value
    /// chain ([`Chain::value_chain`]).
    reward: Vec<f64>,
    /// The value chain's reward: revenue exiting the state over its total
    /// weight, divided by the largest revenue per exit of any state (so
    /// every solution stays in [0, 1]); all 0 without revenue.
    value_reward: Vec<f64>,
}

/// Largest (order + 1)-gram, in bits, whose weights live in a dense table.
const DENSE_GRAM_BITS: u32 = 22;
/// Largest gram, in bits, counted straight from the journeys (one dense
/// table per chunk of journeys) rather than from distinct paths.
const DIRECT_GRAM_BITS: u32 = 20;

/// What the paths that end in one state carry out of the chain.
#[derive(Clone, Copy, Debug)]
struct Exit {
    key: u128,
    conversions: f64,
    nulls: f64,
    revenue: f64,
}

/// Transition weights per (order + 1)-gram and exits per state, in dense
/// tables indexed by packed keys; plus what the journeys with and without a
/// path carry (for the credit).
#[derive(Clone)]
struct GramCounts {
    bits: u32,
    weights: Vec<f64>,
    exit_conversions: Vec<f64>,
    exit_nulls: Vec<f64>,
    /// Revenue of the paths that end in each state.
    exit_revenue: Vec<f64>,
    conversions: f64,
    revenue: f64,
    empty_conversions: f64,
    empty_revenue: f64,
}

impl GramCounts {
    fn new(bits: u32, order: u32) -> GramCounts {
        let states = 1usize << (bits * order);
        GramCounts {
            bits,
            weights: vec![0.0; 1 << (bits * (order + 1))],
            exit_conversions: vec![0.0; states],
            exit_nulls: vec![0.0; states],
            exit_revenue: vec![0.0; states],
            conversions: 0.0,
            revenue: 0.0,
            empty_conversions: 0.0,
            empty_revenue: 0.0,
        }
    }

    /// Add a non-empty path standing for `c` conversions and `n` nulls,
    /// carrying `revenue`.
    #[inline]
    fn add_path(&mut self, labels: impl Iterator<Item = LabelId>, c: f64, n: f64, revenue: f64) {
        let gram_mask = self.weights.len() - 1;
        let state_mask = self.exit_nulls.len() - 1;
        let mut g = 0usize;
        for l in labels {
            g = ((g << self.bits) | (l as usize + 1)) & gram_mask;
            self.weights[g] += c + n;
        }
        self.exit_conversions[g & state_mask] += c;
        self.exit_nulls[g & state_mask] += n;
        self.exit_revenue[g & state_mask] += revenue;
    }

    /// Add one journey's touches in the window.
    fn add_journey(&mut self, j: &Journey, touches: &[Touch]) {
        if touches.is_empty() {
            self.empty_conversions += j.conversions;
            self.empty_revenue += j.revenue;
            return;
        }
        self.conversions += j.conversions;
        self.revenue += j.revenue;
        if j.conversions + j.nulls > 0.0 {
            self.add_path(
                touches.iter().map(|t| t.label),
                j.conversions,
                j.nulls,
                j.revenue,
            );
        }
    }

    fn merge(&mut self, other: GramCounts) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        add(&mut self.weights, &other.weights);
        add(&mut self.exit_conversions, &other.exit_conversions);
        add(&mut self.exit_nulls, &other.exit_nulls);
        add(&mut self.exit_revenue, &other.exit_revenue);
        self.conversions += other.conversions;
        self.revenue += other.revenue;
        self.empty_conversions += other.empty_conversions;
        self.empty_revenue += other.empty_revenue;
    }

    /// Non-zero grams and exits, sorted by key.
    #[allow(clippy::type_complexity)]
    fn into_sorted(self) -> (Vec<(u128, f64)>, Vec<Exit>) {
        let grams = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(g, &w)| (g as u128, w))
            .collect();
        let exits = (0..self.exit_nulls.len())
            .filter(|&k| self.exit_conversions[k] + self.exit_nulls[k] > 0.0)
            .map(|k| Exit {
                key: k as u128,
                conversions: self.exit_conversions[k],
                nulls: self.exit_nulls[k],
                revenue: self.exit_revenue[k],
            })
            .collect();
        (grams, exits)
    }

    /// Count straight from the journeys, when the grams are small enough.
    fn of_journeys(journeys: &Journeys, lookback_days: f64, order: u32) -> Option<GramCounts> {
        let bits = label_bits(journeys.labels.len());
        if bits * (order + 1) > DIRECT_GRAM_BITS {
            return None;
        }
        let empty = GramCounts::new(bits, order);
        // Chunks of at least 4 journeys per table entry keep the tables'
        // memory and merging below a quarter of the journeys.
        let min_chunk = 4 * empty.weights.len();
        Some(fold_windows(
            journeys,
            lookback_days,
            min_chunk,
            || empty.clone(),
            GramCounts::add_journey,
            GramCounts::merge,
        ))
    }
}

impl Chain {
    /// The chain of `paths` (labels below `n_labels`). Transition weights
    /// are summed per (order + 1)-gram — a transition is the gram of the
    /// state it leaves and the label it adds — in a dense table when the
    /// grams are small, in a hash map otherwise; both in path order.
    fn build(paths: &DistinctPaths, order: u32, n_labels: usize) -> Chain {
        let bits = label_bits(n_labels);
        let gram_bits = bits * (order + 1);
        let gram_mask: u128 = (1u128 << gram_bits) - 1;
        let state_mask: u128 = (1u128 << (bits * order)) - 1;
        // (gram, weight) and (state key, conversions, nulls), sorted by key.
        let mut grams: Vec<(u128, f64)> = Vec::new();
        let mut exits: Vec<Exit> = Vec::new();
        let weighted = (0..paths.len()).filter(|&p| paths.conversions[p] + paths.nulls[p] > 0.0);
        if gram_bits <= DENSE_GRAM_BITS {
            let mut counts = GramCounts::new(bits, order);
            for p in weighted {
                counts.add_path(
                    paths.path(p).iter().copied(),
                    paths.conversions[p],
                    paths.nulls[p],
                    paths.revenue[p],
                );
            }
            (grams, exits) = counts.into_sorted();
        } else {
            type Map<V> = HashMap<u128, V, BuildHasherDefault<PathHasher>>;
            let mut w: Map<f64> = Map::default();
            let mut exit: Map<(f64, f64, f64)> = Map::default();
            for p in weighted {
                let (c, n, r) = (paths.conversions[p], paths.nulls[p], paths.revenue[p]);
                let mut g = 0u128;
                for &l in paths.path(p) {
                    g = ((g << bits) | (l as u128 + 1)) & gram_mask;
                    *w.entry(g).or_insert(0.0) += c + n;
                }
                let e = exit.entry(g & state_mask).or_insert((0.0, 0.0, 0.0));
                e.0 += c;
                e.1 += n;
                e.2 += r;
            }
            grams.extend(w);
            grams.sort_unstable_by_key(|g| g.0);
            exits.extend(exit.into_iter().map(|(key, (c, n, r))| Exit {
                key,
                conversions: c,
                nulls: n,
                revenue: r,
            }));
            exits.sort_unstable_by_key(|e| e.key);
        }
        Chain::from_counts(order, bits, &grams, &exits)
    }

    /// The chain from transition weights per gram and exits per state,
    /// both sorted by key.
    fn from_counts(order: u32, bits: u32, grams: &[(u128, f64)], exits: &[Exit]) -> Chain {
        let state_mask: u128 = (1u128 << (bits * order)) - 1;
        // States: (start) and every state a transition enters, by key.
        let mut keys: Vec<u128> = std::iter::once(0)
            .chain(grams.iter().map(|&(g, _)| g & state_mask))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let id = |key: u128| keys.binary_search(&key).expect("a known state") as u32;
        let n = keys.len();
        let mut total = vec![0.0f64; n];
        let mut exit_conversion = vec![0.0f64; n];
        let mut exit_revenue = vec![0.0f64; n];
        // Largest revenue per exiting journey: the value chain's scale.
        let mut value_scale = 0.0f64;
        for e in exits {
            let s = id(e.key) as usize;
            exit_conversion[s] = e.conversions;
            total[s] = e.conversions + e.nulls;
            exit_revenue[s] = e.revenue.max(0.0);
            value_scale = value_scale.max(exit_revenue[s] / total[s]);
        }
        // Grams sorted by key are sorted by the state they leave (its key
        // is the gram's high part), then by the state they enter.
        let mut row = vec![0u32; n + 1];
        let mut col = Vec::with_capacity(grams.len());
        let mut from = Vec::with_capacity(grams.len());
        for &(g, w) in grams {
            let s = id(g >> bits) as usize;
            row[s + 1] += 1;
            total[s] += w;
            from.push(s);
            col.push(id(g & state_mask));
        }
        for i in 0..n {
            row[i + 1] += row[i];
        }
        let prob = grams
            .iter()
            .zip(&from)
            .map(|(&(_, w), &s)| w / total[s])
            .collect();
        let per_total = |amount: &[f64], scale: f64| -> Vec<f64> {
            amount
                .iter()
                .zip(&total)
                .map(|(a, t)| if *t > 0.0 { a / t / scale } else { 0.0 })
                .collect()
        };
        let reward = per_total(&exit_conversion, 1.0);
        let value_reward = if value_scale > 0.0 {
            per_total(&exit_revenue, value_scale)
        } else {
            vec![0.0; n]
        };
        Chain {
            order,
            bits,
            keys,
            row,
            col,
            prob,
            reward,
            value_reward,
        }
    }

    /// The same chain paying the revenue a walk collects instead of its
    /// conversion: x(s) becomes the expected revenue from s (scaled).
    fn value_chain(&self) -> Chain {
        let mut chain = self.clone();
        chain.reward = self.value_reward.clone();
        chain
    }

    fn n(&self) -> usize {
        self.keys.len()
    }

    fn contains(&self, s: usize, label: LabelId) -> bool {
        let want = label as u128 + 1;
        let slot = (1u128 << self.bits) - 1;
        (0..self.order).any(|i| (self.keys[s] >> (self.bits * i)) & slot == want)
    }

    /// States in DFS post-order from `(start)`: successors before their
    /// predecessors wherever the chain is acyclic.
    fn post_order(&self) -> Vec<u32> {
        let n = self.n();
        let mut seen = vec![false; n];
        let mut out = Vec::with_capacity(n);
        let mut stack: Vec<(u32, u32)> = vec![(0, self.row[0])];
        seen[0] = true;
        while let Some(&mut (s, ref mut next)) = stack.last_mut() {
            if *next < self.row[s as usize + 1] {
                let t = self.col[*next as usize];
                *next += 1;
                if !seen[t as usize] {
                    seen[t as usize] = true;
                    stack.push((t, self.row[t as usize]));
                }
            } else {
                out.push(s);
                stack.pop();
            }
        }
        out
    }

    /// P(conversion | start) with the states in `removed` absorbing into null.
    fn solve(&self, removed: &[bool], order: &[u32]) -> f64 {
        let active = removed.iter().filter(|r| !**r).count();
        if active <= DENSE_MAX {
            return self.solve_dense(removed);
        }
        match self.gauss_seidel(removed, order) {
            Some(p) => p,
            None if active <= DENSE_FALLBACK_MAX => self.solve_dense(removed),
            None => self.gauss_seidel_last(removed, order),
        }
    }

    fn solve_dense(&self, removed: &[bool]) -> f64 {
        let n = self.n();
        let mut index = vec![usize::MAX; n];
        let mut m = 0;
        for s in 0..n {
            if !removed[s] {
                index[s] = m;
                m += 1;
            }
        }
        // A = I − Q over the active states, b = r; row-major, b as column m.
        let w = m + 1;
        let mut a = vec![0.0f64; m * w];
        for s in (0..n).filter(|&s| !removed[s]) {
            let i = index[s];
            a[i * w + i] += 1.0;
            for e in self.row[s] as usize..self.row[s + 1] as usize {
                let t = self.col[e] as usize;
                if !removed[t] {
                    a[i * w + index[t]] -= self.prob[e];
                }
            }
            a[i * w + m] = self.reward[s];
        }
        // Gaussian elimination with partial pivoting.
        for k in 0..m {
            let p = (k..m)
                .max_by(|&x, &y| a[x * w + k].abs().total_cmp(&a[y * w + k].abs()))
                .expect("k < m");
            if p != k {
                for c in 0..w {
                    a.swap(k * w + c, p * w + c);
                }
            }
            let pivot = a[k * w + k];
            if pivot.abs() < 1e-300 {
                continue;
            }
            for r in k + 1..m {
                let f = a[r * w + k] / pivot;
                if f != 0.0 {
                    for c in k..w {
                        a[r * w + c] -= f * a[k * w + c];
                    }
                }
            }
        }
        let mut x = vec![0.0f64; m];
        for k in (0..m).rev() {
            let pivot = a[k * w + k];
            if pivot.abs() < 1e-300 {
                continue; // unreachable by construction (module doc): x = 0
            }
            let mut acc = a[k * w + m];
            for c in k + 1..m {
                acc -= a[k * w + c] * x[c];
            }
            x[k] = (acc / pivot).clamp(0.0, 1.0);
        }
        x[index[0]]
    }

    /// One Gauss–Seidel sweep; returns the largest change.
    fn sweep(&self, removed: &[bool], order: &[u32], x: &mut [f64]) -> f64 {
        let mut delta = 0.0f64;
        for &s in order {
            let s = s as usize;
            if removed[s] {
                continue;
            }
            let (mut acc, mut diag) = (self.reward[s], 1.0);
            for e in self.row[s] as usize..self.row[s + 1] as usize {
                let t = self.col[e] as usize;
                if t == s {
                    diag -= self.prob[e];
                } else {
                    acc += self.prob[e] * x[t];
                }
            }
            let new = if diag > 0.0 {
                (acc / diag).min(1.0)
            } else {
                0.0
            };
            delta = delta.max((new - x[s]).abs());
            x[s] = new;
        }
        delta
    }

    fn residual(&self, removed: &[bool], x: &[f64]) -> f64 {
        (0..self.n())
            .filter(|&s| !removed[s])
            .map(|s| {
                let mut acc = self.reward[s] - x[s];
                for e in self.row[s] as usize..self.row[s + 1] as usize {
                    acc += self.prob[e] * x[self.col[e] as usize];
                }
                acc.abs()
            })
            .fold(0.0, f64::max)
    }

    fn gauss_seidel(&self, removed: &[bool], order: &[u32]) -> Option<f64> {
        let mut x = vec![0.0f64; self.n()];
        for _ in 0..MAX_SWEEPS {
            if self.sweep(removed, order, &mut x) <= SWEEP_TOL
                && self.residual(removed, &x) <= RESIDUAL_TOL
            {
                return Some(x[0]);
            }
        }
        None
    }

    fn gauss_seidel_last(&self, removed: &[bool], order: &[u32]) -> f64 {
        let mut x = vec![0.0f64; self.n()];
        for _ in 0..MAX_SWEEPS {
            self.sweep(removed, order, &mut x);
        }
        x[0]
    }
}

impl Markov {
    fn chain_order(&self) -> u32 {
        self.order.clamp(1, MAX_MARKOV_ORDER) as u32
    }

    /// P(conversion) and the removal effect of every label (indexed by
    /// label id) from counted paths.
    pub fn removal_effects(
        &self,
        paths: &DistinctPaths,
        n_labels: usize,
    ) -> (f64, Vec<f64>, usize) {
        let chain = Chain::build(paths, self.chain_order(), n_labels);
        Self::effects_of(&chain, n_labels)
    }

    /// The value removal effect of every label (indexed by label id) from
    /// counted paths: the share of the expected revenue lost when the
    /// label's states absorb into `(null)` (0 for labels in no state).
    pub fn value_removal_effects(&self, paths: &DistinctPaths, n_labels: usize) -> Vec<f64> {
        let chain = Chain::build(paths, self.chain_order(), n_labels);
        Self::effects_of(&chain.value_chain(), n_labels).1
    }

    /// Conversion removal effects, and value removal effects when this
    /// model splits revenue by value.
    fn chain_effects(&self, chain: &Chain, n_labels: usize) -> Effects {
        let conversion = Self::effects_of(chain, n_labels);
        let value = match self.revenue {
            MarkovRevenue::Share => None,
            MarkovRevenue::Value => Some(Self::effects_of(&chain.value_chain(), n_labels).1),
        };
        (conversion, value)
    }

    /// P(conversion), the removal effect of every label and the number of
    /// states of a chain. Labels in no state have removal effect 0.
    fn effects_of(chain: &Chain, n_labels: usize) -> (f64, Vec<f64>, usize) {
        let order = chain.post_order();
        let none = vec![false; chain.n()];
        let p = chain.solve(&none, &order);
        let labels: Vec<LabelId> = (0..n_labels as LabelId)
            .filter(|&l| (0..chain.n()).any(|s| chain.contains(s, l)))
            .collect();
        let solved: Vec<f64> = labels
            .par_iter()
            .map(|&c| {
                let removed: Vec<bool> = (0..chain.n()).map(|s| chain.contains(s, c)).collect();
                chain.solve(&removed, &order)
            })
            .collect();
        let mut effects = vec![0.0; n_labels];
        if p > 0.0 {
            for (&c, &pc) in labels.iter().zip(&solved) {
                effects[c as usize] = ((p - pc) / p).max(0.0);
            }
        }
        (p, effects, chain.n())
    }

    /// The chain's removal effects and what the journeys carry: counted
    /// straight from the journeys when the grams fit a dense table, else
    /// from the distinct paths (which are then returned too).
    fn fit_counts(&self, journeys: &Journeys) -> (Fitted, Option<DistinctPaths>) {
        let n_labels = journeys.labels.len();
        let order = self.chain_order();
        match GramCounts::of_journeys(journeys, self.lookback_days, order) {
            Some(counts) => {
                let (bits, sums) = (
                    counts.bits,
                    [
                        counts.conversions,
                        counts.revenue,
                        counts.empty_conversions,
                        counts.empty_revenue,
                    ],
                );
                let (grams, exits) = counts.into_sorted();
                let chain = Chain::from_counts(order, bits, &grams, &exits);
                (
                    Fitted::new(self.chain_effects(&chain, n_labels), sums),
                    None,
                )
            }
            None => {
                let paths = DistinctPaths::count(journeys, self.lookback_days);
                let sums = [
                    paths.conversions.iter().sum(),
                    paths.revenue.iter().sum(),
                    paths.empty_conversions,
                    paths.empty_revenue,
                ];
                let chain = Chain::build(&paths, order, n_labels);
                let effects = self.chain_effects(&chain, n_labels);
                (Fitted::new(effects, sums), Some(paths))
            }
        }
    }

    /// Fit the chain on `journeys` and report its removal effects by label.
    pub fn fit(&self, journeys: &Journeys) -> MarkovFit {
        let (fitted, _) = self.fit_counts(journeys);
        MarkovFit {
            p_conversion: fitted.p,
            removal_effects: journeys
                .labels
                .iter()
                .cloned()
                .zip(fitted.effects)
                .collect(),
            states: fitted.states,
            value_removal_effects: fitted
                .value_effects
                .map(|v| journeys.labels.iter().cloned().zip(v).collect()),
        }
    }
}

/// P(conversion), conversion removal effects and states; value removal
/// effects when computed.
type Effects = ((f64, Vec<f64>, usize), Option<Vec<f64>>);

/// A fitted chain with the sums the credit needs.
struct Fitted {
    p: f64,
    effects: Vec<f64>,
    value_effects: Option<Vec<f64>>,
    states: usize,
    /// Conversions and revenue of journeys with a path; of those without.
    conversions: f64,
    revenue: f64,
    empty_conversions: f64,
    empty_revenue: f64,
}

impl Fitted {
    fn new(((p, effects, states), value_effects): Effects, sums: [f64; 4]) -> Fitted {
        let [conversions, revenue, empty_conversions, empty_revenue] = sums;
        Fitted {
            p,
            effects,
            value_effects,
            states,
            conversions,
            revenue,
            empty_conversions,
            empty_revenue,
        }
    }
}

/// Highest supported order of `markov`.
pub const MAX_MARKOV_ORDER: u8 = 4;

/// How `markov` splits revenue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkovRevenue {
    /// By the conversion removal-effect shares: one set of shares for
    /// conversions and revenue (the default).
    #[default]
    Share,
    /// By value removal effects: the share of the expected revenue lost
    /// without a label, each conversion's value tied to the chain state it
    /// left from (ChannelAttribution's `var_value`, computed exactly).
    Value,
}

impl MarkovRevenue {
    /// As written in a scenario and on the CLI.
    pub const fn word(self) -> &'static str {
        match self {
            MarkovRevenue::Share => "share",
            MarkovRevenue::Value => "value",
        }
    }
}

impl Strategy for Markov {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "markov",
        summary: "removal effects of an order-k Markov chain over the paths, exact; revenue split by the conversion removal-effect shares (default) or by value removal effects as ChannelAttribution's var_value, computed exactly (CLI markov:K or markov:K:value)",
        params: &[
            ParamDescriptor {
                name: "order",
                help: "channels of history in a state (1..=4)",
                default: ParamValue::Count(Self::DEFAULT.order as u32),
            },
            ParamDescriptor {
                name: "revenue",
                help: "share: revenue split as the conversions are; value: by each channel's share of the expected revenue lost without it",
                default: ParamValue::Word(Self::DEFAULT.revenue.word()),
            },
            LOOKBACK,
        ],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Markov {
        order: 1,
        lookback_days: DEFAULT_LOOKBACK_DAYS,
        revenue: MarkovRevenue::Share,
    };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        let usage = "markov:ORDER:REVENUE";
        at_most(given, parts, 2, usage)?;
        let order = match parts.get(1) {
            None => Self::DEFAULT.order,
            Some(p) => p.parse::<u8>().map_err(|_| {
                spec_err(
                    given,
                    format!("{usage} takes an order 1..={MAX_MARKOV_ORDER}"),
                )
            })?,
        };
        let revenue = match parts.get(2).copied() {
            None | Some("share") => MarkovRevenue::Share,
            Some("value") => MarkovRevenue::Value,
            Some(_) => {
                return Err(spec_err(
                    given,
                    format!("{usage} takes a revenue split `share` or `value`"),
                ));
            }
        };
        Ok(Markov {
            order,
            revenue,
            ..Self::DEFAULT
        })
    }

    fn id(&self) -> String {
        match self.revenue {
            MarkovRevenue::Share => format!("markov_{}", self.order),
            MarkovRevenue::Value => format!("markov_{}_value", self.order),
        }
    }

    fn param_problems(&self) -> Vec<ParamProblem> {
        if (1..=MAX_MARKOV_ORDER).contains(&self.order) {
            Vec::new()
        } else {
            vec![(
                "order",
                self.order as f64,
                format!("must be within 1..={MAX_MARKOV_ORDER}"),
            )]
        }
    }
}

impl Attributor for Markov {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        let n_labels = journeys.labels.len();
        let (fitted, paths) = self.fit_counts(journeys);
        let mut conv = vec![0.0; n_labels];
        let mut rev = vec![0.0; n_labels];
        conv[journeys.unknown as usize] += fitted.empty_conversions;
        rev[journeys.unknown as usize] += fitted.empty_revenue;
        let effects = &fitted.effects;
        let total_effect: f64 = effects.iter().sum();
        // Revenue by value removal effects when asked and any is positive,
        // else by the conversion shares (else as `linear`, below).
        let by_value = fitted
            .value_effects
            .as_ref()
            .map(|v| (v, v.iter().sum::<f64>()))
            .filter(|&(_, total)| total > 0.0);
        if let Some((value_effects, total_value_effect)) = by_value {
            for (l, e) in value_effects.iter().enumerate() {
                rev[l] += fitted.revenue * e / total_value_effect;
            }
        }
        if total_effect > 0.0 {
            for (l, e) in effects.iter().enumerate() {
                conv[l] += fitted.conversions * e / total_effect;
                if by_value.is_none() {
                    rev[l] += fitted.revenue * e / total_effect;
                }
            }
        } else {
            // No conversion on any path: linear split of what paths carry.
            let paths = paths.unwrap_or_else(|| DistinctPaths::count(journeys, self.lookback_days));
            for p in 0..paths.len() {
                let path = paths.path(p);
                let share = 1.0 / path.len() as f64;
                for &l in path {
                    conv[l as usize] += paths.conversions[p] * share;
                    if by_value.is_none() {
                        rev[l as usize] += paths.revenue[p] * share;
                    }
                }
            }
        }
        credit_from(journeys, &conv, &rev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};

    fn effects(js: &Journeys, order: u8) -> BTreeMap<String, f64> {
        Markov {
            order,
            lookback_days: 90.0,
            revenue: MarkovRevenue::Share,
        }
        .fit(js)
        .removal_effects
    }

    #[test]
    fn design_example_a() {
        let js = paths(
            &["c1", "c2", "c3"],
            &[
                ("c1>c2>c3", 1.0, 0.0),
                ("c1", 0.0, 0.0),
                ("c2>c3", 0.0, 0.0),
            ],
        );
        let fit = Markov {
            order: 1,
            lookback_days: 90.0,
            revenue: MarkovRevenue::Share,
        }
        .fit(&js);
        assert!(close(fit.p_conversion, 1.0 / 3.0));
        let re = &fit.removal_effects;
        assert!(close(re["c1"], 0.5) && close(re["c2"], 1.0) && close(re["c3"], 1.0));
        assert_eq!(re["direct"], 0.0);
    }

    #[test]
    fn design_example_d_null_only_channel_gets_a_removal_effect() {
        let js = paths(&["a", "b"], &[("b>a", 0.0, 0.0), ("a", 1.0, 0.0)]);
        let re = effects(&js, 1);
        assert!(close(re["a"], 1.0) && close(re["b"], 0.5), "{re:?}");
    }

    #[test]
    fn design_example_b() {
        let js = paths(
            &["a", "b"],
            &[
                ("a", 1.0, 0.0),
                ("a", 1.0, 0.0),
                ("a", 0.0, 0.0),
                ("b", 1.0, 0.0),
                ("a>b", 1.0, 0.0),
            ],
        );
        let re = effects(&js, 1);
        assert!(close(re["a"], 0.75) && close(re["b"], 0.5), "{re:?}");
    }

    #[test]
    fn higher_orders_see_history() {
        // Order 1 cannot tell a>c from b>c; order 2 can: only a>c converts.
        let js = paths(&["a", "b", "c"], &[("a>c", 1.0, 0.0), ("b>c", 0.0, 0.0)]);
        let re1 = effects(&js, 1);
        let re2 = effects(&js, 2);
        assert!(close(re1["b"], 0.5) && close(re1["a"], 0.5) && close(re1["c"], 1.0));
        assert!(close(re2["b"], 0.0) && close(re2["a"], 1.0) && close(re2["c"], 1.0));
    }

    /// A chain large enough for Gauss–Seidel: random paths over 9 labels at
    /// order 3 (hundreds of states), with cycles.
    fn big_paths() -> DistinctPaths {
        let mut d = DistinctPaths {
            offsets: vec![0],
            ..Default::default()
        };
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..3000 {
            let len = 1 + next(7);
            for _ in 0..len {
                d.steps.push(next(9) as LabelId);
            }
            d.offsets.push(d.steps.len() as u32);
            let c = next(3) as f64;
            d.conversions.push(c);
            d.nulls.push(next(4) as f64);
            d.revenue.push(c * 10.0);
        }
        d
    }

    #[test]
    fn gauss_seidel_agrees_with_the_dense_solve() {
        let d = big_paths();
        for order in [2, 3] {
            let chain = Chain::build(&d, order, 12);
            assert!(chain.n() > DENSE_MAX || order == 2, "{}", chain.n());
            let post = chain.post_order();
            assert_eq!(post.len(), chain.n(), "every state is reachable");
            for c in [None, Some(0), Some(4), Some(8)] {
                let removed: Vec<bool> = (0..chain.n())
                    .map(|s| c.is_some_and(|c| chain.contains(s, c)))
                    .collect();
                let dense = chain.solve_dense(&removed);
                let gs = chain.gauss_seidel(&removed, &post).expect("converges");
                assert!((dense - gs).abs() < 1e-13, "order {order}: {dense} vs {gs}");
                assert!(dense > 0.0 && dense < 1.0);
            }
        }
    }

    #[test]
    fn direct_counts_agree_with_distinct_paths_for_any_thread_count() {
        // More than one chunk of journeys; every order, direct counts for
        // orders 1–4 (12 labels: 4 bits a label); value removal effects
        // at orders 1 and 3.
        let js = crate::attribute::tests::random_journeys(3 * (1 << 16) + 77, 9);
        let runs = (1..=4u8)
            .map(|order| (order, MarkovRevenue::Share))
            .chain([1, 3].map(|order| (order, MarkovRevenue::Value)));
        for (order, revenue) in runs {
            let model = Markov {
                order,
                lookback_days: 90.0,
                revenue,
            };
            let with = |threads: usize| {
                crate::attribute::tests::on_threads(threads, || {
                    (model.attribute(&js), model.fit(&js))
                })
            };
            let (credit, fit) = with(1);
            assert!(with(2) == (credit.clone(), fit.clone()), "order {order}");
            assert!(with(3) == (credit.clone(), fit.clone()), "order {order}");
            let paths = DistinctPaths::count(&js, 90.0);
            let (p, effects, states) = model.removal_effects(&paths, js.labels.len());
            assert_eq!(states, fit.states);
            assert!((p - fit.p_conversion).abs() < 1e-12);
            for (l, e) in js.labels.iter().zip(&effects) {
                let got = fit.removal_effects[l];
                assert!((got - e).abs() < 1e-12, "order {order} {l}: {got} vs {e}");
            }
            assert_eq!(
                fit.value_removal_effects.is_some(),
                revenue == MarkovRevenue::Value
            );
            if let Some(by_value) = &fit.value_removal_effects {
                let effects = model.value_removal_effects(&paths, js.labels.len());
                assert!(effects.iter().any(|&e| e > 0.0));
                for (l, e) in js.labels.iter().zip(&effects) {
                    let got = by_value[l];
                    assert!((got - e).abs() < 1e-12, "order {order} {l}: {got} vs {e}");
                }
            }
            let conversions: f64 = paths.conversions.iter().sum();
            assert!(
                (credit.total_conversions() - conversions - paths.empty_conversions).abs() < 1e-6
            );
        }
    }

    #[test]
    fn dense_and_hashed_transition_tables_agree() {
        // 12 labels: 4 bits a label, order-3 grams in a dense table; 300
        // labels: 9 bits, grams in a hash map. Same paths, same chain.
        let d = big_paths();
        for order in [1, 3, 4] {
            let small = Chain::build(&d, order, 12);
            let wide = Chain::build(&d, order, 300);
            assert_eq!(small.n(), wide.n());
            assert_eq!(small.prob.len(), wide.prob.len());
            for c in [None, Some(2)] {
                let solve = |chain: &Chain| {
                    let removed: Vec<bool> = (0..chain.n())
                        .map(|s| c.is_some_and(|c| chain.contains(s, c)))
                        .collect();
                    chain.solve(&removed, &chain.post_order())
                };
                let (a, b) = (solve(&small), solve(&wide));
                assert!((a - b).abs() < 1e-13, "order {order}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn no_conversion_gives_zero_credit_and_revenue_follows_linear() {
        let js = paths(&["a", "b"], &[("a>b", 0.0, 0.0), ("b", 0.0, 0.0)]);
        let cr = Markov {
            order: 2,
            lookback_days: 90.0,
            revenue: MarkovRevenue::Share,
        }
        .attribute(&js);
        assert_eq!(cr.total_conversions(), 0.0);
        assert_eq!(cr.total_revenue(), 0.0);
        // A deal without a lead (a null path with revenue): split as linear.
        let mut js = js.clone();
        js.push(&[(0, 0), (1, 1)], None, 0.0, 8.0);
        let cr = Markov {
            order: 1,
            lookback_days: 90.0,
            revenue: MarkovRevenue::Share,
        }
        .attribute(&js);
        assert!(close(cr.revenue["a"], 4.0) && close(cr.revenue["b"], 4.0));
        assert_eq!(cr.total_conversions(), 0.0);
    }
}
