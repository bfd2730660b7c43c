//! Paired differences (report.json `paired`; `docs/model.md`, "The metrics"): every model
//! and stitcher is scored on the same replicate worlds, so the difference of
//! two errors is taken replicate by replicate and summarised like any number
//! (mean, sd, t-based 95 % CI, n). Pairing removes the world-to-world noise
//! both share, so "A beats B" gets a much narrower interval than comparing
//! two separate means.
//!
//! What is compared (a reference set, not every pair, to keep the size
//! linear in the number of models):
//! - per stitcher's journeys, each model's headline error (`conversions.tvd`)
//!   minus `last_touch`'s and minus the best model's on those journeys
//!   (lowest mean `tvd` against shapley, oracle model excluded), against
//!   each truth; the runner-up (second lowest) minus the best is among them,
//!   so whether "the best" is better than the next one is a paired CI too;
//! - each stitcher's pairwise F1 minus the best stitcher's (highest mean
//!   F1, oracle excluded).
//!
//! The best is chosen on the same replicates it is compared on, so its
//! intervals are optimistic for the best; they are exact for `last_touch`.

use super::Stats;
use crate::experiment::{ORACLE, ReplicateResult};
use crate::truth::{SHAPLEY, TRUTHS};

/// Metric compared between models: `tvd` of shares of all leads.
pub const MODEL_METRIC: &str = "conversions.tvd";
/// Metric compared between stitchers.
pub const STITCHER_METRIC: &str = "pairwise.f1";
/// The reference model every model is compared with.
pub const REFERENCE_MODEL: &str = "last_touch";

/// One model's error minus a reference model's, on one stitcher's journeys,
/// against one truth (negative: the model is closer to the truth).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDifference {
    /// Stitcher whose journeys both models read.
    pub stitcher: String,
    /// The model.
    pub model: String,
    /// The reference model subtracted.
    pub versus: String,
    /// Truth the errors are measured against.
    pub truth: &'static str,
    /// Per-replicate differences, summarised.
    pub diff: Stats,
}

/// One stitcher's pairwise F1 minus the best stitcher's.
#[derive(Clone, Debug, PartialEq)]
pub struct StitcherDifference {
    /// The stitcher.
    pub stitcher: String,
    /// The best stitcher.
    pub versus: String,
    /// Per-replicate differences, summarised.
    pub diff: Stats,
}

/// Every paired difference of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Paired {
    /// Best model per stitcher (stitcher, model), in run order.
    pub best_models: Vec<(String, String)>,
    /// Runner-up per stitcher (stitcher, model: second lowest mean `tvd`
    /// against shapley), in run order; absent with a single model.
    pub runner_ups: Vec<(String, String)>,
    /// Model differences, stitcher-major, then reference, model, truth.
    pub models: Vec<ModelDifference>,
    /// The best stitcher (none when only the oracle ran).
    pub best_stitcher: Option<String>,
    /// Stitcher differences, in run order (oracle excluded).
    pub stitchers: Vec<StitcherDifference>,
}

impl Paired {
    /// The difference `model − versus` on `stitcher`'s journeys against `truth`.
    pub fn model(
        &self,
        stitcher: &str,
        model: &str,
        versus: &str,
        truth: &str,
    ) -> Option<&ModelDifference> {
        self.models.iter().find(|d| {
            d.stitcher == stitcher && d.model == model && d.versus == versus && d.truth == truth
        })
    }

    /// The best model on `stitcher`'s journeys.
    pub fn best_model(&self, stitcher: &str) -> Option<&str> {
        self.best_models
            .iter()
            .find(|(s, _)| s == stitcher)
            .map(|(_, m)| m.as_str())
    }

    /// On `stitcher`'s journeys: the best model and the runner-up's
    /// headline error minus the best's against shapley (positive: the best is
    /// lower). Whether "best" means anything is whether its CI excludes 0.
    pub fn best_margin(&self, stitcher: &str) -> Option<(&str, &ModelDifference)> {
        let best = self.best_models.iter().find(|b| b.0 == stitcher)?;
        let runner_up = self.runner_ups.iter().find(|b| b.0 == stitcher)?;
        let d = self.model(stitcher, &runner_up.1, &best.1, TRUTHS[SHAPLEY])?;
        Some((&best.1, d))
    }
}

/// Per-replicate values of attribution row `i`'s headline error against truth `t`.
fn tvds(results: &[ReplicateResult], i: usize, t: usize) -> Vec<f64> {
    results
        .iter()
        .map(|r| r.attribution[i].error[t].conversions.tvd)
        .collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Paired differences of a run's replicates (all run with the same
/// configuration, so rows line up by index).
pub fn paired(results: &[ReplicateResult]) -> Paired {
    let Some(first) = results.first() else {
        return Paired::default();
    };
    let mut out = Paired::default();
    for (stitcher, _) in &first.stitching {
        let rows: Vec<usize> = (0..first.attribution.len())
            .filter(|&i| {
                let a = &first.attribution[i];
                a.stitcher == *stitcher && a.model != ORACLE
            })
            .collect();
        let mut ranked = rows.clone();
        ranked.sort_by(|&a, &b| {
            mean(&tvds(results, a, SHAPLEY))
                .total_cmp(&mean(&tvds(results, b, SHAPLEY)))
                .then(first.attribution[a].model.cmp(&first.attribution[b].model))
        });
        let Some(&best) = ranked.first() else {
            continue;
        };
        out.best_models
            .push((stitcher.clone(), first.attribution[best].model.clone()));
        if let Some(&second) = ranked.get(1) {
            out.runner_ups
                .push((stitcher.clone(), first.attribution[second].model.clone()));
        }
        let reference = rows
            .iter()
            .copied()
            .find(|&i| first.attribution[i].model == REFERENCE_MODEL);
        let mut versus: Vec<usize> = reference.into_iter().collect();
        if !versus.contains(&best) {
            versus.push(best);
        }
        for &v in &versus {
            for &i in &rows {
                for (t, truth) in TRUTHS.iter().enumerate() {
                    let (xs, ys) = (tvds(results, i, t), tvds(results, v, t));
                    let d: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| x - y).collect();
                    out.models.push(ModelDifference {
                        stitcher: stitcher.clone(),
                        model: first.attribution[i].model.clone(),
                        versus: first.attribution[v].model.clone(),
                        truth,
                        diff: Stats::of(&d),
                    });
                }
            }
        }
    }
    let f1s = |i: usize| -> Vec<f64> {
        results
            .iter()
            .map(|r| r.stitching[i].1.pairwise.f1)
            .collect()
    };
    let candidates: Vec<usize> = (0..first.stitching.len())
        .filter(|&i| first.stitching[i].0 != ORACLE)
        .collect();
    let best = candidates.iter().copied().max_by(|&a, &b| {
        mean(&f1s(a))
            .total_cmp(&mean(&f1s(b)))
            .then(first.stitching[b].0.cmp(&first.stitching[a].0))
    });
    if let Some(b) = best {
        let name = first.stitching[b].0.clone();
        for &i in &candidates {
            let d: Vec<f64> = f1s(i).iter().zip(f1s(b)).map(|(x, y)| x - y).collect();
            out.stitchers.push(StitcherDifference {
                stitcher: first.stitching[i].0.clone(),
                versus: name.clone(),
                diff: Stats::of(&d),
            });
        }
        out.best_stitcher = Some(name);
    }
    out
}
