//! The numbers behind the tables `closedloop run` prints: the best stitcher,
//! mean channel shares, the leaderboard of model errors and the paired
//! verdicts against `last_touch`, each computed here so the binary only
//! formats them.

use super::paired::{ModelDifference, Paired, REFERENCE_MODEL};
use crate::base::credit::Credit;
use crate::base::stats::Stats;
use crate::experiment::{self, ORACLE, ReplicateResult};
use crate::score::{CreditError, PathLengths, StitchMetrics};
use crate::truth::{SHAPLEY, TRUTHS};

/// The best stitcher of a run: highest mean pairwise F1 over replicates,
/// oracle excluded (ties: run order), with that F1.
pub fn best_stitcher(results: &[ReplicateResult]) -> Option<(String, f64)> {
    let first = results.first()?;
    let n = results.len() as f64;
    let mut best: Option<(String, f64)> = None;
    for (i, (name, _)) in first.stitching.iter().enumerate() {
        if name == ORACLE {
            continue;
        }
        let f1 = results
            .iter()
            .map(|r| r.stitching[i].1.pairwise.f1)
            .sum::<f64>()
            / n;
        if best.as_ref().is_none_or(|b| f1 > b.1) {
            best = Some((name.clone(), f1));
        }
    }
    best
}

/// Lead shares of `c` over `channels` (renormalised over the channels).
pub fn channel_shares(c: &Credit, channels: &[String]) -> Vec<f64> {
    let v: Vec<f64> = channels
        .iter()
        .map(|ch| c.conversions.get(ch).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = v.iter().sum();
    v.iter()
        .map(|x| if total != 0.0 { x / total } else { 0.0 })
        .collect()
}

/// Share of all of `c`'s leads credited to `unknown` (leads with no web history).
pub fn unknown_share(c: &Credit) -> f64 {
    let total = c.total_conversions();
    let unknown = c.conversions.get("unknown").copied().unwrap_or(0.0);
    if total > 0.0 { unknown / total } else { 0.0 }
}

/// Share of all of `c`'s leads credited to `label` (0 without leads).
pub fn lead_share(c: &Credit, label: &str) -> f64 {
    let total: f64 = c.conversions.values().sum();
    let leads = c.conversions.get(label).copied().unwrap_or(0.0);
    if total > 0.0 { leads / total } else { 0.0 }
}

/// Replicate 0's stitchers, highest pairwise F1 first (ties: by id), each
/// with its journeys' path lengths.
pub fn stitchers_by_f1(r: &ReplicateResult) -> Vec<(&str, &StitchMetrics, PathLengths)> {
    let mut rows: Vec<(&str, &StitchMetrics, PathLengths)> = r
        .stitching
        .iter()
        .map(|(name, m)| {
            let paths = r
                .path_lengths
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| *p)
                .unwrap_or_default();
            (name.as_str(), m, paths)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.1.pairwise
            .f1
            .total_cmp(&a.1.pairwise.f1)
            .then(a.0.cmp(b.0))
    });
    rows
}

/// Which error of a measure's [`CreditError`] a table shows.
pub type ErrorOf = fn(&CreditError) -> f64;
/// The headline error: `tvd` of shares of all leads.
pub const TVD: ErrorOf = |e| e.tvd;
/// `tvd` of the shares of the channel credit alone.
pub const TVD_CHANNELS: ErrorOf = |e| e.tvd_channels;

/// Attribution row `i`'s error on leads against truth `t` (an index of
/// [`TRUTHS`]), summarised over replicates.
pub fn error_stats(results: &[ReplicateResult], i: usize, t: usize, get: ErrorOf) -> Stats {
    let xs: Vec<f64> = results
        .iter()
        .map(|r| get(&r.attribution[i].error[t].conversions))
        .collect();
    Stats::of(&xs)
}

/// The channel-share table on one stitcher's journeys, means over replicates.
#[derive(Clone, Debug, PartialEq)]
pub struct ShareTable {
    /// Shapley truth's share per channel.
    pub truth: Vec<f64>,
    /// Per model on the stitcher: its share per channel.
    pub models: Vec<(String, Vec<f64>)>,
    /// The truth's baseline share of all leads (no channel).
    pub truth_no_channel: f64,
    /// Per model: its share of all leads on no channel.
    pub no_channel: Vec<f64>,
    /// Per model: its share of all leads on `unknown`.
    pub unknown: Vec<f64>,
    /// (error name, per model its error against shapley over replicates).
    pub errors: Vec<(&'static str, Vec<Stats>)>,
}

/// The channel-share table of `results` on `stitcher`'s journeys.
pub fn share_table(results: &[ReplicateResult], channels: &[String], stitcher: &str) -> ShareTable {
    let first = &results[0];
    let n = results.len() as f64;
    let rows: Vec<usize> = (0..first.attribution.len())
        .filter(|&i| first.attribution[i].stitcher == stitcher)
        .collect();
    let mean_shares = |get: &dyn Fn(&ReplicateResult) -> Vec<f64>| -> Vec<f64> {
        let mut acc = vec![0.0; channels.len()];
        for r in results {
            for (a, x) in acc.iter_mut().zip(get(r)) {
                *a += x / n;
            }
        }
        acc
    };
    let mean_of = |f: &dyn Fn(&ReplicateResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    let errors = [("tvd", TVD), ("tvd_channels", TVD_CHANNELS)]
        .map(|(name, get)| {
            let per_model = rows
                .iter()
                .map(|&i| error_stats(results, i, SHAPLEY, get))
                .collect();
            (name, per_model)
        })
        .to_vec();
    ShareTable {
        truth: mean_shares(&|r| channel_shares(&r.truth[SHAPLEY], channels)),
        models: rows
            .iter()
            .map(|&i| {
                (
                    first.attribution[i].model.clone(),
                    mean_shares(&|r| channel_shares(&r.attribution[i].credit, channels)),
                )
            })
            .collect(),
        truth_no_channel: mean_of(&|r| {
            r.attribution[rows[0]].error[SHAPLEY]
                .conversions
                .baseline_share
        }),
        no_channel: rows
            .iter()
            .map(|&i| {
                mean_of(&|r| {
                    r.attribution[i].error[SHAPLEY]
                        .conversions
                        .non_channel_share
                })
            })
            .collect(),
        unknown: rows
            .iter()
            .map(|&i| mean_of(&|r| unknown_share(&r.attribution[i].credit)))
            .collect(),
        errors,
    }
}

/// A model's headline error against each truth (in [`TRUTHS`] order),
/// summarised over replicates.
pub type TruthErrors = [Stats; 3];

/// One leaderboard row: a model's errors on the best stitcher's journeys
/// and on oracle journeys (None where the model did not run).
#[derive(Clone, Debug, PartialEq)]
pub struct LeaderboardRow {
    /// Model id (or `(shapley truth)` for the oracle row).
    pub model: String,
    /// Errors on the best stitcher's journeys.
    pub on_best: Option<TruthErrors>,
    /// Errors on oracle journeys.
    pub on_oracle: Option<TruthErrors>,
}

/// The model × truth leaderboard on `best`'s journeys and on oracle
/// journeys, sorted by the error against shapley on `best` (then model id);
/// the oracle credit last as `(shapley truth)`.
pub fn leaderboard(results: &[ReplicateResult], best: &str) -> Vec<LeaderboardRow> {
    let first = &results[0];
    let find = |stitcher: &str, model: &str| {
        first
            .attribution
            .iter()
            .position(|a| a.stitcher == stitcher && a.model == model)
    };
    let all_truths = |i: usize| [0, 1, 2].map(|t| error_stats(results, i, t, TVD));
    let none = experiment::NO_STITCHING;
    let mut models: Vec<LeaderboardRow> = first
        .attribution
        .iter()
        .filter(|a| a.stitcher == best || a.stitcher == none)
        .map(|a| {
            let errs = |s: &str| find(s, &a.model).map(all_truths);
            // Rows computed without journeys read the same on both sides.
            let (on_best, on_oracle) = if a.stitcher == none {
                let e = errs(none);
                (e, e)
            } else {
                (errs(best), errs(ORACLE))
            };
            LeaderboardRow {
                model: a.model.clone(),
                on_best,
                on_oracle,
            }
        })
        .collect();
    if models.is_empty() {
        return models;
    }
    models.sort_by(|a, b| {
        let key = |m: &Option<TruthErrors>| m.as_ref().map_or(f64::INFINITY, |e| e[SHAPLEY].mean);
        key(&a.on_best)
            .total_cmp(&key(&b.on_best))
            .then(a.model.cmp(&b.model))
    });
    if let Some(i) = find(ORACLE, ORACLE) {
        models.push(LeaderboardRow {
            model: "(shapley truth)".into(),
            on_best: None,
            on_oracle: Some(all_truths(i)),
        });
    }
    models
}

/// How a paired difference reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The whole 95 % CI of (model − reference) is below 0.
    Beats,
    /// The whole 95 % CI is above 0.
    LosesTo,
    /// The CI holds 0 (or there is none).
    NoClearDifference,
}

impl Verdict {
    /// The verdict of a difference `model − reference` of errors.
    pub fn of(diff: &Stats) -> Verdict {
        let (lo, hi) = (
            diff.ci95_low.unwrap_or(f64::NAN),
            diff.ci95_high.unwrap_or(f64::NAN),
        );
        if hi < 0.0 {
            Verdict::Beats
        } else if lo > 0.0 {
            Verdict::LosesTo
        } else {
            Verdict::NoClearDifference
        }
    }
}

/// Each model against [`REFERENCE_MODEL`] on `stitcher`'s journeys
/// (headline error against shapley), sorted by the mean difference (then
/// model id), with its verdict.
pub fn versus_reference<'a>(
    paired: &'a Paired,
    stitcher: &str,
) -> Vec<(&'a ModelDifference, Verdict)> {
    let mut diffs: Vec<&ModelDifference> = paired
        .models
        .iter()
        .filter(|d| {
            d.stitcher == stitcher
                && d.versus == REFERENCE_MODEL
                && d.truth == TRUTHS[SHAPLEY]
                && d.model != REFERENCE_MODEL
        })
        .collect();
    diffs.sort_by(|a, b| {
        a.diff
            .mean
            .total_cmp(&b.diff.mean)
            .then(a.model.cmp(&b.model))
    });
    diffs
        .into_iter()
        .map(|d| (d, Verdict::of(&d.diff)))
        .collect()
}
