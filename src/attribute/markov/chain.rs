//! The absorbing chain behind `markov`: gram counts over the journeys (or
//! the distinct paths), the transient states and their exits, and the
//! solvers (dense elimination up to 256 states, ordered Gauss–Seidel
//! beyond) for conversion and value removal effects. Pure arithmetic.

use super::*;

/// Chains with at most this many transient states are solved densely.
pub(super) const DENSE_MAX: usize = 256;
/// Gauss–Seidel stops when no value moves more than this in a sweep…
pub(super) const SWEEP_TOL: f64 = 5e-16;
/// …and the residual max-norm is at most this.
pub(super) const RESIDUAL_TOL: f64 = 1e-14;
pub(super) const MAX_SWEEPS: usize = 100_000;
/// Largest chain the dense fallback accepts.
pub(super) const DENSE_FALLBACK_MAX: usize = 2048;

/// An absorbing chain in compressed rows over its transient states; state 0
/// is `(start)`. A state's key packs its labels (label + 1, `bits` each,
/// newest lowest), so keys sort with `(start)` = 0 first.
#[derive(Clone)]
pub(super) struct Chain {
    pub(super) order: u32,
    pub(super) bits: u32,
    pub(super) keys: Vec<u128>,
    pub(super) row: Vec<u32>,
    pub(super) col: Vec<u32>,
    pub(super) prob: Vec<f64>,
    /// What leaving a state for good pays: P(→ conversion) in the
    /// conversion chain; the expected value collected, scaled, in the value
    /// chain ([`Chain::value_chain`]).
    pub(super) reward: Vec<f64>,
    /// The value chain's reward: revenue exiting the state over its total
    /// weight, divided by the largest revenue per exit of any state (so
    /// every solution stays in [0, 1]); all 0 without revenue.
    pub(super) value_reward: Vec<f64>,
}

/// Largest (order + 1)-gram, in bits, whose weights live in a dense table.
pub(super) const DENSE_GRAM_BITS: u32 = 22;
/// Largest gram, in bits, counted straight from the journeys (one dense
/// table per chunk of journeys) rather than from distinct paths.
pub(super) const DIRECT_GRAM_BITS: u32 = 20;

/// What the paths that end in one state carry out of the chain.
#[derive(Clone, Copy, Debug)]
pub(super) struct Exit {
    pub(super) key: u128,
    pub(super) conversions: f64,
    pub(super) nulls: f64,
    pub(super) revenue: f64,
}

/// Transition weights per (order + 1)-gram and exits per state, in dense
/// tables indexed by packed keys; plus what the journeys with and without a
/// path carry (for the credit).
#[derive(Clone)]
pub(super) struct GramCounts {
    pub(super) bits: u32,
    pub(super) weights: Vec<f64>,
    pub(super) exit_conversions: Vec<f64>,
    pub(super) exit_nulls: Vec<f64>,
    /// Revenue of the paths that end in each state.
    pub(super) exit_revenue: Vec<f64>,
    pub(super) conversions: f64,
    pub(super) revenue: f64,
    pub(super) empty_conversions: f64,
    pub(super) empty_revenue: f64,
}

impl GramCounts {
    pub(super) fn new(bits: u32, order: u32) -> GramCounts {
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
    pub(super) fn add_path(
        &mut self,
        labels: impl Iterator<Item = LabelId>,
        c: f64,
        n: f64,
        revenue: f64,
    ) {
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
    pub(super) fn add_journey(&mut self, j: &Journey, touches: &[Touch]) {
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

    pub(super) fn merge(&mut self, other: GramCounts) {
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
    pub(super) fn into_sorted(self) -> (Vec<(u128, f64)>, Vec<Exit>) {
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
    pub(super) fn of_journeys(
        journeys: &Journeys,
        lookback_days: f64,
        order: u32,
    ) -> Option<GramCounts> {
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
    pub(super) fn build(paths: &DistinctPaths, order: u32, n_labels: usize) -> Chain {
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
    pub(super) fn from_counts(
        order: u32,
        bits: u32,
        grams: &[(u128, f64)],
        exits: &[Exit],
    ) -> Chain {
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
    pub(super) fn value_chain(&self) -> Chain {
        let mut chain = self.clone();
        chain.reward = self.value_reward.clone();
        chain
    }

    pub(super) fn n(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn contains(&self, s: usize, label: LabelId) -> bool {
        let want = label as u128 + 1;
        let slot = (1u128 << self.bits) - 1;
        (0..self.order).any(|i| (self.keys[s] >> (self.bits * i)) & slot == want)
    }

    /// States in DFS post-order from `(start)`: successors before their
    /// predecessors wherever the chain is acyclic.
    pub(super) fn post_order(&self) -> Vec<u32> {
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
    pub(super) fn solve(&self, removed: &[bool], order: &[u32]) -> f64 {
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

    pub(super) fn solve_dense(&self, removed: &[bool]) -> f64 {
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
    pub(super) fn sweep(&self, removed: &[bool], order: &[u32], x: &mut [f64]) -> f64 {
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

    pub(super) fn residual(&self, removed: &[bool], x: &[f64]) -> f64 {
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

    pub(super) fn gauss_seidel(&self, removed: &[bool], order: &[u32]) -> Option<f64> {
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

    pub(super) fn gauss_seidel_last(&self, removed: &[bool], order: &[u32]) -> f64 {
        let mut x = vec![0.0f64; self.n()];
        for _ in 0..MAX_SWEEPS {
            self.sweep(removed, order, &mut x);
        }
        x[0]
    }
}
