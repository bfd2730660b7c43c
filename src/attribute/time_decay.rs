//! `time_decay{half_life_days}`: each touch in the look-back window weighs
//! `2^(−age / half_life)`, age measured back from the lead, and the weights are
//! normalised per journey. A touch one half-life before another gets half its
//! credit.
//!
//! Weights are computed relative to the journey's last touch (the same ratios
//! as relative to the lead), so old touches underflow to 0, never the sum.
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Attributor, Journeys, credit_by_rule};
use crate::base::credit::Credit;

/// Exponential decay with a half-life.
#[derive(Clone, Copy, Debug)]
pub struct TimeDecay {
    /// Days for a touch's weight to halve (> 0).
    pub half_life_days: f64,
    /// Touches older than this before the lead are ignored.
    pub lookback_days: f64,
}

impl Attributor for TimeDecay {
    fn name(&self) -> String {
        crate::spec::AttributorSpec::TimeDecay {
            half_life_days: self.half_life_days,
            lookback_days: self.lookback_days,
        }
        .id()
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
