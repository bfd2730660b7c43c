//! Strategies on a log nobody knows the truth of (`closedloop attribute
//! --events DIR`: a user's own tracker + CRM export): each stitcher's
//! partition, the statistics of it that need no truth (clusters, cookies per
//! cluster, path lengths), and each model's credit on its journeys — the
//! same journeys and models `run` uses, so an exported world gives `run`'s
//! credit exactly.
//! Must never: take, need or name the truth ledger.

use crate::attribute::{self, Journeys};
use crate::base::credit::Credit;
use crate::log::{EventLog, SessionRule};
use crate::scenario::JourneyUnit;
use crate::score::{self, MeanP95, PathLengths};
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch::{self, Identities};
use rayon::prelude::*;
use serde::Serialize;

use super::NO_STITCHING;

/// What a partition looks like, with no truth to compare it to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PartitionStats {
    /// Clusters holding at least one visit.
    pub clusters: u64,
    /// Distinct cookies over the visits.
    pub cookies: u64,
    /// Cookies per cluster (clusters with visits): how much the stitcher joined.
    pub cookies_per_cluster: MeanP95,
    /// Share of clusters with visits that hold a single cookie (left alone).
    pub single_cookie_share: f64,
    /// Clusters holding a CRM lead record (journeys that convert).
    pub converting_clusters: u64,
    /// CRM lead records per converting cluster (above 1: one person's
    /// email variants joined, or persons merged).
    pub crm_leads_per_converting_cluster: f64,
    /// Visits in the largest cluster.
    pub largest_cluster: u64,
}

/// One stitcher's partition, described.
#[derive(Clone, Debug, PartialEq)]
pub struct LogStitching {
    /// Stitcher id.
    pub stitcher: String,
    /// Statistics of the partition.
    pub stats: PartitionStats,
    /// Path lengths of its journeys.
    pub path_lengths: PathLengths,
    /// Wall-clock seconds: the stitcher alone, then journeys + statistics +
    /// every model (never in report.json: it varies run to run).
    pub seconds: [f64; 2],
}

/// One model's credit on one stitcher's journeys.
#[derive(Clone, Debug, PartialEq)]
pub struct LogAttribution {
    /// Stitcher id (`none` for the platforms' claims).
    pub stitcher: String,
    /// Model id.
    pub model: String,
    /// Credit per label.
    pub credit: Credit,
}

/// Everything `attribute --events` computes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogRun {
    /// Per stitcher, in the order asked.
    pub stitching: Vec<LogStitching>,
    /// Stitcher × model, stitchers in the order asked, models within.
    pub attribution: Vec<LogAttribution>,
}

/// Statistics of a partition that need no truth.
pub fn partition_stats(log: &EventLog, ids: &Identities) -> PartitionStats {
    let mut visit_cookie: Vec<(u32, u64)> = ids
        .visit
        .iter()
        .zip(&log.visits)
        .map(|(&c, v)| (c, v.cookie_id))
        .collect();
    visit_cookie.par_sort_unstable();
    let mut per_cluster_visits: Vec<u64> = visit_cookie
        .chunk_by(|a, b| a.0 == b.0)
        .map(|r| r.len() as u64)
        .collect();
    visit_cookie.dedup();
    let mut per_cluster_cookies: Vec<u64> = visit_cookie
        .chunk_by(|a, b| a.0 == b.0)
        .map(|r| r.len() as u64)
        .collect();
    let mut cookies: Vec<u64> = log.visits.iter().map(|v| v.cookie_id).collect();
    cookies.par_sort_unstable();
    cookies.dedup();
    let clusters = per_cluster_cookies.len() as u64;
    let single = per_cluster_cookies.iter().filter(|&&k| k == 1).count();
    per_cluster_cookies.sort_unstable();
    per_cluster_visits.sort_unstable();
    let mut lead_clusters: Vec<u32> = ids.crm_lead.clone();
    lead_clusters.sort_unstable();
    let leads = lead_clusters.len();
    lead_clusters.dedup();
    PartitionStats {
        clusters,
        cookies: cookies.len() as u64,
        cookies_per_cluster: mean_p95(&per_cluster_cookies),
        single_cookie_share: if clusters == 0 {
            0.0
        } else {
            single as f64 / clusters as f64
        },
        converting_clusters: lead_clusters.len() as u64,
        crm_leads_per_converting_cluster: if lead_clusters.is_empty() {
            0.0
        } else {
            leads as f64 / lead_clusters.len() as f64
        },
        largest_cluster: per_cluster_visits.last().copied().unwrap_or(0),
    }
}

/// Mean and nearest-rank 95th percentile of sorted counts.
fn mean_p95(sorted: &[u64]) -> MeanP95 {
    if sorted.is_empty() {
        return MeanP95 {
            mean: 0.0,
            p95: 0.0,
        };
    }
    let rank = ((0.95 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    MeanP95 {
        mean: sorted.iter().sum::<u64>() as f64 / sorted.len() as f64,
        p95: sorted[rank - 1] as f64,
    }
}

/// The journeys a partition gives, per unit (as `run` builds them).
pub fn journeys(
    log: &EventLog,
    ids: &Identities,
    unit: JourneyUnit,
    sessions: &SessionRule,
) -> Journeys {
    match unit {
        JourneyUnit::Visit => Journeys::build(log, ids),
        JourneyUnit::Session => Journeys::build_sessions(log, ids, sessions),
    }
}

/// Total conversions and revenue of a path file's journeys.
pub fn path_totals(journeys: &Journeys) -> (f64, f64) {
    (
        journeys.journeys.iter().map(|j| j.conversions).sum::<f64>(),
        journeys.journeys.iter().map(|j| j.revenue).sum::<f64>(),
    )
}

/// One model's credit on a path file, with its Markov fit when asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct PathCredit {
    /// Model id.
    pub model: String,
    /// Credit per label.
    pub credit: Credit,
    /// The removal effect per label (Markov models, when asked for).
    pub removal_effects: Option<std::collections::BTreeMap<String, f64>>,
}

/// Every model of `specs` on a path file's journeys, in order; with
/// `removal_effects`, each Markov model's removal effects as well.
pub fn attribute_paths(
    journeys: &Journeys,
    specs: &[AttributorSpec],
    removal_effects: bool,
) -> Vec<PathCredit> {
    specs
        .iter()
        .map(|s| {
            let credit = attribute::build(s).attribute(journeys);
            let removal_effects = match s {
                AttributorSpec::Markov(markov) if removal_effects => {
                    Some(markov.fit(journeys).removal_effects)
                }
                _ => None,
            };
            PathCredit {
                model: s.id(),
                credit,
                removal_effects,
            }
        })
        .collect()
}

/// Run every stitcher and every model on a log; `partition` sees each
/// partition before it is dropped (to write its clusters, say). The
/// platforms' claims are added (stitcher `none`) when the log has platform
/// logs.
pub fn run_on_log(
    log: &EventLog,
    stitchers: &[StitcherSpec],
    models: &[AttributorSpec],
    unit: JourneyUnit,
    sessions: &SessionRule,
    mut partition: impl FnMut(&str, &Identities),
) -> LogRun {
    let mut run = LogRun::default();
    for spec in stitchers {
        let stitcher = stitch::build(spec);
        let name = stitcher.name();
        let clock = std::time::Instant::now();
        let ids = stitcher.stitch(log);
        let stitch_s = clock.elapsed().as_secs_f64();
        let clock = std::time::Instant::now();
        let (stats, (path_lengths, credits)) = rayon::join(
            || partition_stats(log, &ids),
            || {
                let j = journeys(log, &ids, unit, sessions);
                let credits: Vec<(String, Credit)> = models
                    .par_iter()
                    .map(|m| {
                        let model = attribute::build(m);
                        (model.name(), model.attribute(&j))
                    })
                    .collect();
                (score::path_lengths(&j), credits)
            },
        );
        let rest_s = clock.elapsed().as_secs_f64();
        partition(&name, &ids);
        run.stitching.push(LogStitching {
            stitcher: name.clone(),
            stats,
            path_lengths,
            seconds: [stitch_s, rest_s],
        });
        run.attribution
            .extend(credits.into_iter().map(|(model, credit)| LogAttribution {
                stitcher: name.clone(),
                model,
                credit,
            }));
    }
    if !log.platforms.is_empty() {
        run.attribution.push(LogAttribution {
            stitcher: NO_STITCHING.into(),
            model: attribute::PLATFORM_REPORTED.into(),
            credit: attribute::platform_reported(log).credit,
        });
    }
    run
}
