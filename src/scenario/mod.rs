//! Scenario files: the TOML types with their defaults and units, loading, and
//! one validation pass that reports every problem with its key path.
//!
//! Keys use marketers' words (what each does: docs/model.md §1–§2);
//! `scenarios/reference.toml` lists every key with its default and source.
//! World keys change what happens; keys under `[observe]` (and a channel's
//! `referrer_loss_rate`) change only what is recorded. After [`Scenario::from_toml_str`] succeeds, the engine
//! trusts every value and never re-checks.
//! Must never: depend on any module to its right (world, observe, …).

mod channels;
mod defaults;
mod devices;
mod leads;
mod observe;
mod population;
mod validate;
mod world;

use crate::log::SessionRule;
use crate::spec::{AttributorSpec, StitcherSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use channels::*;
use defaults::*;
pub use devices::*;
pub use leads::*;
pub use observe::*;
pub use population::*;
pub use validate::{Problem, ScenarioError};
pub use world::*;

/// A whole scenario: the world, what is observed, and the strategies to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// Name used for the default output folder and in reports.
    #[serde(default = "d_name")]
    pub name: String,
    /// One sentence on what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Master seed: every draw flows from it.
    #[serde(default = "d_seed")]
    pub seed: u64,
    /// Independent worlds per run.
    #[serde(default = "d_one")]
    pub replicates: u32,
    /// Persons in one period's population.
    #[serde(default = "d_persons")]
    pub persons: u32,
    /// Length of the observed window (one period), days.
    #[serde(default = "d_horizon")]
    pub horizon_days: f64,
    /// Unobserved history before the window (left censoring), days.
    #[serde(default = "d_warmup")]
    pub warmup_days: f64,
    /// Days after the window during which deals are still followed.
    #[serde(default = "d_tail")]
    pub sales_tail_days: f64,
    /// First day of the window, `YYYY-MM-DD` (UTC); timestamps count from it.
    #[serde(default = "d_start")]
    pub start_date: String,
    /// Share of revenue kept as gross profit (profit = revenue × margin − spend).
    #[serde(default = "d_margin")]
    pub gross_margin: f64,
    /// Persons, groups, devices, browsers, baseline demand.
    #[serde(default)]
    pub population: Population,
    /// Customer segments with their sales parameters.
    #[serde(default = "d_segments")]
    pub segments: Vec<Segment>,
    /// Marketing channels.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Optional synergies between channels.
    #[serde(default)]
    pub synergy: Vec<Synergy>,
    /// How the lead's form fill reaches the site.
    #[serde(default)]
    pub form_fill: FormFill,
    /// Lead handling before qualification.
    #[serde(default)]
    pub sales: Sales,
    /// What the tracker and the CRM record (never changes the truth).
    #[serde(default)]
    pub observe: Observe,
    /// How analytics tools cut the log into sessions.
    #[serde(default)]
    pub sessions: SessionRule,
    /// What a journey's touches are: every visit, or every session.
    #[serde(default)]
    pub journey_unit: JourneyUnit,
    /// Also re-observe each replicate's world with one loss mechanism
    /// switched off at a time, to show what each costs (`loss_ablation`).
    #[serde(default)]
    pub loss_ablation: bool,
    /// Stitchers to run (default: every registered one).
    #[serde(default)]
    pub stitchers: Vec<StitcherSpec>,
    /// Attribution models to run (default: every registered one).
    #[serde(default)]
    pub attributors: Vec<AttributorSpec>,
    /// Keys to sweep (`closedloop run` runs every grid point): dotted
    /// scenario keys, nested or quoted, each a list of values. Read by
    /// `experiment::sweep`; empty = no sweep.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub sweep: toml::Table,
    /// `[world]`: the generative family and its parameters (default `clocks`).
    #[serde(default, skip_serializing_if = "WorldModel::is_default")]
    pub world: WorldModel,
}

/// Gamma-distributed duration.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct GammaDays {
    /// Shape k (> 0).
    pub shape: f64,
    /// Scale θ in days (> 0); mean = k·θ.
    pub scale_days: f64,
}

/// What the touches of a journey are.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JourneyUnit {
    /// Every recorded visit.
    #[default]
    Visit,
    /// Every session (its first visit), as analytics tools report.
    Session,
}

/// Labels that are not channels (docs/model.md §2.8).
pub const RESERVED_LABELS: [&str; 4] = ["direct", "unassigned", "unknown", "baseline"];

impl Scenario {
    /// Parse and validate a scenario; `source` names the file in errors.
    pub fn from_toml_str(source: &str, text: &str) -> Result<Scenario, ScenarioError> {
        validate::load(source, text)
    }

    /// Read, parse and validate a scenario file.
    pub fn from_path(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        validate::load(&path.display().to_string(), &text)
    }

    /// Re-check a scenario built or changed in code (sweeps, tests).
    pub fn validated(self, source: &str) -> Result<Scenario, ScenarioError> {
        let problems = validate::check(&self);
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(ScenarioError::Invalid {
                source_name: source.to_string(),
                problems,
            })
        }
    }

    /// Every observation loss off, one unshared device per person and no
    /// return visits: the world in which `deterministic` stitching recovers
    /// the true persons exactly (tests and teaching start from it).
    pub fn make_lossless(&mut self) {
        self.observe = Observe::lossless();
        self.population.return_visit_rate = 0.0;
        self.population.extra_devices_mean = 0.0;
        self.population.shared_device_rate = 0.0;
    }

    /// Channel ids in scenario order.
    pub fn channel_ids(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.id.clone()).collect()
    }

    /// Index of a channel id.
    pub fn channel_index(&self, id: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.id == id)
    }

    /// The stitchers to run: the scenario's list or every registered one.
    pub fn stitcher_specs(&self) -> Vec<StitcherSpec> {
        if self.stitchers.is_empty() {
            StitcherSpec::all()
        } else {
            self.stitchers.clone()
        }
    }

    /// The models to run: the scenario's list or every registered one.
    pub fn attributor_specs(&self) -> Vec<AttributorSpec> {
        if self.attributors.is_empty() {
            AttributorSpec::all()
        } else {
            self.attributors.clone()
        }
    }

    /// Milliseconds since the Unix epoch of the window's start (`start_date`, 00:00 UTC).
    pub fn start_epoch_ms(&self) -> i64 {
        parse_date(&self.start_date)
            .map(|d| d * 86_400_000)
            .unwrap_or(0)
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1970..=9999).contains(&y) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hill_at_half_saturation_is_half_the_max() {
        // docs/model.md §4.6 (c).
        let c = Channel {
            id: "x".into(),
            kind: TouchKind::Click,
            audience: Audience::All,
            trigger: Trigger::None,
            trigger_window_days: 14.0,
            spend: Some(250.0),
            max_rate: Some(0.08),
            half_saturation: Some(250.0),
            hill_exponent: 1.7,
            rate: None,
            conversion_rate: 0.01,
            delay: d_delay(),
            quality: 1.0,
            intent_exponent: 0.0,
            engagement_exponent: 0.0,
            device_mix: d_device_mix(),
            referrer_loss_rate: None,
            recorded_as: BTreeMap::new(),
            click_id: None,
            click_window_days: 90.0,
            click_id_classified: false,
            claim_click_days: 30.0,
            claim_view_days: 1.0,
            campaigns: vec![],
            landing_page: "/".into(),
        };
        assert!((c.rate_at(250.0) - 0.04).abs() < 1e-15);
        assert_eq!(c.rate_at(0.0), 0.0);
        assert!(c.rate_at(500.0) > c.rate_at(250.0));
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-01-01"), Some(20454));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("2028-02-29"), Some(21243));
    }
}
