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

mod chain;

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
use chain::*;
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
