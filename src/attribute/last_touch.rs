//! `last_touch`: all credit to the last touch before the lead.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};

/// Last touch wins.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct LastTouch {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Strategy for LastTouch {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "last_touch",
        summary: "all credit to the last touch before the lead",
        params: &[LOOKBACK],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = LastTouch {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for LastTouch {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| {
            let n = w.len();
            w[n - 1] = 1.0;
        })
    }
}
