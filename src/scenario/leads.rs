//! `[form_fill]` and `[sales]`: the converting visit's path and lead
//! handling (docs/model.md §1.6, §1.7).

use super::*;

/// The form-fill visit's return path (docs/model.md §1.6).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct FormFill {
    /// Weights of the channel the form-fill visit arrives by: channel ids,
    /// `direct`, and `cause` (the causing channel again, if it is a click channel).
    pub path: BTreeMap<String, f64>,
    /// Chance that a visit after the lead carries another form fill.
    pub repeat_rate: f64,
}

impl Default for FormFill {
    fn default() -> Self {
        FormFill {
            path: [("direct".to_string(), 0.6), ("cause".to_string(), 0.4)]
                .into_iter()
                .collect(),
            repeat_rate: 0.05,
        }
    }
}

/// Lead handling (docs/model.md §1.7).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Sales {
    /// Share of leads sales never contacts.
    pub handoff_loss_rate: f64,
}

impl Default for Sales {
    fn default() -> Self {
        Sales {
            handoff_loss_rate: 0.1,
        }
    }
}
