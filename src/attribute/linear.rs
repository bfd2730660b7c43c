//! `linear`: equal credit to every touch in the look-back window.

use super::{Attributor, Journeys, credit_by_rule};
use crate::base::credit::Credit;

/// Equal shares.
#[derive(Clone, Copy, Debug)]
pub struct Linear {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Attributor for Linear {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::Linear {
            lookback_days: self.lookback_days,
        }
        .id()
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| {
            let share = 1.0 / w.len() as f64;
            w.iter_mut().for_each(|x| *x = share);
        })
    }
}
