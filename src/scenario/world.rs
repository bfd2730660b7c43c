//! `[world]`: which generative family turns touches into leads
//! (docs/model.md §1.8), and each family's own table of parameters.
//!
//! Everything outside the conversion mechanism — population, devices,
//! channels and spend, targeting, observation, sales, the random streams —
//! is shared by every family. A family's table is read only when that
//! family is chosen; a table of another family is an error naming its key.
//! Must never: depend on any module to its right (world, observe, …).

use super::validate::Checker;
use super::*;
use std::collections::BTreeSet;

/// The `[world]` table.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WorldModel {
    /// The conversion mechanism.
    pub family: Family,
    /// `[world.funnel]`: the funnel family's parameters (only with `family = "funnel"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funnel: Option<Funnel>,
}

impl WorldModel {
    /// Whether nothing was changed from the default (`clocks`, no family table).
    pub fn is_default(&self) -> bool {
        *self == WorldModel::default()
    }

    /// The funnel's parameters, defaults filled in, when the family is `funnel`.
    pub fn funnel(&self) -> Option<Funnel> {
        (self.family == Family::Funnel).then(|| self.funnel.clone().unwrap_or_default())
    }
}

/// A generative family: how touches turn into leads.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Independent competing conversion clocks, one per touch (docs/model.md §1.4).
    #[default]
    Clocks,
    /// A hidden-state funnel per person: unaware → aware → considering →
    /// intent, then the lead (docs/model.md §1.8).
    Funnel,
}

impl Family {
    /// Every family, in the order docs and the suite list them.
    pub const ALL: [Family; 2] = [Family::Clocks, Family::Funnel];

    /// The family's name in scenario files and reports.
    pub fn id(self) -> &'static str {
        match self {
            Family::Clocks => "clocks",
            Family::Funnel => "funnel",
        }
    }
}

/// Most funnel steps to intent (unaware → aware → considering → intent).
pub const MAX_FUNNEL_STEPS: usize = 3;

/// `[world.funnel]`: a touch moves its person one stage up with a channel ×
/// stage probability; a person with no touch for `decay_days` falls one
/// stage back; the lead follows reaching `intent` after a person's own delay.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Funnel {
    /// Stages below `intent`: 3 = unaware → aware → considering → intent;
    /// 1 = unaware → intent (each touch one chance to convert). 1..=3.
    pub steps: usize,
    /// Days without a touch after which a person falls one stage back
    /// (`inf`: never). > 0.
    pub decay_days: f64,
    /// Mean days from reaching intent to the lead (exponential, one draw per person). ≥ 0.
    pub lead_delay_days: f64,
    /// Probability that a touch moves its person up from each stage below
    /// intent (bottom first; `steps` of them), for channels not in `advance`.
    /// Default: the last `steps` of [0.3, 0.2, 0.08].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_advance: Option<Vec<f64>>,
    /// Per channel id, its own probabilities (one per step): upper-funnel
    /// channels high on the first, lower-funnel ones on the last.
    pub advance: BTreeMap<String, Vec<f64>>,
}

impl Default for Funnel {
    fn default() -> Self {
        Funnel {
            steps: 3,
            decay_days: 45.0,
            lead_delay_days: 5.0,
            default_advance: None,
            advance: BTreeMap::new(),
        }
    }
}

/// The default advance probabilities of a 3-step funnel (bottom first).
const DEFAULT_ADVANCE: [f64; MAX_FUNNEL_STEPS] = [0.3, 0.2, 0.08];

impl Funnel {
    /// Channel `c`'s probabilities, one per step (bottom stage first).
    pub fn advance_of(&self, channel: &str) -> Vec<f64> {
        match self.advance.get(channel).or(self.default_advance.as_ref()) {
            Some(list) => list.clone(),
            None => DEFAULT_ADVANCE[MAX_FUNNEL_STEPS - self.steps.min(MAX_FUNNEL_STEPS)..].to_vec(),
        }
    }
}

/// Check `[world]`: the family's table and nothing of another family.
pub(super) fn check_world(c: &mut Checker, s: &Scenario, ids: &BTreeSet<String>) {
    let w = &s.world;
    match w.family {
        Family::Clocks => {
            if w.funnel.is_some() {
                c.missing(
                    "world.funnel",
                    "a table of the `funnel` family, but world.family = \"clocks\" (set world.family = \"funnel\" or remove it)",
                );
            }
        }
        Family::Funnel => {
            let f = w.funnel.clone().unwrap_or_default();
            if !(1..=MAX_FUNNEL_STEPS).contains(&f.steps) {
                c.push(
                    "world.funnel.steps",
                    f.steps,
                    format!("must be within 1..={MAX_FUNNEL_STEPS}"),
                );
            }
            if f.decay_days.is_nan() || f.decay_days <= 0.0 {
                c.push(
                    "world.funnel.decay_days",
                    f.decay_days,
                    "must be > 0 (inf: never)",
                );
            }
            c.non_negative("world.funnel.lead_delay_days", f.lead_delay_days);
            let lists = f
                .default_advance
                .iter()
                .map(|v| ("default_advance".to_string(), v))
                .chain(f.advance.iter().map(|(k, v)| (format!("advance.{k}"), v)));
            for (key, list) in lists {
                let path = format!("world.funnel.{key}");
                if list.len() != f.steps {
                    c.push(
                        &path,
                        format!("{list:?}"),
                        format!(
                            "must list {} probabilities (one per step, world.funnel.steps)",
                            f.steps
                        ),
                    );
                }
                for (i, &p) in list.iter().enumerate() {
                    c.within(&format!("{path}[{i}]"), p, 0.0, 1.0);
                }
            }
            for k in f.advance.keys() {
                if !ids.contains(k) {
                    c.push(
                        &format!("world.funnel.advance.{k}"),
                        format!("{k:?}"),
                        "must be a channel id",
                    );
                }
            }
        }
    }
}
