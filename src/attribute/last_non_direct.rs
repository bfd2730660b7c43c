//! `last_non_direct`: the last touch that is not `direct` (GA's default);
//! `direct` only when every touch in the window is direct.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use serde::{Deserialize, Serialize};

/// Last non-direct touch wins.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct LastNonDirect {
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Strategy for LastNonDirect {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "last_non_direct",
        summary: "last touch that is not direct (the GA-style default)",
        params: &[LOOKBACK],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = LastNonDirect {
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };
}

impl Attributor for LastNonDirect {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
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
