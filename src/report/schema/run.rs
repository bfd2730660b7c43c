//! The typed report.json of `closedloop run` and of a sweep: per-replicate
//! results, the generic `summary` over them, the paired differences.

use super::ScenarioHeader;
use crate::base::credit::Credit;
use crate::base::stats::Stats;
use crate::experiment::sweep::SweepPoint;
use crate::experiment::{
    AblationRow, AttributionResult, PlatformsSummary, ReplicateResult, ThresholdPoint, WorldSummary,
};
use crate::report::SCHEMA_VERSION;
use crate::report::paired::{Paired, REFERENCE_MODEL, STITCHER_METRIC};
use crate::report::sweep::{ATTRIBUTION_METRICS, PAIRED_METRIC, STITCH_METRICS, WORLD_METRICS};
use crate::report::{SweepRow, summarize};
use crate::scenario::Scenario;
use crate::score::{CreditErrors, PathLengths, StitchMetrics};
use crate::truth::{PROXIMATE, TRUTHS};
use serde::Serialize;
use std::collections::BTreeMap;

/// report.json of `closedloop run`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Version of the report.json layout.
    pub schema_version: u32,
    /// The scenario.
    pub scenario: ScenarioHeader,
    /// Channel ids in scenario order.
    pub channels: Vec<String>,
    /// Every replicate's results.
    pub replicates: Vec<ReplicateReport>,
    /// Every number of the replicates summarised (mean, sd, CI, n) at its path.
    pub summary: Summary,
    /// Paired differences between models and between stitchers.
    pub paired: PairedReport,
}

/// The `summary` of a run: the replicates' JSON walked generically, every
/// number replaced by its [`Stats`] (see [`summarize`]). Typed readers use
/// [`RunReport::mean`], which gives the same means from the typed replicates.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Summary(pub serde_json::Value);

impl RunReport {
    /// The report of a run's replicates.
    pub fn new(sc: &Scenario, results: &[ReplicateResult]) -> RunReport {
        let replicates: Vec<ReplicateReport> = results.iter().map(ReplicateReport::new).collect();
        let values: Vec<serde_json::Value> = replicates
            .iter()
            .map(|r| serde_json::to_value(r).expect("a replicate serialises"))
            .collect();
        let refs: Vec<&serde_json::Value> = values.iter().collect();
        let mut summary = summarize(&refs);
        if let serde_json::Value::Object(m) = &mut summary {
            m.remove("replicate");
        }
        RunReport {
            schema_version: SCHEMA_VERSION,
            scenario: ScenarioHeader::new(sc, Some(results.len())),
            channels: sc.channel_ids(),
            replicates,
            summary: Summary(summary),
            paired: PairedReport::new(&crate::report::paired(results)),
        }
    }

    /// The mean `summary` gives a number found in every replicate: over the
    /// replicates where `get` finds a finite number; 0 when the first
    /// replicate has none (report.json holds null there).
    pub fn mean(&self, get: impl Fn(&ReplicateReport) -> Option<f64>) -> f64 {
        summary_mean(self.replicates.iter().map(get))
    }

    /// The first replicate (its strings and row order are the summary's).
    pub fn first(&self) -> Option<&ReplicateReport> {
        self.replicates.first()
    }
}

/// See [`RunReport::mean`].
pub fn summary_mean(values: impl IntoIterator<Item = Option<f64>>) -> f64 {
    summary_stat(values).unwrap_or(0.0)
}

/// The mean report.json's `summary` holds for these per-replicate values:
/// None where it holds null (the first replicate has no finite number, or
/// the mean is not finite).
pub fn summary_stat(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let values: Vec<Option<f64>> = values
        .into_iter()
        .map(|v| v.filter(|x| x.is_finite()))
        .collect();
    values.first().copied().flatten()?;
    let xs: Vec<f64> = values.into_iter().flatten().collect();
    Some(Stats::of(&xs).mean).filter(|m| m.is_finite())
}

/// One replicate of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicateReport {
    /// Replicate index.
    pub replicate: u32,
    /// What happened in the world and what was recorded of it.
    pub world: WorldSummary,
    /// What the GA-style and HubSpot-style reports would say.
    pub tools: Vec<ToolRow>,
    /// True cause → channel last touch recorded → leads (every pair, zeros included).
    pub flows: BTreeMap<String, BTreeMap<String, f64>>,
    /// The truths' credit.
    pub truth: TruthReport,
    /// Per stitcher: its metrics and path lengths.
    pub stitching: BTreeMap<String, StitchingReport>,
    /// `probabilistic` at each match-weight threshold.
    pub stitching_threshold_sweep: Vec<ThresholdPoint>,
    /// What the ad platforms claim (None without paid platforms).
    pub platforms: Option<PlatformsSummary>,
    /// The loss ablation (empty unless the scenario asks for it).
    pub loss_ablation: Vec<AblationRow>,
    /// Per stitcher, per model: the error on its journeys and on oracle journeys.
    pub downstream: BTreeMap<String, BTreeMap<String, DownstreamCell>>,
    /// Stitcher × model credit and its error against each truth.
    pub attribution: Vec<AttributionRow>,
}

/// The truths' credit of a replicate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthReport {
    /// Per truth name (`shapley`, `incremental`, `proximate`).
    #[serde(flatten)]
    pub credit: BTreeMap<String, Credit>,
    /// Share of shapley credit earned by touches after the lead.
    pub shapley_post_lead_share: f64,
}

impl TruthReport {
    /// Truth `t`'s credit (an index of [`TRUTHS`]).
    pub fn of(&self, t: usize) -> &Credit {
        &self.credit[TRUTHS[t]]
    }
}

/// A stitcher's metrics with its journeys' path lengths.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StitchingReport {
    /// Every stitching metric.
    #[serde(flatten)]
    pub metrics: StitchMetrics,
    /// Touches per journey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_lengths: Option<PathLengths>,
}

/// How much of a model's error the stitching adds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DownstreamCell {
    /// Headline error on the stitcher's journeys.
    pub tvd: f64,
    /// Headline error on oracle journeys.
    pub oracle_tvd: f64,
    /// The difference: what the stitching costs.
    pub stitching_part: f64,
}

/// A model's credit on a stitcher's journeys and its error per truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributionRow {
    /// Stitcher id.
    pub stitcher: String,
    /// Model id.
    pub model: String,
    /// Credit per label.
    pub credit: Credit,
    /// Per truth name: the credit's errors.
    pub error: BTreeMap<String, CreditErrors>,
}

impl AttributionRow {
    fn new(a: &AttributionResult) -> AttributionRow {
        AttributionRow {
            stitcher: a.stitcher.clone(),
            model: a.model.clone(),
            credit: a.credit.clone(),
            error: errors_by_truth(&a.error),
        }
    }

    /// The error against truth `t` (an index of [`TRUTHS`]).
    pub fn error_of(&self, t: usize) -> &CreditErrors {
        &self.error[TRUTHS[t]]
    }
}

/// A marketing tool's report: an attribution row with the tool's name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolRow {
    /// The tool (`GA-style`, `HubSpot-style`).
    pub tool: &'static str,
    /// Its stitcher, model, credit and errors.
    #[serde(flatten)]
    pub row: AttributionRow,
}

fn errors_by_truth(errors: &[CreditErrors; 3]) -> BTreeMap<String, CreditErrors> {
    TRUTHS
        .iter()
        .zip(errors)
        .map(|(name, e)| (name.to_string(), e.clone()))
        .collect()
}

/// The true cause → last-touch-recorded counts, every cause (truth labels)
/// × every recorded label seen, zeros included, so replicates summarise
/// key by key.
fn flows(
    flows: &[(String, String, f64)],
    truth: &Credit,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut recorded: Vec<&String> = flows.iter().map(|f| &f.1).collect();
    recorded.sort();
    recorded.dedup();
    truth
        .conversions
        .keys()
        .map(|cause| {
            let row = recorded
                .iter()
                .map(|r| {
                    let n: f64 = flows
                        .iter()
                        .filter(|f| &f.0 == cause && &f.1 == *r)
                        .map(|f| f.2)
                        .sum::<f64>()
                        + 0.0; // no −0.0 for an empty sum
                    (r.to_string(), n)
                })
                .collect();
            (cause.clone(), row)
        })
        .collect()
}

impl ReplicateReport {
    /// The report of one replicate.
    pub fn new(r: &ReplicateResult) -> ReplicateReport {
        let mut truth: BTreeMap<String, Credit> = BTreeMap::new();
        for (name, c) in TRUTHS.iter().zip(&r.truth) {
            truth.insert(name.to_string(), c.clone());
        }
        let stitching = r
            .stitching
            .iter()
            .map(|(name, m)| {
                let path_lengths = r
                    .path_lengths
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, p)| *p);
                let report = StitchingReport {
                    metrics: *m,
                    path_lengths,
                };
                (name.clone(), report)
            })
            .collect();
        let downstream = crate::experiment::downstream(r)
            .into_iter()
            .map(|(name, rows)| {
                let by_model = rows
                    .into_iter()
                    .map(|d| {
                        let cell = DownstreamCell {
                            tvd: d.tvd,
                            oracle_tvd: d.oracle_tvd,
                            stitching_part: d.stitching_part,
                        };
                        (d.model, cell)
                    })
                    .collect();
                (name, by_model)
            })
            .collect();
        let tools = r
            .pictures
            .tools
            .iter()
            .zip(crate::experiment::pictures::TOOLS)
            .map(|(a, (tool, _, _))| ToolRow {
                tool,
                row: AttributionRow::new(a),
            })
            .collect();
        ReplicateReport {
            replicate: r.replicate,
            world: r.world.clone(),
            tools,
            flows: flows(&r.pictures.flows, &r.truth[PROXIMATE]),
            truth: TruthReport {
                credit: truth,
                shapley_post_lead_share: r.shapley_post_lead_share,
            },
            stitching,
            stitching_threshold_sweep: r.threshold_sweep.clone(),
            platforms: r.platforms.clone(),
            loss_ablation: r.loss_ablation.clone(),
            downstream,
            attribution: r.attribution.iter().map(AttributionRow::new).collect(),
        }
    }
}

/// The `paired` section: `models.<stitcher>.minus.<reference>.<model>.<truth>`
/// = stats of error(model) − error(reference); `stitchers.minus.<best>.<stitcher>`
/// = stats of F1(stitcher) − F1(best).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairedReport {
    /// The compared model metric (`conversions.tvd`).
    pub metric: &'static str,
    /// The reference model (`last_touch`).
    pub reference: &'static str,
    /// Per stitcher: its models' differences.
    pub models: BTreeMap<String, PairedModels>,
    /// The stitchers' differences.
    pub stitchers: PairedStitchers,
}

/// Per stitcher: reference → model → truth → difference.
pub type Minus = BTreeMap<String, BTreeMap<String, BTreeMap<String, Stats>>>;

/// One stitcher's model differences.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairedModels {
    /// The best model on its journeys.
    pub best: String,
    /// The second best (None with one model).
    pub runner_up: Option<String>,
    /// reference → model → truth → error(model) − error(reference).
    pub minus: Minus,
}

/// The stitchers' F1 differences.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairedStitchers {
    /// The compared metric (`pairwise.f1`).
    pub metric: &'static str,
    /// The best stitcher (None when only the oracle ran).
    pub best: Option<String>,
    /// best → stitcher → F1(stitcher) − F1(best) (absent without a best).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minus: Option<BTreeMap<String, BTreeMap<String, Stats>>>,
}

impl PairedReport {
    /// The report section of `p`.
    pub fn new(p: &Paired) -> PairedReport {
        let mut models = BTreeMap::new();
        for (stitcher, best) in &p.best_models {
            let mut minus: Minus = BTreeMap::new();
            for d in p.models.iter().filter(|d| d.stitcher == *stitcher) {
                minus
                    .entry(d.versus.clone())
                    .or_default()
                    .entry(d.model.clone())
                    .or_default()
                    .insert(d.truth.to_string(), d.diff);
            }
            let runner_up = p
                .runner_ups
                .iter()
                .find(|r| r.0 == *stitcher)
                .map(|r| r.1.clone());
            let entry = PairedModels {
                best: best.clone(),
                runner_up,
                minus,
            };
            models.insert(stitcher.clone(), entry);
        }
        let minus = p.best_stitcher.as_ref().map(|best| {
            let by = p
                .stitchers
                .iter()
                .map(|d| (d.stitcher.clone(), d.diff))
                .collect();
            BTreeMap::from([(best.clone(), by)])
        });
        PairedReport {
            metric: crate::report::paired::MODEL_METRIC,
            reference: REFERENCE_MODEL,
            models,
            stitchers: PairedStitchers {
                metric: STITCHER_METRIC,
                best: p.best_stitcher.clone(),
                minus,
            },
        }
    }

    /// error(model) − error(`reference`) on `stitcher`'s journeys against `truth`.
    pub fn minus(
        &self,
        stitcher: &str,
        reference: &str,
        model: &str,
        truth: &str,
    ) -> Option<&Stats> {
        self.models
            .get(stitcher)?
            .minus
            .get(reference)?
            .get(model)?
            .get(truth)
    }
}

/// report.json of a sweep: the base scenario's identity and the `sweep`
/// section (a point's full replicates and summary are not kept: at one
/// report per point the file would grow by megabytes per point).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepReport {
    /// Version of the report.json layout.
    pub schema_version: u32,
    /// The base scenario (replicates of the first point).
    pub scenario: ScenarioHeader,
    /// Channel ids in scenario order.
    pub channels: Vec<String>,
    /// The sweep.
    pub sweep: SweepSection,
}

/// The `sweep` section: the keys, the metric set, and per point its values,
/// replicates and rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepSection {
    /// The swept keys.
    pub keys: Vec<String>,
    /// The metrics each point reports.
    pub metrics: SweepMetrics,
    /// Every grid point.
    pub points: Vec<SweepPointReport>,
}

/// The metric names of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepMetrics {
    /// World metrics.
    pub world: Vec<String>,
    /// Stitching metrics.
    pub stitching: Vec<String>,
    /// Attribution metrics.
    pub attribution: Vec<String>,
    /// The paired metric.
    pub paired: &'static str,
}

/// One grid point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPointReport {
    /// Point index.
    pub point: usize,
    /// Its value per swept key.
    pub values: BTreeMap<String, toml::Value>,
    /// Replicates run at it.
    pub replicates: u32,
    /// Its rows (empty columns as null).
    pub rows: Vec<SweepRowReport>,
}

/// One row of a point: a metric's statistics for a (stitcher, model, truth).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRowReport {
    /// The statistics.
    #[serde(flatten)]
    pub stats: Stats,
    /// Stitcher (None for world metrics).
    pub stitcher: Option<String>,
    /// Model (None for world and stitching metrics).
    pub model: Option<String>,
    /// Truth (None where no truth applies).
    pub truth: Option<&'static str>,
    /// The metric.
    pub metric: &'static str,
}

impl SweepReport {
    /// The report of a sweep's points and rows.
    pub fn new(sc: &Scenario, points: &[SweepPoint], rows: &[SweepRow]) -> SweepReport {
        let keys = points
            .first()
            .map(|p| p.values.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        let names = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let points_report = points
            .iter()
            .map(|p| SweepPointReport {
                point: p.index,
                values: p.values.iter().cloned().collect(),
                replicates: p.scenario.replicates,
                rows: rows
                    .iter()
                    .filter(|r| r.point == p.index)
                    .map(|r| SweepRowReport {
                        stats: r.stats,
                        stitcher: some(&r.stitcher),
                        model: some(&r.model),
                        truth: (!r.truth.is_empty()).then_some(r.truth),
                        metric: r.metric,
                    })
                    .collect(),
            })
            .collect();
        SweepReport {
            schema_version: SCHEMA_VERSION,
            scenario: ScenarioHeader::new(
                sc,
                points.first().map(|p| p.scenario.replicates as usize),
            ),
            channels: sc.channel_ids(),
            sweep: SweepSection {
                keys,
                metrics: SweepMetrics {
                    world: names(&WORLD_METRICS.map(|m| m.0)),
                    stitching: names(&STITCH_METRICS.map(|m| m.0)),
                    attribution: names(&ATTRIBUTION_METRICS.map(|m| m.0)),
                    paired: PAIRED_METRIC,
                },
                points: points_report,
            },
        }
    }
}
