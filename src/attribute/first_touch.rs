//! `first_touch`: all credit to the first touch in the look-back window. On
//! deterministic stitching this is HubSpot's "original source".

use super::{Attributor, Journeys, credit_by_rule};
use crate::base::credit::Credit;

/// First touch wins.
#[derive(Clone, Copy, Debug)]
pub struct FirstTouch {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Attributor for FirstTouch {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::FirstTouch {
            lookback_days: self.lookback_days,
        }
        .id()
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| w[0] = 1.0)
    }
}
