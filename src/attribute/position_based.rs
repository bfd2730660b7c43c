//! `position_based{first, last}` (U-shaped): share `first` to the first touch
//! in the look-back window, `last` to the last, and the rest split equally
//! over the touches between. One touch takes everything; with two touches the
//! first and last shares are normalised to sum to 1 (equal halves when both
//! are 0).
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{
    Needs, ParamDescriptor, ParamProblem, ParamValue, SpecError, Strategy, StrategyDescriptor,
    at_most, number, spec_err,
};
use serde::{Deserialize, Serialize};

/// Fixed shares for the first and last touches.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct PositionBased {
    /// Share of the first touch (0..=1, `first + last <= 1`).
    pub first: f64,
    /// Share of the last touch.
    pub last: f64,
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

/// U-shaped weights over `n` touches (summing to 1).
pub(crate) fn u_shaped(first: f64, last: f64, w: &mut [f64]) {
    let n = w.len();
    match n {
        0 => {}
        1 => w[0] = 1.0,
        2 => {
            let sum = first + last;
            if sum > 0.0 {
                w[0] = first / sum;
                w[1] = last / sum;
            } else {
                w.fill(0.5);
            }
        }
        _ => {
            let middle = (1.0 - first - last).max(0.0) / (n - 2) as f64;
            w.fill(middle);
            w[0] = first;
            w[n - 1] = last;
            // When first + last < 1 the shares already sum to 1; renormalise
            // only against rounding.
            let sum: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= sum);
        }
    }
}

impl Strategy for PositionBased {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "position_based",
        summary: "shares to the first and last touches, the rest split over the middle (CLI position_based:FIRST:LAST)",
        params: &[
            ParamDescriptor {
                name: "first",
                help: "share of the first touch (first + last <= 1)",
                default: ParamValue::Number(Self::DEFAULT.first),
            },
            ParamDescriptor {
                name: "last",
                help: "share of the last touch (first + last <= 1)",
                default: ParamValue::Number(Self::DEFAULT.last),
            },
            LOOKBACK,
        ],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = PositionBased {
        first: 0.4,
        last: 0.4,
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        let usage = "position_based:FIRST:LAST";
        at_most(given, parts, 2, usage)?;
        if parts.len() == 2 {
            return Err(spec_err(given, format!("give both shares: {usage}")));
        }
        let d = Self::DEFAULT;
        Ok(PositionBased {
            first: number(given, parts, 1, d.first, usage)?,
            last: number(given, parts, 2, d.last, usage)?,
            ..d
        })
    }

    fn id(&self) -> String {
        format!("position_based_{}_{}", self.first, self.last)
    }

    fn param_problems(&self) -> Vec<ParamProblem> {
        let mut out = Vec::new();
        for (name, v) in [("first", self.first), ("last", self.last)] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                out.push((name, v, "must be within 0..=1".into()));
            }
        }
        if self.first + self.last > 1.0 + 1e-12 {
            out.push(("last", self.last, "first + last must be <= 1".into()));
        }
        out
    }
}

impl Attributor for PositionBased {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        credit_by_rule(journeys, self.lookback_days, |_, w| {
            u_shaped(self.first, self.last, w)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::{close, paths};

    #[test]
    fn shares_by_position() {
        let js = paths(
            &["a", "b", "c", "d"],
            &[("a>b>c>d", 1.0, 10.0), ("a>b", 1.0, 0.0), ("c", 1.0, 0.0)],
        );
        let cr = PositionBased {
            first: 0.4,
            last: 0.4,
            lookback_days: 90.0,
        }
        .attribute(&js);
        // a: 0.4 + 0.5; b: 0.1 + 0.5; c: 0.1 + 1; d: 0.4.
        assert!(close(cr.conversions["a"], 0.9));
        assert!(close(cr.conversions["b"], 0.6));
        assert!(close(cr.conversions["c"], 1.1));
        assert!(close(cr.conversions["d"], 0.4));
        assert!(close(cr.revenue["b"], 1.0));
        let cr = PositionBased {
            first: 0.3,
            last: 0.1,
            lookback_days: 90.0,
        }
        .attribute(&js);
        // Two touches: 0.3 : 0.1 normalised.
        assert!(close(cr.conversions["a"], 0.3 + 0.75));
        assert!(close(cr.conversions["b"], 0.3 + 0.25));
        let cr = PositionBased {
            first: 0.0,
            last: 0.0,
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(close(cr.conversions["a"], 0.5) && close(cr.conversions["b"], 1.0));
    }
}
