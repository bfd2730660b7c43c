//! Scoring: a stitcher's partition against the true persons, and a model's
//! credit against each truth (the metrics and their conventions:
//! docs/model.md §5).
//!
//! Must never: feed anything back to a strategy.

mod paths;

pub use paths::{LENGTH_BINS, LengthDist, PathLengths, path_lengths};

use crate::base::credit::{Credit, Measure};
use crate::log::EventLog;
use crate::stitch::Identities;
use crate::truth::{BASELINE, Truth};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Pairwise precision / recall over visit pairs, from contingency counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Pairwise {
    /// TP / predicted pairs (1 when nothing is predicted).
    pub precision: f64,
    /// TP / true pairs (1 when there are no true pairs).
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
    /// Pairs in the same cluster and the same person.
    pub tp_pairs: u64,
    /// Pairs in the same cluster, different persons.
    pub fp_pairs: u64,
    /// Pairs of the same person in different clusters.
    pub fn_pairs: u64,
}

/// B-cubed precision and recall over visits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BCubed {
    /// Mean over visits of |cluster ∩ person| / |cluster|.
    pub precision: f64,
    /// Mean over visits of |cluster ∩ person| / |person|.
    pub recall: f64,
}

/// Mean and 95th percentile.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanP95 {
    /// Mean.
    pub mean: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
}

/// Stitching metrics of one stitcher (docs/model.md §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StitchMetrics {
    /// Pairwise scores over visits.
    pub pairwise: Pairwise,
    /// B-cubed scores over visits.
    pub bcubed: BCubed,
    /// Extra pieces: Σ over persons of (clusters holding their visits − 1).
    pub splits: u64,
    /// Clusters whose visits belong to more than one person.
    pub merges: u64,
    /// Clusters per converted person, over all their logged events.
    pub clusters_per_person: MeanP95,
    /// Visits in the largest cluster.
    pub largest_cluster: u64,
    /// Share of converted persons whose recovered journey holds all their
    /// observed pre-lead visits.
    pub completeness: f64,
    /// Share of leads caused by a click touch whose causing visit is in the
    /// recovered journey (1 when no lead has a click cause).
    pub cause_in_journey: f64,
}

/// Partition metrics computable from (true person, cluster) labels of visits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contingency {
    /// Pairwise scores.
    pub pairwise: Pairwise,
    /// B-cubed scores.
    pub bcubed: BCubed,
    /// Extra pieces of split persons.
    pub splits: u64,
    /// Clusters holding more than one person.
    pub merges: u64,
    /// Size of the largest cluster.
    pub largest_cluster: u64,
}

/// Every contingency-table metric in one sorted pass over (person, cluster)
/// pairs: O(n log n) time, O(n) memory, no pair enumeration.
pub fn contingency(persons: &[u32], clusters: &[u32]) -> Contingency {
    assert_eq!(persons.len(), clusters.len());
    let n = persons.len();
    let count = |ids: &[u32]| -> Vec<u64> {
        let max = ids.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut c = vec![0u64; max];
        ids.iter().for_each(|&x| c[x as usize] += 1);
        c
    };
    let (by_person, by_cluster) = (count(persons), count(clusters));
    let mut joint: Vec<u64> = persons
        .iter()
        .zip(clusters)
        .map(|(&p, &c)| ((p as u64) << 32) | c as u64)
        .collect();
    joint.sort_unstable();
    let (mut tp, mut bp, mut br, mut splits) = (0u64, 0.0f64, 0.0f64, 0u64);
    let mut persons_in_cluster = vec![0u32; by_cluster.len()];
    let mut prev_person = u64::MAX;
    for run in joint.chunk_by(|a, b| a == b) {
        let (p, c) = (run[0] >> 32, run[0] & 0xffff_ffff);
        let nij = run.len() as u64;
        tp += pairs(nij);
        let nij2 = (nij * nij) as f64;
        bp += nij2 / by_cluster[c as usize] as f64;
        br += nij2 / by_person[p as usize] as f64;
        if p == prev_person {
            splits += 1;
        }
        prev_person = p;
        persons_in_cluster[c as usize] += 1;
    }
    let true_pairs: u64 = by_person.iter().map(|&x| pairs(x)).sum();
    let pred_pairs: u64 = by_cluster.iter().map(|&x| pairs(x)).sum();
    let precision = if pred_pairs == 0 {
        1.0
    } else {
        tp as f64 / pred_pairs as f64
    };
    let recall = if true_pairs == 0 {
        1.0
    } else {
        tp as f64 / true_pairs as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    let (bp, br) = if n == 0 {
        (1.0, 1.0)
    } else {
        (bp / n as f64, br / n as f64)
    };
    Contingency {
        pairwise: Pairwise {
            precision,
            recall,
            f1,
            tp_pairs: tp,
            fp_pairs: pred_pairs - tp,
            fn_pairs: true_pairs - tp,
        },
        bcubed: BCubed {
            precision: bp,
            recall: br,
        },
        splits,
        merges: persons_in_cluster.iter().filter(|&&k| k > 1).count() as u64,
        largest_cluster: by_cluster.iter().copied().max().unwrap_or(0),
    }
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Pairwise scores from (true person, cluster) labels of the same items,
/// computed from sorted contingency counts, never by enumerating pairs.
pub fn pairwise(persons: &[u32], clusters: &[u32]) -> Pairwise {
    contingency(persons, clusters).pairwise
}

/// One true lead, as the stitching metrics need it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeadCause {
    /// The person.
    pub person: u32,
    /// The causing touch was a click (it produced a site visit).
    pub cause_is_click: bool,
    /// Index in `log.visits` of the causing touch's recorded visit, if recorded.
    pub cause_visit: Option<usize>,
}

/// What the stitching metrics need of the truth: the true person of every
/// logged event (aligned with the log's tables), each person's lead time and
/// each lead's cause. Borrowed from a [`Truth`], or read back from an
/// exported `truth/` folder (`closedloop score --clusters`).
#[derive(Clone, Debug, PartialEq)]
pub struct StitchTruth<'a> {
    /// Persons in the world (person ids are below this).
    pub persons: usize,
    /// Person of each visit, form fill, CRM lead, opportunity, deal.
    pub visit_person: Cow<'a, [u32]>,
    /// See `visit_person`.
    pub form_fill_person: Cow<'a, [u32]>,
    /// See `visit_person`.
    pub crm_lead_person: Cow<'a, [u32]>,
    /// See `visit_person`.
    pub opportunity_person: Cow<'a, [u32]>,
    /// See `visit_person`.
    pub deal_person: Cow<'a, [u32]>,
    /// Lead time (ms UTC) per person, None if not a lead.
    pub lead_time_ms: Cow<'a, [Option<i64>]>,
    /// Every true lead.
    pub leads: Vec<LeadCause>,
}

impl<'a> StitchTruth<'a> {
    /// The view of a truth ledger.
    pub fn of(truth: &'a Truth) -> StitchTruth<'a> {
        let e = &truth.events;
        let cause_touches: std::collections::HashSet<u32> =
            truth.leads.iter().filter_map(|l| l.cause_touch).collect();
        let visit_of_touch: std::collections::HashMap<u32, usize> = e
            .visit_touch
            .iter()
            .enumerate()
            .filter(|(_, t)| cause_touches.contains(t))
            .map(|(i, &t)| (t, i))
            .collect();
        StitchTruth {
            persons: truth.persons as usize,
            visit_person: Cow::Borrowed(&e.visit_person),
            form_fill_person: Cow::Borrowed(&e.form_fill_person),
            crm_lead_person: Cow::Borrowed(&e.crm_lead_person),
            opportunity_person: Cow::Borrowed(&e.opportunity_person),
            deal_person: Cow::Borrowed(&e.deal_person),
            lead_time_ms: Cow::Borrowed(&truth.lead_time_ms),
            leads: truth
                .leads
                .iter()
                .map(|l| LeadCause {
                    person: l.person,
                    cause_is_click: l.cause_is_click,
                    cause_visit: l.cause_touch.and_then(|t| visit_of_touch.get(&t).copied()),
                })
                .collect(),
        }
    }
}

/// Score a partition against the truth.
pub fn score_stitching(log: &EventLog, ids: &Identities, truth: &Truth) -> StitchMetrics {
    score_partition(log, ids, &StitchTruth::of(truth))
}

/// Score a partition against what the stitching metrics need of the truth.
pub fn score_partition(log: &EventLog, ids: &Identities, truth: &StitchTruth<'_>) -> StitchMetrics {
    let ct = contingency(&truth.visit_person, &ids.visit);
    // Completeness: the recovered journey of a converted person is the cluster
    // of their first form fill; it must hold all their observed pre-lead visits.
    let mut lead_cluster: Vec<Option<u32>> = vec![None; truth.persons];
    for (i, &p) in truth.form_fill_person.iter().enumerate() {
        if lead_cluster[p as usize].is_none() {
            lead_cluster[p as usize] = Some(ids.form_fill[i]);
        }
    }
    let mut complete = vec![true; truth.persons];
    for (i, v) in log.visits.iter().enumerate() {
        let p = truth.visit_person[i] as usize;
        if let Some(t) = truth.lead_time_ms[p]
            && v.time_ms <= t
            && lead_cluster[p] != Some(ids.visit[i])
        {
            complete[p] = false;
        }
    }
    let completeness = if truth.leads.is_empty() {
        1.0
    } else {
        truth
            .leads
            .iter()
            .filter(|l| complete[l.person as usize] && lead_cluster[l.person as usize].is_some())
            .count() as f64
            / truth.leads.len() as f64
    };
    // Cause in journey: the causing touch's recorded visit sits in the lead's cluster.
    let click_caused: Vec<&LeadCause> = truth.leads.iter().filter(|l| l.cause_is_click).collect();
    let found = click_caused
        .iter()
        .filter(|l| {
            l.cause_visit
                .is_some_and(|v| Some(ids.visit[v]) == lead_cluster[l.person as usize])
        })
        .count();
    let cause_in_journey = if click_caused.is_empty() {
        1.0
    } else {
        found as f64 / click_caused.len() as f64
    };
    StitchMetrics {
        pairwise: ct.pairwise,
        bcubed: ct.bcubed,
        splits: ct.splits,
        merges: ct.merges,
        clusters_per_person: clusters_per_converted_person(ids, truth),
        largest_cluster: ct.largest_cluster,
        completeness,
        cause_in_journey,
    }
}

/// Distinct clusters over all logged events of each converted person.
fn clusters_per_converted_person(ids: &Identities, truth: &StitchTruth<'_>) -> MeanP95 {
    let converted: std::collections::HashSet<u32> = truth.leads.iter().map(|l| l.person).collect();
    if converted.is_empty() {
        return MeanP95 {
            mean: 0.0,
            p95: 0.0,
        };
    }
    let tables: [(&[u32], &[u32]); 5] = [
        (&truth.visit_person, &ids.visit),
        (&truth.form_fill_person, &ids.form_fill),
        (&truth.crm_lead_person, &ids.crm_lead),
        (&truth.opportunity_person, &ids.opportunity),
        (&truth.deal_person, &ids.deal),
    ];
    let mut joint: Vec<u64> = tables
        .iter()
        .flat_map(|(p, c)| p.iter().zip(c.iter()))
        .filter(|(p, _)| converted.contains(p))
        .map(|(&p, &c)| ((p as u64) << 32) | c as u64)
        .collect();
    joint.sort_unstable();
    joint.dedup();
    let mut per_person: Vec<u64> = joint
        .chunk_by(|a, b| a >> 32 == b >> 32)
        .map(|r| r.len() as u64)
        .collect();
    per_person.sort_unstable();
    let mean = per_person.iter().sum::<u64>() as f64 / per_person.len() as f64;
    let rank = ((0.95 * per_person.len() as f64).ceil() as usize).clamp(1, per_person.len());
    MeanP95 {
        mean,
        p95: per_person[rank - 1] as f64,
    }
}

/// The channels a credit is scored over: ids in scenario order and each
/// one's spend per period (0 for unpaid channels), for `spearman_roi`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoredChannels {
    /// Channel ids.
    pub ids: Vec<String>,
    /// Spend per period per channel, aligned with `ids`; 0 = not paid.
    pub spend: Vec<f64>,
}

impl ScoredChannels {
    /// Channels without spend information (no `spearman_roi`).
    pub fn unpaid(ids: Vec<String>) -> ScoredChannels {
        let spend = vec![0.0; ids.len()];
        ScoredChannels { ids, spend }
    }
}

/// Credit error of a model against one truth, for one measure.
///
/// The headline `tvd` compares shares of **all** leads: each side divided by
/// its own total (signed credit as is), over the channels plus one
/// `no channel` bucket (the truth's `baseline`; a model's `direct`,
/// `unassigned`, `unknown` and any other non-channel label). Moving credit
/// into `direct` therefore cannot hide an error: once the model's no-channel
/// share is at or above the true baseline share, moving more credit from
/// channels into it can only raise `tvd` (the bucket's term grows by exactly
/// what moved, the channels' terms shrink by at most as much).
///
/// Per-channel figures are on channel shares, as `tvd_channels` is (each side
/// renormalised over the channels): `bias` = model share − true share, so
/// Σ|bias| = 2·`tvd_channels`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditError {
    /// Total variation distance between shares of all leads, over the
    /// channels plus one no-channel bucket: the headline.
    pub tvd: f64,
    /// TVD between channel shares (channels only, both sides renormalised; a
    /// side with no channel credit has error 1). Blind to credit parked on
    /// non-channel labels.
    pub tvd_channels: f64,
    /// TVD over every label apart (the truth's `baseline`, a model's
    /// `direct`, `unassigned`, `unknown` each its own coordinate).
    pub tvd_all: f64,
    /// Per channel: model share − true share, on channel shares (as `tvd_channels`).
    pub bias: BTreeMap<String, f64>,
    /// Per channel: bias / true share (as `tvd_channels`); null where the
    /// true share is 0.
    pub rel_error: BTreeMap<String, Option<f64>>,
    /// Spearman rank correlation of the model's ROI (credit per unit spend)
    /// with the true ROI over paid channels; null with fewer than two paid
    /// channels or when either side's ROIs are all tied.
    pub spearman_roi: Option<f64>,
    /// Largest |bias| over the channels (channel shares, as `tvd_channels`).
    pub max_miss: f64,
    /// The channel of `max_miss` (first in scenario order on ties).
    pub max_miss_channel: Option<String>,
    /// The model's share of credit on non-channel labels (`direct`,
    /// `unassigned`, `unknown`); 0 when the model credited nothing.
    pub non_channel_share: f64,
    /// The truth's `baseline` share, to read `non_channel_share` against.
    pub baseline_share: f64,
}

/// Credit error against a truth, in conversions and in revenue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditErrors {
    /// On leads.
    pub conversions: CreditError,
    /// On revenue.
    pub revenue: CreditError,
}

/// Shares of a side over the given keys; None when the total is zero.
fn shares(values: &[f64]) -> Option<Vec<f64>> {
    let total: f64 = values.iter().sum();
    if total.abs() < 1e-12 {
        None
    } else {
        Some(values.iter().map(|v| v / total).collect())
    }
}

/// Total variation distance between two vectors, each divided by its own
/// total (signed values as they are); 1 when either total is zero.
fn tvd(model: &[f64], truth: &[f64]) -> f64 {
    match (shares(model), shares(truth)) {
        (Some(m), Some(t)) => 0.5 * m.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum::<f64>(),
        _ => 1.0,
    }
}

/// Ranks from 1, ties sharing their average rank.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson on average ranks); None when fewer
/// than two values or either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 2 || a.len() != b.len() {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let mean = (a.len() as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - mean) * (y - mean);
        saa += (x - mean) * (x - mean);
        sbb += (y - mean) * (y - mean);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Error of a model's credit against a truth's, over the scenario's channels.
pub fn credit_error(
    model: &Credit,
    truth: &Credit,
    channels: &ScoredChannels,
    measure: Measure,
) -> CreditError {
    let ids = &channels.ids;
    let (m, t) = (model.measure(measure), truth.measure(measure));
    let get = |map: &BTreeMap<String, f64>, k: &str| map.get(k).copied().unwrap_or(0.0);
    let mv: Vec<f64> = ids.iter().map(|c| get(m, c)).collect();
    let tv: Vec<f64> = ids.iter().map(|c| get(t, c)).collect();
    let non_channel = |map: &BTreeMap<String, f64>| -> f64 {
        map.iter()
            .filter(|(k, _)| !ids.contains(k))
            .map(|(_, v)| v)
            .sum()
    };
    let (model_non_channel, truth_non_channel) = (non_channel(m), non_channel(t));
    // Channels plus the one no-channel bucket.
    let (mut mv_bucket, mut tv_bucket) = (mv.clone(), tv.clone());
    mv_bucket.push(model_non_channel);
    tv_bucket.push(truth_non_channel);
    // Every label apart: channels in scenario order, then the others by name.
    let others: std::collections::BTreeSet<&String> = m
        .keys()
        .chain(t.keys())
        .filter(|k| !ids.contains(k))
        .collect();
    let mv_all: Vec<f64> = mv
        .iter()
        .copied()
        .chain(others.iter().map(|k| get(m, k)))
        .collect();
    let tv_all: Vec<f64> = tv
        .iter()
        .copied()
        .chain(others.iter().map(|k| get(t, k)))
        .collect();

    // A side with no channel credit has all channel shares 0.
    let ms = shares(&mv).unwrap_or_else(|| vec![0.0; mv.len()]);
    let ts = shares(&tv).unwrap_or_else(|| vec![0.0; tv.len()]);
    let mut bias = BTreeMap::new();
    let mut rel_error = BTreeMap::new();
    let (mut max_miss, mut max_miss_channel) = (0.0, None);
    for (i, c) in ids.iter().enumerate() {
        let b = ms[i] - ts[i];
        bias.insert(c.clone(), b);
        rel_error.insert(c.clone(), (ts[i] != 0.0).then(|| b / ts[i]));
        if b.abs() > max_miss {
            max_miss = b.abs();
            max_miss_channel = Some(c.clone());
        }
    }
    let paid: Vec<usize> = (0..ids.len())
        .filter(|&i| channels.spend[i] > 0.0)
        .collect();
    let roi = |v: &[f64]| -> Vec<f64> { paid.iter().map(|&i| v[i] / channels.spend[i]).collect() };
    let share_of = |part: f64, all: &[f64]| {
        let total: f64 = all.iter().sum();
        if total.abs() < 1e-12 {
            0.0
        } else {
            part / total
        }
    };
    CreditError {
        tvd: tvd(&mv_bucket, &tv_bucket),
        tvd_channels: tvd(&mv, &tv),
        tvd_all: tvd(&mv_all, &tv_all),
        bias,
        rel_error,
        spearman_roi: spearman(&roi(&mv), &roi(&tv)),
        max_miss,
        max_miss_channel,
        non_channel_share: share_of(model_non_channel, &mv_bucket),
        baseline_share: share_of(get(t, BASELINE), &t.values().copied().collect::<Vec<_>>()),
    }
}

/// Both measures.
pub fn credit_errors(model: &Credit, truth: &Credit, channels: &ScoredChannels) -> CreditErrors {
    CreditErrors {
        conversions: credit_error(model, truth, channels, Measure::Conversions),
        revenue: credit_error(model, truth, channels, Measure::Revenue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_by_hand() {
        // Persons: 0 0 0 1 1; clusters: a a b b b.
        let p = pairwise(&[0, 0, 0, 1, 1], &[0, 0, 1, 1, 1]);
        // True pairs: 3 + 1 = 4; predicted: 1 + 3 = 4; TP: (0,0 in a)=1 + (1,1 in b)=1 = 2.
        assert_eq!((p.tp_pairs, p.fp_pairs, p.fn_pairs), (2, 2, 2));
        assert!((p.precision - 0.5).abs() < 1e-12 && (p.recall - 0.5).abs() < 1e-12);
        let perfect = pairwise(&[3, 3, 7], &[1, 1, 0]);
        assert_eq!(perfect.f1, 1.0);
        let none = pairwise(&[1, 2], &[5, 6]);
        assert_eq!((none.precision, none.recall), (1.0, 1.0));
    }

    #[test]
    fn contingency_metrics_by_hand() {
        // Persons 0 0 0 1 1; clusters a a b b b (a = 0, b = 1).
        let c = contingency(&[0, 0, 0, 1, 1], &[0, 0, 1, 1, 1]);
        // B-cubed precision: visits in a: 2/2 each; in b: person 0 1/3, person 1 2/3 twice.
        let bp = (1.0 + 1.0 + 1.0 / 3.0 + 2.0 / 3.0 + 2.0 / 3.0) / 5.0;
        // B-cubed recall: person 0's visits: 2/3, 2/3, 1/3; person 1's: 2/2, 2/2.
        let br = (2.0 / 3.0 + 2.0 / 3.0 + 1.0 / 3.0 + 1.0 + 1.0) / 5.0;
        assert!((c.bcubed.precision - bp).abs() < 1e-12 && (c.bcubed.recall - br).abs() < 1e-12);
        assert_eq!((c.splits, c.merges, c.largest_cluster), (1, 1, 3));
        // Identical partitions: 1 everywhere, nothing split or merged.
        let same = contingency(&[4, 4, 9, 9, 9], &[0, 0, 1, 1, 1]);
        assert_eq!(
            (same.pairwise.f1, same.bcubed.precision, same.bcubed.recall),
            (1.0, 1.0, 1.0)
        );
        assert_eq!((same.splits, same.merges), (0, 0));
        // All singletons: precision 1 (no predicted pairs), recall 0, each person split.
        let single = contingency(&[0, 0, 1, 1], &[0, 1, 2, 3]);
        assert_eq!(
            (single.pairwise.precision, single.pairwise.recall),
            (1.0, 0.0)
        );
        assert_eq!(single.splits, 2);
        // All in one: recall 1, one merge, largest cluster = everything.
        let one = contingency(&[0, 0, 1, 1], &[0, 0, 0, 0]);
        assert_eq!(one.pairwise.recall, 1.0);
        assert!((one.pairwise.precision - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!((one.merges, one.largest_cluster), (1, 4));
    }

    fn credit(rows: &[(&str, f64)]) -> Credit {
        let mut c = Credit::default();
        for &(l, v) in rows {
            c.add(l, v, 0.0);
        }
        c
    }

    fn conv(m: &Credit, t: &Credit, ids: &[&str]) -> CreditError {
        let ch = ScoredChannels::unpaid(ids.iter().map(|s| s.to_string()).collect());
        credit_error(m, t, &ch, Measure::Conversions)
    }

    #[test]
    fn tvd_conventions() {
        let ch = ScoredChannels::unpaid(vec!["a".to_string(), "b".to_string()]);
        let m = credit(&[("a", 3.0), ("b", 1.0), ("direct", 4.0)]);
        let t = credit(&[("a", 1.0), ("b", 1.0), (BASELINE, 2.0)]);
        let e = credit_error(&m, &t, &ch, Measure::Conversions);
        // Shares of all leads, no-channel bucket last: 3/8, 1/8, 4/8 vs 1/4, 1/4, 2/4.
        assert!((e.tvd - 0.125).abs() < 1e-12, "{}", e.tvd);
        // Channel shares 0.75/0.25 vs 0.5/0.5.
        assert!((e.tvd_channels - 0.25).abs() < 1e-12);
        // Every label apart (a, b, baseline, direct): 3/8, 1/8, 0, 4/8 vs 1/4, 1/4, 2/4, 0.
        assert!((e.tvd_all - 0.625).abs() < 1e-12, "{}", e.tvd_all);
        // A side with nothing to share has error 1 (revenue is all zero here).
        let r = credit_error(&m, &t, &ch, Measure::Revenue);
        assert_eq!((r.tvd, r.tvd_channels, r.tvd_all), (1.0, 1.0, 1.0));
        // direct, unassigned and unknown share one bucket in `tvd`, not in `tvd_all`.
        let m = credit(&[("a", 2.0), ("direct", 1.0), ("unassigned", 1.0)]);
        let t = credit(&[("a", 2.0), (BASELINE, 2.0)]);
        let e = conv(&m, &t, &["a"]);
        assert_eq!((e.tvd, e.tvd_channels), (0.0, 0.0));
        // a 1/2 vs 1/2, baseline 0 vs 1/2, direct 1/4 vs 0, unassigned 1/4 vs 0.
        assert!((e.tvd_all - 0.5).abs() < 1e-12, "{}", e.tvd_all);
        // A model with no channel credit: channels-only error 1, headline not.
        let e = conv(&credit(&[("direct", 1.0)]), &t, &["a"]);
        assert_eq!(e.tvd_channels, 1.0);
        assert!((e.tvd - 0.5).abs() < 1e-12);
    }

    #[test]
    fn signed_credit_is_divided_by_the_total_as_is() {
        // Revenue incrementality can be negative: truth a 3, b −1, baseline 2
        // (total 4) → shares 0.75, −0.25, 0.5; model a 2, b 2 → 0.5, 0.5, 0.
        let ch = ScoredChannels::unpaid(vec!["a".to_string(), "b".to_string()]);
        let mut t = Credit::default();
        t.add("a", 0.0, 3.0);
        t.add("b", 0.0, -1.0);
        t.add(BASELINE, 0.0, 2.0);
        let mut m = Credit::default();
        m.add("a", 0.0, 2.0);
        m.add("b", 0.0, 2.0);
        let e = credit_error(&m, &t, &ch, Measure::Revenue);
        assert!((e.tvd - 0.75).abs() < 1e-12, "{}", e.tvd);
        // Channels only: 1.5, −0.5 vs 0.5, 0.5.
        assert!((e.tvd_channels - 1.0).abs() < 1e-12, "{}", e.tvd_channels);
    }

    /// Random non-negative credits over `n` channels plus `direct` (model) and
    /// `baseline` (truth); some channels get nothing.
    fn random_pair(rng: &mut crate::base::rng::Stream, n: usize) -> (Credit, Credit) {
        let (mut m, mut t) = (Credit::default(), Credit::default());
        let draw = |rng: &mut crate::base::rng::Stream| {
            if rng.uniform() < 0.15 {
                0.0
            } else {
                rng.uniform() * 100.0
            }
        };
        for i in 0..n {
            m.add(&format!("c{i}"), draw(rng), 0.0);
            t.add(&format!("c{i}"), draw(rng), 0.0);
        }
        m.add("direct", draw(rng), 0.0);
        t.add(BASELINE, draw(rng), 0.0);
        (m, t)
    }

    /// `m` with `fraction[i]` of channel i's credit moved to `direct`.
    fn moved_to_direct(m: &Credit, n: usize, fraction: impl Fn(usize) -> f64) -> Credit {
        let mut out = Credit::default();
        for i in 0..n {
            let v = m.conversions[&format!("c{i}")];
            out.add(&format!("c{i}"), v * (1.0 - fraction(i)), 0.0);
            out.add("direct", v * fraction(i), 0.0);
        }
        out.add("direct", m.conversions["direct"], 0.0);
        out
    }

    #[test]
    fn moving_channel_credit_into_direct_never_helps_once_the_baseline_share_is_matched() {
        // The precise property: if a model's no-channel share already matches
        // or exceeds the truth's baseline share, moving any part of any
        // channel's credit into `direct` never lowers `tvd` (the bucket's term
        // grows by exactly the amount moved; the channels' terms fall by at
        // most that much). Below the baseline share a move can rightly help:
        // under-crediting `no channel` is an error like any other (see
        // `moving_credit_into_direct_can_fix_a_missing_baseline`).
        let mut rng = crate::base::rng::Stream::from_key(0x7164_0016);
        let (mut checked, mut rose) = (0, 0);
        for case in 0..20_000 {
            let n = 1 + case % 6;
            let (m, t) = random_pair(&mut rng, n);
            let ids: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let before = conv(&m, &t, &ids);
            if before.non_channel_share < before.baseline_share || before.tvd == 1.0 {
                continue;
            }
            checked += 1;
            let fractions: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
            for moved in [
                moved_to_direct(&m, n, |_| 0.5),
                moved_to_direct(&m, n, |i| fractions[i]),
            ] {
                let after = conv(&moved, &t, &ids);
                assert!(
                    after.tvd >= before.tvd - 1e-12,
                    "case {case}: tvd {} → {} after moving credit into direct\nmodel {m:?}\ntruth {t:?}",
                    before.tvd,
                    after.tvd
                );
                rose += usize::from(after.tvd > before.tvd + 1e-9);
            }
        }
        // Not vacuous: many cases qualified, and in most the error rose.
        assert!(checked > 5_000, "{checked} cases checked");
        assert!(
            rose > checked,
            "tvd rose in {rose} of {} moves",
            2 * checked
        );
    }

    #[test]
    fn moving_credit_into_direct_can_fix_a_missing_baseline() {
        // The truth has half its leads on baseline; a model with none there is
        // wrong by 0.5, and moving half its channel credit to direct is right.
        let t = credit(&[("a", 1.0), (BASELINE, 1.0)]);
        let before = conv(&credit(&[("a", 1.0)]), &t, &["a"]);
        let after = conv(&credit(&[("a", 0.5), ("direct", 0.5)]), &t, &["a"]);
        assert!((before.tvd - 0.5).abs() < 1e-12);
        assert_eq!(after.tvd, 0.0);
    }

    #[test]
    fn dumping_half_the_credit_into_direct_is_caught_by_tvd_not_by_tvd_channels() {
        // Issue 16's gaming example. Truth: baseline 15 % of leads.
        let t = credit(&[("a", 40.0), ("b", 30.0), ("c", 15.0), (BASELINE, 15.0)]);
        let ids = ["a", "b", "c"];
        // A model exact on every share, then the same with half of its
        // channel credit dumped into direct (42.5 of 100).
        let exact = credit(&[("a", 40.0), ("b", 30.0), ("c", 15.0), ("direct", 15.0)]);
        let dumped = credit(&[("a", 20.0), ("b", 15.0), ("c", 7.5), ("direct", 57.5)]);
        let e = conv(&exact, &t, &ids);
        assert_eq!((e.tvd, e.tvd_channels), (0.0, 0.0));
        let d = conv(&dumped, &t, &ids);
        // Channel shares are untouched: the channels-only figure cannot see it.
        assert!(d.tvd_channels.abs() < 1e-12, "{}", d.tvd_channels);
        // Shares of all leads: 0.2, 0.15, 0.075, 0.575 vs 0.4, 0.3, 0.15, 0.15.
        assert!((d.tvd - 0.425).abs() < 1e-12, "{}", d.tvd);

        // Any model, dumped the same way, ends with at least half its credit
        // on `no channel`, so its `tvd` is at least 0.5 − 0.15 = 0.35, above
        // the `tvd_channels` it keeps whenever that was below 0.35 (every
        // built-in model on the shipped scenarios).
        let mut rng = crate::base::rng::Stream::from_key(0x7164_0015);
        let mut below = 0;
        for _ in 0..5_000 {
            let (m, _) = random_pair(&mut rng, 3);
            let mut m3 = Credit::default();
            for (i, c) in ids.iter().enumerate() {
                m3.add(c, m.conversions[&format!("c{i}")], 0.0);
            }
            m3.add("direct", m.conversions["direct"], 0.0);
            let mut dumped = Credit::default();
            for (label, v) in &m3.conversions {
                if label == "direct" {
                    dumped.add("direct", *v, 0.0);
                } else {
                    dumped.add(label, v / 2.0, 0.0);
                    dumped.add("direct", v / 2.0, 0.0);
                }
            }
            let (before, after) = (conv(&m3, &t, &ids), conv(&dumped, &t, &ids));
            assert!(after.tvd >= 0.35 - 1e-12, "{} for {m3:?}", after.tvd);
            assert!((after.tvd_channels - before.tvd_channels).abs() < 1e-9);
            if before.tvd_channels < 0.35 {
                below += 1;
                assert!(after.tvd > after.tvd_channels, "{after:?}");
            }
        }
        assert!(below > 100, "{below} models had tvd_channels below 0.35");
    }

    #[test]
    fn per_channel_metrics_by_hand() {
        let ch = ScoredChannels {
            ids: ["a", "b", "c", "organic"].map(String::from).to_vec(),
            spend: vec![10.0, 20.0, 40.0, 0.0],
        };
        let mut m = Credit::default();
        // Channel shares 0.4, 0.4, 0.2, 0; 2 of 12 on non-channel labels.
        for (l, v) in [("a", 4.0), ("b", 4.0), ("c", 2.0), ("organic", 0.0)] {
            m.add(l, v, 0.0);
        }
        m.add("direct", 1.5, 0.0);
        m.add("unknown", 0.5, 0.0);
        let mut t = Credit::default();
        // Channel shares 0.2, 0.2, 0.4, 0.2; baseline 5 of 15.
        for (l, v) in [("a", 2.0), ("b", 2.0), ("c", 4.0), ("organic", 2.0)] {
            t.add(l, v, 0.0);
        }
        t.add(BASELINE, 5.0, 0.0);
        let e = credit_error(&m, &t, &ch, Measure::Conversions);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(e.bias["a"], 0.2) && close(e.bias["c"], -0.2));
        assert!(close(e.bias["organic"], -0.2));
        assert!(close(
            e.bias.values().map(|b| b.abs()).sum::<f64>(),
            2.0 * e.tvd_channels
        ));
        assert!(close(e.tvd_channels, 0.4));
        // Shares of all leads: model 1/3, 1/3, 1/6, 0, no channel 1/6; truth
        // 2/15, 2/15, 4/15, 2/15, baseline 1/3 → ½ · 24/30.
        assert!(close(e.tvd, 0.4), "{}", e.tvd);
        // Every label apart adds baseline 0 vs 1/3, direct 1/8 and unknown
        // 1/24 vs 0: ½ · 136/120.
        assert!(close(e.tvd_all, 17.0 / 30.0), "{}", e.tvd_all);
        assert!(close(e.rel_error["a"].unwrap(), 1.0));
        assert!(close(e.rel_error["c"].unwrap(), -0.5));
        assert!(close(e.rel_error["organic"].unwrap(), -1.0));
        // First channel in scenario order wins the tie of |0.2|.
        assert!(close(e.max_miss, 0.2));
        assert_eq!(e.max_miss_channel.as_deref(), Some("a"));
        assert!(close(e.non_channel_share, 2.0 / 12.0));
        assert!(close(e.baseline_share, 5.0 / 15.0));
        // ROI over paid channels: model 0.4, 0.2, 0.05 (ranks 3 2 1);
        // truth 0.2, 0.1, 0.1 (ranks 3 1.5 1.5) → rho = 0.866…
        let rho = e.spearman_roi.unwrap();
        assert!(close(rho, 3f64.sqrt() / 2.0), "{rho}");
        // A model ranking ROIs exactly as the truth does scores 1.
        assert_eq!(
            credit_error(&t, &t, &ch, Measure::Conversions).spearman_roi,
            Some(1.0)
        );
        // No spend information ⇒ no Spearman; a true share of 0 ⇒ no rel_error.
        let unpaid = ScoredChannels::unpaid(ch.ids.clone());
        let e2 = credit_error(&t, &m, &unpaid, Measure::Conversions);
        assert_eq!(e2.spearman_roi, None);
        assert_eq!(e2.rel_error["organic"], None);
    }

    #[test]
    fn spearman_conventions() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0], &[1.0]), None);
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 3.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }
}
