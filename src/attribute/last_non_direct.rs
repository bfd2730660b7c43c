//! `last_non_direct`: the last touch that is not `direct` (GA's default);
//! `direct` only when every touch in the window is direct.

use super::{Attributor, Journeys, credit_by_rule};
use crate::base::credit::Credit;

/// Last non-direct touch wins.
#[derive(Clone, Copy, Debug)]
pub struct LastNonDirect {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Attributor for LastNonDirect {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::LastNonDirect {
            lookback_days: self.lookback_days,
        }
        .id()
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        let direct = journeys.direct;
        credit_by_rule(journeys, self.lookback_days, |touches, w| {
            let i = touches
                .iter()
                .rposition(|t| t.label != direct)
                .unwrap_or(touches.len() - 1);
            w[i] = 1.0;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};

    #[test]
    fn direct_never_overrides_an_earlier_source() {
        let js = paths(
            &["a", "b"],
            &[("a>b>direct", 1.0, 0.0), ("direct>direct", 1.0, 0.0)],
        );
        let cr = LastNonDirect {
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(close(cr.conversions["b"], 1.0));
        assert!(close(cr.conversions["direct"], 1.0));
        assert!(close(cr.conversions["a"], 0.0));
    }
}
