//! The typed reports: one struct per `report.json` a command writes (run,
//! sweep, budget, loop, own log), built in the library and serialised once.
//! Fields serialise under their own names; [`to_json`] sorts every object's
//! keys (through `serde_json::Value`, whose maps are ordered), so the bytes
//! do not depend on field order.
//! Must never: hold wall-clock numbers (they go to `timings.json`).

use super::SCHEMA_VERSION;

mod run;
use crate::base::credit::Credit;
use crate::base::stats::Stats;
use crate::experiment::ReplicateResult;
use crate::experiment::budget::{BudgetRow, BudgetStudy, ChannelCurve};
use crate::experiment::closed_loop::{LoopRunReport, LoopStudy, LoopSummary};
use crate::experiment::on_log::{LogRun, PartitionStats, PathCredit};
use crate::log::EventLog;
use crate::scenario::Scenario;
use crate::score::{CreditErrors, PathLengths, ScoredChannels};
pub use run::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `report.json` bytes: pretty-printed with sorted keys and a final newline.
pub fn to_json<T: Serialize>(report: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec_pretty(&serde_json::to_value(report)?)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Which scenario a report is of (report.json `scenario`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioHeader {
    /// The scenario's name.
    pub name: String,
    /// The master seed.
    pub seed: u64,
    /// Replicates run (null for a sweep without points).
    pub replicates: Option<usize>,
}

impl ScenarioHeader {
    /// The header of `sc` with `replicates` replicates.
    pub fn new(sc: &Scenario, replicates: Option<usize>) -> ScenarioHeader {
        ScenarioHeader {
            name: sc.name.clone(),
            seed: sc.seed,
            replicates,
        }
    }
}

/// report.json of `closedloop loop`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoopReport {
    /// Version of the report.json layout.
    pub schema_version: u32,
    /// The scenario.
    pub scenario: ScenarioHeader,
    /// Channel ids in scenario order.
    pub channels: Vec<String>,
    /// The loop itself.
    #[serde(rename = "loop")]
    pub closed_loop: LoopSection,
}

/// The `loop` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoopSection {
    /// Number of periods.
    pub periods: u32,
    /// Largest relative change of a spend from one period to the next.
    pub step_limit: f64,
    /// The stitcher whose journeys the models credit.
    pub stitcher: String,
    /// The split the true response curves call best (scenario order).
    pub optimal_split: Vec<f64>,
    /// Per steering model, summarised over replicates.
    pub summary: Vec<LoopSummary>,
    /// Every (replicate, model) run.
    pub runs: Vec<LoopRunReport>,
}

impl LoopReport {
    /// The report of a loop study.
    pub fn new(
        sc: &Scenario,
        study: &LoopStudy,
        periods: u32,
        step_limit: f64,
        stitcher: String,
    ) -> LoopReport {
        LoopReport {
            schema_version: SCHEMA_VERSION,
            scenario: ScenarioHeader::new(sc, Some(sc.replicates as usize)),
            channels: sc.channel_ids(),
            closed_loop: LoopSection {
                periods,
                step_limit,
                stitcher,
                optimal_split: study.optimal_split.clone(),
                summary: study.summary.clone(),
                runs: study.run_reports(),
            },
        }
    }
}

/// report.json of `closedloop budget`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BudgetReport {
    /// Version of the report.json layout.
    pub schema_version: u32,
    /// The scenario.
    pub scenario: ScenarioHeader,
    /// Channel ids in scenario order.
    pub channels: Vec<String>,
    /// The budget study.
    pub budget: BudgetSection,
}

/// The `budget` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BudgetSection {
    /// The stitcher whose journeys the models credit.
    pub stitcher: String,
    /// Per paid channel: its current and new spend.
    pub spends: BTreeMap<String, SpendPair>,
    /// The budget table.
    pub rows: Vec<BudgetRow>,
    /// Every paid channel's true response.
    pub curves: Vec<ChannelCurve>,
    /// The best split of the current budget and what it earns.
    pub optimal_split: OptimalSplit,
}

/// A paid channel's spend before and after the change.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SpendPair {
    /// The scenario's spend.
    pub current: f64,
    /// The changed spend.
    pub new: f64,
}

/// The split the true response curves call best.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptimalSplit {
    /// Per paid channel: its spend at the optimum.
    pub spends: BTreeMap<String, f64>,
    /// Profit change per period of moving there.
    pub profit_change: Stats,
}

impl BudgetReport {
    /// The report of a budget study.
    pub fn new(sc: &Scenario, study: &BudgetStudy, stitcher: String) -> BudgetReport {
        let paid = || sc.channels.iter().enumerate().filter(|(_, c)| c.paid());
        BudgetReport {
            schema_version: SCHEMA_VERSION,
            scenario: ScenarioHeader::new(sc, Some(sc.replicates as usize)),
            channels: sc.channel_ids(),
            budget: BudgetSection {
                stitcher,
                spends: paid()
                    .map(|(i, c)| {
                        let pair = SpendPair {
                            current: study.current[i],
                            new: study.new[i],
                        };
                        (c.id.clone(), pair)
                    })
                    .collect(),
                rows: study.rows.clone(),
                curves: study.curves.clone(),
                optimal_split: OptimalSplit {
                    spends: paid()
                        .map(|(i, c)| (c.id.clone(), study.optimal[i]))
                        .collect(),
                    profit_change: study.optimal_profit,
                },
            },
        }
    }
}

/// report.json of `closedloop attribute --events`: a log with no truth
/// (no `truth`, no `error`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogReport {
    /// Version of the report.json layout.
    pub schema_version: u32,
    /// Where the log came from and its size.
    pub source: LogSource,
    /// The log's channel labels.
    pub channels: Vec<String>,
    /// One entry (replicate 0): the log is one world.
    pub replicates: Vec<LogReplicate>,
}

/// The `source` of a [`LogReport`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogSource {
    /// The event-log folder as given.
    pub events: String,
    /// `visit` or `session`.
    pub journey_unit: String,
    /// Visits read.
    pub visits: usize,
    /// Form fills read.
    pub form_fills: usize,
    /// CRM leads read.
    pub crm_leads: usize,
    /// Opportunities read.
    pub opportunities: usize,
    /// Deals read.
    pub deals: usize,
}

impl LogSource {
    /// The source of `log`, read from `events` with journeys per `journey_unit`.
    pub fn new(events: String, journey_unit: String, log: &EventLog) -> LogSource {
        LogSource {
            events,
            journey_unit,
            visits: log.visits.len(),
            form_fills: log.form_fills.len(),
            crm_leads: log.crm_leads.len(),
            opportunities: log.opportunities.len(),
            deals: log.deals.len(),
        }
    }

    /// (table, rows) in the order report.html lists them.
    pub fn rows(&self) -> [(&'static str, usize); 5] {
        [
            ("visits", self.visits),
            ("form_fills", self.form_fills),
            ("crm_leads", self.crm_leads),
            ("opportunities", self.opportunities),
            ("deals", self.deals),
        ]
    }
}

/// What each stitcher and model made of the log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogReplicate {
    /// Always 0.
    pub replicate: u32,
    /// Per stitcher: its partition's statistics and path lengths.
    pub stitching: BTreeMap<String, LogStitchingReport>,
    /// Stitcher × model credit.
    pub attribution: Vec<LogCreditRow>,
}

/// A stitcher's partition statistics with its journeys' path lengths.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogStitchingReport {
    /// Statistics of the partition.
    #[serde(flatten)]
    pub stats: PartitionStats,
    /// Path lengths of its journeys.
    pub path_lengths: PathLengths,
}

/// One model's credit on one stitcher's journeys.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogCreditRow {
    /// Stitcher id.
    pub stitcher: String,
    /// Model id.
    pub model: String,
    /// Credit per label.
    pub credit: Credit,
}

impl LogReport {
    /// The report of `attribute --events` on `log`.
    pub fn new(source: LogSource, log: &EventLog, run: &LogRun) -> LogReport {
        let stitching = run
            .stitching
            .iter()
            .map(|s| {
                let report = LogStitchingReport {
                    stats: s.stats,
                    path_lengths: s.path_lengths,
                };
                (s.stitcher.clone(), report)
            })
            .collect();
        let attribution = run
            .attribution
            .iter()
            .map(|a| LogCreditRow {
                stitcher: a.stitcher.clone(),
                model: a.model.clone(),
                credit: a.credit.clone(),
            })
            .collect();
        LogReport {
            schema_version: SCHEMA_VERSION,
            source,
            channels: log.labels[..log.n_channels].to_vec(),
            replicates: vec![LogReplicate {
                replicate: 0,
                stitching,
                attribution,
            }],
        }
    }
}

/// timings.json of `attribute --events` (wall clock, apart from report.json).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogTimings {
    /// Seconds reading the log.
    pub read_s: f64,
    /// Per stitcher: seconds stitching, then journeys and models.
    pub stitchers: BTreeMap<String, StitcherTimings>,
}

/// Wall-clock seconds of one stitcher on a log.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StitcherTimings {
    /// The stitcher alone.
    pub stitch_s: f64,
    /// Journeys, statistics and every model.
    pub journeys_and_models_s: f64,
}

impl LogTimings {
    /// The timings of a log run read in `read_s` seconds.
    pub fn new(read_s: f64, run: &LogRun) -> LogTimings {
        let stitchers = run
            .stitching
            .iter()
            .map(|s| {
                let t = StitcherTimings {
                    stitch_s: s.seconds[0],
                    journeys_and_models_s: s.seconds[1],
                };
                (s.stitcher.clone(), t)
            })
            .collect();
        LogTimings { read_s, stitchers }
    }
}

/// timings.json of `run` (wall clock, apart from report.json).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunTimings {
    /// Seconds running the replicates.
    pub run_seconds: f64,
    /// Seconds drawing the charts and report.html.
    pub pictures_seconds: f64,
    /// Worker threads.
    pub threads: usize,
    /// Per replicate: seconds per stage.
    pub replicates: Vec<BTreeMap<String, f64>>,
}

impl RunTimings {
    /// The timings of a run's `results`.
    pub fn new(
        run_seconds: f64,
        pictures_seconds: f64,
        threads: usize,
        results: &[ReplicateResult],
    ) -> RunTimings {
        let replicates = results
            .iter()
            .map(|r| r.timings.iter().map(|(k, v)| (k.to_string(), *v)).collect())
            .collect();
        RunTimings {
            run_seconds,
            pictures_seconds,
            threads,
            replicates,
        }
    }
}

/// timings.json of a sweep (wall clock, apart from report.json).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepTimings {
    /// Seconds running every point.
    pub run_seconds: f64,
    /// Worker threads.
    pub threads: usize,
    /// Grid points.
    pub points: usize,
    /// Replicate runs over all points.
    pub replicate_runs: u64,
}

/// timings.json and events.json bytes: pretty-printed with sorted keys, no
/// final newline.
pub fn to_json_without_newline<T: Serialize>(timings: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(&serde_json::to_value(timings)?)
}

/// `attribute --paths --json`: per model id its credit (and a Markov
/// model's removal effects).
pub type PathCreditReport = BTreeMap<String, PathCreditEntry>;

/// One model's entry of a [`PathCreditReport`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathCreditEntry {
    /// Leads credited per label.
    pub conversions: BTreeMap<String, f64>,
    /// Revenue credited per label.
    pub revenue: BTreeMap<String, f64>,
    /// A Markov model's removal effect per label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_effects: Option<BTreeMap<String, f64>>,
}

/// The JSON of `attribute --paths`.
pub fn path_credit_report(results: &[PathCredit]) -> PathCreditReport {
    results
        .iter()
        .map(|r| {
            let entry = PathCreditEntry {
                conversions: r.credit.conversions.clone(),
                revenue: r.credit.revenue.clone(),
                removal_effects: r.removal_effects.clone(),
            };
            (r.model.clone(), entry)
        })
        .collect()
}

/// events.json, written beside an exported event log: what was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventsManifest {
    /// Version of the events.json layout.
    pub schema_version: u32,
    /// The scenario and replicate exported.
    pub scenario: ExportedScenario,
    /// Channel ids in scenario order.
    pub channels: Vec<String>,
    /// Spend per period per channel, aligned with `channels` (0 = not paid).
    pub spend: Vec<f64>,
    /// The observation window, [start, end) in ms.
    pub window_ms: [i64; 2],
    /// `csv` or `parquet`.
    pub format: String,
    /// Rows per table file written.
    pub rows: BTreeMap<String, usize>,
}

/// The `scenario` of an [`EventsManifest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedScenario {
    /// The scenario's name.
    pub name: String,
    /// The master seed.
    pub seed: u64,
    /// The replicate exported.
    pub replicate: u32,
}

impl EventsManifest {
    /// The manifest of replicate 0 of `sc`, whose `log` was written as `tables`.
    pub fn new(
        sc: &Scenario,
        log: &EventLog,
        tables: &[(&str, &str)],
        parquet: bool,
    ) -> EventsManifest {
        EventsManifest {
            schema_version: 1,
            scenario: ExportedScenario {
                name: sc.name.clone(),
                seed: sc.seed,
                replicate: 0,
            },
            channels: sc.channel_ids(),
            spend: crate::world::scenario_spends(sc),
            window_ms: [log.window_start_ms, log.window_end_ms],
            format: if parquet { "parquet" } else { "csv" }.to_string(),
            rows: tables
                .iter()
                .map(|(name, text)| (name.to_string(), text.lines().count() - 1))
                .collect(),
        }
    }
}

/// What `score --credit` needs of an events.json: the channels and spends
/// (spends default to 0 when the file has none).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ManifestChannels {
    /// Channel ids in scenario order.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Spend per channel, aligned with `channels`.
    #[serde(default)]
    pub spend: Option<Vec<f64>>,
}

impl ManifestChannels {
    /// The channels to score against.
    pub fn scored(self) -> ScoredChannels {
        let spend = self.spend.unwrap_or_else(|| vec![0.0; self.channels.len()]);
        ScoredChannels {
            ids: self.channels,
            spend,
        }
    }
}

/// `score --credit`: an external model's errors per truth name.
pub type ScoreReport = BTreeMap<String, CreditErrors>;

/// An external model's credit scored against each truth of an exported
/// truth credit table (`truth_text`, read from `truth_source`).
pub fn score_report(
    model: &Credit,
    truth_text: &str,
    truth_source: &str,
    channels: &ScoredChannels,
) -> Result<ScoreReport, String> {
    crate::truth::TRUTHS
        .iter()
        .map(|name| {
            let truth = crate::io::external::read_credit(truth_text, truth_source, Some(name))?;
            let errors = crate::score::credit_errors(model, &truth, channels);
            Ok((name.to_string(), errors))
        })
        .collect()
}

/// `closedloop list --json`: the registered stitchers and models.
#[derive(Clone, Debug, Serialize)]
pub struct Catalog {
    /// Every stitcher's descriptor.
    pub stitchers: &'static [crate::spec::StrategyDescriptor],
    /// Every attribution model's descriptor.
    pub attributors: &'static [crate::spec::StrategyDescriptor],
}

impl Catalog {
    /// The registry as it is.
    pub fn registered() -> Catalog {
        Catalog {
            stitchers: crate::spec::STITCHERS,
            attributors: crate::spec::ATTRIBUTORS,
        }
    }
}
