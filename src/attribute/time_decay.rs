//! `time_decay{half_life_days}`: each touch in the look-back window weighs
//! `2^(−age / half_life)`, age measured back from the lead, and the weights are
//! normalised per journey. A touch one half-life before another gets half its
//! credit.
//!
//! Weights are computed relative to the journey's last touch (the same ratios
//! as relative to the lead), so old touches underflow to 0, never the sum.
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, DEFAULT_LOOKBACK_DAYS, Journeys, LOOKBACK, credit_by_rule};
use crate::base::credit::Credit;
use crate::strategy::{
    Needs, ParamDescriptor, ParamProblem, ParamValue, SpecError, Strategy, StrategyDescriptor,
    at_most, number,
};
use serde::{Deserialize, Serialize};

/// Exponential decay with a half-life.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct TimeDecay {
    /// Days for a touch's weight to halve (> 0).
    pub half_life_days: f64,
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Strategy for TimeDecay {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "time_decay",
        summary: "touch weights halve every half-life before the lead (CLI time_decay:DAYS)",
        params: &[
            ParamDescriptor {
                name: "half_life_days",
                help: "days for a touch's weight to halve (> 0)",
                default: ParamValue::Number(Self::DEFAULT.half_life_days),
            },
            LOOKBACK,
        ],
        needs: Needs {
            touch_times: true,
            opportunities: false,
        },
    };
    const DEFAULT: Self = TimeDecay {
        half_life_days: 7.0,
        lookback_days: DEFAULT_LOOKBACK_DAYS,
    };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        let usage = "time_decay:HALF_LIFE_DAYS";
        at_most(given, parts, 1, usage)?;
        Ok(TimeDecay {
            half_life_days: number(given, parts, 1, Self::DEFAULT.half_life_days, usage)?,
            ..Self::DEFAULT
        })
    }

    fn id(&self) -> String {
        format!("time_decay_{}", self.half_life_days)
    }

    fn param_problems(&self) -> Vec<ParamProblem> {
        let h = self.half_life_days;
        if h.is_finite() && h > 0.0 {
            Vec::new()
        } else {
            vec![("half_life_days", h, "must be > 0".into())]
        }
    }
}

impl Attributor for TimeDecay {
    fn name(&self) -> String {
        super::model_id(self.id(), self.lookback_days)
    }

    fn lookback_days(&self) -> f64 {
        self.lookback_days
    }

    fn attribute(&self, journeys: &Journeys) -> Credit {
        let half_life_ms = self.half_life_days * 86_400_000.0;
        credit_by_rule(journeys, self.lookback_days, |touches, w| {
            let last = touches[touches.len() - 1].time_ms;
            let mut sum = 0.0;
            for (t, x) in touches.iter().zip(w.iter_mut()) {
                *x = (-((last - t.time_ms) as f64) / half_life_ms).exp2();
                sum += *x;
            }
            w.iter_mut().for_each(|x| *x /= sum);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::close;

    #[test]
    fn a_touch_one_half_life_older_gets_half_the_credit() {
        let mut js = Journeys::new(
            ["a", "b", "c", "direct", "unassigned", "unknown"]
                .map(String::from)
                .to_vec(),
            3,
        );
        let day = 86_400_000;
        // a 14 days, b 7 days, c 0 days before the lead.
        js.push(
            &[(0, 0), (7 * day, 1), (14 * day, 2)],
            Some(14 * day),
            1.0,
            7.0,
        );
        let cr = TimeDecay {
            half_life_days: 7.0,
            lookback_days: 90.0,
        }
        .attribute(&js);
        assert!(close(cr.conversions["a"], 1.0 / 7.0));
        assert!(close(cr.conversions["b"], 2.0 / 7.0));
        assert!(close(cr.conversions["c"], 4.0 / 7.0));
        assert!(close(cr.revenue["c"], 4.0));
        // Touches a thousand half-lives old underflow to 0; the sum does not.
        let mut js2 = js.clone();
        js2.journeys.clear();
        js2.touches.clear();
        js2.push(&[(0, 0), (14_000 * day, 1)], Some(14_000 * day), 1.0, 0.0);
        let cr = TimeDecay {
            half_life_days: 7.0,
            lookback_days: 1e5,
        }
        .attribute(&js2);
        assert!(close(cr.conversions["b"], 1.0) && cr.conversions["a"] == 0.0);
    }
}
