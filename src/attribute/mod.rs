//! Attribution (step 4 of the loop): journeys built from the log and a
//! stitcher's partition (or from a path file), the `Attributor` trait, its
//! registry, the rules (first, last, last non-direct, linear, time decay,
//! position based, W-shaped), Markov removal effects, the two Shapley
//! games, bagged logistic regression and the additive hazard model. Markov,
//! `shapley_rate` and `logistic` work on distinct paths counted once.
//!
//! A journey is one cluster's visits in time order; it converts if the cluster
//! holds a CRM lead (lead time = its earliest record), and carries the revenue
//! of the cluster's deals. Converting journeys keep the touches up to the lead.
//! A model credits each converting journey's conversion and revenue to labels;
//! a journey with no touch inside the look-back window credits `unknown`.
//! Each model's struct is its spec (it implements `strategy::Strategy`: id,
//! parameters with defaults, doc line, needs); adding a model = one file
//! here, one line in the registry (`spec`) and its tests.
//! Must never: name the world, the observation layer or the truth ledger.

mod additive_hazard;
mod first_touch;
mod journey;
mod last_non_direct;
mod last_touch;
mod linear;
mod logistic;
mod markov;
mod paths;
mod platform;
mod position_based;
mod shapley_count;
mod shapley_rate;
mod time_decay;
mod w_shaped;

pub use additive_hazard::{AdditiveHazard, HazardFit};
pub use first_touch::FirstTouch;
pub use journey::{Journey, Journeys, PathRow, PostLead, Touch};
pub use last_non_direct::LastNonDirect;
pub use last_touch::LastTouch;
pub use linear::Linear;
pub use logistic::{Logistic, LogisticFit, MAX_LOGISTIC_BAGS};
pub use markov::{MAX_MARKOV_ORDER, Markov, MarkovFit, MarkovRevenue};
pub use paths::{DistinctPaths, PathHasher};
pub use platform::{PLATFORM_REPORTED, PlatformClaim, PlatformClaims, platform_reported};
pub use position_based::PositionBased;
pub use shapley_count::ShapleyCount;
pub use shapley_rate::ShapleyRate;
pub use time_decay::TimeDecay;
pub use w_shaped::WShaped;

use crate::base::credit::Credit;
use crate::strategy::{ParamDescriptor, ParamValue};

/// An attribution model.
pub trait Attributor: Send + Sync {
    /// Canonical id (as in reports).
    fn name(&self) -> String;
    /// Touches older than this before the lead are ignored.
    fn lookback_days(&self) -> f64;
    /// Credit per label, in conversions and revenue.
    fn attribute(&self, journeys: &Journeys) -> Credit;
}

/// Build a model from its spec: a model's struct, or the registry's
/// `spec::AttributorSpec` (itself a model).
pub fn build(spec: &(impl Attributor + Clone + 'static)) -> Box<dyn Attributor> {
    Box::new(spec.clone())
}

/// Default look-back window of every attribution model, in days.
pub const DEFAULT_LOOKBACK_DAYS: f64 = 90.0;

/// The look-back parameter every model takes (each model struct has a
/// `lookback_days` field).
pub const LOOKBACK: ParamDescriptor = ParamDescriptor {
    name: "lookback_days",
    help: "days before the lead within which touches count",
    default: ParamValue::Number(DEFAULT_LOOKBACK_DAYS),
};

/// A model's report id: its strategy id, then `_lb{days}` when the
/// look-back differs from the default.
pub fn model_id(strategy_id: String, lookback_days: f64) -> String {
    if lookback_days == DEFAULT_LOOKBACK_DAYS {
        strategy_id
    } else {
        format!("{strategy_id}_lb{lookback_days}")
    }
}

/// Credit every converting journey by per-touch weights a rule computes over
/// the touches inside the look-back window (weights summing to 1), or to
/// `unknown` when there are none. Every label of the journeys gets an entry.
pub(crate) fn credit_by_rule(
    journeys: &Journeys,
    lookback_days: f64,
    mut rule: impl FnMut(&[Touch], &mut Vec<f64>),
) -> Credit {
    credit_by_journey_rule(journeys, lookback_days, |_, touches, w| rule(touches, w))
}

/// As [`credit_by_rule`], for rules that also read the journey (its lead or
/// opportunity time).
pub(crate) fn credit_by_journey_rule(
    journeys: &Journeys,
    lookback_days: f64,
    mut rule: impl FnMut(&Journey, &[Touch], &mut Vec<f64>),
) -> Credit {
    let mut conv = vec![0.0; journeys.labels.len()];
    let mut rev = vec![0.0; journeys.labels.len()];
    let unknown = journeys.unknown as usize;
    let mut weights = Vec::new();
    for j in journeys.converting() {
        let touches = journeys.in_lookback(j, lookback_days);
        if touches.is_empty() {
            conv[unknown] += j.conversions;
            rev[unknown] += j.revenue;
            continue;
        }
        weights.clear();
        weights.resize(touches.len(), 0.0);
        rule(j, touches, &mut weights);
        for (t, w) in touches.iter().zip(&weights) {
            conv[t.label as usize] += w * j.conversions;
            rev[t.label as usize] += w * j.revenue;
        }
    }
    credit_from(journeys, &conv, &rev)
}

/// A `Credit` with one entry per label of `journeys`, from per-label vectors.
pub(crate) fn credit_from(journeys: &Journeys, conv: &[f64], rev: &[f64]) -> Credit {
    let mut credit = Credit::default();
    for (i, l) in journeys.labels.iter().enumerate() {
        credit.add(l, conv[i], rev[i]);
    }
    credit
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Journeys from path strings (`"C1>C2>C3"`) with conversions.
    pub(crate) fn paths(labels: &[&str], items: &[(&str, f64, f64)]) -> Journeys {
        let mut all: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        all.extend(["direct", "unassigned", "unknown"].map(String::from));
        let mut js = Journeys::new(all, labels.len());
        for (path, conv, revenue) in items {
            let touches: Vec<(i64, u16)> = path
                .split('>')
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(i, l)| {
                    (
                        i as i64 * 1000,
                        js.labels.iter().position(|x| x == l).unwrap() as u16,
                    )
                })
                .collect();
            let lead = if *conv > 0.0 {
                Some(touches.len() as i64 * 1000)
            } else {
                None
            };
            js.push(&touches, lead, *conv, *revenue);
        }
        js
    }

    /// `n` random journeys over `n_channels` channels (and `direct`,
    /// `unassigned`, `unknown`): lengths 0–12 with times an hour to 40 days
    /// apart (so the look-back cuts some), about a quarter converting, some
    /// with revenue. A fixed xorshift stream: the same journeys every time.
    pub(crate) fn random_journeys(n: usize, n_channels: usize) -> Journeys {
        let names: Vec<String> = (0..n_channels).map(|i| format!("c{i}")).collect();
        let labels: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut js = paths(&labels, &[]);
        let n_labels = js.labels.len() as u64;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut touches = Vec::new();
        for _ in 0..n {
            let len = next(13) as usize * (next(4) > 0) as usize;
            touches.clear();
            let mut t = 0i64;
            for _ in 0..len {
                touches.push((t, next(n_labels) as u16));
                t += 3_600_000 * (1 + next(960) as i64);
            }
            let conv = (next(4) == 0) as u8 as f64;
            let lead = (conv > 0.0).then_some(t);
            js.push(&touches, lead, conv, conv * next(1000) as f64 * 0.37);
        }
        js
    }

    /// Run `f` on a pool of `threads` rayon threads (for thread-count
    /// determinism tests).
    pub(crate) fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(f)
    }

    pub(crate) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn design_example_a_rules() {
        // docs/model.md §4.6 (a): C1>C2>C3 → conv, C1 → null, C2>C3 → null.
        let js = paths(
            &["c1", "c2", "c3"],
            &[
                ("c1>c2>c3", 1.0, 0.0),
                ("c1", 0.0, 0.0),
                ("c2>c3", 0.0, 0.0),
            ],
        );
        let lb = 90.0;
        let ft = FirstTouch { lookback_days: lb }.attribute(&js);
        let lt = LastTouch { lookback_days: lb }.attribute(&js);
        let li = Linear { lookback_days: lb }.attribute(&js);
        assert!(close(ft.conversions["c1"], 1.0) && close(ft.conversions["c3"], 0.0));
        assert!(close(lt.conversions["c3"], 1.0) && close(lt.conversions["c1"], 0.0));
        for c in ["c1", "c2", "c3"] {
            assert!(close(li.conversions[c], 1.0 / 3.0));
        }
    }

    #[test]
    fn design_example_b_rules() {
        // docs/model.md §4.6 (b): A→conv ×2, A→null, B→conv, A>B→conv.
        let js = paths(
            &["a", "b"],
            &[
                ("a", 1.0, 10.0),
                ("a", 1.0, 10.0),
                ("a", 0.0, 0.0),
                ("b", 1.0, 10.0),
                ("a>b", 1.0, 10.0),
            ],
        );
        let lb = 90.0;
        let ft = FirstTouch { lookback_days: lb }.attribute(&js);
        let lt = LastTouch { lookback_days: lb }.attribute(&js);
        let li = Linear { lookback_days: lb }.attribute(&js);
        assert!(close(ft.conversions["a"], 3.0) && close(ft.conversions["b"], 1.0));
        assert!(close(lt.conversions["a"], 2.0) && close(lt.conversions["b"], 2.0));
        assert!(close(li.conversions["a"], 2.5) && close(li.conversions["b"], 1.5));
        assert!(close(li.revenue["a"], 25.0) && close(li.revenue["b"], 15.0));
    }
}
