//! `first_touch`: all credit to the first touch in the look-back window. On
//! deterministic stitching this is HubSpot's "original source".

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};

/// First touch wins.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct FirstTouch {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Strategy for FirstTouch {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "first_touch",
        summary: "all credit to the first touch (HubSpot's original source on deterministic stitching)",
        params: &[LOOKBACK],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = FirstTouch {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for FirstTouch {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| w[0] = 1.0)
    }
}
