//! `last_touch`: all credit to the last touch before the lead.

use super::{Attributor, Journeys, credit_by_rule};
use crate::base::credit::Credit;

/// Last touch wins.
#[derive(Clone, Copy, Debug)]
pub struct LastTouch {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Attributor for LastTouch {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::LastTouch {
            lookback_days: self.lookback_days,
        }
        .id()
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| {
            let n = w.len();
            w[n - 1] = 1.0;
        })
    }
}
