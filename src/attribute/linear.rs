//! `linear`: equal credit to every touch in the look-back window.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};

/// Equal shares.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct Linear {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Strategy for Linear {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "linear",
        summary: "equal credit to every touch",
        params: &[LOOKBACK],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Linear {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for Linear {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| {
            let share = 1.0 / w.len() as f64;
            w.iter_mut().for_each(|x| *x = share);
        })
    }
}
