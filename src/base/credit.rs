//! Credit: conversions and revenue per label. The common currency of the
//! truth, the models and the scores.
//! Must never: depend on the world, the observation layer or the truth.

use serde::Serialize;
use std::collections::BTreeMap;

/// Conversions and revenue credited per label (channel ids, `direct`,
/// `unassigned`, `unknown`, `baseline`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Credit {
    /// Leads credited per label.
    pub conversions: BTreeMap<String, f64>,
    /// Revenue credited per label.
    pub revenue: BTreeMap<String, f64>,
}

impl Credit {
    /// Add conversions and revenue to a label.
    pub fn add(&mut self, label: &str, conversions: f64, revenue: f64) {
        *self.conversions.entry(label.to_string()).or_insert(0.0) += conversions;
        *self.revenue.entry(label.to_string()).or_insert(0.0) += revenue;
    }

    /// Make sure every label in `labels` has an entry (zero if absent).
    pub fn ensure_labels<'a>(&mut self, labels: impl IntoIterator<Item = &'a str>) {
        for l in labels {
            self.conversions.entry(l.to_string()).or_insert(0.0);
            self.revenue.entry(l.to_string()).or_insert(0.0);
        }
    }

    /// Total conversions over all labels.
    pub fn total_conversions(&self) -> f64 {
        self.conversions.values().sum()
    }

    /// Total revenue over all labels.
    pub fn total_revenue(&self) -> f64 {
        self.revenue.values().sum()
    }

    /// The map for one measure (`conversions` or `revenue`).
    pub fn measure(&self, m: Measure) -> &BTreeMap<String, f64> {
        match m {
            Measure::Conversions => &self.conversions,
            Measure::Revenue => &self.revenue,
        }
    }
}

/// What is credited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Leads.
    Conversions,
    /// Revenue of closed deals.
    Revenue,
}

impl Measure {
    /// Both measures, in report order.
    pub const ALL: [Measure; 2] = [Measure::Conversions, Measure::Revenue];

    /// Key in reports.
    pub fn key(self) -> &'static str {
        match self {
            Measure::Conversions => "conversions",
            Measure::Revenue => "revenue",
        }
    }
}
