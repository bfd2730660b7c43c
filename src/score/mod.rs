//! Scoring: a stitcher's partition against the true persons, and a model's
//! credit against each truth (DESIGN §13 conventions).
//!
//! Must never: feed anything back to a strategy.

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

/// Stitching metrics of one stitcher (the foundation's subset of §13).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StitchMetrics {
    /// Pairwise scores over visits.
    pub pairwise: Pairwise,
    /// Share of converted persons whose recovered journey holds all their
    /// observed pre-lead visits.
    pub completeness: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Pairwise scores from (true person, cluster) labels of the same items,
/// computed from sorted contingency counts, never by enumerating pairs.
pub fn pairwise(persons: &[u32], clusters: &[u32]) -> Pairwise {
    assert_eq!(persons.len(), clusters.len());
    let mut joint: Vec<u64> = persons
        .iter()
        .zip(clusters)
        .map(|(&p, &c)| ((p as u64) << 32) | c as u64)
        .collect();
    joint.sort_unstable();
    let mut tp = 0;
    let mut i = 0;
    while i < joint.len() {
        let j = i + joint[i..].partition_point(|&x| x == joint[i]);
        tp += pairs((j - i) as u64);
        i = j;
    }
    // Marginals by counting (ids are dense in practice; a map keeps sparse ones cheap).
    let marginal_pairs = |ids: &[u32]| -> u64 {
        let max = ids.iter().copied().max().map_or(0, |m| m as usize + 1);
        if max <= 4 * ids.len() + 1024 {
            let mut count = vec![0u64; max];
            ids.iter().for_each(|&x| count[x as usize] += 1);
            count.iter().map(|&n| pairs(n)).sum()
        } else {
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            sorted
                .chunk_by(|a, b| a == b)
                .map(|r| pairs(r.len() as u64))
                .sum()
        }
    };
    let true_pairs = marginal_pairs(persons);
    let pred_pairs = marginal_pairs(clusters);
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
    Pairwise {
        precision,
        recall,
        f1,
        tp_pairs: tp,
        fp_pairs: pred_pairs - tp,
        fn_pairs: true_pairs - tp,
    }
}

/// Score a partition against the truth.
pub fn score_stitching(log: &EventLog, ids: &Identities, truth: &Truth) -> StitchMetrics {
    let pw = pairwise(&truth.events.visit_person, &ids.visit);
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
    StitchMetrics {
        pairwise: pw,
        completeness,
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
