//! The typed reports: one struct per `report.json` a command writes (run,
//! sweep, budget, loop, own log), built in the library and serialised once.
//! Fields serialise under their own names; [`to_json`] sorts every object's
//! keys (through `serde_json::Value`, whose maps are ordered), so the bytes
//! do not depend on field order.
//! Must never: hold wall-clock numbers (they go to `timings.json`).

use super::SCHEMA_VERSION;
use crate::base::stats::Stats;
use crate::experiment::budget::{BudgetRow, BudgetStudy, ChannelCurve};
use crate::experiment::closed_loop::{LoopRunReport, LoopStudy, LoopSummary};
use crate::scenario::Scenario;
use serde::Serialize;
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
