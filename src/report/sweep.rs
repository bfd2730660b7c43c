//! Sweep tables: one tidy row per (grid point, stitcher, model, truth,
//! metric) with the metric's mean, sd, t-based 95 % CI and n over the
//! point's replicates; written as `sweep.csv` and the `sweep` section of
//! report.json.
//!
//! The metric set (fixed, so the table's shape never depends on the data):
//! - world (stitcher, model, truth empty): [`WORLD_METRICS`];
//! - per stitcher, oracle included (model, truth empty): [`STITCH_METRICS`];
//! - per attribution row (stitcher, model) and truth: [`ATTRIBUTION_METRICS`],
//!   plus [`PAIRED_METRIC`] (error − `last_touch`'s on the same journeys,
//!   paired per replicate) where `last_touch` ran, for every other model.

use super::Stats;
use super::paired::REFERENCE_MODEL;
use crate::experiment::sweep::{SweepPoint, value_text};
use crate::experiment::{ORACLE, ReplicateResult, WorldSummary};
use crate::score::{CreditErrors, StitchMetrics};
use crate::truth::TRUTHS;

type Get<T> = fn(&T) -> f64;

/// World metrics: what the swept key did to the world and the record.
pub const WORLD_METRICS: [(&str, Get<WorldSummary>); 5] = [
    ("world.leads", |w| w.leads as f64),
    ("world.customers", |w| w.customers as f64),
    ("world.revenue", |w| w.revenue),
    ("world.recorded_visits", |w| w.recorded_visits as f64),
    ("world.cookies", |w| w.cookies as f64),
];

/// Stitching metrics per stitcher.
pub const STITCH_METRICS: [(&str, Get<StitchMetrics>); 7] = [
    ("pairwise.f1", |m| m.pairwise.f1),
    ("pairwise.precision", |m| m.pairwise.precision),
    ("pairwise.recall", |m| m.pairwise.recall),
    ("bcubed.precision", |m| m.bcubed.precision),
    ("bcubed.recall", |m| m.bcubed.recall),
    ("completeness", |m| m.completeness),
    ("cause_in_journey", |m| m.cause_in_journey),
];

/// Credit-error metrics per (stitcher, model) and truth.
pub const ATTRIBUTION_METRICS: [(&str, Get<CreditErrors>); 5] = [
    ("conversions.tvd", |e| e.conversions.tvd),
    ("conversions.tvd_channels", |e| e.conversions.tvd_channels),
    ("conversions.tvd_all", |e| e.conversions.tvd_all),
    ("conversions.max_miss", |e| e.conversions.max_miss),
    ("revenue.tvd", |e| e.revenue.tvd),
];

/// The paired difference to `last_touch` of `conversions.tvd`.
pub const PAIRED_METRIC: &str = "conversions.tvd_minus_last_touch";

/// One row of the sweep table.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// Grid point index.
    pub point: usize,
    /// Stitcher id (empty for world metrics).
    pub stitcher: String,
    /// Model id (empty for world and stitching metrics).
    pub model: String,
    /// Truth (empty for world and stitching metrics).
    pub truth: &'static str,
    /// Metric name.
    pub metric: &'static str,
    /// Mean, sd, CI and n over the point's replicates.
    pub stats: Stats,
}

/// The rows of one point's replicates, in a fixed order: world metrics,
/// then stitchers in run order, then attribution rows in run order × truth.
pub fn point_rows(point: usize, results: &[ReplicateResult]) -> Vec<SweepRow> {
    let Some(first) = results.first() else {
        return Vec::new();
    };
    let row = |stitcher: &str, model: &str, truth: &'static str, metric, xs: Vec<f64>| SweepRow {
        point,
        stitcher: stitcher.to_string(),
        model: model.to_string(),
        truth,
        metric,
        stats: Stats::of(&xs),
    };
    let mut rows = Vec::new();
    for (metric, get) in WORLD_METRICS {
        rows.push(row(
            "",
            "",
            "",
            metric,
            results.iter().map(|r| get(&r.world)).collect(),
        ));
    }
    for (i, (stitcher, _)) in first.stitching.iter().enumerate() {
        for (metric, get) in STITCH_METRICS {
            let xs = results.iter().map(|r| get(&r.stitching[i].1)).collect();
            rows.push(row(stitcher, "", "", metric, xs));
        }
    }
    for (i, a) in first.attribution.iter().enumerate() {
        let reference = first
            .attribution
            .iter()
            .position(|b| b.stitcher == a.stitcher && b.model == REFERENCE_MODEL)
            .filter(|_| a.model != ORACLE);
        for (t, truth) in TRUTHS.iter().enumerate() {
            for (metric, get) in ATTRIBUTION_METRICS {
                let xs = results
                    .iter()
                    .map(|r| get(&r.attribution[i].error[t]))
                    .collect();
                rows.push(row(&a.stitcher, &a.model, truth, metric, xs));
            }
            if let Some(j) = reference {
                let xs = results
                    .iter()
                    .map(|r| {
                        r.attribution[i].error[t].conversions.tvd
                            - r.attribution[j].error[t].conversions.tvd
                    })
                    .collect();
                rows.push(row(&a.stitcher, &a.model, truth, PAIRED_METRIC, xs));
            }
        }
    }
    rows
}

/// Every point's rows, in point order.
pub fn sweep_rows(results: &[Vec<ReplicateResult>]) -> Vec<SweepRow> {
    results
        .iter()
        .enumerate()
        .flat_map(|(p, rs)| point_rows(p, rs))
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// `sweep.csv`: `point, <swept keys…>, stitcher, model, truth, metric, mean,
/// sd, ci95_low, ci95_high, n`; empty cells where a column does not apply
/// (and sd / CI with one replicate).
pub fn sweep_csv(points: &[SweepPoint], rows: &[SweepRow]) -> String {
    let keys: Vec<String> = points
        .first()
        .map(|p| p.values.iter().map(|(k, _)| csv_field(k)).collect())
        .unwrap_or_default();
    let mut s = String::from("point,");
    for k in &keys {
        s.push_str(k);
        s.push(',');
    }
    s.push_str("stitcher,model,truth,metric,mean,sd,ci95_low,ci95_high,n\n");
    let values: Vec<String> = points
        .iter()
        .map(|p| {
            p.values
                .iter()
                .map(|(_, v)| csv_field(&value_text(v)) + ",")
                .collect()
        })
        .collect();
    for r in rows {
        let st = &r.stats;
        s.push_str(&format!(
            "{},{}{},{},{},{},{},{},{},{},{}\n",
            r.point,
            values[r.point],
            csv_field(&r.stitcher),
            csv_field(&r.model),
            r.truth,
            r.metric,
            st.mean,
            opt(st.sd),
            opt(st.ci95_low),
            opt(st.ci95_high),
            st.n
        ));
    }
    s
}

/// The row of `point` for (stitcher, model, truth, metric) (`""` where a
/// column does not apply).
pub fn find_row<'a>(
    rows: &'a [SweepRow],
    point: usize,
    stitcher: &str,
    model: &str,
    truth: &str,
    metric: &str,
) -> Option<&'a SweepRow> {
    rows.iter().find(|r| {
        r.point == point
            && r.stitcher == stitcher
            && r.model == model
            && r.truth == truth
            && r.metric == metric
    })
}
