//! Scoring: a stitcher's partition against the true persons, and a model's
//! credit against each truth (DESIGN §13 conventions).
//!
//! Must never: feed anything back to a strategy.

mod paths;

pub use paths::{LENGTH_BINS, LengthDist, PathLengths, path_lengths};

use crate::credit::{Credit, Measure};
use crate::log::EventLog;
use crate::stitch::Identities;
use crate::truth::{BASELINE, Truth};
use serde::Serialize;

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

/// Stitching metrics of one stitcher (DESIGN §13 keys).
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

/// Score a partition against the truth.
pub fn score_stitching(log: &EventLog, ids: &Identities, truth: &Truth) -> StitchMetrics {
    let ct = contingency(&truth.events.visit_person, &ids.visit);
    // Completeness: the recovered journey of a converted person is the cluster
    // of their first form fill; it must hold all their observed pre-lead visits.
    let mut lead_cluster: Vec<Option<u32>> = vec![None; truth.persons as usize];
    for (i, &p) in truth.events.form_fill_person.iter().enumerate() {
        if lead_cluster[p as usize].is_none() {
            lead_cluster[p as usize] = Some(ids.form_fill[i]);
        }
    }
    let mut complete = vec![true; truth.persons as usize];
    for (i, v) in log.visits.iter().enumerate() {
        let p = truth.events.visit_person[i] as usize;
        if let Some(t) = truth.lead_time_ms[p]
            && v.time_ms <= t
            && lead_cluster[p] != Some(ids.visit[i])
        {
            complete[p] = false;
        }
    }
    let converted: Vec<u32> = truth.leads.iter().map(|l| l.person).collect();
    let completeness = if converted.is_empty() {
        1.0
    } else {
        converted
            .iter()
            .filter(|&&p| complete[p as usize] && lead_cluster[p as usize].is_some())
            .count() as f64
            / converted.len() as f64
    };
    // Cause in journey: the causing touch's recorded visit sits in the lead's cluster.
    let cause_touches: std::collections::HashSet<u32> =
        truth.leads.iter().filter_map(|l| l.cause_touch).collect();
    let mut visit_of_touch: std::collections::HashMap<u32, usize> =
        std::collections::HashMap::new();
    for (i, t) in truth.events.visit_touch.iter().enumerate() {
        if cause_touches.contains(t) {
            visit_of_touch.insert(*t, i);
        }
    }
    let click_caused: Vec<&crate::truth::TrueLead> =
        truth.leads.iter().filter(|l| l.cause_is_click).collect();
    let found = click_caused
        .iter()
        .filter(|l| {
            l.cause_touch
                .and_then(|t| visit_of_touch.get(&t))
                .is_some_and(|&v| Some(ids.visit[v]) == lead_cluster[l.person as usize])
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
fn clusters_per_converted_person(ids: &Identities, truth: &Truth) -> MeanP95 {
    let converted: std::collections::HashSet<u32> = truth.leads.iter().map(|l| l.person).collect();
    if converted.is_empty() {
        return MeanP95 {
            mean: 0.0,
            p95: 0.0,
        };
    }
    let e = &truth.events;
    let tables: [(&[u32], &[u32]); 5] = [
        (&e.visit_person, &ids.visit),
        (&e.form_fill_person, &ids.form_fill),
        (&e.crm_lead_person, &ids.crm_lead),
        (&e.opportunity_person, &ids.opportunity),
        (&e.deal_person, &ids.deal),
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

/// Credit error of a model against one truth, for one measure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CreditError {
    /// Total variation distance between channel shares (channels only).
    pub tvd: f64,
    /// TVD over all labels, non-channel labels pooled against `baseline`.
    pub tvd_all: f64,
}

/// Credit error against a truth, in conversions and in revenue.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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

fn tvd(model: &[f64], truth: &[f64]) -> f64 {
    match (shares(model), shares(truth)) {
        (Some(m), Some(t)) => 0.5 * m.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum::<f64>(),
        _ => 1.0,
    }
}

/// Error of a model's credit against a truth's, over the scenario's channels.
pub fn credit_error(
    model: &Credit,
    truth: &Credit,
    channels: &[String],
    measure: Measure,
) -> CreditError {
    let (m, t) = (model.measure(measure), truth.measure(measure));
    let get =
        |map: &std::collections::BTreeMap<String, f64>, k: &str| map.get(k).copied().unwrap_or(0.0);
    let mv: Vec<f64> = channels.iter().map(|c| get(m, c)).collect();
    let tv: Vec<f64> = channels.iter().map(|c| get(t, c)).collect();
    let mut mv_all = mv.clone();
    let mut tv_all = tv.clone();
    mv_all.push(
        m.iter()
            .filter(|(k, _)| !channels.contains(k))
            .map(|(_, v)| v)
            .sum(),
    );
    tv_all.push(get(t, BASELINE));
    CreditError {
        tvd: tvd(&mv, &tv),
        tvd_all: tvd(&mv_all, &tv_all),
    }
}

/// Both measures.
pub fn credit_errors(model: &Credit, truth: &Credit, channels: &[String]) -> CreditErrors {
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

    #[test]
    fn tvd_conventions() {
        let ch = vec!["a".to_string(), "b".to_string()];
        let mut m = Credit::default();
        m.add("a", 3.0, 0.0);
        m.add("b", 1.0, 0.0);
        m.add("direct", 4.0, 0.0);
        let mut t = Credit::default();
        t.add("a", 1.0, 0.0);
        t.add("b", 1.0, 0.0);
        t.add(BASELINE, 2.0, 0.0);
        let e = credit_error(&m, &t, &ch, Measure::Conversions);
        // Channel shares 0.75/0.25 vs 0.5/0.5.
        assert!((e.tvd - 0.25).abs() < 1e-12);
        // All: 3/8, 1/8, 4/8 vs 1/4, 1/4, 2/4.
        assert!((e.tvd_all - 0.125).abs() < 1e-12);
        // A side with no channel credit has error 1 (revenue is all zero here).
        assert_eq!(credit_error(&m, &t, &ch, Measure::Revenue).tvd, 1.0);
    }
}
